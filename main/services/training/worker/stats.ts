/**
 * The statistics stream: what a training step's BatchNormalization layers, gradients, weights and
 * activations look like. The step gathers every value it needs as tensors (inside its own tidy),
 * concatenates them into one vector, reads that back once, and this module turns the numbers into a
 * StatsRecord.
 *
 * Saturation: the share of a layer's units in its activation's flat region, where the local gradient
 * is small. Measured on the layer's output with thresholds equivalent to a rule on the
 * pre-activation z (the output of a monotonic activation determines z):
 *   sigmoid     |z| > 2.5  (σ'(z) < 0.07 of its peak 0.25 … y < σ(−2.5) or y > σ(2.5))
 *   tanh        |z| > 2.5  (|y| > tanh 2.5 ≈ 0.987; tanh'(z) < 0.03)
 *   relu        z ≤ 0      (y = 0: no gradient at all — "dead" for this sample)
 *   leaky_relu  z ≤ 0      (the slope-0.2 side)
 *   elu         z < −2.5   (y < e^−2.5 − 1 ≈ −0.918; gradient e^z < 0.08)
 *   selu        z < −2.5   (y < λα(e^−2.5 − 1) ≈ −1.614; same gradient ratio)
 *   softmax     per sample: the top probability > 0.99 (the output saturates, its gradient vanishes)
 *   silu/swish, linear: none (swish is not monotonic on z < 0, so no output threshold exists).
 */
import type * as TF from '@tensorflow/tfjs';
import type { BnStats, LayerStats, StatsRecord, VectorSummary } from '../../../../contract';
import type { ActivationMoments, EngineProbe } from './engines/engine';
import type { LayerPlan } from './forward';
import type { FusedProbe } from './fused/fused-step';
import { wasmValues } from './tfjs-adapter';

/** Mean, extremes and percentiles (linear interpolation between order statistics, as numpy's default). */
export function summarize(values: ArrayLike<number>): VectorSummary {
  const n = values.length;
  if (n === 0) return { mean: 0, min: 0, max: 0, p5: 0, p50: 0, p95: 0 };
  const sorted = Float64Array.from(values as ArrayLike<number>).sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i]!;
  const at = (p: number) => {
    const pos = p * (n - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(n - 1, lo + 1);
    return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
  };
  return { mean: sum / n, min: sorted[0]!, max: sorted[n - 1]!, p5: at(0.05), p50: at(0.5), p95: at(0.95) };
}

