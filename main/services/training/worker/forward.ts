/**
 * The forward pass, run layer by layer over a Sequential model so that training, validation and
 * evaluation can see what each layer receives and produces (a BatchNormalization layer's input
 * batch, each activation's output) without a second pass, and so that dropout masks are seeded.
 *
 * Modes:
 * - 'train': every layer in training mode, as Keras' `model(x, training=True)`: BatchNormalization
 *   normalizes with the batch's statistics and updates its moving averages; dropout is on, its mask
 *   drawn from a seed derived from the run seed, the layer and the step.
 * - 'inference': every layer in inference mode (BN uses its moving statistics; no dropout).
 * - 'batch-stats': BatchNormalization normalizes with the batch's own statistics but leaves its
 *   moving averages alone; dropout stays off, so a difference from 'inference' is BN's alone.
 */
import type * as TF from '@tensorflow/tfjs';
import { ModelSpecSchema, type LayerSpec, type ModelSpec } from '../../../../model/spec';
import { deriveSeed } from './seeds';
import { batchNormalization, normalizedAxis } from './units/batch-normalization';
import { activationOf, kernelPenalties, kitConfig, type KitConfig } from './units/config';
import { dropout } from './units/dropout';

type Layer = TF.LayersModel['layers'][number];

export interface BatchNormPlan {
  /** The normalized axis, non-negative. */
  axis: number;
  momentum: number;
  epsilon: number;
  features: number;
  movingMean: TF.LayerVariable;
  movingVariance: TF.LayerVariable;
  gamma: TF.LayerVariable | null;
  beta: TF.LayerVariable | null;
}

export interface LayerPlan {
  index: number;
  name: string;
  className: string;
  layer: Layer;
  /** The layer's config with its kit's defaults, read once here: the training units' configs come from it. */
  config: KitConfig;
  /** The activation the layer applies (Keras name), when it has a non-linear one. */
  activation: string | null;
  /** Trainable weights (kernel and bias, gamma and beta). */
  trainable: TF.LayerVariable[];
  bn: BatchNormPlan | null;
  dropout: { kind: 'Dropout' | 'AlphaDropout'; rate: number; noiseShape: (number | null)[] | null; seed: number | null } | null;
  /** The kernel's L1/L2 penalty (Keras' kernel_regularizer), added to the loss. */
  regularizer: { kernel: TF.LayerVariable; l1: number; l2: number } | null;
  /** The kernel's max-norm constraint (Keras' kernel_constraint), applied after each update. */
  maxNorm: { kernel: TF.LayerVariable; maxValue: number; axis: number } | null;
}

function weightNamed(layer: Layer, suffix: string): TF.LayerVariable | null {
  return layer.weights.find((w) => w.originalName.endsWith(`/${suffix}`) || w.originalName === suffix) ?? null;
}

/** The model's layers as a spec (Keras topology JSON, as `model.toJSON()` writes it). */
function specOf(model: TF.LayersModel): ModelSpec {
  return ModelSpecSchema.parse(model.toJSON(null, false));
}

/**
 * What the forward pass needs to know about each layer of a built (Sequential) model, its settings
 * read from the spec it was built from (typed, Keras' defaults filled in); without one, from the
 * model's own topology JSON.
 */
