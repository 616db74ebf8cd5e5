/**
 * Dropout and AlphaDropout in training mode, with forward.ts' masks (tf.randomUniform with the seed
 * derived from the run seed, the layer and the step). Dropout is inverted dropout (as tf.dropout);
 * AlphaDropout (Klambauer et al. 2017) sets dropped units to SELU's negative saturation −λα, then an
 * affine map restores the mean and variance.
 */
import { deriveSeed } from '../seeds';
import { SELU_ALPHA, SELU_SCALE } from './activations';
import { ElementwiseUnit, rankOneInput, type Act, type StepContext, type UnitKind } from './unit';

export interface DropoutConfig {
  alpha: boolean;
  rate: number;
  noiseShape: (number | null)[] | null;
  seed: number | null;
}

class DropoutUnit extends ElementwiseUnit {
  readonly logits = false;

  constructor(
    name: string,
    features: number,
    private readonly config: DropoutConfig,
  ) {
    super(name, features);
  }

  forward(ctx: StepContext, input: Act): Act {
    const { n } = ctx;
    const F = this.features;
    const { rate, alpha } = this.config;
    const draws = ctx.uniform([n, F], deriveSeed(this.config.seed ?? ctx.seed ?? 0, 'dropout', this.name, ctx.step));
    const outRow = ctx.alloc([n, F]);
    const outT = ctx.alloc([F, n]);
    const xr = ctx.view(input.row);
    const yr = ctx.view(outRow);
    const yt = ctx.view(outT);
    const maskT = this.factorT.get(n * F);
    if (alpha) {
      const alphaP = -SELU_ALPHA * SELU_SCALE;
      const a = ((1 - rate) * (1 + rate * alphaP ** 2)) ** -0.5;
      const b = -a * alphaP * rate;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < F; j++) {
          const k = i * F + j;
          const keep = draws[k]! >= rate;
          const y = (keep ? xr[k]! : alphaP) * a + b;
          yr[k] = y;
          yt[j * n + i] = y;
          maskT[j * n + i] = keep ? a : 0;
        }
      }
    } else {
      const scale = Math.fround(1 / Math.fround(1 - rate));
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < F; j++) {
          const k = i * F + j;
          const m = draws[k]! >= rate ? scale : 0;
          const y = xr[k]! * m;
          yr[k] = y;
          yt[j * n + i] = y;
          maskT[j * n + i] = m;
        }
      }
    }
    return { row: outRow, T: outT, features: F };
  }
}

export const dropout: UnitKind<DropoutConfig> = {
  classNames: ['Dropout', 'AlphaDropout'],
  config: (c, className) => ({
    alpha: className === 'AlphaDropout',
    rate: c['rate'] as number,
    noiseShape: c['noise_shape'] as (number | null)[] | null,
    seed: c['seed'] as number | null,
  }),
  supports(config, site) {
    const rank = rankOneInput(site);
    if (rank) return rank;
    return config.noiseShape ? `layer ${site.name}: dropout with a noise shape` : null;
  },
  create(config, site) {
    // Rate 0 keeps everything and rate 1 is not trained (as forward.ts): nothing to compute.
    const active = config.rate > 0 && config.rate < 1;
    return { unit: active ? new DropoutUnit(site.name, site.shape[0]!, config) : null, shape: site.shape };
  },
};