/** The vector averaged into at most `maxBins` contiguous bins (every value, unchanged, when it is short enough). */
export function binned(values: ArrayLike<number>, maxBins = 128): number[] {
  const n = values.length;
  if (n <= maxBins) return Array.from(values as ArrayLike<number>, Number);
  const bins: number[] = [];
  for (let b = 0; b < maxBins; b++) {
    const from = Math.floor((b * n) / maxBins);
    const to = Math.floor(((b + 1) * n) / maxBins);
    let sum = 0;
    for (let i = from; i < to; i++) sum += values[i]!;
    bins.push(sum / (to - from));
  }
  return bins;
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
const SELU_LAMBDA = 1.0507009873554805;
const SELU_ALPHA = 1.6732632423543772;

export interface SaturationRule {
  /** The rule in words, for documentation and tooltips. */
  rule: string;
  /** Share of saturated units (or samples, for softmax) in the activation's output, as a scalar. */
  measure(tf: typeof TF, y: TF.Tensor): TF.Tensor;
  /** The same share from the output's values (row-major [n, features]), compared in float32 as the tensor rule compares. */
  share(y: ArrayLike<number>, n: number, features: number): number;
  /** The same rule as float32 thresholds, for a device that counts it itself (the fused WebGPU step). */
  edges: SaturationEdges;
}

/**
 * A saturation rule as thresholds on the output: a value counts when it is below `below`, above
 * `above` or at most `atMost`; `perSample`: the rule applies to each sample's largest value (softmax).
 */
export interface SaturationEdges {
  below?: number;
  above?: number;
  atMost?: number;
  perSample?: boolean;
}

/** The share of values below (or above) a threshold, compared as float32 (the tensor rules' scalar is a float32 tensor). */
const shareWhere = (y: ArrayLike<number>, test: (v: number) => boolean) => {
  let count = 0;
  for (let i = 0; i < y.length; i++) if (test(y[i]!)) count++;
  return y.length ? count / y.length : NaN;
};
const f32 = Math.fround;

const share = (tf: typeof TF, mask: TF.Tensor) => tf.mean(tf.cast(mask, 'float32'));

const SIGMOID_LOW = f32(sigmoid(-2.5));
const SIGMOID_HIGH = f32(sigmoid(2.5));
const TANH_EDGE = f32(Math.tanh(2.5));
const ELU_EDGE = f32(Math.exp(-2.5) - 1);
const SELU_EDGE = f32(SELU_LAMBDA * SELU_ALPHA * (Math.exp(-2.5) - 1));
const SOFTMAX_EDGE = f32(0.99);

export const SATURATION_RULES: Readonly<Record<string, SaturationRule>> = {
  sigmoid: {
    rule: '|z| > 2.5',
    measure: (tf, y) => share(tf, tf.logicalOr(tf.less(y, sigmoid(-2.5)), tf.greater(y, sigmoid(2.5)))),
    share: (y) => shareWhere(y, (v) => v < SIGMOID_LOW || v > SIGMOID_HIGH),
    edges: { below: SIGMOID_LOW, above: SIGMOID_HIGH },
  },
  tanh: {
    rule: '|z| > 2.5',
    measure: (tf, y) => share(tf, tf.greater(tf.abs(y), Math.tanh(2.5))),
    share: (y) => shareWhere(y, (v) => Math.abs(v) > TANH_EDGE),
    // |y| > e ⇔ y < −e or y > e (negating a float32 is exact).
    edges: { below: -TANH_EDGE, above: TANH_EDGE },
  },
  relu: { rule: 'z ≤ 0', measure: (tf, y) => share(tf, tf.lessEqual(y, 0)), share: (y) => shareWhere(y, (v) => v <= 0), edges: { atMost: 0 } },
  leaky_relu: { rule: 'z ≤ 0', measure: (tf, y) => share(tf, tf.lessEqual(y, 0)), share: (y) => shareWhere(y, (v) => v <= 0), edges: { atMost: 0 } },
  elu: { rule: 'z < −2.5', measure: (tf, y) => share(tf, tf.less(y, Math.exp(-2.5) - 1)), share: (y) => shareWhere(y, (v) => v < ELU_EDGE), edges: { below: ELU_EDGE } },
  selu: {
    rule: 'z < −2.5',
    measure: (tf, y) => share(tf, tf.less(y, SELU_LAMBDA * SELU_ALPHA * (Math.exp(-2.5) - 1))),
    share: (y) => shareWhere(y, (v) => v < SELU_EDGE),
    edges: { below: SELU_EDGE },
  },
  softmax: {
    rule: 'top probability > 0.99',
    measure: (tf, y) => share(tf, tf.greater(tf.max(y, -1), 0.99)),
    share: (y, n, features) => {
      let count = 0;
      for (let i = 0; i < n; i++) {
        let max = -Infinity;
        for (let j = 0; j < features; j++) max = Math.max(max, y[i * features + j]!);
        if (f32(max) > SOFTMAX_EDGE) count++;
      }
      return n ? count / n : NaN;
    },
    edges: { above: SOFTMAX_EDGE, perSample: true },
  },
};

/**
 * Collects the tensors of one stats step under names, then concatenates them (flattened) into the
 * one vector that is read back. Tensors added from inside a gradient function must outlive its
 * scope: `add(..., { keep: true })` keeps them, and `concat()` disposes them once copied.
 */
export class StatsCollector {
  private readonly tensors: TF.Tensor[] = [];
  private readonly kept: TF.Tensor[] = [];
  private readonly layout: { key: string; size: number }[] = [];

  constructor(private readonly tf: typeof TF) {}

  add(key: string, tensor: TF.Tensor, options: { keep?: boolean } = {}): void {
    const flat = this.tf.reshape(tensor, [-1]);
    if (options.keep) {
      this.tf.keep(flat);
      this.kept.push(flat);
    }
    this.tensors.push(flat);
    this.layout.push({ key, size: flat.size });
  }

  get size(): number {
    return this.layout.reduce((sum, s) => sum + s.size, 0);
  }

  /** One flat tensor of everything added, in order. Call inside a tidy. */
  concat(): TF.Tensor {
    const all = this.tensors.length ? this.tf.concat(this.tensors) : this.tf.zeros([0]);
    for (const t of this.kept) t.dispose();
    this.kept.length = 0;
    return all;
  }

  /** Disposes kept tensors (a step that failed before concat). */
  dispose(): void {
    for (const t of this.kept) t.dispose();
    this.kept.length = 0;
  }

  /** Splits the read-back values (starting at `offset`) by key. */
  decode(values: Float32Array, offset: number): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    let at = offset;
    for (const { key, size } of this.layout) {
      out.set(key, values.subarray(at, at + size));
      at += size;
    }
    return out;
  }
}

