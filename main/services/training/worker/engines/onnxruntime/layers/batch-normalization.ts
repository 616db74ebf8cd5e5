/**
 * BatchNormalization in training mode over the last axis of an input of any rank ([N, features], or
 * [N, H, W, C] after a convolution: the statistics over every other axis), its moving statistics
 * updated in the graph (as forward.ts' batchNormTraining).
 */
import { FLOAT } from '../../../../../export/onnx';
import { layerAt, meanOver, sumOver, type Cfg, type Ctx, type StepLayer } from './graph';

function bnAxis(cfg: Cfg, rank: number): number {
  const raw = (Array.isArray(cfg.axis) ? cfg.axis[0] : cfg.axis) as number;
  return raw < 0 ? rank + raw : raw;
}

/** How many values each feature's statistics run over (the product of x's `axes`), as a float scalar. */
function count(c: Ctx, x: string, axes: number[], name: string): string {
  const { g } = c;
  const dims = g.node('Slice', [g.node('Shape', [x], `${name}/shape`), g.int64s(`${name}/dims_from`, [0]), g.int64s(`${name}/dims_to`, [axes.length])], `${name}/reduced_dims`);
  return g.node('Cast', [g.node('ReduceProd', [dims], `${name}/count_int`, [{ name: 'keepdims', i: 0 }])], `${name}/count`, [{ name: 'to', i: FLOAT }]);
}

export const batchNormalizationLayer: StepLayer = {
  support: (info, cfg) => {
    const rank = info.input_shape.length;
    return bnAxis(cfg, rank) !== rank - 1 ? `${layerAt(info)}: BatchNormalization over axis ${String(cfg.axis)}, not the last` : null;
  },
  build: (l) => {
    const { c, cfg, vars, input: x, needDx, grads, next } = l;
    const { g, k } = c;
    const name = l.info.name;
    const axes = Array.from({ length: l.info.input_shape.length - 1 }, (_, i) => i);
    const average = (t: string, label: string) => meanOver(c, t, axes, `${name}/${label}`);
    const sum = (t: string, label: string) => sumOver(c, t, axes, `${name}/${label}`);
    const gamma = vars.gamma?.name;
    const beta = vars.beta?.name;
    const mean = average(x, 'mean');
    const centered = g.node('Sub', [x, mean], `${name}/centered`);
    const variance = average(g.node('Mul', [centered, centered], `${name}/squares`), 'variance');
    const invStd = g.node('Reciprocal', [g.node('Sqrt', [g.node('Add', [variance, k.of(cfg.epsilon as number)], `${name}/var_eps`)], `${name}/std`)], `${name}/inv_std`);
    // (x − mean)·(γ/√(var + ε)) + β, the factor folded as tfjs' batchNorm does.
    const factor = gamma ? g.node('Mul', [invStd, gamma], `${name}/factor`) : invStd;
    const scaled = g.node('Mul', [centered, factor], `${name}/scaled`);
    const y = beta ? g.node('Add', [scaled, beta], `${name}/y`) : scaled;
    // moving ← moving − (moving − batch)·(1 − momentum)
    const decay = k.of(1 - (cfg.momentum as number));
    for (const [moving, batch] of [
      [vars.moving_mean!.name, mean],
      [vars.moving_variance!.name, variance],
    ] as const) {
      next.set(moving, g.node('Sub', [moving, g.node('Mul', [g.node('Sub', [moving, batch], `${name}/drift`), decay], `${name}/step`)], `${name}/moved`));
    }
    let xhatNode: string | null = null;
    const xhat = () => (xhatNode ??= g.node('Mul', [centered, invStd], `${name}/xhat`));
    return {
      y,
      moments: { mean, variance },
      // With nothing trainable below, a Dense above can take γ's and β's gradients without a dx (graph.ts' AffineInput).
      ...(!needDx && axes.length === 1 ? { affine: { xhat, ...(gamma ? { gamma } : {}), ...(beta ? { beta } : {}) } } : {}),
      back: (dy) => {
        const dBeta = sum(dy, 'dbeta');
        const dyXhat = g.node('Mul', [dy, xhat()], `${name}/dy_xhat`);
        const dGamma = gamma || needDx ? sum(dyXhat, 'dgamma') : null;
        if (beta) grads.set(beta, dBeta);
        if (gamma) grads.set(gamma, dGamma!);
        if (!needDx) return null;
        // dx = γ/√(var + ε)·(dy − mean(dy) − x̂·mean(dy·x̂)), the batch statistics' own gradients included;
        // the two means are dβ's and dγ's sums over the count.
        const perSample = g.node('Reciprocal', [count(c, x, axes, name)], `${name}/per_sample`);
        const meanDy = g.node('Mul', [dBeta, perSample], `${name}/mean_dy`);
        const meanDyXhat = g.node('Mul', [dGamma!, perSample], `${name}/mean_dy_xhat`);
        const inner = g.node('Sub', [g.node('Sub', [dy, meanDy], `${name}/dx_centered`), g.node('Mul', [xhat(), meanDyXhat], `${name}/dx_projection`)], `${name}/dx_inner`);
        return g.node('Mul', [inner, factor], `${name}/dx`);
      },
    };
  },
};
