/**
 * Which backend can train a given model. tfjs 4.22's wasm backend has no gradient kernels for
 * convolutions and pooling, so a model with Conv2D or MaxPooling2D trains on the pure-JS cpu
 * backend instead of failing at the first backward pass.
 */
import type * as TF from '@tensorflow/tfjs';
import type { ModelSpec } from '../../../model/spec';
import { layerKit } from '../../../model/layers';

export function missingGradientKernels(tf: typeof TF, spec: ModelSpec, backend: string): string[] {
  const missing = new Set<string>();
  for (const layer of spec.config.layers) {
    for (const kernel of layerKit(layer.class_name)?.gradientKernels ?? []) {
      if (!tf.getKernel(kernel, backend)) missing.add(`${layer.class_name} needs ${kernel}`);
    }
  }
  return [...missing];
}

/** The backend to train this model on, and why it differs from the active one. */
export function trainingBackendFor(tf: typeof TF, spec: ModelSpec, active: string): { backend: string; reason?: string } {
  const missing = missingGradientKernels(tf, spec, active);
  if (missing.length === 0) return { backend: active };
  return { backend: 'cpu', reason: `The ${active} backend cannot train this model (${missing.join('; ')}): training on cpu instead` };
}
