/**
 * Fashion-MNIST: finding the four IDX files (app cache, then the system's copy, then a download),
 * downloading them safely, and loading a split into plain arrays. Plain Node, no Electron.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzip as gunzipCallback } from 'node:zlib';
import { promisify } from 'node:util';
import type { DatasetInfo, DatasetProgress } from '../../../contract/datasets';
import { DatasetError, isGzip, readIdxFile } from './idx';

const gunzipAsync = promisify(gunzipCallback);

export const FASHION_MNIST_ID = 'fashion-mnist';

export const FASHION_MNIST_CLASS_NAMES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'] as const;

/** Where Zalando publishes the files (as `<name>.gz`). */
export const FASHION_MNIST_BASE_URL = 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/';

/** Debian's `dataset-fashion-mnist` package installs the official .gz files here. */
export const FASHION_MNIST_SYSTEM_DIRS: readonly string[] = ['/usr/share/datasets/fashion-mnist'];

export const FASHION_MNIST_TRAIN_SAMPLES = 60_000;
export const FASHION_MNIST_TEST_SAMPLES = 10_000;
export const FASHION_MNIST_ROWS = 28;
export const FASHION_MNIST_COLS = 28;

export type FashionMnistSplit = 'train' | 'test';

export interface FashionMnistFile {
  /** Base name without `.gz`; on disk a file may be gzipped (`<name>.gz`) or plain (`<name>`). */
  name: string;
  split: FashionMnistSplit;
  kind: 'images' | 'labels';
  /**
   * SHA-256 and size of the *decompressed* IDX bytes, so any gzip of the same data verifies
   * (Debian re-compresses; the official files are gzipped with different settings).
   */
  sha256: string;
  size: number;
}

export const FASHION_MNIST_FILES: readonly FashionMnistFile[] = [
  {
    name: 'train-images-idx3-ubyte',
    split: 'train',
    kind: 'images',
    sha256: 'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888',
    size: 47_040_016,
  },
  {
    name: 'train-labels-idx1-ubyte',
    split: 'train',
    kind: 'labels',
    sha256: 'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9',
    size: 60_008,
  },
  {
    name: 't10k-images-idx3-ubyte',
    split: 'test',
    kind: 'images',
    sha256: '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b',
    size: 7_840_016,
  },
  {
    name: 't10k-labels-idx1-ubyte',
    split: 'test',
    kind: 'labels',
    sha256: '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34',
    size: 10_008,
  },
];

export interface FashionMnistLocation {
  location: 'cache' | 'system';
  directory: string;
}

export interface LocateOptions {
  /** The app's data folder; the cache is `<dataDir>/datasets/fashion-mnist/`. */
  dataDir: string;
  /** System folders to look in after the cache; defaults to Debian's. Tests pass `[]`. */
  systemDirs?: readonly string[];
}

export interface EnsureOptions extends LocateOptions {
  /** Where to download from; defaults to the official source. */
  baseUrl?: string;
  onProgress?: (progress: DatasetProgress) => void;
  signal?: AbortSignal;
}

export interface FashionMnistData {
  /** count×28×28 pixel values, 0..255, row-major. */
  images: Uint8Array;
  /** count class indices, 0..9. */
  labels: Uint8Array;
  count: number;
  rows: 28;
  cols: 28;
}