/** Adds, from inside the forward pass, what the record needs of one layer's input and output. */
export function probeLayer(tf: typeof TF, collector: StatsCollector, plan: LayerPlan, input: TF.Tensor, output: TF.Tensor): void {
  if (plan.bn) {
    const axes: number[] = [];
    for (let i = 0; i < input.rank; i++) if (i !== plan.bn.axis) axes.push(i);
    const { mean, variance } = tf.moments(input, axes);
    collector.add(`bn:${plan.index}:batch_mean`, mean, { keep: true });
    collector.add(`bn:${plan.index}:batch_variance`, variance, { keep: true });
  }
  if (plan.activation) {
    const { mean, variance } = tf.moments(output);
    collector.add(`act:${plan.index}:mean`, mean, { keep: true });
    collector.add(`act:${plan.index}:variance`, variance, { keep: true });
    const rule = SATURATION_RULES[plan.activation];
    if (rule) collector.add(`act:${plan.index}:saturation`, rule.measure(tf, output), { keep: true });
  }
}

const sumSquares = (tf: typeof TF, tensors: TF.Tensor[]) => tf.addN(tensors.map((t) => tf.sum(tf.square(t))));

/** Gradient norms, per layer, before the update is applied. */
export function addGradientStats(tf: typeof TF, collector: StatsCollector, plans: LayerPlan[], grads: TF.NamedTensorMap): void {
  for (const plan of plans) {
    const g = plan.trainable.map((w) => grads[(w.read() as TF.Variable).name]).filter((t): t is TF.Tensor => t !== undefined);
    if (g.length) collector.add(`w:${plan.index}:grad_sq`, sumSquares(tf, g));
  }
}

/**
 * Weight norms and update sizes after the update; `before` maps a variable's name to its value
 * before the step. Also the BN layers' moving statistics as the step left them.
 */
export function addWeightStats(tf: typeof TF, collector: StatsCollector, plans: LayerPlan[], before: Map<string, TF.Tensor>): void {
  for (const plan of plans) {
    const after = plan.trainable.map((w) => w.read() as TF.Variable);
    if (after.length) {
      collector.add(`w:${plan.index}:weight_sq`, sumSquares(tf, after));
      const previous = after.map((v) => before.get(v.name)).filter((t): t is TF.Tensor => t !== undefined);
      if (previous.length === after.length) {
        collector.add(`w:${plan.index}:before_sq`, sumSquares(tf, previous));
        collector.add(
          `w:${plan.index}:update_sq`,
          sumSquares(
            tf,
            after.map((v, i) => tf.sub(v, previous[i]!)),
          ),
        );
      }
    }
    if (plan.bn) {
      collector.add(`bn:${plan.index}:moving_mean`, plan.bn.movingMean.read());
      collector.add(`bn:${plan.index}:moving_variance`, plan.bn.movingVariance.read());
    }
  }
}

/** Σ x², in float64. */
function sumOfSquares(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i]! * values[i]!;
  return sum;
}

/** Σ (a − b)², in float64. */
function sumOfSquaredDifferences(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    sum += d * d;
  }
  return sum;
}

/**
 * A tensor's values without a copy where the backend allows it: a view on the wasm heap (valid until
 * the next wasm allocation: read it at once), else `dataSync()`.
 */
export function valuesOf(tf: typeof TF, tensor: TF.Tensor): ArrayLike<number> {
  return wasmValues(tf, tensor) ?? (tensor.dataSync() as Float32Array);
}

/**
 * The statistics of a fused training step (fused/fused-step.ts), gathered in JavaScript on the step's
 * own values instead of ~200 small tfjs ops on a second, taped pass: the fused step hands its BN
 * batch moments, activation outputs and gradients to this probe as it computes them; `finish` adds
 * the weights after the update, the update sizes and the BN moving statistics. The values are the
 * same quantities as the general path's (StatsCollector), summed in float64. An engine that reduces
 * on its device hands the activation moments and gradient sums of squares instead (`engineProbe`).
 */
export class FusedStatsProbe implements FusedProbe {
  private readonly values = new Map<string, ArrayLike<number>>();
  private readonly byName: Map<string, LayerPlan>;
  /** Trainable variable index → its layer's plan index. */
  private readonly layerOfTrainable: number[];
  private readonly gradSq = new Map<number, number>();

