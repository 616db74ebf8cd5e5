/**
 * Scoring a model on a set of samples, in chunks, inside the worker: validation at the end of each
 * epoch, and the evaluation of a finished run's saved weights on its test samples.
 */
import type * as TF from '@tensorflow/tfjs';
import type { Evaluation, TrainingSettings } from '../../../../contract';
import type { OpenedDataset, SampleSource } from '../../datasets/source';
import { shuffledIndices } from './data';
import { applyNormalization, gatherNormalized, readChunks, splitRun, type NormalizationState } from './pipeline';
import { accuracy, crossEntropyPerSample, forwardWithLogits, planLayers, type ForwardMode, type LayerPlan } from './forward';
import { fileLoadHandler, readModelJson } from './weights-io';

export interface Scored {
  loss: number;
  acc: number;
}

export interface Predictions extends Scored {
  /** Arg-max class per sample. */
  predicted: Int32Array;
  /** The predicted class's probability per sample. */
  confidence: Float32Array;
}

/**
 * Mean loss and accuracy of `plans` on `n` samples laid out contiguously in `x` / `y`, `chunk`
 * samples at a time. With `predictions`, also every sample's predicted class and its probability.
 */
export async function score(
  tf: typeof TF,
  plans: LayerPlan[],
  x: Float32Array,
  y: Int32Array,
  n: number,
  inputShape: number[],
  options: { mode: ForwardMode; chunk: number; predictions?: boolean },
): Promise<Predictions> {
  const pixels = inputShape.reduce((a, b) => a * b, 1);
  const predicted = new Int32Array(options.predictions ? n : 0);
  const confidence = new Float32Array(options.predictions ? n : 0);
  let lossSum = 0;
  let correct = 0;
  for (let from = 0; from < n; from += options.chunk) {
    const count = Math.min(options.chunk, n - from);
    const result = tf.tidy(() => {
      const xb = tf.tensor(x.subarray(from * pixels, (from + count) * pixels), [count, ...inputShape]);
      const yb = tf.tensor1d(y.subarray(from, from + count), 'int32');
      const { output: probs, logits } = forwardWithLogits(tf, plans, xb, { mode: options.mode });
      const head = tf.stack([tf.sum(crossEntropyPerSample(tf, probs, yb, logits)), tf.mul(accuracy(tf, probs, yb), count)]);
      if (!options.predictions) return head;
      return tf.concat([head, tf.cast(tf.argMax(probs, -1), 'float32'), tf.max(probs, -1)]);
    });
    const values = (await result.data()) as Float32Array;
    result.dispose();
    lossSum += values[0]!;
    correct += Math.round(values[1]!);
    if (options.predictions) {
      for (let i = 0; i < count; i++) {
        predicted[from + i] = values[2 + i]!;
        confidence[from + i] = values[2 + count + i]!;
      }
    }
  }
  return { loss: lossSum / n, acc: correct / n, predicted, confidence };
}

/** Scores `n` samples some other way than `score` on the tfjs model (an engine's inference graph). */
export type ChunkScorer = (x: Float32Array, y: Int32Array, n: number) => Promise<Scored>;

/**
 * The same as `score`, reading `indices` of `source` chunk by chunk (normalized as the run normalizes):
 * for a streamed dataset, whose validation or test share must not be held whole in memory. Also
 * returns the labels, in `indices` order. With `scorer` (no predictions) each chunk is scored by it.
 */
export async function scoreSource(
  tf: typeof TF,
  plans: LayerPlan[],
  source: SampleSource,
  indices: Uint32Array,
  normalization: NormalizationState,
  inputShape: number[],
  options: { mode: ForwardMode; chunk: number; predictions?: boolean; scorer?: ChunkScorer | undefined },
): Promise<Predictions & { labels: Int32Array }> {
  const n = indices.length;
  const labels = new Int32Array(n);
  const predicted = new Int32Array(options.predictions ? n : 0);
  const confidence = new Float32Array(options.predictions ? n : 0);
  let lossSum = 0;
  let accSum = 0;
  let at = 0;
  // Chunks a multiple of the scoring chunk, so batch-statistics scoring sees the same batches as in memory.
  const readSize = Math.max(options.chunk, Math.floor(4096 / options.chunk) * options.chunk);
  for await (const { x, y, n: count } of readChunks(source, indices, readSize)) {
    applyNormalization(normalization, x, source.sampleSize);
    const part: Scored & Partial<Predictions> =
      options.scorer && !options.predictions ? await options.scorer(x, y, count) : await score(tf, plans, x, y, count, inputShape, options);
    lossSum += part.loss * count;
    accSum += part.acc * count;
    labels.set(y, at);
    if (part.predicted && part.confidence) {
      predicted.set(part.predicted, at);
      confidence.set(part.confidence, at);
    }
    at += count;
  }
  return { loss: lossSum / n, acc: accSum / n, predicted, confidence, labels };
}

/** How many example images an evaluation returns. */
export const EXAMPLE_COUNT = 24;

/** The run's split settings, to find a pooled dataset's held-out test samples. */
export type SplitSettings = Pick<TrainingSettings, 'seed' | 'testSplit' | 'trainSubset' | 'validationSplit'>;

/**
 * The test samples a run is evaluated on: the dataset's own test set (Fashion-MNIST), or the share
 * of the pool the run held out (its test split, from its seed).
 */
