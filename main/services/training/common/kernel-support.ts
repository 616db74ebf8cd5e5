/**
 * Which backend can train a given model. tfjs 4.22's wasm backend has no gradient kernels for
 * convolutions and pooling, so a model with Conv2D or MaxPooling2D trains on the pure-JS cpu
 * backend instead of failing at the first backward pass.
 */
import type * as TF from '@tensorflow/tfjs';
import type { ModelSpec } from '../../../../model/spec';
import { layerKit } from '../../../../model/layers';

/**
 * A BatchNormalization layer's normalized axis, non-negative, for an input of `rank` (batch
 * included): Keras' `axis` is a number or a one-element list, negative from the end (default −1).
 * tfjs 4.22 normalizes only along the last axis (the host refuses any other); the fused step's
 * BN unit computes on the last axis of a vector.
 */
export function batchNormAxis(raw: unknown, rank: number): number {
  const axis = Number(Array.isArray(raw) ? raw[0] : (raw ?? -1));
  return axis < 0 ? rank + axis : axis;
}

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