export function planLayers(model: TF.LayersModel, spec: ModelSpec = specOf(model)): LayerPlan[] {
  const specs = new Map(spec.config.layers.map((l) => [l.config.name, l]));
  const plans: LayerPlan[] = [];
  model.layers.forEach((layer, index) => {
    const className = layer.getClassName();
    if (className === 'InputLayer') return;
    const layerSpec = specs.get(layer.name) ?? ({ class_name: className, config: { name: layer.name } } as LayerSpec);
    const config = kitConfig(layerSpec);
    const named = activationOf(config['activation']);
    const activation = className === 'LeakyReLU' ? 'leaky_relu' : named === 'linear' ? null : named;
    let bn: BatchNormPlan | null = null;
    if (className === 'BatchNormalization') {
      const movingMean = weightNamed(layer, 'moving_mean');
      const movingVariance = weightNamed(layer, 'moving_variance');
      if (!movingMean || !movingVariance) throw new Error(`BatchNormalization layer ${layer.name} has no moving statistics`);
      const bnConfig = batchNormalization.config(config, className);
      // A built BN layer's input spec records the input's rank.
      const inputRank = layer.inputSpec?.[0]?.ndim ?? 2;
      bn = {
        axis: normalizedAxis(bnConfig, inputRank),
        momentum: bnConfig.momentum,
        epsilon: bnConfig.epsilon,
        features: movingMean.shape[0] as number,
        movingMean,
        movingVariance,
        gamma: weightNamed(layer, 'gamma'),
        beta: weightNamed(layer, 'beta'),
      };
    }
    let dropoutPlan: LayerPlan['dropout'] = null;
    if (className === 'Dropout' || className === 'AlphaDropout') {
      const { rate, noiseShape, seed } = dropout.config(config, className);
      dropoutPlan = { kind: className, rate, noiseShape, seed };
    }
    let regularizer: LayerPlan['regularizer'] = null;
    let maxNorm: LayerPlan['maxNorm'] = null;
    const kernel = weightNamed(layer, 'kernel');
    if (kernel) {
      const penalties = kernelPenalties(config);
      if (penalties.regularizer) regularizer = { kernel, ...penalties.regularizer };
      if (penalties.maxNorm) maxNorm = { kernel, ...penalties.maxNorm };
    }
    plans.push({ index, name: layer.name, className, layer, config, activation, trainable: layer.trainableWeights, bn, dropout: dropoutPlan, regularizer, maxNorm });
  });
  return plans;
}

export type ForwardMode = 'train' | 'inference' | 'batch-stats';

export interface ForwardOptions {
  mode: ForwardMode;
  /** Run seed and global step: dropout masks in 'train' mode. */
  seed?: number;
  step?: number;
  /** Sees every layer's input and output (inside the caller's tidy / gradient scope). */
  probe?: (plan: LayerPlan, input: TF.Tensor, output: TF.Tensor) => void;
}

/** Reduction axes of a BN layer: every axis but the normalized one. */
export function reductionAxes(rank: number, axis: number): number[] {
  const axes: number[] = [];
  for (let i = 0; i < rank; i++) if (i !== axis) axes.push(i);
  return axes;
}

function broadcastShape(rank: number, axis: number, features: number): number[] {
  const shape = new Array<number>(rank).fill(1);
  shape[axis] = features;
  return shape;
}

/** Batch normalization with the batch's own statistics and no moving-average update. */
function batchNormWithBatchStats(tf: typeof TF, x: TF.Tensor, bn: BatchNormPlan): TF.Tensor {
  const { mean, variance } = tf.moments(x, reductionAxes(x.rank, bn.axis), true);
  const shape = broadcastShape(x.rank, bn.axis, bn.features);
  const gamma = bn.gamma ? tf.reshape(bn.gamma.read(), shape) : undefined;
  const beta = bn.beta ? tf.reshape(bn.beta.read(), shape) : undefined;
  return tf.batchNorm(x, mean, variance, beta, gamma, bn.epsilon);
}

/**
 * Batch normalization in training mode, as tfjs-layers' BatchNormalization.call with training on
 * (the same ops in the same order, so results are unchanged): the batch's statistics normalize, and
 * the moving averages move towards them. tfjs-layers 4.22 reads gamma and beta unconditionally
 * there, so a layer with `center: false` or `scale: false` could not train through it; here an
 * absent gamma is a constant 1 and an absent beta a constant 0.
 */
function batchNormTraining(tf: typeof TF, x: TF.Tensor, bn: BatchNormPlan): TF.Tensor {
  const axes = reductionAxes(x.rank, bn.axis);
  const { mean, variance } = tf.moments(x, axes);
  // Normalizing every axis but the last takes the vectors as they are; any other axis broadcasts.
  const lastAxis = bn.axis === x.rank - 1;
  const shape = broadcastShape(x.rank, bn.axis, bn.features);
  const shaped = (t: TF.Tensor) => (lastAxis ? t : tf.reshape(t, shape));
  // Constants for an absent gamma (1) or beta (0): tfjs-core's FusedBatchNorm gradient fails without them.
  const gamma = shaped(bn.gamma ? bn.gamma.read() : tf.onesLike(mean));
  const beta = shaped(bn.beta ? bn.beta.read() : tf.zerosLike(mean));
  const normed = tf.batchNorm(x, shaped(mean), shaped(variance), beta, gamma, bn.epsilon);
  // Keras / tfjs-layers: moving ← moving − (moving − batch)·(1 − momentum).
  const decay = 1 - bn.momentum;
  for (const [moving, batch] of [
    [bn.movingMean, mean],
    [bn.movingVariance, variance],
  ] as const) {
    tf.tidy(() => {
      const current = moving.read();
      moving.write(tf.sub(current, tf.mul(tf.sub(current, batch), decay)));
    });
  }
  return normed;
}

