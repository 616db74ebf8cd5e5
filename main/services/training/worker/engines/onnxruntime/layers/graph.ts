/**
 * What every layer kind of the step graph builds with: the graph, scalar constants, the batch-axis
 * reductions, and the shape of a layer's contribution (its forward nodes and a backward function).
 */
import { GraphBuilder } from '../../../../../export/onnx';
import type { ModelLayerInfo, ModelVariable } from '../../../../../export/weights';
import type { DropoutMask } from '../step-graph';

export type Cfg = Record<string, unknown>;

/** Scalar float constants, one initializer per value. */
export class Scalars {
  private readonly made = new Map<number, string>();
  constructor(private readonly g: GraphBuilder) {}
  of(value: number): string {
    let name = this.made.get(value);
    if (!name) {
      name = this.g.floats('const', [], Float32Array.of(value));
      this.made.set(value, name);
    }
    return name;
  }
}

export interface Ctx {
  g: GraphBuilder;
  k: Scalars;
}

export function graphContext(g: GraphBuilder): Ctx {
  return { g, k: new Scalars(g) };
}

/** Σ over `axes` (keepdims 0). */
export function sumOver(c: Ctx, t: string, axes: number[], name: string): string {
  return c.g.node('ReduceSum', [t, c.g.int64s(`${name}/axes`, axes)], name, [{ name: 'keepdims', i: 0 }]);
}

/** Mean over `axes` (keepdims 0). */
export function meanOver(c: Ctx, t: string, axes: number[], name: string): string {
  return c.g.node('ReduceMean', [t], name, [
    { name: 'axes', ints: axes },
    { name: 'keepdims', i: 0 },
  ]);
}

/** Σ over the batch axis. */
export function batchSum(c: Ctx, t: string, name: string): string {
  return sumOver(c, t, [0], name);
}

/** The backward pass of one layer: upstream gradient in, gradient w.r.t. its input out (null when nothing before needs it). */
export type Backward = (dy: string) => string | null;

/** What a layer kind gets to build its part of the step. */
export interface LayerInput {
  c: Ctx;
  info: ModelLayerInfo;
  cfg: Cfg;
  /** The layer's variables by short name (`kernel`, `moving_mean`). */
  vars: Record<string, ModelVariable>;
  /** The layer's input tensor (Keras' layout). */
  input: string;
  /** Whether a trainable layer sits below, so the backward pass must return the input's gradient. */
  needDx: boolean;
  last: boolean;
  /** Gradient of each trainable variable, by variable name: the backward pass sets its own. */
  grads: Map<string, string>;
  /** Next value of the layer's non-trainable state (BN's moving statistics), by variable name. */
  next: Map<string, string>;
  /** Keep masks the step takes as inputs: a dropout layer adds its own. */
  masks: DropoutMask[];
  /** The layer below's output as a per-feature affine map of x̂ whose parameters this layer may take the gradients of (AffineInput). */
  affineInput?: AffineInput;
}

/**
 * A rank-2 layer output y = x̂·γ + β per feature (BatchNormalization) with no trainable layer below
 * it. The layer above may set γ's and β's gradients itself and pass no gradient down: for a Dense
 * above, dγ = rowsum(W ⊙ x̂ᵀ·dz) and dβ = W·Σdz replace the [N, inputs] product dz·Wᵀ (dense.ts).
 */
export interface AffineInput {
  /** x̂, built when asked. */
  xhat: () => string;
  /** γ and β by variable name (absent under scale or center false). */
  gamma?: string;
  beta?: string;
}

export interface LayerOutput {
  /** The layer's output (Keras' layout). */
  y: string;
  back: Backward;
  /** The last layer's pre-softmax values, from which the loss is computed. */
  logits?: string;
  /** BatchNormalization's batch moments (statistics steps fetch them for the dashboard). */
  moments?: { mean: string; variance: string };
  /** The output is an activation the dashboard's statistics describe (a hidden Dense or Activation layer). */
  activates?: boolean;
  /** Offered to the layer above (AffineInput). */
  affine?: AffineInput;
}

/** One layer kind of the step graph: what it cannot train (null when it can) and its forward and backward nodes. */
export interface StepLayer {
  support: (info: ModelLayerInfo, cfg: Cfg, last: boolean) => string | null;
  build: (l: LayerInput) => LayerOutput;
}

export function layerAt(info: ModelLayerInfo): string {
  return `layer ${info.name}`;
}

/** The step's Dense, BN and dropout arithmetic is for [N, features] inputs. */
export function rank2Input(info: ModelLayerInfo): string | null {
  return info.input_shape.length === 2 ? null : `${layerAt(info)} (${info.class_name}) gets a rank-${info.input_shape.length} input`;
}