function testSamples(dataset: OpenedDataset, split: SplitSettings): { source: SampleSource; indices: Uint32Array } {
  if (dataset.test) return { source: dataset.test, indices: Uint32Array.from({ length: dataset.test.count }, (_, i) => i) };
  const indices = splitRun(dataset.pool.count, split, false).test;
  if (indices.length === 0) {
    throw new Error(
      'This run held out no test samples (its test split is 0) and the dataset has no test set of its own: train with a test split to evaluate on samples the model never saw',
    );
  }
  return { source: dataset.pool, indices };
}

/** [height, width, channels] when a sample is an image (2-D, or 3-D with 1 or 3 channels); else null. */
function imageShape(sampleShape: number[]): number[] | null {
  if (sampleShape.length === 2) return [sampleShape[0]!, sampleShape[1]!, 1];
  if (sampleShape.length === 3 && (sampleShape[2] === 1 || sampleShape[2] === 3)) return [...sampleShape];
  return null;
}

/** A sample's stored values as 0..255 bytes, base64: bytes as they are, floats stretched from their min..max. */
function pixelsOf(values: Float32Array, dtype: 'uint8' | 'float32'): string {
  const bytes = new Uint8Array(values.length);
  if (dtype === 'uint8') {
    for (let i = 0; i < values.length; i++) bytes[i] = values[i]!;
  } else {
    let min = Infinity;
    let max = -Infinity;
    for (const v of values) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const range = max > min ? max - min : 1;
    for (let i = 0; i < values.length; i++) bytes[i] = Math.round(((values[i]! - min) / range) * 255);
  }
  return Buffer.from(bytes).toString('base64');
}

/**
 * Loads a run's saved weights and evaluates them on the test set: in inference mode (BN with its
 * moving statistics), and with BatchNormalization in training mode (each batch's own statistics,
 * batches of the run's batch size; dropout off; the moving statistics are not updated — the loaded
 * model is a throwaway copy and that mode never writes them anyway). Plus the confusion matrix and a
 * few examples (half of them misclassified when there are enough), in inference mode. Inputs are
 * normalized as the run normalized them (recorded with its weights).
 */
export async function evaluateSavedModel(tf: typeof TF, runId: string, weightsDir: string, dataset: OpenedDataset, split: SplitSettings): Promise<Evaluation> {
  const metadata = (await readModelJson(weightsDir)).userDefinedMetadata?.layerbench;
  const model = await tf.loadLayersModel(fileLoadHandler(weightsDir));
  try {
    const plans = planLayers(model);
    const inputShape = model.inputs[0]!.shape.slice(1).map(Number);
    const { source, indices } = testSamples(dataset, split);
    const size = source.sampleSize;
    if (inputShape.reduce((a, b) => a * b, 1) !== size) {
      throw new Error(`The saved model's input shape [${inputShape.join(', ')}] does not fit the dataset's samples [${source.sampleShape.join(', ')}]`);
    }
    const normalization: NormalizationState = metadata?.normalization ?? { kind: 'scale-255' };
    const n = indices.length;
    const batchSize = metadata?.batchSize ?? 32;
    let inference: Predictions;
    let training: Scored;
    let y: Int32Array;
    if (source.streamed) {
      // Read in chunks: a streamed dataset's test share may not fit in memory as float32.
      const scored = await scoreSource(tf, plans, source, indices, normalization, inputShape, { mode: 'inference', chunk: 500, predictions: true });
      inference = scored;
      y = scored.labels;
      training = await scoreSource(tf, plans, source, indices, normalization, inputShape, { mode: 'batch-stats', chunk: batchSize });
    } else {
      const gathered = await gatherNormalized(source, indices, normalization);
      y = gathered.y;
      inference = await score(tf, plans, gathered.x, y, n, inputShape, { mode: 'inference', chunk: 500, predictions: true });
      training = await score(tf, plans, gathered.x, y, n, inputShape, { mode: 'batch-stats', chunk: batchSize });
    }

    const classes = source.classNames.length;
    const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
    for (let i = 0; i < n; i++) {
      const row = confusion[y[i]!];
      const predicted = inference.predicted[i]!;
      if (row && predicted < classes) row[predicted]!++;
    }

    const shape = imageShape(source.sampleShape);
    const examples = [];
    if (shape) {
      const order = shuffledIndices(n, 20_240_611);
      const wrong: number[] = [];
      const right: number[] = [];
      for (const i of order) {
        const list = inference.predicted[i] === y[i] ? right : wrong;
        if (list.length < EXAMPLE_COUNT) list.push(i);
        if (wrong.length >= EXAMPLE_COUNT && right.length >= EXAMPLE_COUNT) break;
      }
      const half = EXAMPLE_COUNT / 2;
      const pickedWrong = wrong.slice(0, Math.max(half, EXAMPLE_COUNT - right.length));
      const picked = [...pickedWrong, ...right.slice(0, EXAMPLE_COUNT - pickedWrong.length)].sort((a, b) => a - b);
      const raw = new Float32Array(size);
      for (const i of picked) {
        await source.read(indices.subarray(i, i + 1), raw);
        examples.push({
          index: indices[i]!,
          label: y[i]!,
          predicted: inference.predicted[i]!,
          confidence: inference.confidence[i]!,
          pixels: pixelsOf(raw, source.summary.dtype),
          shape,
        });
      }
    }

    return {
      runId,
      weightsFrom: metadata?.kind === 'best' ? 'best' : 'weights',
      samples: n,
      inference: { loss: inference.loss, acc: inference.acc },
      training: { loss: training.loss, acc: training.acc },
      classNames: [...source.classNames],
      confusion,
      examples,
    };
  } finally {
    model.dispose();
  }
}
