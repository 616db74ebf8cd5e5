/** Activation: y = f(x), backward dx = dy·f′(x); as the model's last layer, softmax: its input is the logits. */
import type { Info } from '../tfjs-adapter';
import { activate, activationDecline, type Activation } from './activations';
import { activationOf } from './config';
import { ElementwiseUnit, rankOneInput, type Act, type GradT, type StepContext, type UnitKind } from './unit';

export interface ActivationConfig {
  /** Keras' name. */
  activation: string;
}

class ActivationUnit extends ElementwiseUnit {
  constructor(
    name: string,
    features: number,
    private readonly activation: Activation,
    readonly logits: boolean,
  ) {
    super(name, features);
  }

  forward(ctx: StepContext, input: Act): Act {
    if (this.logits) return input;
    const { n } = ctx;
    const F = this.features;
    const outRow = ctx.alloc([n, F]);
    const outT = ctx.alloc([F, n]);
    const yr = ctx.view(outRow);
    yr.set(ctx.view(input.row));
    activate(this.activation, yr, ctx.view(outT), this.factorT.get(n * F), n, F, null);
    if (ctx.probe && this.activation !== 'linear') ctx.probe.activation(this.name, yr, n, F);
    return { row: outRow, T: outT, features: F };
  }

  override backward(ctx: StepContext, _input: Act, grad: GradT | null, _lossRow: Info | null): GradT | null {
    // The logits' gradient is the softmax cross-entropy's: it passes on as it is.
    return this.logits ? grad : super.backward(ctx, _input, grad, _lossRow);
  }
}

export const activation: UnitKind<ActivationConfig> = {
  classNames: ['Activation'],
  config: (c) => ({ activation: activationOf(c['activation']) }),
  supports: (config, site) => rankOneInput(site) ?? activationDecline(config.activation, site),
  create(config, site) {
    const softmax = config.activation === 'softmax';
    return { unit: new ActivationUnit(site.name, site.shape[0]!, softmax ? 'linear' : (config.activation as Activation), softmax), shape: site.shape };
  },
};
