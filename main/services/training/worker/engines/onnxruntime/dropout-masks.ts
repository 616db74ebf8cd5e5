/**
 * The keep masks a step graph's Dropout/AlphaDropout layers take as inputs, drawn exactly as the
 * general path draws them (forward.ts: tfjs' seeded uniform draw ≥ rate, the seed derived from the
 * layer's own seed or the run's, the layer name and the step), so both paths drop the same units.
 */
import type * as TF from '@tensorflow/tfjs';
import { deriveSeed } from '../../seeds';
import type { DropoutMask } from './step-graph';

/** Mask input name → keep mask [n, features] (1 keep, 0 drop) for this step. */
export function dropoutKeepMasks(tf: typeof TF, masks: readonly DropoutMask[], n: number, at: { seed: number; step: number }): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const m of masks) {
    const seed = deriveSeed(m.seed ?? at.seed, 'dropout', m.layer, at.step);
    // tfjs draws a seeded uniform on the host; the threshold is applied here too (float32, as
    // greaterEqual compares), so that no op runs on a GPU backend (no buffers, no dispatches).
    const uniform = tf.randomUniform([n, m.features], 0, 1, 'float32', seed);
    const rate = Math.fround(m.rate);
    // A new array: the 'cpu' backend's typed array fails ONNX Runtime's Float32Array check under vitest.
    out.set(
      m.input,
      Float32Array.from(uniform.dataSync(), (u) => (u >= rate ? 1 : 0)),
    );
    uniform.dispose();
  }
  return out;
}
