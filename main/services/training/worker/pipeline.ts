/**
 * The run's data pipeline over a SampleSource: the seeded split (train / validation / test), the
 * normalization (÷255, per-feature standardization from the training split's statistics, or none),
 * and each epoch's batches as contiguous float32 subarrays.
 *
 * A source held in memory is gathered once per epoch into one buffer in the epoch's shuffled order,
 * from its training samples read and normalized once (when they fit NORMALIZED_CACHE_BYTES; else
 * read and normalized again each epoch): as a PyTorch loop over a tensor normalized at load does.
 * A streamed source (larger than the memory budget) is never held whole: its training samples are cut
 * into blocks of consecutive indices, each epoch visits the blocks in a shuffled order, reads one
 * block at a time (one contiguous read) and shuffles within it — the shuffle-buffer approach of
 * tf.data, with memory bounded by the block size.
 */
import type { Normalization, TrainingSettings } from '../../../../contract';
import type { SampleSource } from '../../datasets/source';
import { shuffledIndices } from './data';
import { deriveSeed } from './seeds';

export interface RunSplit {
  train: Uint32Array;
  validation: Uint32Array;
  /** Held-out test samples from the pool (empty when the dataset has its own test set). */
  test: Uint32Array;
}

type SplitSettings = Pick<TrainingSettings, 'trainSubset' | 'validationSplit' | 'testSplit' | 'seed'>;

/**
 * The run's samples. The test share is taken from the end of the seeded order of the whole pool, so it
 * does not depend on trainSubset or validationSplit; the rest is cut to trainSubset and its tail held
 * out for validation (as Keras' `validation_split`). With no test share this is exactly the split runs
 * made before test splits existed.
 */
export function splitRun(available: number, settings: SplitSettings, hasOwnTest: boolean): RunSplit {
  const order = shuffledIndices(available, settings.seed);
  const testCount = hasOwnTest ? 0 : Math.floor(available * settings.testSplit);
  const rest = available - testCount;
  const total = Math.min(settings.trainSubset ?? rest, rest);
  const validationSamples = Math.floor(total * settings.validationSplit);
  const trainSamples = total - validationSamples;
  if (trainSamples < 1) {
    throw new Error(`No training samples left: ${available} samples, test split ${settings.testSplit}, validation split ${settings.validationSplit}`);
  }
  return {
    train: order.slice(0, trainSamples),
    validation: order.slice(trainSamples, total),
    test: order.slice(available - testCount),
  };
}

/** How stored values become model inputs; saved with the weights so evaluation applies the same. */
export type NormalizationState = { kind: 'scale-255' } | { kind: 'none' } | { kind: 'standardize'; mean: number[]; std: number[] };

export function applyNormalization(state: NormalizationState, x: Float32Array, sampleSize: number): void {
  if (state.kind === 'none') return;
  if (state.kind === 'scale-255') {
    for (let i = 0; i < x.length; i++) x[i] = x[i]! / 255;
    return;
  }
  const { mean, std } = state;
  for (let base = 0; base < x.length; base += sampleSize) {
    for (let f = 0; f < sampleSize; f++) x[base + f] = (x[base + f]! - mean[f]!) / std[f]!;
  }
}

/** Samples read per chunk when a pass over many samples cannot hold them all (statistics, scoring). */
const CHUNK = 2048;

/** Reads `indices` chunk by chunk, sorted within each chunk so streamed reads coalesce. */
export async function* readChunks(source: SampleSource, indices: Uint32Array, chunk = CHUNK): AsyncGenerator<{ x: Float32Array; y: Int32Array; n: number }> {
  const buffer = new Float32Array(Math.min(chunk, indices.length) * source.sampleSize);
  const labels = new Int32Array(Math.min(chunk, indices.length));
  for (let from = 0; from < indices.length; from += chunk) {
    const part = indices.subarray(from, Math.min(indices.length, from + chunk));
    const n = part.length;
    const x = buffer.subarray(0, n * source.sampleSize);
    await source.read(part, x);
    for (let i = 0; i < n; i++) labels[i] = source.labels[part[i]!]!;
    yield { x, y: labels.subarray(0, n), n };
  }
}

/**
 * Per-feature mean and standard deviation over the training samples (population std, as Keras'
 * Normalization layer adapts); a constant feature gets std 1 so it maps to 0 instead of NaN.
 */
