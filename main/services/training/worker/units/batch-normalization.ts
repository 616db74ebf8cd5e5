/**
 * BatchNormalization (last axis) in training mode: the batch's statistics normalize, the moving
 * averages move towards them (Keras / tfjs-layers: moving ← moving − (moving − batch)·(1 − momentum),
 * biased batch variance). Without gamma (`scale: false`) γ = 1; without beta (`center: false`) β = 0.
 */
import type * as TF from '@tensorflow/tfjs';
import { batchNormAxis } from '../../common/kernel-support';
import type { Info } from '../tfjs-adapter';
import { lastAxisDecline, moments, normalizationConfig, NormalizationUnit, type NormalizationConfig } from './normalization';
import { Scratch, type Act, type GradT, type StepContext, type UnitKind } from './unit';

export interface BatchNormalizationConfig extends NormalizationConfig {
  momentum: number;
}

/** The normalized axis of a BN layer, non-negative, for an input of `rank` (batch included). */
export function normalizedAxis(config: BatchNormalizationConfig, rank: number): number {
  return batchNormAxis(config.axis, rank);
}

class BatchNormalizationUnit extends NormalizationUnit {
  private readonly xhatT = new Scratch();
  private readonly invStd: Float64Array;

  constructor(
    name: string,
    features: number,
    private readonly config: BatchNormalizationConfig,
    gamma: TF.Variable | null,
    beta: TF.Variable | null,
    private readonly movingMean: TF.Variable,
    private readonly movingVariance: TF.Variable,
    needDx: boolean,
  ) {
    super(name, features, gamma, beta, needDx);
    this.invStd = new Float64Array(features);
  }

  forward(ctx: StepContext, input: Act): Act {
    const { n, probe } = ctx;
    const F = this.features;
    const outRow = ctx.alloc([n, F]);
    const outT = ctx.alloc([F, n]);
    const mm = ctx.replace(this.movingMean);
    const mv = ctx.replace(this.movingVariance);
    const xT = ctx.view(input.T!);
    const yr = ctx.view(outRow);
    const yt = ctx.view(outT);
    const { gamma, beta } = this.affine(ctx);
    const oldMean = ctx.view(ctx.variable(this.movingMean));
    const oldVar = ctx.view(ctx.variable(this.movingVariance));
    const newMean = ctx.view(mm);
    const newVar = ctx.view(mv);
    const xhatT = this.xhatT.get(n * F);
    const decay = 1 - this.config.momentum;
    const batchMean = probe ? new Float64Array(F) : null;
    const batchVariance = probe ? new Float64Array(F) : null;
    for (let j = 0; j < F; j++) {
      const base = j * n;
      const [mean, variance] = moments(xT, base, n);
      if (batchMean) {
        batchMean[j] = mean;
        batchVariance![j] = variance;
      }
      const inv = 1 / Math.sqrt(variance + this.config.epsilon);
      this.invStd[j] = inv;
      const g = gamma ? gamma[j]! : 1;
      const bb = beta ? beta[j]! : 0;
      for (let i = 0; i < n; i++) {
        const xh = (xT[base + i]! - mean) * inv;
        xhatT[base + i] = xh;
        const y = g * xh + bb;
        yt[base + i] = y;
        yr[i * F + j] = y;
      }
      newMean[j] = oldMean[j]! - (oldMean[j]! - mean) * decay;
      newVar[j] = oldVar[j]! - (oldVar[j]! - variance) * decay;
    }
    if (batchMean) probe!.bn(this.name, batchMean, batchVariance!);
    return { row: outRow, T: outT, features: F };
  }

  backward(ctx: StepContext, _input: Act, grad: GradT | null, _lossRow: Info | null): GradT | null {
    const { n } = ctx;
    const F = this.features;
    const g = ctx.floats(grad!);
    const xhatT = this.xhatT.get(n * F);
    const { gamma } = this.affine(ctx);
    const dGamma = new Float32Array(F);
    const dBeta = new Float32Array(F);
    const dx = this.needDx ? this.gradT.get(n * F) : null;
    for (let j = 0; j < F; j++) {
      const base = j * n;
      let sdy = 0;
      let sdyx = 0;
      for (let i = 0; i < n; i++) {
        sdy += g[base + i]!;
        sdyx += g[base + i]! * xhatT[base + i]!;
      }
      dGamma[j] = sdyx;
      dBeta[j] = sdy;
      if (dx) {
        const scale = ((gamma ? gamma[j]! : 1) * this.invStd[j]!) / n;
        for (let i = 0; i < n; i++) dx[base + i] = scale * (n * g[base + i]! - sdy - xhatT[base + i]! * sdyx);
      }
    }
    if (this.gamma) ctx.gradient(this.gamma, dGamma);
    if (this.beta) ctx.gradient(this.beta, dBeta);
    return dx;
  }
}

export const batchNormalization: UnitKind<BatchNormalizationConfig> = {
  classNames: ['BatchNormalization'],
  config: (c) => ({ ...normalizationConfig(c), momentum: c['momentum'] as number }),
  supports(config, site) {
    const decline = lastAxisDecline(config, site, 'BatchNormalization');
    if (decline) return decline;
    if (!site.variable('moving_mean') || !site.variable('moving_variance')) return `layer ${site.name}: no moving statistics`;
    return null;
  },
  create(config, site) {
    const unit = new BatchNormalizationUnit(
      site.name,
      site.shape[0]!,
      config,
      config.scale ? site.variable('gamma') : null,
      config.center ? site.variable('beta') : null,
      site.variable('moving_mean')!,
      site.variable('moving_variance')!,
      site.trainableBefore,
    );
    return { unit, shape: site.shape };
  },
};
