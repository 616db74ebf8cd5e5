/**
 * Writes an import's samples into a fresh temp folder (x.bin, y.bin, meta.json) and, when the
 * import completes, renames the folder into place. Until then nothing under the final name exists,
 * so a cancelled, failed or crashed import never leaves a half dataset that list() would show.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { DatasetSummary } from '../../../contract/datasets';
import { DatasetError } from './idx';
import { LabelCollector, type LabelMapping } from './labels';
import { META_FILE, META_FORMAT_VERSION, X_FILE, Y_FILE, bytesPerValue, checkMeta, type DatasetMeta } from './meta';

/** Temp folders start with this; list() ignores them and removes stale ones. */
export const TEMP_PREFIX = '.import-';
const FLUSH_BYTES = 1 << 20;

export type SampleValues = Uint8Array | Float32Array;

export interface FinishedSamples extends LabelMapping {
  count: number;
  valueRange: { min: number; max: number };
}

export class SampleWriter {
  readonly labels = new LabelCollector();
  private buffer: Buffer = Buffer.allocUnsafe(FLUSH_BYTES);
  private used = 0;
  private sampleSize = -1;
  private min = Infinity;
  private max = -Infinity;

  private constructor(
    readonly tempDir: string,
    readonly dtype: DatasetSummary['dtype'],
    private x: FileHandle,
  ) {}

  static async create(datasetsDir: string, dtype: DatasetSummary['dtype']): Promise<SampleWriter> {
    await mkdir(datasetsDir, { recursive: true });
    const tempDir = join(datasetsDir, `${TEMP_PREFIX}${Date.now()}-${randomBytes(4).toString('hex')}`);
    await mkdir(tempDir);
    try {
      return new SampleWriter(tempDir, dtype, await open(join(tempDir, X_FILE), 'wx'));
    } catch (error) {
      await rm(tempDir, { recursive: true, force: true });
      throw error;
    }
  }

  get count(): number {
    return this.labels.count;
  }

  /**
   * Adds one sample. Returns a promise only when the buffer was full and is being written out:
   * callers `await` it then, which keeps memory bounded without a promise per sample.
   */
  append(values: SampleValues, labelKey: string): Promise<void> | undefined {
    if (this.sampleSize === -1) this.sampleSize = values.length;
    else if (values.length !== this.sampleSize) {
      throw new Error(`internal: sample of ${values.length} values after samples of ${this.sampleSize}`);
    }
    let { min, max } = this;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    this.min = min;
    this.max = max;
    const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    if (this.used + bytes.length <= this.buffer.length) {
      this.put(bytes, labelKey);
      return undefined;
    }
    const copy = bytes.slice(); // the caller may reuse its array while the buffer is written out
    return this.flush().then(() => {
      if (copy.length > this.buffer.length) this.buffer = Buffer.allocUnsafe(copy.length);
      this.put(copy, labelKey);
    });
  }

  private put(bytes: Uint8Array, labelKey: string): void {
    // Float32Array bytes are in platform order: little-endian on every platform Node supports here.
    this.buffer.set(bytes, this.used);
    this.used += bytes.length;
    this.labels.add(labelKey);
  }

  private async flush(): Promise<void> {
    if (this.used === 0) return;
    const chunk = this.buffer.subarray(0, this.used);
    let written = 0;
    while (written < chunk.length) written += (await this.x.write(chunk, written, chunk.length - written)).bytesWritten;
    this.used = 0;
  }

  /** Writes the rest of x.bin and y.bin; returns what meta.json needs. Does not publish. */
  async finishSamples(): Promise<FinishedSamples> {
    await this.flush();
    await this.x.sync();
    await this.x.close();
    const mapping = this.labels.finish();
    const y = await open(join(this.tempDir, Y_FILE), 'wx');
    try {
      // Int32Array bytes in platform order: little-endian on every supported platform.
      await y.writeFile(new Uint8Array(mapping.labels.buffer, 0, mapping.labels.byteLength));
      await y.sync();
    } finally {
      await y.close();
    }
    return { ...mapping, count: this.labels.count, valueRange: { min: this.count ? this.min : 0, max: this.count ? this.max : 0 } };
  }

  /** Writes meta.json and renames the temp folder to `target`; the dataset appears whole or not at all. */
  async publish(meta: DatasetMeta, target: string): Promise<void> {
    if (meta.formatVersion !== META_FORMAT_VERSION) throw new Error('internal: wrong meta format version');
    const text = `${JSON.stringify(meta, null, 2)}\n`;
    // What readMeta will check, on what it will read (JSON turns Infinity into null): a dataset that
    // could not be opened is never published; the caller discards the temp folder.
    const checked = checkMeta(JSON.parse(text));
    if ('problem' in checked) throw new DatasetError(meta.summary.source || target, `not published: its description would not be readable: ${checked.problem}`);
    const file = await open(join(this.tempDir, META_FILE), 'wx');
    try {
      await file.writeFile(text);
      await file.sync();
    } finally {
      await file.close();
    }
    try {
      await rename(this.tempDir, target);
    } catch (error) {
      throw new DatasetError(target, `cannot move the imported dataset into place: ${(error as Error).message}`, { cause: error, code: 'io' });
    }
  }

  /** Removes the temp folder (after a failure or cancellation). Safe to call twice. */
  async discard(): Promise<void> {
    await this.x.close().catch(() => {});
    await rm(this.tempDir, { recursive: true, force: true });
  }

  static sizeBytes(count: number, sampleSize: number, dtype: DatasetSummary['dtype']): number {
    return count * sampleSize * bytesPerValue(dtype);
  }
}