  constructor(
    private readonly plans: LayerPlan[],
    trainable: TF.Variable[],
  ) {
    this.byName = new Map(plans.map((p) => [p.name, p]));
    const layerOf = new Map<TF.Variable, number>();
    for (const plan of plans) for (const w of plan.trainable) layerOf.set(w.read() as TF.Variable, plan.index);
    this.layerOfTrainable = trainable.map((v) => layerOf.get(v) ?? -1);
  }

  bn(layer: string, mean: Float64Array, variance: Float64Array): void {
    const plan = this.byName.get(layer);
    if (!plan?.bn) return;
    this.values.set(`bn:${plan.index}:batch_mean`, Float64Array.from(mean));
    this.values.set(`bn:${plan.index}:batch_variance`, Float64Array.from(variance));
  }

  activation(layer: string, y: Float32Array, n: number, features: number): void {
    const plan = this.byName.get(layer);
    if (!plan?.activation) return;
    const count = n * features;
    let sum = 0;
    for (let i = 0; i < count; i++) sum += y[i]!;
    const mean = sum / count;
    let sq = 0;
    for (let i = 0; i < count; i++) {
      const d = y[i]! - mean;
      sq += d * d;
    }
    const rule = SATURATION_RULES[plan.activation];
    this.activationMoments(layer, { mean, variance: sq / count, saturation: rule?.share(y.subarray(0, count), n, features) });
  }

  /** A layer's activation statistics as a device reduced them. */
  activationMoments(layer: string, { mean, variance, saturation }: ActivationMoments): void {
    const plan = this.byName.get(layer);
    if (!plan?.activation) return;
    this.values.set(`act:${plan.index}:mean`, [mean]);
    this.values.set(`act:${plan.index}:variance`, [variance]);
    if (saturation !== undefined && SATURATION_RULES[plan.activation]) this.values.set(`act:${plan.index}:saturation`, [saturation]);
  }

  gradient(index: number, g: Float32Array): void {
    this.gradientSumOfSquares(index, sumOfSquares(g));
  }

  /** Σ g² of trainable variable `index`'s gradient, as a device reduced it. */
  gradientSumOfSquares(index: number, sq: number): void {
    const layer = this.layerOfTrainable[index];
    if (layer === undefined || layer < 0) return;
    this.gradSq.set(layer, (this.gradSq.get(layer) ?? 0) + sq);
  }

  /** This probe as a TrainingEngine's (engines/engine.ts), which names variables: `trainable` lists their Keras names in trainableWeights' order. */
  engineProbe(trainable: readonly string[]): EngineProbe {
    const index = new Map(trainable.map((name, i) => [name, i]));
    return {
      bn: (layer, mean, variance) => this.bn(layer, mean, variance),
      activationMoments: (layer, moments) => this.activationMoments(layer, moments),
      gradientSumOfSquares: (variable, sq) => this.gradientSumOfSquares(index.get(variable) ?? -1, sq),
    };
  }

  /** Everything the record needs, after the step: `before` maps a variable's name to its value before the step. */
  finish(tf: typeof TF, before: Map<string, TF.Tensor>): Map<string, ArrayLike<number>> {
    return this.finishWith(
      (w) => valuesOf(tf, w.read()),
      (w) => {
        const previous = before.get((w.read() as TF.Variable).name);
        return previous && valuesOf(tf, previous);
      },
    );
  }

  /**
   * As finish, with the weights read elsewhere than the tfjs model (an engine's own arrays):
   * `now(w)` is a variable's value after the step, `then(w)` before it (undefined: not kept).
   */
  finishWith(now: (w: TF.LayerVariable) => ArrayLike<number>, then: (w: TF.LayerVariable) => ArrayLike<number> | undefined): Map<string, ArrayLike<number>> {
    for (const [layer, sq] of this.gradSq) this.values.set(`w:${layer}:grad_sq`, [sq]);
    for (const plan of this.plans) {
      if (plan.trainable.length) {
        let weightSq = 0;
        let beforeSq = 0;
        let updateSq = 0;
        let complete = true;
        for (const w of plan.trainable) {
          const after = now(w);
          weightSq += sumOfSquares(after);
          const previous = then(w);
          if (!previous) {
            complete = false;
            continue;
          }
          beforeSq += sumOfSquares(previous);
          updateSq += sumOfSquaredDifferences(after, previous);
        }
        this.values.set(`w:${plan.index}:weight_sq`, [weightSq]);
        if (complete) {
          this.values.set(`w:${plan.index}:before_sq`, [beforeSq]);
          this.values.set(`w:${plan.index}:update_sq`, [updateSq]);
        }
      }
      if (plan.bn) {
        this.values.set(`bn:${plan.index}:moving_mean`, Float32Array.from(now(plan.bn.movingMean)));
        this.values.set(`bn:${plan.index}:moving_variance`, Float32Array.from(now(plan.bn.movingVariance)));
      }
    }
    return this.values;
  }
}

