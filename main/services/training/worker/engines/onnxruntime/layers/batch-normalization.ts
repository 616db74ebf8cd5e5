/**
 * BatchNormalization in training mode over the last axis of an input of any rank ([N, features], or
 * [N, H, W, C] after a convolution: the statistics over every other axis), its moving statistics
 * updated in the graph (as forward.ts' batchNormTraining).
 */
import { layerAt, meanOver, sumOver, type Cfg, type StepLayer } from './graph';

function bnAxis(cfg: Cfg, rank: number): number {
  const raw = (Array.isArray(cfg.axis) ? cfg.axis[0] : cfg.axis) as number;
  return raw < 0 ? rank + raw : raw;
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
    return {
      y,
      moments: { mean, variance },
      back: (dy) => {
        const xhat = g.node('Mul', [centered, invStd], `${name}/xhat`);
        if (beta) grads.set(beta, sum(dy, 'dbeta'));
        if (gamma) grads.set(gamma, sum(g.node('Mul', [dy, xhat], `${name}/dy_xhat`), 'dgamma'));
        if (!needDx) return null;
        // dx = (g − mean(g) − x̂·mean(g·x̂))/√(var + ε), g = dy·γ: the batch statistics' own gradients included.
        const gy = gamma ? g.node('Mul', [dy, gamma], `${name}/dxhat`) : dy;
        const meanG = average(gy, 'mean_dxhat');
        const meanGx = average(g.node('Mul', [gy, xhat], `${name}/dxhat_xhat`), 'mean_dxhat_xhat');
        const inner = g.node('Sub', [g.node('Sub', [gy, meanG], `${name}/dx_centered`), g.node('Mul', [xhat, meanGx], `${name}/dx_projection`)], `${name}/dx_inner`);
        return g.node('Mul', [inner, invStd], `${name}/dx`);
      },
    };
  },
};
