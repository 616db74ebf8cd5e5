/** Turns the Fashion-MNIST arrays into training and validation tensors for a run. */
import type * as TF from '@tensorflow/tfjs';
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

export interface SplitTensors {
  xTrain: TF.Tensor;
  yTrain: TF.Tensor;
  xVal: TF.Tensor | null;
  yVal: TF.Tensor | null;
  trainSamples: number;
  validationSamples: number;
}

/**
 * Picks the run's samples (a seeded subset of the training images), scales pixels to [0, 1] and
 * shapes them to the model's input. The validation set is the tail of that subset, as Keras'
 * `validation_split` takes the last samples.
 */
export function makeSplit(
  tf: typeof TF,
  images: Uint8Array,
  labels: Uint8Array,
  pixelsPerImage: number,
  inputShape: number[],
  settings: Pick<TrainingSettings, 'trainSubset' | 'validationSplit' | 'seed'>,
): SplitTensors {
  const available = labels.length;
  const total = Math.min(settings.trainSubset ?? available, available);
  const order = shuffledIndices(available, settings.seed).subarray(0, total);
  const validationSamples = Math.floor(total * settings.validationSplit);
  const trainSamples = total - validationSamples;
  if (trainSamples < 1) throw new Error(`No training samples left: ${total} samples with validation split ${settings.validationSplit}`);

  const take = (from: number, count: number): [TF.Tensor, TF.Tensor] => {
    const x = new Float32Array(count * pixelsPerImage);
    const y = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      const src = order[from + i]! * pixelsPerImage;
      for (let p = 0; p < pixelsPerImage; p++) x[i * pixelsPerImage + p] = images[src + p]! / 255;
      y[i] = labels[order[from + i]!]!;
    }
    return [tf.tensor(x, [count, ...inputShape]), tf.tensor1d(y)];
  };
  const [xTrain, yTrain] = take(0, trainSamples);
  const [xVal, yVal] = validationSamples > 0 ? take(trainSamples, validationSamples) : [null, null];
  return { xTrain, yTrain, xVal, yVal, trainSamples, validationSamples };
}
