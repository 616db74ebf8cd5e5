/** Dense: z = x·W + b, then its activation; on the last layer z is the softmax's logits. */
import { canonicalConstraint, canonicalRegularizer } from '../../../../../../../model/regularizers';
import type { ModelLayerInfo } from '../../../../../export/weights';
import { activate, activationSupport } from './activation';
import { batchSum, layerAt, rank2Input, type Backward, type Cfg, type Ctx, type StepLayer } from './graph';

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
): Backward {
  return (dy) => {
    const dz = activationBack(dy);
    grads.set(kernel, c.g.node('Gemm', [input, dz], `${name}/dkernel`, [{ name: 'transA', i: 1 }]));
    if (bias) grads.set(bias, batchSum(c, dz, `${name}/dbias`));
    return needDx ? c.g.node('Gemm', [dz, kernel], `${name}/dx`, [{ name: 'transB', i: 1 }]) : null;
  };
}

export const denseLayer: StepLayer = {
  support: (info, cfg, last) => rank2Input(info) ?? kernelSettingsSupport(info, cfg) ?? activationSupport(info, cfg, last),
  build: ({ c, info, cfg, vars, input, needDx, last, grads }) => {
    const { g } = c;
    const name = info.name;
    const kernel = vars.kernel!.name;
    const bias = vars.bias?.name;
    const z = bias ? g.node('Gemm', [input, kernel, bias], `${name}/z`) : g.node('MatMul', [input, kernel], `${name}/z`);
    if (last) return { y: z, logits: z, back: denseBackward(c, name, input, kernel, bias, (dz) => dz, needDx, grads) };
    const act = activate(c, z, cfg.activation as string, name);
    return { y: act.y, activates: true, back: denseBackward(c, name, input, kernel, bias, act.back, needDx, grads) };
  },
};
