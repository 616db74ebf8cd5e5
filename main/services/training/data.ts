/** Chooses a run's training and validation samples and lays each epoch's batches out contiguously. */
import type { TrainingSettings } from '../../../contract';

/** mulberry32: a tiny seeded PRNG, so a run's subset and split are reproducible from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffledIndices(count: number, seed: number): Uint32Array {
  const random = seededRandom(seed);
  const indices = new Uint32Array(count);
  for (let i = 0; i < count; i++) indices[i] = i;
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = indices[i]!;
    indices[i] = indices[j]!;
    indices[j] = t;
  }
  return indices;
}

export interface Split {
  /** Indices into the dataset of the training samples, in the run's (seeded) order. */
  train: Uint32Array;
  /** Indices of the validation samples: the tail of the run's subset, as Keras' `validation_split` takes. */
  validation: Uint32Array;
}

/** Picks the run's samples: a seeded subset of the training images, its tail held out for validation. */
export function splitIndices(available: number, settings: Pick<TrainingSettings, 'trainSubset' | 'validationSplit' | 'seed'>): Split {
  const total = Math.min(settings.trainSubset ?? available, available);
  const order = shuffledIndices(available, settings.seed).subarray(0, total);
  const validationSamples = Math.floor(total * settings.validationSplit);
  const trainSamples = total - validationSamples;
  if (trainSamples < 1) throw new Error(`No training samples left: ${total} samples with validation split ${settings.validationSplit}`);
  return { train: order.slice(0, trainSamples), validation: order.slice(trainSamples) };
}

/**
 * Copies the samples `indices[order[i]]` (or `indices[i]` without an order) into one contiguous
 * buffer, pixels scaled to [0, 1], so that every batch is a plain `subarray` of it. One pass per
 * epoch; the buffers are reused from epoch to epoch.
 */
export function gatherSamples(
  images: Uint8Array,
  labels: Uint8Array,
  pixelsPerImage: number,
  indices: Uint32Array,
  order: Uint32Array | null,
  xOut: Float32Array,
  yOut: Int32Array,
): void {
  const count = indices.length;
  if (xOut.length < count * pixelsPerImage || yOut.length < count) throw new Error('gatherSamples: output buffers too small');
  for (let i = 0; i < count; i++) {
    const sample = indices[order ? order[i]! : i]!;
    const src = images.subarray(sample * pixelsPerImage, (sample + 1) * pixelsPerImage);
    const base = i * pixelsPerImage;
    for (let p = 0; p < pixelsPerImage; p++) xOut[base + p] = src[p]! / 255;
    yOut[i] = labels[sample]!;
  }
}