export async function standardization(source: SampleSource, train: Uint32Array): Promise<NormalizationState> {
  const size = source.sampleSize;
  const sum = new Float64Array(size);
  const sumSq = new Float64Array(size);
  for await (const { x, n } of readChunks(source, train)) {
    for (let i = 0; i < n; i++) {
      const base = i * size;
      for (let f = 0; f < size; f++) {
        const v = x[base + f]!;
        sum[f] += v;
        sumSq[f] += v * v;
      }
    }
  }
  const count = train.length;
  const mean: number[] = [];
  const std: number[] = [];
  for (let f = 0; f < size; f++) {
    const m = sum[f]! / count;
    const variance = Math.max(0, sumSq[f]! / count - m * m);
    mean.push(m);
    std.push(variance > 1e-12 ? Math.sqrt(variance) : 1);
  }
  return { kind: 'standardize', mean, std };
}

export async function normalizationFor(kind: Normalization, source: SampleSource, train: Uint32Array): Promise<NormalizationState> {
  return kind === 'standardize' ? standardization(source, train) : { kind };
}

export interface Batch {
  x: Float32Array;
  y: Int32Array;
  n: number;
  /**
   * The feeder leaves `x` and `y` as they are while this many further batches are yielded (the epochs
   * go on counting), so that an engine holding recent batches may keep them without a copy. Absent:
   * they may change with the next batch.
   */
  keptFor?: number;
}

/** Samples per block of a streamed source: bounded memory, enough samples to shuffle well. */
export function streamBlockSamples(sampleSize: number, batchSize: number): number {
  const budgetValues = 16 * 1024 * 1024; // 64 MB of float32 per block
  const samples = Math.max(batchSize, Math.floor(budgetValues / Math.max(1, sampleSize)));
  return Math.max(batchSize, samples - (samples % batchSize));
}

/**
 * The most memory an in-memory source's normalized training samples may take to be kept from one
 * epoch to the next (reading and normalizing them was ~27 ms of every epoch of 8,000 images, a
 * tenth of an ONNX Runtime epoch at batch 256; the gather alone is ~3 ms).
 */
export const NORMALIZED_CACHE_BYTES = 512 * 1024 * 1024;

export interface FeederOptions {
  /** The most an in-memory source's normalized samples may take to be kept between epochs (NORMALIZED_CACHE_BYTES). */
  cacheBytes?: number;
  /**
   * Batches a consumer holds after their step (an engine's queued and recent steps): the kept
   * samples' batches then come from a ring of this many + 1 buffers, each left alone for `keptFor`
   * = this many further batches. Default 0: one buffer.
   */
  heldBatches?: number;
}

/** Each epoch's batches, in the run's seeded order. */
export class EpochFeeder {
  /** The epoch's (or a streamed block's) samples in order, for the sources whose samples are not kept (allocated on first use). */
  private epochBuffers: { x: Float32Array; y: Int32Array } | null = null;
  /** An in-memory source's training samples normalized, in `train`'s order (built at the first epoch), or null when not kept. */
  private normalized: { x: Float32Array; y: Int32Array } | null = null;
  private readonly keepNormalized: boolean;
  /** Kept samples: each batch gathered into the next of these (heldBatches + 1), the only copy a step's samples take. */
  private readonly ring: { x: Float32Array; y: Int32Array }[] = [];
  private ringNext = 0;
  /** Streamed sources only: a block in its shuffled order (allocated once, reused for every block). */
  private shuffled: { x: Float32Array; y: Int32Array } | null = null;
  private readonly blockSamples: number;

  constructor(
    private readonly source: SampleSource,
    private readonly train: Uint32Array,
    private readonly normalization: NormalizationState,
    private readonly batchSize: number,
    private readonly seed: number,
    options: FeederOptions = {},
  ) {
    this.blockSamples = source.streamed ? streamBlockSamples(source.sampleSize, batchSize) : train.length;
    this.keepNormalized = !source.streamed && train.length * source.sampleSize * 4 <= (options.cacheBytes ?? NORMALIZED_CACHE_BYTES);
    if (this.keepNormalized) {
      const n = Math.min(batchSize, train.length);
      for (let i = 0; i <= (options.heldBatches ?? 0); i++) this.ring.push({ x: new Float32Array(n * source.sampleSize), y: new Int32Array(n) });
    }
  }

  /** The epoch's buffers, made on first use. */
  private epochBuffer(): { x: Float32Array; y: Int32Array } {
    const samples = Math.min(this.blockSamples, this.train.length);
    return (this.epochBuffers ??= { x: new Float32Array(samples * this.source.sampleSize), y: new Int32Array(samples) });
  }

