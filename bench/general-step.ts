/** The general tfjs path's training step as loop.ts' trainStep computes it, without statistics (bench only). */
import type * as TF from '@tensorflow/tfjs';
import { forwardWithLogits, meanCrossEntropy, type LayerPlan } from '../main/services/training/worker/forward';

/** One step on `n` samples of `inputShape`; resolves to its loss after the one read-back. */
export async function generalStep(
  tf: typeof TF,
  m: { plans: LayerPlan[]; optimizer: TF.Optimizer; trainable: TF.Variable[]; inputShape: number[] },
  x: Float32Array,
  y: Int32Array,
  n: number,
  step: number,
): Promise<number> {
  const loss = tf.tidy(() => {
    const xb = tf.tensor(x, [n, ...m.inputShape]);
    const yb = tf.tensor1d(y, 'int32');
    const { value, grads } = m.optimizer.computeGradients(() => {
      const { output, logits } = forwardWithLogits(tf, m.plans, xb, { mode: 'train', seed: 1, step });
      return meanCrossEntropy(tf, output, yb, logits);
    }, m.trainable);
    m.optimizer.applyGradients(grads);
    return value;
  });
  const value = (await loss.data())[0]!;
  loss.dispose();
  return value;
}
