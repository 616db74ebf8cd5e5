/**
 * Runs on the real Fashion-MNIST files from Debian's `dataset-fashion-mnist` package, and on
 * corrupted copies of them; downloads go through a real loopback HTTP server.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DatasetInfoSchema, DatasetProgressSchema, type DatasetProgress } from '../../../contract/datasets';
import {
  describeFashionMnist,
  ensureFashionMnist,
  FASHION_MNIST_CLASS_NAMES,
  FASHION_MNIST_FILES,
  FASHION_MNIST_SYSTEM_DIRS,
  fashionMnistCacheDir,
  loadFashionMnist,
  locateFashionMnist,
} from './fashion-mnist';
import { DatasetError } from './idx';

const SYSTEM_DIR = FASHION_MNIST_SYSTEM_DIRS[0];
const gzName = (name: string) => `${name}.gz`;

let scratch: string;
/** The real .gz files as Debian ships them, by base name. */
const realGz = new Map<string, Buffer>();

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'layerbench-fmnist-'));
  for (const file of FASHION_MNIST_FILES) realGz.set(file.name, await readFile(join(SYSTEM_DIR, gzName(file.name))));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

let counter = 0;
async function freshDir(label: string): Promise<string> {
  const dir = join(scratch, `${label}-${counter++}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

function classCounts(labels: Uint8Array): number[] {
  const counts = new Array<number>(10).fill(0);
  for (const label of labels) counts[label]++;
  return counts;
}

describe('the real files (Debian dataset-fashion-mnist)', () => {
  it('are found as the system copy', async () => {
    const dataDir = await freshDir('empty-data');
    expect(await locateFashionMnist({ dataDir })).toEqual({ location: 'system', directory: SYSTEM_DIR });
    const info = await describeFashionMnist({ dataDir });
    expect(DatasetInfoSchema.parse(info)).toEqual({
      id: 'fashion-mnist',
      location: 'system',
      directory: SYSTEM_DIR,
      trainSamples: 60000,
      testSamples: 10000,
      classNames: ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'],
    });
    expect(info.classNames).toEqual([...FASHION_MNIST_CLASS_NAMES]);
  });

  it('are missing when the system dirs are excluded and the cache is empty', async () => {
    const dataDir = await freshDir('empty-data');
    expect(await locateFashionMnist({ dataDir, systemDirs: [] })).toBeNull();
    expect(await describeFashionMnist({ dataDir, systemDirs: [] })).toMatchObject({ location: 'missing', directory: null });
  });

  it('load: 60,000 training images, 28×28, 6,000 of each class', async () => {
    const train = await loadFashionMnist(SYSTEM_DIR, 'train');
    expect(train.count).toBe(60000);
    expect([train.rows, train.cols]).toEqual([28, 28]);
    expect(train.images.length).toBe(60000 * 28 * 28);
    expect(train.labels.length).toBe(60000);
    expect(classCounts(train.labels)).toEqual(new Array(10).fill(6000));
    // Real pixels, not zeros: the full 0..255 range is used.
    expect(Math.max(...train.images.subarray(0, 784 * 10))).toBe(255);
  });

  it('load: 10,000 test images, 1,000 of each class', async () => {
    const test = await loadFashionMnist(SYSTEM_DIR, 'test');
    expect(test.count).toBe(10000);
    expect(test.images.length).toBe(10000 * 784);
    expect(classCounts(test.labels)).toEqual(new Array(10).fill(1000));
  });
});

describe('corrupted copies', () => {
  /** Decompressed test-split IDX bytes, the base for each corruption. */
  let testImages: Buffer;
  let testLabels: Buffer;
  beforeAll(() => {
    testImages = gunzipSync(realGz.get('t10k-images-idx3-ubyte')!);
    testLabels = gunzipSync(realGz.get('t10k-labels-idx1-ubyte')!);
  });

  /** Writes a test split into a fresh folder; each file gzipped (fast level) unless `plain`. */
  async function splitDir(images: Uint8Array, labels: Uint8Array, plain = false): Promise<{ dir: string; imagesPath: string; labelsPath: string }> {
    const dir = await freshDir('corrupt');
    const write = async (name: string, bytes: Uint8Array) => {
      const path = join(dir, plain ? name : gzName(name));
      await writeFile(path, plain ? bytes : gzipSync(bytes, { level: 1 }));
      return path;
    };
    return { dir, imagesPath: await write('t10k-images-idx3-ubyte', images), labelsPath: await write('t10k-labels-idx1-ubyte', labels) };
  }

  async function loadError(dir: string): Promise<DatasetError> {
    const error = await loadFashionMnist(dir, 'test').then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DatasetError);
    return error as DatasetError;
  }

  it('an uncorrupted recompressed copy loads (sanity check for the cases below)', async () => {
    const { dir } = await splitDir(testImages, testLabels);
    expect((await loadFashionMnist(dir, 'test')).count).toBe(10000);
  });

  it('wrong magic number', async () => {
    const images = Buffer.from(testImages);
    images[1] = 0x01;
    const { dir, imagesPath } = await splitDir(images, testLabels);
    const error = await loadError(dir);
    expect(error.file).toBe(imagesPath);
    expect(error.message).toBe(`${imagesPath}: not an IDX file: magic number starts 00 01 08 03, expected 00 00 <type> <dims>`);
  });

  it('truncated images', async () => {
    const { dir, imagesPath } = await splitDir(testImages.subarray(0, testImages.length - 1234), testLabels);
    const error = await loadError(dir);
    expect(error.file).toBe(imagesPath);
    expect(error.message).toBe(`${imagesPath}: truncated: header says 10000×28×28 = 7840000 bytes of data, file has ${7840000 - 1234}`);
  });

  it('truncated gzip stream (an interrupted copy of a .gz)', async () => {
    const dir = await freshDir('corrupt');
    const gz = realGz.get('t10k-labels-idx1-ubyte')!;
    const labelsPath = join(dir, 't10k-labels-idx1-ubyte.gz');
    await writeFile(labelsPath, gz.subarray(0, gz.length - 100));
    await copyFile(join(SYSTEM_DIR, 't10k-images-idx3-ubyte.gz'), join(dir, 't10k-images-idx3-ubyte.gz'));
    const error = await loadError(dir);
    expect(error.file).toBe(labelsPath);
    expect(error.message).toMatch(new RegExp(`^${labelsPath}: corrupt gzip data: `));
  });

  it('trailing bytes after the labels (plain, uncompressed files)', async () => {
    const { dir, labelsPath } = await splitDir(testImages, Buffer.concat([testLabels, Buffer.from('junk')]), true);
    const error = await loadError(dir);
    expect(error.file).toBe(labelsPath);
    expect(error.message).toBe(`${labelsPath}: trailing data: header says 10000 = 10000 bytes of data, file has 10004 (4 extra)`);
  });

  it('image and label counts differ', async () => {
    const labels = Buffer.from(testLabels.subarray(0, testLabels.length - 1));
    labels.writeUInt32BE(9999, 4);
    const { dir, imagesPath, labelsPath } = await splitDir(testImages, labels);
    const error = await loadError(dir);
    expect(error.message).toBe(`${imagesPath}: holds 10000 images, but ${labelsPath} holds 9999 labels`);
  });

  it('a label of 12', async () => {
    const labels = Buffer.from(testLabels);
    labels[8 + 4321] = 12;
    const { dir, labelsPath } = await splitDir(testImages, labels);
    const error = await loadError(dir);
    expect(error.file).toBe(labelsPath);
    expect(error.message).toBe(`${labelsPath}: label 12 at index 4321 is outside 0..9`);
  });

  it('labels file with the wrong rank', async () => {
    const labels = Buffer.concat([Buffer.from([0, 0, 8, 2, 0, 0, 0x27, 0x10, 0, 0, 0, 1]), testLabels.subarray(8)]);
    const { dir, labelsPath } = await splitDir(testImages, labels);
    const error = await loadError(dir);
    expect(error.message).toBe(`${labelsPath}: expected 1 dimension for labels, header declares 2 (10000×1)`);
  });

  it('a missing file', async () => {
    const dir = await freshDir('corrupt');
    await copyFile(join(SYSTEM_DIR, 't10k-images-idx3-ubyte.gz'), join(dir, 't10k-images-idx3-ubyte.gz'));
    const error = await loadError(dir);
    expect(error.message).toMatch(/t10k-labels-idx1-ubyte\.gz: missing/);
  });
});

/** A loopback server for the four files; `files` maps the served name (`<name>.gz`) to its bytes. */
async function startServer(files: Map<string, Uint8Array>): Promise<{ baseUrl: string; requests: string[]; server: Server }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const body = files.get((req.url ?? '').replace(/^\/fmnist\//, ''));
    if (!body) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/x-gzip', 'content-length': body.length });
    // Several writes, so the client sees a stream of chunks as from a real server.
    const step = 1 << 20;
    for (let offset = 0; offset < body.length; offset += step) res.write(body.subarray(offset, offset + step));
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { baseUrl: `http://127.0.0.1:${port}/fmnist/`, requests, server };
}

describe('download', () => {
  const servers: Server[] = [];
  async function serve(files: Map<string, Uint8Array>) {
    const started = await startServer(files);
    servers.push(started.server);
    return started;
  }
  afterEach(async () => {
    for (const server of servers.splice(0)) {
      server.closeAllConnections(); // fetch keeps connections alive; close() would wait for them
      await new Promise((resolve) => server.close(resolve));
    }
  });
  const realFiles = () => new Map(FASHION_MNIST_FILES.map((f) => [gzName(f.name), realGz.get(f.name)!] as [string, Uint8Array]));

  it('downloads all four files into the cache, with progress, then uses the cache', async () => {
    const { baseUrl, requests } = await serve(realFiles());
    const dataDir = await freshDir('data');
    const events: DatasetProgress[] = [];
    const found = await ensureFashionMnist({ dataDir, systemDirs: [], baseUrl, onProgress: (p) => events.push(DatasetProgressSchema.parse(p)) });
    const cache = fashionMnistCacheDir(dataDir);
    expect(cache).toBe(join(dataDir, 'datasets', 'fashion-mnist'));
    expect(found).toEqual({ location: 'cache', directory: cache });
    expect(requests).toHaveLength(4);
    expect((await readdir(cache)).sort()).toEqual(FASHION_MNIST_FILES.map((f) => gzName(f.name)).sort());

    for (const file of FASHION_MNIST_FILES) {
      const size = realGz.get(file.name)!.length;
      expect((await stat(join(cache, gzName(file.name)))).size).toBe(size);
      const mine = events.filter((e) => e.file === file.name);
      expect(mine.every((e) => e.dataset === 'fashion-mnist' && e.totalBytes === size)).toBe(true);
      expect(mine[0].receivedBytes).toBe(0);
      expect(mine.at(-1)!.receivedBytes).toBe(size);
      for (let i = 1; i < mine.length; i++) expect(mine[i].receivedBytes).toBeGreaterThan(mine[i - 1].receivedBytes);
    }
    // The 26 MB file reports along the way, not just at the start and end.
    expect(events.filter((e) => e.file === 'train-images-idx3-ubyte').length).toBeGreaterThan(10);

    // Second call: found in the cache, no request made.
    expect(await ensureFashionMnist({ dataDir, systemDirs: [], baseUrl })).toEqual({ location: 'cache', directory: cache });
    expect(await describeFashionMnist({ dataDir, systemDirs: [] })).toMatchObject({ location: 'cache', directory: cache });
    // The cache wins over the system copy.
    expect(await locateFashionMnist({ dataDir })).toEqual({ location: 'cache', directory: cache });
    expect(requests).toHaveLength(4);

    const [downloaded, system] = await Promise.all([loadFashionMnist(cache, 'test'), loadFashionMnist(SYSTEM_DIR, 'test')]);
    expect(Buffer.from(downloaded.images).equals(system.images)).toBe(true);
    expect(Buffer.from(downloaded.labels).equals(system.labels)).toBe(true);
    const [downloadedTrain, systemTrain] = await Promise.all([loadFashionMnist(cache, 'train'), loadFashionMnist(SYSTEM_DIR, 'train')]);
    expect(downloadedTrain.count).toBe(60000);
    expect(Buffer.from(downloadedTrain.images).equals(systemTrain.images)).toBe(true);
    expect(Buffer.from(downloadedTrain.labels).equals(systemTrain.labels)).toBe(true);
  });

  it('uses the system copy when it is found: no download at all', async () => {
    const { baseUrl, requests } = await serve(realFiles());
    const dataDir = await freshDir('data');
    expect(await ensureFashionMnist({ dataDir, baseUrl })).toEqual({ location: 'system', directory: SYSTEM_DIR });
    expect(requests).toHaveLength(0);
  });

  it('a corrupted file fails its checksum, leaves nothing behind, and a retry fetches only what is missing', async () => {
    const files = realFiles();
    // Same size, one label changed: only the checksum can tell.
    const labels = gunzipSync(realGz.get('train-labels-idx1-ubyte')!);
    labels[8 + 100] = (labels[8 + 100] + 1) % 10;
    files.set('train-labels-idx1-ubyte.gz', gzipSync(labels));
    const { baseUrl } = await serve(files);
    const dataDir = await freshDir('data');
    const error = await ensureFashionMnist({ dataDir, systemDirs: [], baseUrl }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatasetError);
    expect((error as DatasetError).message).toMatch(
      new RegExp(`^${baseUrl}train-labels-idx1-ubyte\\.gz: checksum mismatch for train-labels-idx1-ubyte: expected sha256 bad3541b[0-9a-f]+, got [0-9a-f]{64}$`),
    );
    // The file downloaded before it stays; the bad one and any temp file do not.
    const cache = fashionMnistCacheDir(dataDir);
    expect(await readdir(cache)).toEqual(['train-images-idx3-ubyte.gz']);
    expect(await describeFashionMnist({ dataDir, systemDirs: [] })).toMatchObject({ location: 'missing' });

    const good = await serve(realFiles());
    await ensureFashionMnist({ dataDir, systemDirs: [], baseUrl: good.baseUrl });
    expect(good.requests.map((r) => r.replace('/fmnist/', '')).sort()).toEqual(['t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz', 'train-labels-idx1-ubyte.gz']);
    expect((await readdir(cache)).length).toBe(4);
  });

  it('a 404 is a clear error naming the URL', async () => {
    const { baseUrl } = await serve(new Map());
    const dataDir = await freshDir('data');
    await expect(ensureFashionMnist({ dataDir, systemDirs: [], baseUrl })).rejects.toThrow(`${baseUrl}train-images-idx3-ubyte.gz: download failed: HTTP 404 Not Found`);
    expect(await readdir(fashionMnistCacheDir(dataDir))).toEqual([]);
  });

  it('an unreachable server is a clear error naming the URL', async () => {
    const { baseUrl, server } = await serve(new Map());
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    const dataDir = await freshDir('data');
    await expect(ensureFashionMnist({ dataDir, systemDirs: [], baseUrl })).rejects.toThrow(`${baseUrl}train-images-idx3-ubyte.gz: download failed: fetch failed (ECONNREFUSED)`);
  });

  it('aborting mid-download rejects with the abort reason and leaves nothing behind', async () => {
    const { baseUrl } = await serve(realFiles());
    const dataDir = await freshDir('data');
    const controller = new AbortController();
    const result = ensureFashionMnist({
      dataDir,
      systemDirs: [],
      baseUrl,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.receivedBytes > 0) controller.abort();
      },
    });
    await expect(result).rejects.toMatchObject({ name: 'AbortError' });
    expect(await readdir(fashionMnistCacheDir(dataDir))).toEqual([]);
  });
});
