/**
 * A layer's training unit: its forward and backward pass (and any state it updates, as BN's moving
 * statistics) for the fused training step. Each layer kind (units/<layer>.ts) reads its typed
 * config from the layer's kit config (`config.ts`), says what it cannot do (`supports`: the fused step's decline
 * reasons) and makes a unit over the buffers it declares (its variables). The unit computes
 * through a StepContext, which is the backend's: wasm's (fused/fused-step.ts) hands out wasm-heap
 * buffers and XNNPACK products; a WebGPU context would hand out GPU buffers and its kernels, and a
 * WebGPU unit implement the same interface beside these.
 */
import type * as TF from '@tensorflow/tfjs';
import type { KitConfig } from './config';
import type { Info } from '../tfjs-adapter';
import { multiplyInto } from './activations';

/** An activation between units in both layouts: row-major [n, F] and transposed [F, n] (null for the logits, which only the loss reads). */
export interface Act {
  row: Info;
  T: Info | null;
  features: number;
}

/** A gradient flowing back, transposed [F, n]: a backend buffer or a JS scratch array. */
export type GradT = Info | Float32Array;

/**
 * What a statistics step reads from inside a fused step (loop.ts): each callback gets a view or a
 * scratch array that is only valid during the call (read it at once), by layer name.
 */
export interface FusedProbe {
  /** A BatchNormalization layer's batch mean and (biased) variance per feature, as its forward pass used them. */
  bn(layer: string, mean: Float64Array, variance: Float64Array): void;
  /** A layer's activation output, row-major [n, features] (the softmax output: its probabilities). */
  activation(layer: string, y: Float32Array, n: number, features: number): void;
  /** The gradient of trainable variable `index` (the model's trainableWeights order), before the update. */
  gradient(index: number, g: Float32Array): void;
}

/** The backend's services for one step: buffers freed when it ends, products, gradients. */
export interface StepContext {
  readonly n: number;
  /** Run seed and global step (dropout masks). */
  readonly seed: number;
  readonly step: number;
  readonly probe: FusedProbe | undefined;
  /** A buffer for this step only. */
  alloc(shape: number[]): Info;
  /** A new buffer that becomes `variable`'s value when the step commits (never written in place). */
  replace(variable: TF.Variable): Info;
  /** Float values of a buffer; take it after any allocation (an allocation may move them). */
  view(info: { dataId: object; shape: readonly number[] }): Float32Array;
  floats(g: GradT): Float32Array;
  /** A variable's current buffer. */
  variable(v: TF.Variable): Info;
  /** a·b (plain operands). */
  matMul(a: Info, b: Info): Info;
  /** Uniform [0, 1) draws, as tf.randomUniform(shape, 0, 1, 'float32', seed). */
  uniform(shape: number[], seed: number): Float32Array;
  /** A trainable variable's gradient, for the optimizer. */
  gradient(variable: TF.Variable, g: GradT): void;
}

export interface TrainingUnit {
  readonly name: string;
  /** The trainable variables whose gradients it reports. */
  readonly variables: readonly TF.Variable[];
  /** The model's softmax tail: its output row is the logits, and its backward starts from the loss' gradient. */
  readonly logits: boolean;
  forward(ctx: StepContext, input: Act): Act;
  /**
   * The input's gradient (transposed) from the output's (`grad`; for the logits unit, the loss'
   * gradient, with `lossRow` its row-major copy), or null when no trainable layer comes before.
   */
  backward(ctx: StepContext, input: Act, grad: GradT | null, lossRow: Info | null): GradT | null;
}

/** Where a layer sits in the model, as its kind needs to know it. */
export interface UnitSite {
  name: string;
  className: string;
  /** The input's shape without the batch dimension. */
  shape: number[];
  last: boolean;
  /** Whether a trainable layer comes before (else no input gradient is needed). */
  trainableBefore: boolean;
  /** The built layer's variable by Keras name suffix ('kernel', 'gamma', …). */
  variable(suffix: string): TF.Variable | null;
}

/** A layer kind's training units; C is its typed config, read from the kit's config of the layer. */
export interface UnitKind<C> {
  readonly classNames: readonly string[];
  config(config: KitConfig, className: string): C;
  /** Why the fused step cannot train this layer here, or null. */
  supports(config: C, site: UnitSite): string | null;
  /** The unit (null: nothing to compute, as Flatten or a rate-0 dropout) and its output shape. */
  create(config: C, site: UnitSite): { unit: TrainingUnit | null; shape: number[] };
}

/** The decline for a layer that computes on vectors but gets a higher-rank input. */
export function rankOneInput(site: UnitSite): string | null {
  return site.shape.length === 1 ? null : `layer ${site.name} (${site.className}) gets a rank-${site.shape.length + 1} input`;
}

export function sizeOf(shape: readonly number[]): number {
  let s = 1;
  for (const d of shape) s *= d;
  return s;
}

/** Growable JS scratch for one unit (the batch size changes at an epoch's last batch). */
export class Scratch {
  private buf = new Float32Array(0);
  get(size: number): Float32Array {
    if (this.buf.length < size) this.buf = new Float32Array(size);
    return this.buf;
  }
}

/**
 * A unit whose backward multiplies the gradient, element by element, by a factor its forward stored
 * transposed [F, n] in `factorT` (an activation's derivative, a dropout mask).
 */
export abstract class ElementwiseUnit implements TrainingUnit {
  readonly variables = [];
  abstract readonly logits: boolean;
  protected readonly factorT = new Scratch();
  private readonly gradT = new Scratch();

  constructor(
    readonly name: string,
    protected readonly features: number,
  ) {}

  abstract forward(ctx: StepContext, input: Act): Act;

  backward(ctx: StepContext, _input: Act, grad: GradT | null, _lossRow: Info | null): GradT | null {
    if (grad === null) return null;
    const size = ctx.n * this.features;
    return multiplyInto(this.gradT.get(size), ctx.floats(grad), this.factorT.get(size), size);
  }
}
