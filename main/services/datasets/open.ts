/**
 * Opens a dataset folder for training: Fashion-MNIST's four IDX files (pool = train, test = test)
 * or an imported dataset's cache (pool = all samples, test = null). Values are held in memory when
 * the dataset's float32 size (count × values × 4, what a run holds) fits the memory budget, else
 * read from disk per call with one FileHandle.
 */
import { stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { DatasetSummary } from '../../../contract/datasets';
import { fashionMnistSummary, isFashionMnistDir } from './builtin';
import { loadFashionMnist } from './fashion-mnist';
import { limit, LIMITS_ENV, openRegularFile, readAt } from '../files/bounded-read';
import { asDatasetError, DatasetError } from './idx';
import { META_FILE, X_FILE, Y_FILE, bytesPerValue, readMeta, sampleSizeOf } from './meta';
import type { OpenedDataset, SampleSource } from './source';
import { DomainError } from '../../../contract/wire';

export const DEFAULT_MEMORY_BUDGET_BYTES = 1024 ** 3;
export const MEMORY_BUDGET_ENV = 'LAYERBENCH_DATASET_MEMORY_BUDGET';

/** The explicit budget, else $LAYERBENCH_DATASET_MEMORY_BUDGET (bytes), else 1 GiB. */
export function memoryBudgetBytes(explicit?: number, env: NodeJS.ProcessEnv = process.env): number {
  if (explicit !== undefined) return explicit;
  const raw = env[MEMORY_BUDGET_ENV];
  if (raw === undefined || raw === '') return DEFAULT_MEMORY_BUDGET_BYTES;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) throw new DomainError('invalid-input', `${MEMORY_BUDGET_ENV} must be a number of bytes (a non-negative integer), got "${raw}"`);
  return value;
}

/**
 * Bytes a run holds for a dataset kept in memory: whatever the stored type, the training loop
 * copies its samples into float32 (4 bytes a value; a uint8 image dataset grows 4×). This, not the
 * stored size, is what the memory budget is compared with.
 */
export function inMemoryBytes(summary: Pick<DatasetSummary, 'count' | 'sampleShape'>): number {
  return summary.count * sampleSizeOf(summary.sampleShape) * 4;
}

/** Whether an imported dataset is read from disk per batch: its float32 size exceeds the budget. */
export function isStreamed(summary: Pick<DatasetSummary, 'count' | 'sampleShape'>, budget: number): boolean {
  return inMemoryBytes(summary) > budget;
}

export interface OpenOptions {
  memoryBudgetBytes?: number;
}