export function fashionMnistCacheDir(dataDir: string): string {
  return join(dataDir, 'datasets', FASHION_MNIST_ID);
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** The path of one file in `directory`, gzipped or plain, or null. Prefers `.gz` (what we and Debian store). */
export async function findFashionMnistFile(directory: string, name: string): Promise<string | null> {
  for (const candidate of [`${name}.gz`, name]) {
    const path = join(directory, candidate);
    if (await isFile(path)) return path;
  }
  return null;
}

async function hasAllFiles(directory: string): Promise<boolean> {
  const found = await Promise.all(FASHION_MNIST_FILES.map((file) => findFashionMnistFile(directory, file.name)));
  return found.every((path) => path !== null);
}

/**
 * Finds a folder holding all four files: the cache first (what the user downloaded wins), then
 * the system folders. Existence only; contents are checked when downloaded and when loaded.
 */
export async function locateFashionMnist(options: LocateOptions): Promise<FashionMnistLocation | null> {
  const cache = fashionMnistCacheDir(options.dataDir);
  if (await hasAllFiles(cache)) return { location: 'cache', directory: cache };
  for (const directory of options.systemDirs ?? FASHION_MNIST_SYSTEM_DIRS) {
    if (await hasAllFiles(directory)) return { location: 'system', directory };
  }
  return null;
}

/** Returns a folder with all four files, downloading whichever the cache lacks when none is found. */
export async function ensureFashionMnist(options: EnsureOptions): Promise<FashionMnistLocation> {
  const found = await locateFashionMnist(options);
  if (found) return found;
  const directory = fashionMnistCacheDir(options.dataDir);
  await mkdir(directory, { recursive: true });
  // One at a time: simpler progress for the user, and the source is a single server anyway.
  for (const file of FASHION_MNIST_FILES) {
    if (await findFashionMnistFile(directory, file.name)) continue; // kept from an earlier, interrupted attempt
    await downloadFile(file, directory, options);
  }
  return { location: 'cache', directory };
}

/** Emit progress at most every this many bytes, so a 26 MB download is ~100 events, not thousands. */
const PROGRESS_STEP = 256 * 1024;

/**
 * Downloads one file, verifies it, and moves it into place atomically. The body is held in memory
 * (the largest file is 26 MB) so nothing touches the disk before the checksum matches; the write
 * goes to a temp file in the same folder and is renamed, so readers never see a partial file.
 */
async function downloadFile(file: FashionMnistFile, directory: string, options: EnsureOptions): Promise<void> {
  const { signal, onProgress } = options;
  const base = options.baseUrl ?? FASHION_MNIST_BASE_URL;
  // new URL() drops the last path segment of a base without a trailing slash; keep it.
  const url = new URL(`${file.name}.gz`, base.endsWith('/') ? base : `${base}/`).href;
  const rethrowIfAborted = (error: unknown): void => {
    if (signal?.aborted) throw signal.reason ?? error;
  };

  signal?.throwIfAborted();
  let response: Response;
  try {
    response = await fetch(url, { signal });
  } catch (error) {
    rethrowIfAborted(error);
    throw new DatasetError(url, `download failed: ${describeFetchError(error)}`, { cause: error, code: 'io' });
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel().catch(() => {});
    throw new DatasetError(url, `download failed: HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`, { code: 'io' });
  }

  // With a Content-Encoding, fetch decodes the body and Content-Length counts encoded bytes: no usable total.
  const encoding = response.headers.get('content-encoding');
  const lengthHeader = response.headers.get('content-length');
  const declared = lengthHeader !== null && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : null;
  const totalBytes = encoding && encoding !== 'identity' ? null : declared;
  const progress = (receivedBytes: number) => onProgress?.({ dataset: FASHION_MNIST_ID, file: file.name, receivedBytes, totalBytes });

  const chunks: Uint8Array[] = [];
  let received = 0;
  let reported = 0;
  progress(0);
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      received += value.byteLength;
      if (received - reported >= PROGRESS_STEP) {
        reported = received;
        progress(received);
      }
    }
  } catch (error) {
    rethrowIfAborted(error);
    throw new DatasetError(url, `download failed after ${received} bytes: ${describeFetchError(error)}`, { cause: error, code: 'io' });
  } finally {
    reader.releaseLock();
  }
  if (received !== reported) progress(received);
  if (totalBytes !== null && received !== totalBytes) {
    throw new DatasetError(url, `download incomplete: received ${received} of ${totalBytes} bytes`, { code: 'io' });
  }
  const body = Buffer.concat(chunks);
  await verify(file, body, url);
  signal?.throwIfAborted();

  // Store what we got under a name that says what it is: servers may have decoded the gzip for us.
  const target = join(directory, isGzip(body) ? `${file.name}.gz` : file.name);
  const temp = join(directory, `.${file.name}.${process.pid}.${randomUUID()}.part`);
  try {
    await writeFile(temp, body, { flag: 'wx' });
    await rename(temp, target);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw new DatasetError(target, `cannot save the download: ${(error as Error).message}`, { cause: error, code: 'io' });
  }
}