/** Inverted dropout (as tf.dropout) with an explicit seed. */
function seededDropout(tf: typeof TF, x: TF.Tensor, rate: number, noiseShape: (number | null)[] | null, seed: number): TF.Tensor {
  const shape = noiseShape ? noiseShape.map((d, i) => d ?? x.shape[i]!) : x.shape;
  const keep = tf.cast(tf.greaterEqual(tf.randomUniform(shape, 0, 1, 'float32', seed), rate), 'float32');
  return tf.mul(x, tf.div(keep, 1 - rate));
}

/**
 * Keras' AlphaDropout (Klambauer et al. 2017): dropped units are set to SELU's negative saturation
 * −λα, then an affine map restores the mean and variance. (tfjs-layers 4.22's AlphaDropout has the
 * sign of −λα flipped, which is why the layer is applied here.)
 */
function seededAlphaDropout(tf: typeof TF, x: TF.Tensor, rate: number, noiseShape: (number | null)[] | null, seed: number): TF.Tensor {
  const alpha = 1.6732632423543772;
  const scale = 1.0507009873554805;
  const alphaP = -alpha * scale;
  const shape = noiseShape ? noiseShape.map((d, i) => d ?? x.shape[i]!) : x.shape;
  const keep = tf.cast(tf.greaterEqual(tf.randomUniform(shape, 0, 1, 'float32', seed), rate), 'float32');
  const a = ((1 - rate) * (1 + rate * alphaP ** 2)) ** -0.5;
  const b = -a * alphaP * rate;
  const dropped = tf.add(tf.mul(x, keep), tf.mul(tf.sub(1, keep), alphaP));
  return tf.add(tf.mul(dropped, a), b);
}

/** Runs the layers in order on `x`; call inside a tidy (or a gradient function). */
export function forward(tf: typeof TF, plans: LayerPlan[], x: TF.Tensor, options: ForwardOptions): TF.Tensor {
  return forwardWithLogits(tf, plans, x, options).output;
}

/** A Dense layer's pre-activation (its kernel and bias, on the last axis). */
function denseLogits(tf: typeof TF, plan: LayerPlan, h: TF.Tensor): TF.Tensor {
  const kernel = weightNamed(plan.layer, 'kernel')!;
  const bias = weightNamed(plan.layer, 'bias');
  const units = kernel.shape[1] as number;
  const flat = h.rank === 2 ? h : tf.reshape(h, [-1, h.shape[h.rank - 1]!]);
  // Fused like tfjs' own Dense.
  const z = tf.fused.matMul({ a: flat, b: kernel.read(), ...(bias ? { bias: bias.read() } : {}) });
  return h.rank === 2 ? z : tf.reshape(z, [...h.shape.slice(0, -1), units]);
}

/**
 * The forward pass, and when the model ends in a softmax (a Dense layer's activation or an
 * Activation layer), the logits it is applied to: the loss is then computed from the logits, as
 * Keras does for a softmax output (it unwraps the softmax) — unclipped, so that a diverging run's
 * loss really becomes ∞ or NaN instead of saturating at −log(1e-7).
 */