export async function openDatasetDir(directory: string, options: OpenOptions = {}): Promise<OpenedDataset> {
  const budget = memoryBudgetBytes(options.memoryBudgetBytes);
  if (await exists(join(directory, META_FILE))) return openImported(directory, budget);
  if (await isFashionMnistDir(directory)) return openFashionMnist(directory);
  throw new DatasetError(directory, `not a dataset folder: it holds neither ${META_FILE} (an imported dataset) nor the four Fashion-MNIST IDX files`);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Fashion-MNIST is gzipped (no random access) and 55 MB: always held in memory. */
async function openFashionMnist(directory: string): Promise<OpenedDataset> {
  const summary = fashionMnistSummary(directory);
  const [train, test] = await Promise.all([loadFashionMnist(directory, 'train'), loadFashionMnist(directory, 'test')]);
  const classNames = summary.classNames;
  const source = (split: typeof train) => new MemorySource(summary, [28, 28], Int32Array.from(split.labels), classNames, split.images);
  return { pool: source(train), test: source(test) };
}

async function openImported(directory: string, budget: number): Promise<OpenedDataset> {
  const meta = await readMeta(directory);
  const stored = meta.summary;
  const sampleSize = sampleSizeOf(stored.sampleShape);
  const bpv = bytesPerValue(stored.dtype);
  const xPath = join(directory, X_FILE);
  const yPath = join(directory, Y_FILE);
  const expected = stored.count * sampleSize * bpv;
  const labels = await readLabels(yPath, stored.count, stored.classNames.length);
  const summary: DatasetSummary = { ...stored, streamed: isStreamed(stored, budget) };
  // x.bin is checked against what meta.json declares before a byte of it is read or allocated.
  const handle = await openExactly(xPath, expected, `${stored.count} samples of ${sampleSize} ${stored.dtype} values`);
  if (summary.streamed) return { pool: new FileSource(summary, stored.sampleShape, labels, stored.classNames, handle, stored.dtype, xPath), test: null };
  let bytes: Uint8Array;
  try {
    bytes = await readAt(handle, expected, 0);
  } catch (error) {
    throw new DatasetError(xPath, `cannot read: ${(error as Error).message}`, { cause: error, code: 'io' });
  } finally {
    await handle.close();
  }
  if (bytes.length !== expected) throw new DatasetError(xPath, `unexpected end of file: read ${bytes.length} of ${expected} bytes`, { code: 'io' });
  if (bytes.byteOffset % 4 !== 0) bytes = bytes.slice(); // a Float32Array view needs 4-byte alignment
  const values = stored.dtype === 'uint8' ? bytes : new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  return { pool: new MemorySource(summary, stored.sampleShape, labels, stored.classNames, values), test: null };
}

/**
 * Opens a regular file that must hold exactly `expected` bytes (`what` says of what), and at most
 * `maxBytes` when it is to be read whole; the caller closes it.
 */
async function openExactly(path: string, expected: number, what: string, maxBytes = Number.MAX_SAFE_INTEGER): Promise<FileHandle> {
  let opened;
  try {
    opened = await openRegularFile(path, { maxBytes, limitEnv: LIMITS_ENV.fileBytes.name, what: 'dataset file' });
  } catch (error) {
    throw asDatasetError(error);
  }
  if (opened.size !== expected) {
    await opened.handle.close();
    throw new DatasetError(path, `size mismatch: ${what} need ${expected} bytes, the file has ${opened.size}`, { code: 'invalid-input' });
  }
  return opened.handle;
}

async function readLabels(path: string, count: number, classes: number): Promise<Int32Array> {
  // Read whole, so capped: a meta.json may claim any count.
  const handle = await openExactly(path, count * 4, `${count} labels`, limit('fileBytes'));
  const labels = new Int32Array(count);
  try {
    const bytes = await readAt(handle, count * 4, 0);
    new Uint8Array(labels.buffer).set(bytes);
  } catch (error) {
    throw new DatasetError(path, `cannot read: ${(error as Error).message}`, { cause: error, code: 'io' });
  } finally {
    await handle.close();
  }
  for (let i = 0; i < count; i++) {
    if (labels[i] < 0 || labels[i] >= classes) throw new DatasetError(path, `label ${labels[i]} of sample ${i} is outside 0..${classes - 1}`, { code: 'invalid-input' });
  }
  return labels;
}

abstract class BaseSource implements SampleSource {
  readonly sampleSize: number;
  readonly count: number;
  protected closed = false;
  abstract readonly streamed: boolean;

  constructor(
    readonly summary: DatasetSummary,
    readonly sampleShape: number[],
    readonly labels: Int32Array,
    readonly classNames: string[],
  ) {
    this.sampleSize = sampleSizeOf(sampleShape);
    this.count = labels.length;
  }

  protected check(indices: Uint32Array, out: Float32Array): void {
    if (this.closed) throw new Error(`${this.summary.id}: read after close`);
    if (out.length < indices.length * this.sampleSize) {
      throw new RangeError(`${this.summary.id}: out holds ${out.length} values, ${indices.length} samples need ${indices.length * this.sampleSize}`);
    }
    for (let k = 0; k < indices.length; k++) {
      if (indices[k] >= this.count) throw new RangeError(`${this.summary.id}: sample index ${indices[k]} is outside 0..${this.count - 1}`);
    }
  }

  abstract read(indices: Uint32Array, out: Float32Array): Promise<void>;

  async close(): Promise<void> {
    this.closed = true;
  }
}

class MemorySource extends BaseSource {
  readonly streamed = false;

  constructor(
    summary: DatasetSummary,
    sampleShape: number[],
    labels: Int32Array,
    classNames: string[],
    private readonly values: Uint8Array | Float32Array,
  ) {
    super(summary, sampleShape, labels, classNames);
  }

  async read(indices: Uint32Array, out: Float32Array): Promise<void> {
    this.check(indices, out);
    const size = this.sampleSize;
    const { values } = this;
    // TypedArray.set converts bytes to float32 natively: ~3× an element loop over an epoch's images.
    for (let k = 0; k < indices.length; k++) out.set(values.subarray(indices[k] * size, (indices[k] + 1) * size), k * size);
  }
}

/** Reads in flight at once per read() call: enough to keep the disk busy, few enough for libuv's pool. */
const PARALLEL_READS = 8;

class FileSource extends BaseSource {
  readonly streamed = true;

  constructor(
    summary: DatasetSummary,
    sampleShape: number[],
    labels: Int32Array,
    classNames: string[],
    private readonly handle: FileHandle,
    private readonly dtype: DatasetSummary['dtype'],
    private readonly path: string,
  ) {
    super(summary, sampleShape, labels, classNames);
  }

  async read(indices: Uint32Array, out: Float32Array): Promise<void> {
    this.check(indices, out);
    const bpv = bytesPerValue(this.dtype);
    const sampleBytes = this.sampleSize * bpv;
    // Runs of consecutive indices (i, i+1, …) become one read each, landing in output order.
    const runs: { start: number; first: number; length: number }[] = [];
    for (let k = 0; k < indices.length;) {
      let length = 1;
      while (k + length < indices.length && indices[k + length] === indices[k] + length) length++;
      runs.push({ start: k, first: indices[k], length });
      k += length;
    }
    const scratch = new Uint8Array(indices.length * sampleBytes);
    let next = 0;
    const worker = async () => {
      while (next < runs.length) {
        const run = runs[next++];
        const bytes = run.length * sampleBytes;
        let got = 0;
        while (got < bytes) {
          const { bytesRead } = await this.handle.read(scratch, run.start * sampleBytes + got, bytes - got, run.first * sampleBytes + got);
          if (bytesRead === 0) throw new DatasetError(this.path, `unexpected end of file reading sample ${run.first + Math.floor(got / sampleBytes)}`);
          got += bytesRead;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL_READS, runs.length) }, worker));
    if (this.dtype === 'float32') out.set(new Float32Array(scratch.buffer, 0, indices.length * this.sampleSize));
    else for (let i = 0; i < scratch.length; i++) out[i] = scratch[i];
  }

  override async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close();
  }
}
