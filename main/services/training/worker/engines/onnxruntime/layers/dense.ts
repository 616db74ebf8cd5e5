/** Dense: z = x·W + b, then its activation; on the last layer z is the softmax's logits. */
import { canonicalConstraint, canonicalRegularizer } from '../../../../../../../model/regularizers';
import type { ModelLayerInfo } from '../../../../../export/weights';
import { activate, activationSupport } from './activation';
import { batchSum, layerAt, rank2Input, type AffineInput, type Backward, type Cfg, type Ctx, type StepLayer } from './graph';

/** Why the layer's kernel_regularizer or kernel_constraint is outside the step, or null (Dense and Conv2D share them). */
export function kernelSettingsSupport(info: ModelLayerInfo, cfg: Cfg): string | null {
  const regularizer = canonicalRegularizer(cfg.kernel_regularizer);
  if (!regularizer.ok) return `${layerAt(info)}: kernel_regularizer ${regularizer.message}`;
  const constraint = canonicalConstraint(cfg.kernel_constraint);
  if (!constraint.ok) return `${layerAt(info)}: kernel_constraint ${constraint.message}`;
  return null;
}

function denseBackward(
  c: Ctx,
  name: string,
  input: string,
  kernel: string,
  bias: string | undefined,
  activationBack: (dy: string) => string,
  needDx: boolean,
  grads: Map<string, string>,
  affine: AffineInput | undefined,
): Backward {
  return (dy) => {
    const dz = activationBack(dy);
    // Σdz over the batch: the bias's gradient, and what an affine input's dβ and dW need.
    const dzSum = bias || affine ? batchSum(c, dz, `${name}/dbias`) : null;
    if (bias) grads.set(bias, dzSum!);
    if (affine) return affineInputBackward(c, name, kernel, dz, dzSum!, affine, grads);
    grads.set(kernel, c.g.node('Gemm', [input, dz], `${name}/dkernel`, [{ name: 'transA', i: 1 }]));
    return needDx ? c.g.node('Gemm', [dz, kernel], `${name}/dx`, [{ name: 'transB', i: 1 }]) : null;
  };
}

/**
 * The kernel's gradient and the affine input's (γ, β) from G = x̂ᵀ·dz, without dx = dz·Wᵀ: the input
 * is x̂·γ + β, so dW = γ ⊙ G + β ⊗ Σdz (rows scaled), dγ = Σ_k W ⊙ G and dβ = W·Σdz. Elementwise
 * work on the kernel's shape replaces an [N, inputs] product: the seed model's first BN → Dense(300)
 * at batch 256 drops 60M of its step's ~200M multiply-adds (bench/README.md).
 */
function affineInputBackward(c: Ctx, name: string, kernel: string, dz: string, dzSum: string, affine: AffineInput, grads: Map<string, string>): null {
  const { g } = c;
  const reshaped = (v: string, dims: number[], label: string) => g.node('Reshape', [v, g.int64s(`${name}/${label}_shape`, dims)], `${name}/${label}`);
  const xhatProduct = g.node('Gemm', [affine.xhat(), dz], `${name}/xhat_dz`, [{ name: 'transA', i: 1 }]);
  let dKernel = affine.gamma ? g.node('Mul', [xhatProduct, reshaped(affine.gamma, [-1, 1], 'gamma_column')], `${name}/dkernel_scaled`) : xhatProduct;
  // β ⊗ Σdz added as a rank-1 product onto C: one pass over the kernel's shape.
  const dzRow = reshaped(dzSum, [1, -1], 'dz_row');
  if (affine.beta) dKernel = g.node('Gemm', [reshaped(affine.beta, [-1, 1], 'beta_column'), dzRow, dKernel], `${name}/dkernel`);
  grads.set(kernel, dKernel);
  if (affine.gamma) {
    grads.set(
      affine.gamma,
      g.node('ReduceSum', [g.node('Mul', [kernel, xhatProduct], `${name}/dgamma_terms`), g.int64s(`${name}/dgamma_axes`, [1])], `${name}/dgamma`, [{ name: 'keepdims', i: 0 }]),
    );
  }
  // Σdz·Wᵀ as a one-row Gemm (ONNX Runtime's MatMul of a matrix by a vector took 0.7 ms here).
  if (affine.beta) grads.set(affine.beta, reshaped(g.node('Gemm', [dzRow, kernel], `${name}/dbeta_row`, [{ name: 'transB', i: 1 }]), [-1], 'dbeta'));
  return null;
}

export const denseLayer: StepLayer = {
  support: (info, cfg, last) => rank2Input(info) ?? kernelSettingsSupport(info, cfg) ?? activationSupport(info, cfg, last),
  build: ({ c, info, cfg, vars, input, needDx, last, grads, affineInput }) => {
    const { g } = c;
    const name = info.name;
    const kernel = vars.kernel!.name;
    const bias = vars.bias?.name;
    const z = bias ? g.node('Gemm', [input, kernel, bias], `${name}/z`) : g.node('MatMul', [input, kernel], `${name}/z`);
    if (last) return { y: z, logits: z, back: denseBackward(c, name, input, kernel, bias, (dz) => dz, needDx, grads, affineInput) };
    const act = activate(c, z, cfg.activation as string, name);
    return { y: act.y, activates: true, back: denseBackward(c, name, input, kernel, bias, act.back, needDx, grads, affineInput) };
  },
};