/** Checks size and SHA-256 of the decompressed content against the published values. */
async function verify(file: FashionMnistFile, body: Uint8Array, label: string): Promise<void> {
  let plain: Uint8Array = body;
  if (isGzip(body)) {
    try {
      // Capped one byte over the expected size: a wrong or hostile file fails fast instead of filling memory.
      plain = await gunzipAsync(body, { maxOutputLength: file.size + 1 });
    } catch (error) {
      const tooBig = error instanceof RangeError || (error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
      const problem = tooBig ? `decompresses to more than the expected ${file.size} bytes` : `corrupt gzip data: ${(error as Error).message}`;
      throw new DatasetError(label, problem, { cause: error });
    }
  }
  if (plain.length !== file.size) {
    throw new DatasetError(label, `size mismatch: expected ${file.size} bytes of IDX data for ${file.name}, got ${plain.length}`);
  }
  const actual = createHash('sha256').update(plain).digest('hex');
  if (actual !== file.sha256) {
    throw new DatasetError(label, `checksum mismatch for ${file.name}: expected sha256 ${file.sha256}, got ${actual}`);
  }
}

/** undici reports "fetch failed" and puts the useful part (ECONNREFUSED, ...) in `cause`. */
function describeFetchError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const cause = error instanceof Error ? (error.cause as { message?: string; code?: string } | undefined) : undefined;
  const detail = cause?.code ?? cause?.message;
  return detail && !message.includes(detail) ? `${message} (${detail})` : message;
}

/** Loads one split, checking that images and labels agree and that every label is a class. */
export async function loadFashionMnist(directory: string, split: FashionMnistSplit): Promise<FashionMnistData> {
  const pathOf = async (kind: FashionMnistFile['kind']) => {
    const file = FASHION_MNIST_FILES.find((f) => f.split === split && f.kind === kind)!;
    const path = await findFashionMnistFile(directory, file.name);
    if (!path) throw new DatasetError(join(directory, `${file.name}.gz`), `missing (looked for ${file.name}.gz and ${file.name} in ${directory})`, { code: 'not-found' });
    return path;
  };
  const [imagesPath, labelsPath] = await Promise.all([pathOf('images'), pathOf('labels')]);
  const [images, labels] = await Promise.all([readIdxFile(imagesPath), readIdxFile(labelsPath)]);

  if (images.dims.length !== 3) {
    throw new DatasetError(imagesPath, `expected 3 dimensions (count×rows×cols) for images, header declares ${images.dims.length} (${images.dims.join('×')})`);
  }
  const [count, rows, cols] = images.dims;
  if (rows !== FASHION_MNIST_ROWS || cols !== FASHION_MNIST_COLS) {
    throw new DatasetError(imagesPath, `expected ${FASHION_MNIST_ROWS}×${FASHION_MNIST_COLS} images, header says ${rows}×${cols}`);
  }
  if (labels.dims.length !== 1) {
    throw new DatasetError(labelsPath, `expected 1 dimension for labels, header declares ${labels.dims.length} (${labels.dims.join('×')})`);
  }
  if (labels.dims[0] !== count) {
    throw new DatasetError(imagesPath, `holds ${count} images, but ${labelsPath} holds ${labels.dims[0]} labels`);
  }
  const classes = FASHION_MNIST_CLASS_NAMES.length;
  const bad = labels.data.findIndex((label) => label >= classes);
  if (bad !== -1) {
    throw new DatasetError(labelsPath, `label ${labels.data[bad]} at index ${bad} is outside 0..${classes - 1}`);
  }
  return { images: images.data, labels: labels.data, count, rows: FASHION_MNIST_ROWS, cols: FASHION_MNIST_COLS };
}

/** What the UI shows about the dataset; cheap (no file reads), so it can be called freely. */
export async function describeFashionMnist(options: LocateOptions): Promise<DatasetInfo> {
  const found = await locateFashionMnist(options);
  return {
    id: FASHION_MNIST_ID,
    location: found?.location ?? 'missing',
    directory: found?.directory ?? null,
    trainSamples: FASHION_MNIST_TRAIN_SAMPLES,
    testSamples: FASHION_MNIST_TEST_SAMPLES,
    classNames: [...FASHION_MNIST_CLASS_NAMES],
  };
}
