/**
 * LayerNormalization over the last axis of a vector input: each sample is standardized by its own
 * mean and (biased) variance over its features, then scaled by γ and shifted by β, as tfjs-layers'
 * LayerNormalization computes it. Without gamma (`scale: false`) γ = 1; without beta (`center: false`)
 * β = 0. It keeps no state, so training and inference normalize alike.
 */
import type * as TF from '@tensorflow/tfjs';
import type { Info } from '../tfjs-adapter';
import { lastAxisDecline, moments, normalizationConfig, NormalizationUnit, type NormalizationConfig } from './normalization';
import { Scratch, type Act, type GradT, type StepContext, type UnitKind } from './unit';

class LayerNormalizationUnit extends NormalizationUnit {
  /** The normalized input, row-major [n, F], kept from forward for backward. */
  private readonly xhat = new Scratch();
  /** 1/√(var + ε) per sample. */
  private invStd = new Float64Array(0);

  constructor(
    name: string,
    features: number,
    private readonly epsilon: number,
    gamma: TF.Variable | null,
    beta: TF.Variable | null,
    needDx: boolean,
  ) {
    super(name, features, gamma, beta, needDx);
  }

  forward(ctx: StepContext, input: Act): Act {
    const { n } = ctx;
    const F = this.features;
    const outRow = ctx.alloc([n, F]);
    const outT = ctx.alloc([F, n]);
    const x = ctx.view(input.row);
    const yr = ctx.view(outRow);
    const yt = ctx.view(outT);
    const { gamma, beta } = this.affine(ctx);
    const xhat = this.xhat.get(n * F);
    if (this.invStd.length < n) this.invStd = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const base = i * F;
      const [mean, variance] = moments(x, base, F);
      const inv = 1 / Math.sqrt(variance + this.epsilon);
      this.invStd[i] = inv;
      for (let j = 0; j < F; j++) {
        const xh = (x[base + j]! - mean) * inv;
        xhat[base + j] = xh;
        const y = (gamma ? gamma[j]! : 1) * xh + (beta ? beta[j]! : 0);
        yr[base + j] = y;
        yt[j * n + i] = y;
      }
    }
    return { row: outRow, T: outT, features: F };
  }

  /** dγ = Σᵢ g·x̂, dβ = Σᵢ g; per sample dx = inv/F · (F·ĝ − Σⱼĝ − x̂·Σⱼĝx̂) with ĝ = g·γ. */
  backward(ctx: StepContext, _input: Act, grad: GradT | null, _lossRow: Info | null): GradT | null {
    const { n } = ctx;
    const F = this.features;
    const g = ctx.floats(grad!);
    const xhat = this.xhat.get(n * F);
    const { gamma } = this.affine(ctx);
    if (this.gamma || this.beta) {
      const dGamma = new Float32Array(F);
      const dBeta = new Float32Array(F);
      for (let j = 0; j < F; j++) {
        let sg = 0;
        let sgx = 0;
        for (let i = 0; i < n; i++) {
          const gi = g[j * n + i]!;
          sg += gi;
          sgx += gi * xhat[i * F + j]!;
        }
        dGamma[j] = sgx;
        dBeta[j] = sg;
      }
      if (this.gamma) ctx.gradient(this.gamma, dGamma);
      if (this.beta) ctx.gradient(this.beta, dBeta);
    }
    if (!this.needDx) return null;
    const dx = this.gradT.get(n * F);
    for (let i = 0; i < n; i++) {
      const base = i * F;
      let sg = 0;
      let sgx = 0;
      for (let j = 0; j < F; j++) {
        const gh = g[j * n + i]! * (gamma ? gamma[j]! : 1);
        sg += gh;
        sgx += gh * xhat[base + j]!;
      }
      const scale = this.invStd[i]! / F;
      for (let j = 0; j < F; j++) {
        const gh = g[j * n + i]! * (gamma ? gamma[j]! : 1);
        dx[j * n + i] = scale * (F * gh - sg - xhat[base + j]! * sgx);
      }
    }
    return dx;
  }
}

export const layerNormalization: UnitKind<NormalizationConfig> = {
  classNames: ['LayerNormalization'],
  config: normalizationConfig,
  supports(config, site) {
    const decline = lastAxisDecline(config, site, 'LayerNormalization');
    if (decline) return decline;
    if ((config.scale && !site.variable('gamma')) || (config.center && !site.variable('beta'))) return `layer ${site.name}: no gamma or beta`;
    return null;
  },
  create(config, site) {
    const gamma = config.scale ? site.variable('gamma') : null;
    const beta = config.center ? site.variable('beta') : null;
    return { unit: new LayerNormalizationUnit(site.name, site.shape[0]!, config.epsilon, gamma, beta, site.trainableBefore), shape: site.shape };
  },
};