  get batchesPerEpoch(): number {
    if (!this.source.streamed) return Math.ceil(this.train.length / this.batchSize);
    let batches = 0;
    for (let from = 0; from < this.train.length; from += this.blockSamples) batches += Math.ceil(Math.min(this.blockSamples, this.train.length - from) / this.batchSize);
    return batches;
  }

  async *batches(epoch: number): AsyncGenerator<Batch> {
    const size = this.source.sampleSize;
    if (!this.source.streamed) {
      const order = shuffledIndices(this.train.length, deriveSeed(this.seed, 'epoch', epoch));
      if (this.keepNormalized) {
        if (!this.normalized) {
          this.normalized = { x: new Float32Array(this.train.length * size), y: new Int32Array(this.train.length) };
          await this.fill(this.train, this.normalized.x, this.normalized.y);
        }
        const { x: kept, y: labels } = this.normalized;
        for (let from = 0; from < order.length; from += this.batchSize) {
          const n = Math.min(this.batchSize, order.length - from);
          const slot = this.ring[this.ringNext]!;
          this.ringNext = (this.ringNext + 1) % this.ring.length;
          for (let i = 0; i < n; i++) {
            const sample = order[from + i]!;
            slot.x.set(kept.subarray(sample * size, (sample + 1) * size), i * size);
            slot.y[i] = labels[sample]!;
          }
          yield { x: slot.x.subarray(0, n * size), y: slot.y.subarray(0, n), n, keptFor: this.ring.length - 1 };
        }
        return;
      }
      const { x, y } = this.epochBuffer();
      const indices = new Uint32Array(this.train.length);
      for (let i = 0; i < indices.length; i++) indices[i] = this.train[order[i]!]!;
      await this.fill(indices, x, y);
      for (let from = 0; from < order.length; from += this.batchSize) {
        const n = Math.min(this.batchSize, order.length - from);
        yield { x: x.subarray(from * size, (from + n) * size), y: y.subarray(from, from + n), n };
      }
      return;
    }
    // Streamed: blocks of consecutive (sorted) training indices, visited in a seeded order.
    const { x, y } = this.epochBuffer();
    const sorted = Uint32Array.from(this.train).sort();
    const blocks = Math.ceil(sorted.length / this.blockSamples);
    const blockOrder = shuffledIndices(blocks, deriveSeed(this.seed, 'blocks', epoch));
    for (const block of blockOrder) {
      const members = sorted.subarray(block * this.blockSamples, Math.min(sorted.length, (block + 1) * this.blockSamples));
      const within = shuffledIndices(members.length, deriveSeed(this.seed, 'block', epoch, block));
      // Read in sorted order (contiguous runs), then place each sample where the shuffle puts it.
      await this.fill(members, x, y);
      const capacity = Math.min(this.blockSamples, this.train.length);
      this.shuffled ??= { x: new Float32Array(capacity * size), y: new Int32Array(capacity) };
      const shuffledX = this.shuffled.x;
      const shuffledY = this.shuffled.y;
      for (let i = 0; i < members.length; i++) {
        const src = within[i]!;
        shuffledX.set(x.subarray(src * size, (src + 1) * size), i * size);
        shuffledY[i] = y[src]!;
      }
      for (let from = 0; from < members.length; from += this.batchSize) {
        const n = Math.min(this.batchSize, members.length - from);
        yield { x: shuffledX.subarray(from * size, (from + n) * size), y: shuffledY.subarray(from, from + n), n };
      }
    }
  }

  private async fill(indices: Uint32Array, x: Float32Array, y: Int32Array): Promise<void> {
    const size = this.source.sampleSize;
    const xs = x.subarray(0, indices.length * size);
    await this.source.read(indices, xs);
    applyNormalization(this.normalization, xs, size);
    for (let i = 0; i < indices.length; i++) y[i] = this.source.labels[indices[i]!]!;
  }
}

/** Validation or test samples of an in-memory source, normalized (streamed sources are scored chunk by chunk: evaluate.ts scoreSource). */
export async function gatherNormalized(source: SampleSource, indices: Uint32Array, normalization: NormalizationState): Promise<{ x: Float32Array; y: Int32Array }> {
  const x = new Float32Array(indices.length * source.sampleSize);
  const y = new Int32Array(indices.length);
  await source.read(indices, x);
  applyNormalization(normalization, x, source.sampleSize);
  for (let i = 0; i < indices.length; i++) y[i] = source.labels[indices[i]!]!;
  return { x, y };
}