function pick(values: ArrayLike<number>, indices: number[]): number[] {
  return indices.map((i) => values[i]!);
}

/** Features picked per BN layer when the settings name none. */
export const AUTO_BN_FEATURES = 4;

/** The `count` features of highest variance, in index order (ties: the lower index). */
export function topVarianceFeatures(variance: ArrayLike<number>, count = AUTO_BN_FEATURES): number[] {
  const order = Array.from({ length: variance.length }, (_, i) => i);
  order.sort((a, b) => variance[b]! - variance[a]! || a - b);
  return order.slice(0, count).sort((a, b) => a - b);
}

/**
 * Which features of each BN layer are streamed in full: the settings' indices, or (null) each
 * layer's highest-variance features at its first statistics step, kept for the rest of the run so
 * every chart follows the same features.
 */
export class BnFeatureChoice {
  private readonly picked = new Map<string, number[]>();
  constructor(private readonly fixed: readonly number[] | null) {}

  indices(layer: string, features: number, batchVariance: ArrayLike<number>): number[] {
    if (this.fixed) return [...new Set(this.fixed)].filter((i) => i < features);
    let chosen = this.picked.get(layer);
    if (!chosen) this.picked.set(layer, (chosen = topVarianceFeatures(batchVariance)));
    return chosen;
  }
}

/** Turns the decoded values of one stats step into the contract's record. */
export function buildStatsRecord(
  plans: LayerPlan[],
  values: Map<string, ArrayLike<number>>,
  at: { epoch: number; step: number; bnFeatures: number[] | BnFeatureChoice },
): StatsRecord {
  const choice = at.bnFeatures instanceof BnFeatureChoice ? at.bnFeatures : new BnFeatureChoice(at.bnFeatures);
  const bn: BnStats[] = [];
  const layers: LayerStats[] = [];
  const get = (key: string) => values.get(key);
  for (const plan of plans) {
    if (plan.bn) {
      const movingMean = get(`bn:${plan.index}:moving_mean`);
      const movingVariance = get(`bn:${plan.index}:moving_variance`);
      const batchMean = get(`bn:${plan.index}:batch_mean`);
      const batchVariance = get(`bn:${plan.index}:batch_variance`);
      if (movingMean && movingVariance && batchMean && batchVariance) {
        const indices = choice.indices(plan.name, plan.bn.features, batchVariance);
        bn.push({
          layer: plan.name,
          features: plan.bn.features,
          momentum: plan.bn.momentum,
          moving_mean: summarize(movingMean),
          moving_variance: summarize(movingVariance),
          batch_mean: summarize(batchMean),
          batch_variance: summarize(batchVariance),
          chosen: {
            indices,
            moving_mean: pick(movingMean, indices),
            moving_variance: pick(movingVariance, indices),
            batch_mean: pick(batchMean, indices),
            batch_variance: pick(batchVariance, indices),
          },
          moving_mean_bins: binned(movingMean),
        });
      }
    }
    const entry: LayerStats = { layer: plan.name };
    const gradSq = get(`w:${plan.index}:grad_sq`)?.[0];
    const weightSq = get(`w:${plan.index}:weight_sq`)?.[0];
    const beforeSq = get(`w:${plan.index}:before_sq`)?.[0];
    const updateSq = get(`w:${plan.index}:update_sq`)?.[0];
    if (gradSq !== undefined) entry.grad_norm = Math.sqrt(gradSq);
    if (weightSq !== undefined) entry.weight_norm = Math.sqrt(weightSq);
    if (updateSq !== undefined && beforeSq !== undefined && beforeSq > 0) entry.update_ratio = Math.sqrt(updateSq) / Math.sqrt(beforeSq);
    const actMean = get(`act:${plan.index}:mean`)?.[0];
    if (plan.activation && actMean !== undefined) {
      entry.activation = plan.activation;
      entry.act_mean = actMean;
      entry.act_std = Math.sqrt(Math.max(0, get(`act:${plan.index}:variance`)?.[0] ?? 0));
      const saturation = get(`act:${plan.index}:saturation`)?.[0];
      if (saturation !== undefined) entry.saturation = saturation;
    }
    if (Object.keys(entry).length > 1) layers.push(entry);
  }
  return { epoch: at.epoch, step: at.step, bn, layers };
}