export function forwardWithLogits(tf: typeof TF, plans: LayerPlan[], x: TF.Tensor, options: ForwardOptions): { output: TF.Tensor; logits: TF.Tensor | null } {
  let h = x;
  let logits: TF.Tensor | null = null;
  const training = options.mode === 'train';
  plans.forEach((plan, i) => {
    const input = h;
    const last = i === plans.length - 1;
    if (plan.dropout) {
      const { rate, noiseShape, kind } = plan.dropout;
      if (training && rate > 0 && rate < 1) {
        const seed = deriveSeed(plan.dropout.seed ?? options.seed ?? 0, 'dropout', plan.name, options.step ?? 0);
        h = kind === 'AlphaDropout' ? seededAlphaDropout(tf, h, rate, noiseShape, seed) : seededDropout(tf, h, rate, noiseShape, seed);
      }
    } else if (plan.bn && options.mode === 'batch-stats') {
      h = batchNormWithBatchStats(tf, h, plan.bn);
    } else if (plan.bn && training) {
      h = batchNormTraining(tf, h, plan.bn);
    } else if (last && plan.activation === 'softmax' && plan.className === 'Dense') {
      logits = denseLogits(tf, plan, h);
      h = tf.softmax(logits);
    } else {
      if (last && plan.activation === 'softmax' && plan.className === 'Activation') logits = h;
      h = plan.layer.apply(h, { training }) as TF.Tensor;
    }
    options.probe?.(plan, input, h);
  });
  return { output: h, logits };
}

/**
 * Keras' sparse categorical crossentropy per sample: from the logits when the model ends in a
 * softmax (exact log-softmax, as Keras does), else on the probabilities, clipped at 1e-7.
 */
export function crossEntropyPerSample(tf: typeof TF, probs: TF.Tensor, labels: TF.Tensor, logits: TF.Tensor | null = null): TF.Tensor {
  const classes = probs.shape[probs.rank - 1]!;
  const oneHot = tf.oneHot(labels, classes);
  if (logits) return tf.neg(tf.sum(tf.mul(oneHot, tf.logSoftmax(logits)), -1));
  const normalized = tf.div(probs, tf.sum(probs, -1, true));
  const clipped = tf.clipByValue(normalized, 1e-7, 1 - 1e-7);
  return tf.neg(tf.sum(tf.mul(oneHot, tf.log(clipped)), -1));
}

export function meanCrossEntropy(tf: typeof TF, probs: TF.Tensor, labels: TF.Tensor, logits: TF.Tensor | null = null): TF.Scalar {
  return tf.mean(crossEntropyPerSample(tf, probs, labels, logits)) as TF.Scalar;
}

/** Keras' regularization loss: Σ over layers of l1·Σ|W| + l2·ΣW² (a scalar; null when no layer has one). */
export function regularizationLoss(tf: typeof TF, plans: LayerPlan[]): TF.Scalar | null {
  const terms: TF.Tensor[] = [];
  for (const plan of plans) {
    if (!plan.regularizer) continue;
    const { kernel, l1, l2 } = plan.regularizer;
    const w = kernel.read();
    if (l1 > 0) terms.push(tf.mul(l1, tf.sum(tf.abs(w))));
    if (l2 > 0) terms.push(tf.mul(l2, tf.sum(tf.square(w))));
  }
  return terms.length === 0 ? null : sumScalars(tf, terms);
}

/**
 * Σ of scalars, one add at a time: tfjs-webgpu's addN binds every input at once and fails
 * (an invalid pipeline, read back as zeros) past the adapter's storage buffers per shader stage (8 on SwiftShader).
 */
export function sumScalars(tf: typeof TF, terms: TF.Tensor[]): TF.Scalar {
  return terms.reduce((sum, term) => tf.add(sum, term)) as TF.Scalar;
}

/** Keras' MaxNorm after an update: w·clip(‖w‖, 0, c)/(1e-7 + ‖w‖), norms along `axis`. Call inside a tidy. */
export function applyMaxNorm(tf: typeof TF, plans: LayerPlan[]): void {
  for (const plan of plans) {
    if (!plan.maxNorm) continue;
    const { kernel, maxValue, axis } = plan.maxNorm;
    const w = kernel.read() as TF.Variable;
    const norms = tf.sqrt(tf.sum(tf.square(w), axis, true));
    const desired = tf.clipByValue(norms, 0, maxValue);
    w.assign(tf.mul(w, tf.div(desired, tf.add(norms, 1e-7))));
  }
}

/** Share of samples whose arg-max class is the label (Keras' sparse categorical accuracy). */
export function accuracy(tf: typeof TF, probs: TF.Tensor, labels: TF.Tensor): TF.Scalar {
  return tf.mean(tf.cast(tf.equal(tf.argMax(probs, -1), labels), 'float32')) as TF.Scalar;
}
