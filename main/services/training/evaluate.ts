/**
 * Scoring a model on a set of samples, in chunks, inside the worker: validation at the end of each
 * epoch, and the evaluation of a finished run's saved weights on the Fashion-MNIST test set.
 */
import type * as TF from '@tensorflow/tfjs';
import type { Evaluation } from '../../../contract';
import { FASHION_MNIST_CLASS_NAMES, type FashionMnistData } from '../datasets/fashion-mnist';
import { gatherSamples, shuffledIndices } from './data';
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

/** How many example images an evaluation returns. */
export const EXAMPLE_COUNT = 24;

/**
 * Loads a run's saved weights and evaluates them on the test set: in inference mode (BN with its
 * moving statistics), and with BatchNormalization in training mode (each batch's own statistics,
 * batches of the run's batch size; dropout off; the moving statistics are not updated — the loaded
 * model is a throwaway copy and that mode never writes them anyway). Plus the confusion matrix and a
 * few examples (half of them misclassified when there are enough), in inference mode.
 */
export async function evaluateSavedModel(tf: typeof TF, runId: string, weightsDir: string, test: FashionMnistData): Promise<Evaluation> {
  const metadata = (await readModelJson(weightsDir)).userDefinedMetadata?.layerbench;
  const model = await tf.loadLayersModel(fileLoadHandler(weightsDir));
  try {
    const plans = planLayers(model);
    const inputShape = model.inputs[0]!.shape.slice(1).map(Number);
    const pixels = test.rows * test.cols;
    if (inputShape.reduce((a, b) => a * b, 1) !== pixels) {
      throw new Error(`The saved model's input shape [${inputShape.join(', ')}] does not hold a ${test.rows}×${test.cols} image`);
    }
    const n = test.labels.length;
    const indices = Uint32Array.from({ length: n }, (_, i) => i);
    const x = new Float32Array(n * pixels);
    const y = new Int32Array(n);
    gatherSamples(test.images, test.labels, pixels, indices, null, x, y);

    const inference = await score(tf, plans, x, y, n, inputShape, { mode: 'inference', chunk: 500, predictions: true });
    const batchSize = metadata?.batchSize ?? 32;
    const training = await score(tf, plans, x, y, n, inputShape, { mode: 'batch-stats', chunk: batchSize });

    const classes = FASHION_MNIST_CLASS_NAMES.length;
    const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
    for (let i = 0; i < n; i++) confusion[y[i]!]![inference.predicted[i]!]!++;

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
    const examples = picked.map((i) => ({
      index: i,
      label: y[i]!,
      predicted: inference.predicted[i]!,
      confidence: inference.confidence[i]!,
      pixels: Buffer.from(test.images.subarray(i * pixels, (i + 1) * pixels)).toString('base64'),
    }));

    return {
      runId,
      samples: n,
      inference: { loss: inference.loss, acc: inference.acc },
      training: { loss: training.loss, acc: training.acc },
      classNames: [...FASHION_MNIST_CLASS_NAMES],
      confusion,
      examples,
    };
  } finally {
    model.dispose();
  }
}
