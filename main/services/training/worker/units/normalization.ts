/** What BatchNormalization and LayerNormalization share: their config reads and the last-axis rule. */
import { batchNormAxis } from '../../common/kernel-support';
import type { KitConfig } from './config';
import type * as TF from '@tensorflow/tfjs';
import type { Info } from '../tfjs-adapter';
import { rankOneInput, Scratch, type Act, type GradT, type StepContext, type TrainingUnit, type UnitSite } from './unit';

export interface NormalizationConfig {
  /** As written (Keras 2's list of one unwrapped): negative counts from the end. */
  axis: number;
  epsilon: number;
  center: boolean;
  scale: boolean;
}

/** The axis, epsilon, center and scale of a normalization layer's kit config. */
export function normalizationConfig(c: KitConfig): NormalizationConfig {
  const axis = c['axis'] as number | [number];
  return { axis: Array.isArray(axis) ? axis[0] : axis, epsilon: c['epsilon'] as number, center: c['center'] as boolean, scale: c['scale'] as boolean };
}

/** Why a normalization over `config.axis` is not over the last axis of a vector input, or null. */
export function lastAxisDecline(config: NormalizationConfig, site: UnitSite, className: string): string | null {
  const rank = rankOneInput(site);
  if (rank) return rank;
  const axis = batchNormAxis(config.axis, 2);
  return axis === 1 ? null : `layer ${site.name}: ${className} on axis ${axis}`;
}

/** The mean and biased variance of `count` consecutive values of `x` from `start` (two passes, as tfjs computes them). */
export function moments(x: Float32Array, start: number, count: number): [mean: number, variance: number] {
  let sum = 0;
  for (let i = start; i < start + count; i++) sum += x[i]!;
  const mean = sum / count;
  let sq = 0;
  for (let i = start; i < start + count; i++) {
    const d = x[i]! - mean;
    sq += d * d;
  }
  return [mean, sq / count];
}

/** What BatchNormalization's and LayerNormalization's units share: γ and β (each optional: 1 and 0 without), and the input gradient's scratch. */
export abstract class NormalizationUnit implements TrainingUnit {
  readonly variables: TF.Variable[];
  readonly logits = false;
  protected readonly gradT = new Scratch();

  constructor(
    readonly name: string,
    protected readonly features: number,
    protected readonly gamma: TF.Variable | null,
    protected readonly beta: TF.Variable | null,
    /** Whether a trainable layer comes before (else no input gradient is computed). */
    protected readonly needDx: boolean,
  ) {
    this.variables = [gamma, beta].filter((v): v is TF.Variable => v !== null);
  }

  abstract forward(ctx: StepContext, input: Act): Act;
  abstract backward(ctx: StepContext, input: Act, grad: GradT | null, lossRow: Info | null): GradT | null;

  /** γ's and β's values in this step (null when the layer has none). */
  protected affine(ctx: StepContext): { gamma: Float32Array | null; beta: Float32Array | null } {
    return { gamma: this.gamma ? ctx.view(ctx.variable(this.gamma)) : null, beta: this.beta ? ctx.view(ctx.variable(this.beta)) : null };
  }
}
