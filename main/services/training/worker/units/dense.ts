/** Dense: z = x·W + b, then its activation; backward dW = xᵀ·dz, db = Σdz, dxᵀ = W·dzᵀ. */
import type * as TF from '@tensorflow/tfjs';
import type { Info } from '../tfjs-adapter';
import { activate, activationDecline, type Activation } from './activations';
import { activationOf, kernelPenalties } from './config';
import { rankOneInput, Scratch, type Act, type GradT, type StepContext, type TrainingUnit, type UnitKind } from './unit';

export interface DenseConfig {
  units: number;
  /** Keras' name. */
  activation: string;
  useBias: boolean;
  regularizer: { l1: number; l2: number } | null;
  maxNorm: { maxValue: number; axis: number } | null;
}

class DenseUnit implements TrainingUnit {
  readonly variables: TF.Variable[];
  readonly logits: boolean;
  private readonly derivT = new Scratch();

  constructor(
    readonly name: string,
    private readonly kernel: TF.Variable,
    private readonly bias: TF.Variable | null,
    private readonly outF: number,
    private readonly activation: Activation,
    softmax: boolean,
    private readonly needDx: boolean,
  ) {
    this.logits = softmax;
    this.variables = bias ? [kernel, bias] : [kernel];
  }

  forward(ctx: StepContext, input: Act): Act {
    const { n } = ctx;
    const F = this.outF;
    const z = ctx.matMul(input.row, ctx.variable(this.kernel));
    if (this.logits) {
      if (this.bias) {
        const zv = ctx.view(z);
        const b = ctx.view(ctx.variable(this.bias));
        for (let i = 0; i < n; i++) for (let j = 0; j < F; j++) zv[i * F + j] = zv[i * F + j]! + b[j]!;
      }
      return { row: z, T: null, features: F };
    }
    const yT = ctx.alloc([F, n]);
    const zv = ctx.view(z);
    const b = this.bias ? ctx.view(ctx.variable(this.bias)) : null;
    activate(this.activation, zv, ctx.view(yT), this.derivT.get(n * F), n, F, b);
    if (ctx.probe && this.activation !== 'linear') ctx.probe.activation(this.name, zv, n, F);
    return { row: z, T: yT, features: F };
  }

  backward(ctx: StepContext, input: Act, grad: GradT | null, lossRow: Info | null): GradT | null {
    const { n } = ctx;
    const F = this.outF;
    let dz: Info;
    let dzT: Info;
    if (lossRow) {
      dz = lossRow;
      dzT = grad as Info;
    } else {
      dz = ctx.alloc([n, F]);
      dzT = ctx.alloc([F, n]);
      const g = ctx.floats(grad!);
      const d = this.derivT.get(n * F);
      const zr = ctx.view(dz);
      const zt = ctx.view(dzT);
      for (let j = 0; j < F; j++) {
        const base = j * n;
        for (let i = 0; i < n; i++) {
          const v = g[base + i]! * d[base + i]!;
          zt[base + i] = v;
          zr[i * F + j] = v;
        }
      }
    }
    if (this.bias) {
      const db = new Float32Array(F);
      const zt = ctx.view(dzT);
      for (let j = 0; j < F; j++) {
        let s = 0;
        for (let i = 0; i < n; i++) s += zt[j * n + i]!;
        db[j] = s;
      }
      ctx.gradient(this.bias, db);
    }
    ctx.gradient(this.kernel, ctx.matMul(input.T!, dz));
    return this.needDx ? ctx.matMul(ctx.variable(this.kernel), dzT) : null;
  }
}

export const dense: UnitKind<DenseConfig> = {
  classNames: ['Dense'],
  config: (c) => ({ units: c['units'] as number, activation: activationOf(c['activation']), useBias: c['use_bias'] as boolean, ...kernelPenalties(c) }),
  supports(config, site) {
    if (config.regularizer) return `layer ${site.name} has a kernel regularizer`;
    if (config.maxNorm) return `layer ${site.name} has a max-norm constraint`;
    const rank = rankOneInput(site);
    if (rank) return rank;
    const activation = activationDecline(config.activation, site);
    if (activation) return activation;
    const kernel = site.variable('kernel');
    if (!kernel || kernel.shape.length !== 2 || kernel.shape[0] !== site.shape[0]) return `layer ${site.name}: unexpected kernel`;
    return null;
  },
  create(config, site) {
    const kernel = site.variable('kernel')!;
    const bias = config.useBias ? site.variable('bias') : null;
    const outF = kernel.shape[1]!;
    const softmax = config.activation === 'softmax';
    const unit = new DenseUnit(site.name, kernel, bias, outF, softmax ? 'linear' : (config.activation as Activation), softmax, site.trainableBefore);
    return { unit, shape: [outF] };
  },
};
