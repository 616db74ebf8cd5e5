/** The activations the fused step computes in JavaScript, with their derivatives as tfjs' gradients compute them. */
import type { UnitSite } from './unit';

export type Activation = 'linear' | 'relu' | 'elu' | 'selu' | 'tanh' | 'sigmoid';
const ACTIVATIONS = new Set<string>(['linear', 'relu', 'elu', 'selu', 'tanh', 'sigmoid']);
export const SELU_SCALE = 1.0507009873554805;
export const SELU_ALPHA = 1.6732632423543772;

/** Why a layer's activation (Keras name) cannot run in the fused step here, or null (softmax only as the last layer). */
export function activationDecline(activation: string, site: UnitSite): string | null {
  if (activation === 'softmax') return site.last ? null : `layer ${site.name}: softmax before the last layer`;
  return ACTIVATIONS.has(activation) ? null : `layer ${site.name}: activation ${activation}`;
}

/**
 * y = f(z + b) in place on `z` (row-major [n, F]), the transposed copy in `yT`, and f′ (transposed)
 * in `derivT` — each derivative as tfjs' gradient computes it.
 */
export function activate(activation: Activation, z: Float32Array, yT: Float32Array, derivT: Float32Array, n: number, F: number, bias: Float32Array | null): void {
  for (let i = 0; i < n; i++) {
    const base = i * F;
    for (let j = 0; j < F; j++) {
      const v = Math.fround(bias ? z[base + j]! + bias[j]! : z[base + j]!);
      let y: number;
      let d: number;
      switch (activation) {
        case 'linear':
          y = v;
          d = 1;
          break;
        case 'relu':
          y = v > 0 ? v : 0;
          d = v > 0 ? 1 : 0;
          break;
        case 'elu':
          // tfjs: y = x ≥ 0 ? x : eˣ − 1; EluGrad: y ≥ 0 ? dy : dy·(y + 1).
          y = v >= 0 ? v : Math.fround(Math.expm1(v));
          d = y >= 0 ? 1 : y + 1;
          break;
        case 'selu':
          // tfjs' SeluGrad: x > 0 ? dy·scale : dy·scale·alpha·eˣ.
          y = v > 0 ? SELU_SCALE * v : SELU_SCALE * SELU_ALPHA * Math.expm1(v);
          d = v > 0 ? SELU_SCALE : SELU_SCALE * SELU_ALPHA * Math.exp(v);
          break;
        case 'tanh':
          y = Math.fround(Math.tanh(v));
          d = 1 - y * y;
          break;
        case 'sigmoid':
          y = Math.fround(1 / (1 + Math.exp(-v)));
          d = y * (1 - y);
          break;
      }
      z[base + j] = y;
      yT[j * n + i] = y;
      derivT[j * n + i] = d;
    }
  }
}

/** grad · f′ elementwise (both transposed), into `out`. */
export function multiplyInto(out: Float32Array, grad: Float32Array, factor: Float32Array, size: number): Float32Array {
  for (let k = 0; k < size; k++) out[k] = grad[k]! * factor[k]!;
  return out;
}
