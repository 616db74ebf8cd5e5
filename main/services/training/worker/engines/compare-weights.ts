/**
 * Shared by the engines' tests (not used by the app): a tfjs model's variables by Keras name, and the
 * worst per-variable error between two sets of weights.
 */
import type * as TF from '@tensorflow/tfjs';
import type { NamedWeights } from '../../../export/weights';

/** A tfjs model's variables by Keras name, in its order (trainable ones first). */
export function weightsOf(model: TF.LayersModel): NamedWeights {
  return new Map(model.weights.map((w) => [w.originalName, { shape: [...w.shape] as number[], data: w.read().dataSync() as Float32Array }]));
}

/**
 * ‖a − b‖₂ / max(‖b‖₂, floor) per variable, the worst (max |a − b| would flag Adam's sign-like steps
 * on near-zero gradients), less the variables in `skip`. With `floor` 1 the error is absolute for variables of norm below 1: where
 * the true gradient is 0 both sides hold rounding noise, which a relative error would compare with itself.
 */
export function worstRelativeError(actual: NamedWeights, expected: NamedWeights, floor = 0, skip: ReadonlySet<string> = new Set()): { worst: number; at: string } {
  let worst = 0;
  let at = '';
  for (const [name, e] of expected) {
    if (skip.has(name)) continue;
    const a = actual.get(name)!.data;
    let diff = 0;
    let norm = 0;
    e.data.forEach((v, i) => {
      diff += (a[i]! - v) ** 2;
      norm += v ** 2;
    });
    const scale = Math.max(Math.sqrt(norm), floor);
    const err = scale === 0 ? Math.sqrt(diff) : Math.sqrt(diff) / scale;
    if (err > worst) [worst, at] = [err, name];
  }
  return { worst, at };
}
