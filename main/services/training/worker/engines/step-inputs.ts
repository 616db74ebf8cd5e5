/**
 * The checks every engine makes on a step's inputs before it runs, and on the weights it is handed (ONNX Runtime's step graph, the
 * fused WebGPU step), so both refuse the same bad batch with the same words.
 */
import { DomainError } from '../../../../../contract';
import { product } from '../../../../../model/layers/checks';
import type { NamedWeights } from '../../../export/weights';

/** A dropout layer's keep mask as an engine expects it: `features` values per sample, fed as `input`. */
export interface ExpectedMask {
  layer: string;
  input: string;
  features: number;
}

/**
 * Why a step of `n` samples cannot run on `xs` ([n, sampleSize] row-major), `ys` (class indices
 * below `classes`) and `masks` (each expected mask by input name), or null when it can.
 */
export function stepInputError(
  xs: Float32Array,
  ys: Int32Array,
  n: number,
  shape: { sampleSize: number; classes: number },
  masks: ReadonlyMap<string, Float32Array>,
  expected: readonly ExpectedMask[],
): DomainError | null {
  const { sampleSize, classes } = shape;
  if (!(Number.isInteger(n) && n > 0) || xs.length < n * sampleSize || ys.length < n) {
    return new DomainError('invalid-input', `a step needs ${n} samples of ${sampleSize} values and ${n} labels, got ${xs.length} values and ${ys.length} labels`);
  }
  for (let i = 0; i < n; i++) {
    const label = ys[i]!;
    if (!(label >= 0 && label < classes)) return new DomainError('invalid-input', `label ${label} is outside the model's ${classes} classes`);
  }
  for (const mask of expected) {
    const keep = masks.get(mask.input);
    if (!keep || keep.length < n * mask.features) return new DomainError('invalid-input', `layer ${mask.layer} needs a keep mask of ${n} × ${mask.features} values`);
  }
  return null;
}

/** Why `weights` cannot replace an engine's `variables` (each must be given, with its shape's size), or null. */
export function weightsInputError(weights: NamedWeights, variables: readonly { name: string; shape: readonly number[] }[]): DomainError | null {
  for (const v of variables) {
    const w = weights.get(v.name);
    if (!w) return new DomainError('invalid-input', `no weights for '${v.name}'`);
    const size = product(v.shape);
    if (w.data.length !== size) return new DomainError('invalid-input', `weight '${v.name}' holds ${w.data.length} values, its shape [${v.shape.join(', ')}] needs ${size}`);
  }
  return null;
}
