/**
 * The ONNX Runtime step against the general tfjs path (forward.ts on the gradient tape + the tfjs
 * optimizer, as loop.ts' trainStep) on real Fashion-MNIST images: the same losses and the same
 * weights (BN moving statistics included) after 20 steps from the same initial weights; each layer
 * kind's gradient against finite differences; declined cases say why.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import { defaultTrainingSettings, type OptimizerSettings } from '../../../../../../contract';
import { deepPlainMlp, plainMlp, presets, seedModel1, seedModel2, seluMlp } from '../../../../../../model/presets';
import { initializer, type LayerSpec, type ModelSpec } from '../../../../../../model/spec';
import type { NamedWeights } from '../../../../export/weights';
import { BN_FLAG_COMBINATIONS, bnMlp, flagsLabel } from '../../../common/bn-flag-specs';
import { smallCnn } from '../../../common/small-cnn';
import { buildModel } from '../../build-model';
import { applyMaxNorm, forwardWithLogits, meanCrossEntropy, planLayers, regularizationLoss } from '../../forward';
import { useFashionBatches } from '../../test-images';
import { clipGradients, createOptimizer } from '../../optimizers';
import { weightsOf, worstRelativeError } from '../compare-weights';
import { dropoutKeepMasks } from './dropout-masks';
import { ORT_THREADS_ENV, OrtStepEngine, pinnedOrtThreads, type OrtEngineOptions } from './engine';
import { probeOnnxRuntime } from './probe';
import { MORE_THREADS_MIN_GAIN, threadCandidates, TWO_THREADS_MIN_BATCH } from './thread-choice';
import { AFFINE_INPUT_MIN_BATCH, buildStepGraph, stepGraphSupport, type StepGraphOptions } from './step-graph';

const BATCH = 32;
const STEPS = 20;
const SEED = 7;
const { x: batchX, y: batchY } = useFashionBatches(tf, BATCH, STEPS);

const sgd: OptimizerSettings = { class_name: 'SGD', config: { momentum: 0, nesterov: false, clipnorm: null, clipvalue: null } };
const momentum: OptimizerSettings = { class_name: 'SGD', config: { momentum: 0.9, nesterov: false, clipnorm: null, clipvalue: null } };
const nesterov: OptimizerSettings = { class_name: 'SGD', config: { momentum: 0.9, nesterov: true, clipnorm: null, clipvalue: null } };
const adam: OptimizerSettings = { class_name: 'Adam', config: { beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7, clipnorm: null, clipvalue: null } };

/**
 * The floor of compare-weights' relative error: in seed model 2 the first BN's beta (and the next BN's
 * moving mean) feed a bias-free Dense into another BN, which removes any shift, so their exact gradient
 * is 0 and they hold float32 noise (‖β‖ ~ 2e-8) whose relative difference means nothing.
 */
const NOISE_NORM = 0.01;

/**
 * tfjs' penalty minus the exact one: tfjs' wasm sum accumulates the 235,200 squares of the first
 * kernel sequentially in float32, 2.8e-4 below the float64 sum (6.00907 against 6.00935 for L2 0.01
 * on seed weights), more than the 1e-4 this test allows; ONNX Runtime's sum is within 1e-5 of exact.
 * The general path's loss is compared with this error taken out (its gradients have no such sum).
 */
function penaltySummationError(plans: ReturnType<typeof planLayers>): number {
  if (!plans.some((p) => p.regularizer)) return 0;
  const inTfjs = tf.tidy(() => regularizationLoss(tf, plans)!.dataSync()[0]!);
  let exact = 0;
  for (const p of plans) {
    if (!p.regularizer) continue;
    const { kernel, l1, l2 } = p.regularizer;
    for (const w of kernel.read().dataSync()) exact += l1 * Math.abs(w) + l2 * w * w;
  }
  return inTfjs - exact;
}

async function engineFor(spec: ModelSpec, optimizer: OptimizerSettings, weights: NamedWeights, options: OrtEngineOptions = {}): Promise<OrtStepEngine> {
  const engine = await OrtStepEngine.create(spec, optimizer, weights, options);
  if (!(engine instanceof OrtStepEngine)) throw new Error(`declined: ${engine.unsupported}`);
  return engine;
}

/** engineFor with $LAYERBENCH_ORT_THREADS unset while the engine starts, so that it times its thread counts whatever the environment pins. */
async function timedEngineFor(spec: ModelSpec, optimizer: OptimizerSettings, weights: NamedWeights, options: OrtEngineOptions): Promise<OrtStepEngine> {
  const pinned = process.env[ORT_THREADS_ENV];
  delete process.env[ORT_THREADS_ENV];
  try {
    return await engineFor(spec, optimizer, weights, options);
  } finally {
    if (pinned !== undefined) process.env[ORT_THREADS_ENV] = pinned;
  }
}

/** A model's variables as buildModel starts them (seed SEED). */
async function startWeights(spec: ModelSpec): Promise<NamedWeights> {
  const model = await buildModel(tf, spec, { seed: SEED });
  try {
    return weightsOf(model);
  } finally {
    model.dispose();
  }
}

/**
 * Seed model 2's variables that hold float32 noise under an adaptive optimizer: the first BN's beta
 * feeds a bias-free Dense into another BN, which removes any shift, so its exact gradient is 0; Adam,
 * Adamax and RMSprop divide that ~1e-9 noise by its own size and take lr-sized steps in its direction, and
 * the next BN's moving mean follows (β·W). The two paths' noise differs, so these are not compared
 * (the loss, which they cannot move, is).
 */
const SHIFT_INVARIANT = new Set(['batch_normalization/beta', 'batch_normalization_1/moving_mean']);

/** Runs `body` on tfjs' `backend` (the images were loaded under wasm, which the suites go back to). */
async function onBackend<T>(backend: 'wasm' | 'cpu', body: () => Promise<T>): Promise<T> {
  if (backend === 'wasm') return body();
  expect(await tf.setBackend(backend)).toBe(true);
  try {
    return await body();
  } finally {
    expect(await tf.setBackend('wasm')).toBe(true);
  }
}

/**
 * 20 steps on both paths from the same initial weights: worst loss difference and worst weight error.
 * Conv2D and MaxPooling2D models run the general path on 'cpu', as the app does (wasm has no gradient kernels for them).
 */
async function compare(
  spec: ModelSpec,
  optimizer: OptimizerSettings,
  lr: number,
  backend: 'wasm' | 'cpu' = 'wasm',
  skip: ReadonlySet<string> = new Set(),
  options: StepGraphOptions = {},
) {
  return onBackend(backend, () => compareOnBackend(spec, optimizer, lr, skip, options));
}

/** The worst loss difference and worst weight error over 20 steps, less the variables in `skip`. */
async function compareOnBackend(spec: ModelSpec, optimizer: OptimizerSettings, lr: number, skip: ReadonlySet<string>, options: StepGraphOptions) {
  const model = await buildModel(tf, spec, { seed: SEED });
  const plans = planLayers(model);
  const tfOptimizer = createOptimizer(tf, optimizer, lr);
  const trainable = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const engine = await engineFor(spec, optimizer, weightsOf(model), options);
  try {
    // Keras' order (each layer's variables together); tfjs lists trainable ones first.
    expect([...engine.getWeights().keys()].sort()).toEqual(model.weights.map((w) => w.originalName).sort());
    let worstLoss = 0;
    for (let step = 0; step < STEPS; step++) {
      const summationError = penaltySummationError(plans);
      const loss = tf.tidy(() => {
        const xb = tf.tensor(batchX(step), [BATCH, ...engine.graph.inputShape]);
        const yb = tf.tensor1d(batchY(step), 'int32');
        const { value, grads } = tfOptimizer.computeGradients(() => {
          const { output, logits } = forwardWithLogits(tf, plans, xb, { mode: 'train', seed: SEED, step });
          const loss = meanCrossEntropy(tf, output, yb, logits);
          const penalty = regularizationLoss(tf, plans);
          return penalty ? tf.add(loss, penalty) : loss;
        }, trainable);
        tfOptimizer.applyGradients(clipGradients(tf, grads, optimizer.config));
        applyMaxNorm(tf, plans);
        return value;
      });
      const expected = loss.dataSync()[0]! - summationError;
      loss.dispose();
      const masks = dropoutKeepMasks(tf, engine.graph.masks, BATCH, { seed: SEED, step });
      const actual = await engine.step(batchX(step), batchY(step), BATCH, lr, masks);
      expect(Number.isFinite(actual.loss)).toBe(true);
      expect(actual.acc).toBeGreaterThanOrEqual(0);
      expect(actual.acc).toBeLessThanOrEqual(1);
      worstLoss = Math.max(worstLoss, Math.abs(actual.loss - expected));
    }
    return { worstLoss, weights: worstRelativeError(engine.getWeights(), weightsOf(model), NOISE_NORM, skip) };
  } finally {
    await engine.dispose();
    tfOptimizer.dispose();
    model.dispose();
  }
}

/** What `compare` leaves out: SHIFT_INVARIANT for seed model 2 under the optimizers that scale a gradient by its own size, nothing elsewhere. */
const noiseOf = (spec: ModelSpec, optimizer: OptimizerSettings): ReadonlySet<string> =>
  spec === seedModel2 && ['Adam', 'Adamax', 'RMSprop'].includes(optimizer.class_name) ? SHIFT_INVARIANT : new Set();

describe('the ONNX Runtime step matches the general tfjs path (20 steps, batch 32, real images)', () => {
  const optimizers: [string, OptimizerSettings, number][] = [
    ['SGD', sgd, 0.01],
    ['SGD momentum', momentum, 0.01],
    ['SGD Nesterov', nesterov, 0.01],
    ['Adam', adam, 0.001],
  ];
  for (const [modelName, spec] of [
    ['seed model 1 (BN after the activation)', seedModel1],
    ['seed model 2 (BN before the activation, Dense without bias)', seedModel2],
    ['plain MLP', plainMlp],
  ] as const) {
    for (const [optName, optimizer, lr] of optimizers) {
      it(`${modelName}, ${optName}`, async () => {
        const { worstLoss, weights } = await compare(spec, optimizer, lr, 'wasm', noiseOf(spec, optimizer));
        expect(worstLoss).toBeLessThan(1e-4);
        expect(weights.worst, weights.at).toBeLessThan(1e-4);
      });
    }
  }
  const others: [string, OptimizerSettings, number][] = [
    ['Adagrad', { class_name: 'Adagrad', config: { initial_accumulator_value: 0.1, epsilon: 1e-7, clipnorm: null, clipvalue: null } }, 0.01],
    ['RMSprop', { class_name: 'RMSprop', config: { rho: 0.9, momentum: 0, epsilon: 1e-7, centered: false, clipnorm: null, clipvalue: null } }, 0.001],
    ['RMSprop centered with momentum', { class_name: 'RMSprop', config: { rho: 0.9, momentum: 0.5, epsilon: 1e-7, centered: true, clipnorm: null, clipvalue: null } }, 0.001],
    ['Adamax', { class_name: 'Adamax', config: { beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7, clipnorm: null, clipvalue: null } }, 0.002],
    ['SGD momentum, clipnorm 0.5', { class_name: 'SGD', config: { momentum: 0.9, nesterov: false, clipnorm: 0.5, clipvalue: null } }, 0.01],
    ['Adam, clipvalue 0.01', { class_name: 'Adam', config: { beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7, clipnorm: null, clipvalue: 0.01 } }, 0.001],
  ];
  for (const [optName, optimizer, lr] of others) {
    for (const [modelName, spec] of [
      ['seed model 1', seedModel1],
      ['seed model 2', seedModel2],
    ] as const) {
      it(`${modelName}, ${optName}`, async () => {
        const { worstLoss, weights } = await compare(spec, optimizer, lr, 'wasm', noiseOf(spec, optimizer));
        expect(worstLoss).toBeLessThan(1e-4);
        expect(weights.worst, weights.at).toBeLessThan(1e-4);
      });
    }
  }
  // Masks drawn as forward.ts draws them: the layer's own seed, or the run's.
  const withDropout = structuredClone(plainMlp);
  withDropout.config.layers.splice(2, 0, layer('Dropout', 'dropout', { rate: 0.3, noise_shape: null, seed: null }));
  withDropout.config.layers.splice(4, 0, layer('Dropout', 'dropout_1', { rate: 0.2, noise_shape: null, seed: 123 }));
  for (const [modelName, spec] of [
    ['MLP with Dropout', withDropout],
    ['SELU MLP with AlphaDropout', seluMlp],
    ['MLP without BN', plainMlp],
  ] as const) {
    it(`${modelName}, SGD momentum`, async () => {
      const { worstLoss, weights } = await compare(spec, momentum, 0.01);
      expect(worstLoss).toBeLessThan(1e-4);
      expect(weights.worst, weights.at).toBeLessThan(1e-4);
    });
  }
  // 20 ELU layers without BN: at lr 0.01 with momentum 0.9 both paths diverge within 20 steps (loss 4.9 → 700) and
  // float32 rounding makes the chaos differ; plain SGD at 0.001 trains it, and the paths must then agree.
  it('deep plain MLP (20 × Dense 100), SGD 0.001', async () => {
    const { worstLoss, weights } = await compare(deepPlainMlp, sgd, 0.001);
    expect(worstLoss).toBeLessThan(1e-4);
    expect(weights.worst, weights.at).toBeLessThan(1e-4);
  });
  it('covers every preset the builder offers', () => {
    const covered = new Set([seedModel1, seedModel2, seluMlp, plainMlp, deepPlainMlp]);
    expect(presets.filter((p) => !covered.has(p.spec)).map((p) => p.id)).toEqual([]);
  });
  // Keras' penalties in the loss (and its reported value) and MaxNorm after each update, as loop.ts' trainStep.
  const penalized = structuredClone(plainMlp);
  penalized.config.layers[1]!.config.kernel_regularizer = { class_name: 'L2', config: { l2: 0.01 } };
  penalized.config.layers[1]!.config.kernel_constraint = { class_name: 'MaxNorm', config: { max_value: 1, axis: 0 } };
  penalized.config.layers[2]!.config.kernel_regularizer = { class_name: 'L1L2', config: { l1: 0.001, l2: 0.001 } };
  penalized.config.layers[3]!.config.kernel_regularizer = { class_name: 'L1', config: { l1: 0.001 } };
  penalized.config.layers[3]!.config.kernel_constraint = { class_name: 'MaxNorm', config: { max_value: 0.5, axis: 1 } };
  for (const [optName, optimizer, lr] of [
    ['SGD momentum', momentum, 0.01],
    ['Adam', adam, 0.001],
  ] as const) {
    it(`L1/L2 penalties and MaxNorm, ${optName}`, async () => {
      const { worstLoss, weights } = await compare(penalized, optimizer, lr);
      expect(worstLoss).toBeLessThan(1e-4);
      expect(weights.worst, weights.at).toBeLessThan(1e-4);
    });
  }
  for (const flags of BN_FLAG_COMBINATIONS) {
    it(`BatchNormalization with ${flagsLabel(flags)}, SGD momentum`, async () => {
      const { worstLoss, weights } = await compare(bnMlp(flags), momentum, 0.01);
      expect(worstLoss).toBeLessThan(1e-4);
      expect(weights.worst, weights.at).toBeLessThan(1e-4);
    });
  }
  // The step the engine builds from AFFINE_INPUT_MIN_BATCH on: the first BN's γ and β gradients taken by the Dense above it.
  for (const flags of BN_FLAG_COMBINATIONS) {
    it(`BatchNormalization with ${flagsLabel(flags)} under the Dense that takes its gradients, SGD`, async () => {
      const { worstLoss, weights } = await compare(bnMlp(flags), sgd, 0.01, 'wasm', new Set(), { affineInputs: true });
      expect(worstLoss).toBeLessThan(1e-4);
      expect(weights.worst, weights.at).toBeLessThan(1e-4);
    });
  }
  for (const [modelName, spec, optName, optimizer, lr] of [
    ['seed model 1', seedModel1, 'SGD', sgd, 0.01],
    ['seed model 2', seedModel2, 'Adam', adam, 0.001],
  ] as const) {
    it(`${modelName}, ${optName}, the first BN's gradients taken by the Dense above it`, async () => {
      const { worstLoss, weights } = await compare(spec, optimizer, lr, 'wasm', noiseOf(spec, optimizer), { affineInputs: true });
      expect(worstLoss).toBeLessThan(1e-4);
      expect(weights.worst, weights.at).toBeLessThan(1e-4);
    });
  }
  // Conv2D and MaxPooling2D against tfjs' 'cpu' backend, where the app trains them (~10–20 s each on a busy machine: tfjs' convolutions in plain JS).
  for (const [modelName, spec, optName, optimizer, lr] of [
    ['small CNN (Reshape → Conv2D relu → MaxPooling2D → Flatten → Dense)', smallCnn(), 'SGD', sgd, 0.05],
    ['strided CNN (same/valid padding, overlapping pools, L2, Dropout on images)', stridedCnn('elu', 'relu'), 'Adam', adam, 0.001],
  ] as const) {
    it(`${modelName}, ${optName}`, async () => {
      const { worstLoss, weights } = await compare(spec, optimizer, lr, 'cpu');
      expect(worstLoss).toBeLessThan(1e-4);
      expect(weights.worst, weights.at).toBeLessThan(1e-4);
    });
  }
});

function layer(class_name: string, name: string, config: Record<string, unknown>): LayerSpec {
  return { class_name, config: { name, trainable: true, ...config } };
}

/** Flatten → Dense(6, fn, L1L2 penalty) → BN(flags) → Dense(5, linear, no bias) → Activation(fn) → (Alpha)Dropout → Dense(10, softmax): every layer kind, small. */
function smallModel(fn: string, bn: { center: boolean; scale: boolean }): ModelSpec {
  return {
    class_name: 'Sequential',
    config: {
      name: `grad_check_${fn}`,
      layers: [
        layer('Flatten', 'flatten', { batch_input_shape: [null, 28, 28] }),
        // The builder offers leaky_relu only as an Activation layer (TF.js' Dense has none).
        layer('Dense', 'dense', {
          units: 6,
          activation: fn === 'leaky_relu' ? 'linear' : fn,
          use_bias: true,
          kernel_initializer: initializer('GlorotUniform'),
          kernel_regularizer: { class_name: 'L1L2', config: { l1: 0.001, l2: 0.01 } },
        }),
        layer('BatchNormalization', 'batch_normalization', { axis: -1, momentum: 0.9, epsilon: 0.001, ...bn }),
        layer('Dense', 'dense_1', { units: 5, activation: 'linear', use_bias: false, kernel_initializer: initializer('GlorotUniform') }),
        layer('Activation', 'activation', { activation: fn }),
        layer(fn === 'selu' ? 'AlphaDropout' : 'Dropout', 'dropout', { rate: 0.25, noise_shape: null, seed: null }),
        layer('Dense', 'dense_2', { units: 10, activation: 'softmax', use_bias: true, kernel_initializer: initializer('GlorotUniform') }),
      ],
    },
  };
}

/** Flatten → BN(flags, γ and β drawn away from 1 and 0) → Dense(6, tanh) → Dense(10, softmax): BN first, under a Dense. */
function bnFirst(flags: { center: boolean; scale: boolean }): ModelSpec {
  return {
    class_name: 'Sequential',
    config: {
      name: 'grad_check_bn_first',
      layers: [
        layer('Flatten', 'flatten', { batch_input_shape: [null, 28, 28] }),
        layer('BatchNormalization', 'batch_normalization', {
          axis: -1,
          momentum: 0.9,
          epsilon: 0.001,
          ...flags,
          gamma_initializer: initializer('RandomUniform', { minval: 0.5, maxval: 1.5 }),
          beta_initializer: initializer('RandomUniform', { minval: -0.5, maxval: 0.5 }),
        }),
        layer('Dense', 'dense', { units: 6, activation: 'tanh', use_bias: true, kernel_initializer: initializer('GlorotUniform') }),
        layer('Dense', 'dense_1', { units: 10, activation: 'softmax', use_bias: true, kernel_initializer: initializer('GlorotUniform') }),
      ],
    },
  };
}

function conv(name: string, filters: number, kernel: number[], strides: number[], padding: string, activation: string, more: Record<string, unknown>): LayerSpec {
  return layer('Conv2D', name, { filters, kernel_size: kernel, strides, padding, activation, kernel_initializer: initializer('GlorotUniform'), ...more });
}

/**
 * Reshape → Conv2D(3, 3×3, strides 2, valid: the kernel gradient's correlation is cropped, ConvTranspose
 * needs output_padding) → MaxPooling2D(3×3, strides 2, same: overlapping windows) → BN on the channels →
 * Conv2D(4, 2×3, strides [1, 2], same, no bias) → MaxPooling2D(2×2) → Dropout on images → Flatten → Dense(10, softmax).
 */
function stridedCnn(fn: string, fn2: string): ModelSpec {
  return {
    class_name: 'Sequential',
    config: {
      name: `strided_cnn_${fn}_${fn2}`,
      layers: [
        layer('Reshape', 'reshape', { target_shape: [28, 28, 1], batch_input_shape: [null, 28, 28] }),
        conv('conv2d', 3, [3, 3], [2, 2], 'valid', fn, {
          // Zero biases would put every blank patch's ReLU exactly on its kink, where a finite difference straddles it.
          bias_initializer: initializer('RandomUniform', { minval: -0.1, maxval: 0.1 }),
          kernel_regularizer: { class_name: 'L2', config: { l2: 0.01 } },
        }),
        layer('MaxPooling2D', 'max_pooling2d', { pool_size: [3, 3], strides: [2, 2], padding: 'same' }),
        layer('BatchNormalization', 'batch_normalization', { axis: -1, momentum: 0.9, epsilon: 0.001 }),
        conv('conv2d_1', 4, [2, 3], [1, 2], 'same', fn2, { use_bias: false }),
        layer('MaxPooling2D', 'max_pooling2d_1', { pool_size: [2, 2] }),
        layer('Dropout', 'dropout', { rate: 0.25, noise_shape: null, seed: null }),
        layer('Flatten', 'flatten', {}),
        layer('Dense', 'dense', { units: 10, activation: 'softmax', kernel_initializer: initializer('GlorotUniform') }),
      ],
    },
  };
}

describe("gradients against finite differences (float32, central differences on each variable's largest-gradient values)", () => {
  const N = 16;
  /** Each trainable variable's graph gradient (lr 0: the weights stay) against (L(w + ε) − L(w − ε))/2ε from the graph's own loss. */
  async function checkGradients(spec: ModelSpec, bnLayers: number, options: OrtEngineOptions = {}, dropoutLayers = 1) {
    const start = await startWeights(spec);
    const engine = await engineFor(spec, sgd, start, { ...options, gradients: true });
    try {
      const masks = dropoutKeepMasks(tf, engine.graph.masks, N, { seed: SEED, step: 0 });
      expect(engine.graph.masks.length).toBe(dropoutLayers);
      const { grads, loss } = await engine.step(batchX(0, N), batchY(0, N), N, 0, masks);
      expect(Number.isFinite(loss)).toBe(true);
      const lossAt = async (name: string, index: number, eps: number) => {
        const w = new Map(start);
        const base = start.get(name)!;
        w.set(name, { shape: base.shape, data: base.data.map((v, i) => (i === index ? v + eps : v)) });
        engine.setWeights(w);
        return (await engine.step(batchX(0, N), batchY(0, N), N, 0, masks)).loss;
      };
      expect(grads!.size).toBe(engine.getWeights().size - 2 * bnLayers); // every variable but the moving statistics
      for (const [name, g] of grads!) {
        // The three values with the largest gradient: one each, so that a ReLU kink is rarely crossed.
        const largest = [...g.keys()].sort((a, b) => Math.abs(g[b]!) - Math.abs(g[a]!)).slice(0, 3);
        for (const i of largest) {
          const eps = 1e-3;
          const numeric = ((await lossAt(name, i, eps)) - (await lossAt(name, i, -eps))) / (2 * eps);
          // float32 loss differences carry ~2e-7/eps absolute noise; a wrong gradient is off by far more.
          expect(Math.abs(numeric - g[i]!), `${name}[${i}]: numeric ${numeric}, analytic ${g[i]}`).toBeLessThan(5e-4 + 2e-2 * Math.abs(g[i]!));
        }
      }
    } finally {
      await engine.dispose();
    }
  }
  for (const fn of ['linear', 'relu', 'elu', 'selu', 'leaky_relu', 'tanh', 'sigmoid', 'swish', 'silu']) {
    for (const bn of [
      { center: true, scale: true },
      { center: false, scale: false },
    ]) {
      it(`Dense/Activation ${fn}, BatchNormalization center ${bn.center} scale ${bn.scale}, softmax cross-entropy`, async () => {
        await checkGradients(smallModel(fn, bn), 1);
      });
    }
  }
  // A first BN whose γ and β gradients the Dense above takes (graph.ts' AffineInput), γ and β perturbed from 1 and 0.
  for (const flags of BN_FLAG_COMBINATIONS) {
    it(`BatchNormalization (${flagsLabel(flags)}) first, its gradients taken by the Dense above`, async () => {
      await checkGradients(bnFirst(flags), 1, { affineInputs: true }, 0);
    });
  }
  // Smooth activations: a conv bias moves thousands of units at once, and with ReLU some of them always cross
  // the kink within ±ε (the difference quotient drifts from 0.514 at ε 1e-2 to 0.477 at 1e-4, the analytic value).
  // ReLU convolutions are checked against tfjs above; the activations' derivatives are the Dense cases'.
  for (const [fn, fn2] of [
    ['elu', 'linear'],
    ['tanh', 'swish'],
  ]) {
    it(`Conv2D ${fn} and ${fn2}, MaxPooling2D (overlapping and not), BatchNormalization on images, Dropout on images`, async () => {
      await checkGradients(stridedCnn(fn!, fn2!), 1);
    });
  }
});

describe('several steps a run (stepsPerRun 4: the unrolled graph)', () => {
  const K = 4;
  const withDropout = structuredClone(plainMlp);
  withDropout.config.layers.splice(2, 0, layer('Dropout', 'dropout', { rate: 0.3, noise_shape: null, seed: null }));
  /** `body` on two engines from the same start, one step a run and K, disposed after. */
  async function withPair(spec: ModelSpec, optimizer: OptimizerSettings, body: (engines: { one: OrtStepEngine; many: OrtStepEngine }) => Promise<void>) {
    const start = await startWeights(spec);
    const one = await engineFor(spec, optimizer, start);
    const many = await engineFor(spec, optimizer, start, { stepsPerRun: K });
    try {
      await body({ one, many });
    } finally {
      await one.dispose();
      await many.dispose();
    }
  }
  const masksAt = (engine: OrtStepEngine, step: number) => dropoutKeepMasks(tf, engine.graph.masks, BATCH, { seed: SEED, step });
  /**
   * The feeder's ring of kept batches (pipeline.ts): `slots` buffers, each spoilt and refilled when its
   * turn comes again, so a batch stays as it was for `slots - 1` later steps (the step's `keptFor`).
   */
  function ring(slots: number) {
    const buffers = Array.from({ length: slots }, () => ({ x: new Float32Array(BATCH * 784), y: new Int32Array(BATCH) }));
    let next = 0;
    return {
      keptFor: slots - 1,
      take() {
        const slot = buffers[next]!;
        next = (next + 1) % slots;
        slot.x.fill(NaN);
        slot.y.fill(-1);
        return slot;
      },
    };
  }
  /**
   * `steps` steps on `engine` (data index modulo STEPS) through a scratch batch that is spoilt after each call (the feeder reuses
   * its buffers), or through `kept`'s ring with its keptFor.
   */
  async function run(engine: OrtStepEngine, from: number, steps: number, kept?: ReturnType<typeof ring>): Promise<number[]> {
    const scratch = { x: new Float32Array(BATCH * 784), y: new Int32Array(BATCH) };
    for (let step = from; step < from + steps; step++) {
      const batch = kept ? kept.take() : scratch;
      batch.x.set(batchX(step % STEPS));
      batch.y.set(batchY(step % STEPS));
      await engine.step(batch.x, batch.y, BATCH, 0.01 * (1 + step / 10), masksAt(engine, step), undefined, kept ? { keptFor: kept.keptFor } : {});
      scratch.x.fill(NaN);
      scratch.y.fill(-1);
    }
    await engine.flush();
    return engine.takeReadSteps().map((r) => r.loss);
  }

  for (const [modelName, spec, optimizer] of [
    ['seed model 1, SGD momentum', seedModel1, momentum],
    ['MLP with Dropout, Adam', withDropout, adam],
  ] as const) {
    it(`${modelName}: the same losses and weights as one step a run, batches copied when queued`, async () => {
      await withPair(spec, optimizer, async ({ one, many }) => {
        expect(many.description).toMatch(/, 4 steps a run\): /);
        // 10 steps: two runs of 4, then 2 run one by one at the flush; the learning rate changes every step.
        const expected = await run(one, 0, 10);
        const losses = await run(many, 0, 10);
        expect(losses).toHaveLength(10);
        expect(losses.every(Number.isFinite)).toBe(true);
        expect(Math.max(...losses.map((l, i) => Math.abs(l - expected[i]!)))).toBeLessThan(1e-5);
        expect(worstRelativeError(many.getWeights(), one.getWeights()).worst).toBeLessThan(1e-5);
      });
    });
  }

  // Batches copied; not copied, from a ring as large as the engine holds (the feeder's); and copied from a ring of 2, which a run of 4 outlives.
  for (const batches of ['copied', 'kept', 'from a ring of 2'] as const) {
    it(`restores a step's start inside a run by replaying the run's steps, and says which steps are kept (batches ${batches})`, async () => {
      await withPair(seedModel1, momentum, async ({ one, many }) => {
        many.keepLastFinite();
        const kept = batches === 'copied' ? undefined : ring(batches === 'kept' ? many.heldBatches + 1 : 2);
        await run(many, 0, 6, kept); // runs: steps 0–3 (unrolled), 4–5 (at the flush)
        const startOf = new Map<number, NamedWeights>([[0, one.getWeights()]]);
        for (let step = 0; step < 6; step++) {
          await run(one, step, 1);
          startOf.set(step + 1, one.getWeights());
        }
        for (const step of [2, 5, 0, 4]) {
          await many.restoreStepStart(step);
          expect(worstRelativeError(many.getWeights(), startOf.get(step)!).worst, `start of step ${step}`).toBeLessThan(1e-5);
        }
        // The start of step 3 is finite: that is what a NaN at step 3 puts back.
        expect(await many.restoreLastFinite(3)).toBe('before');
        expect(worstRelativeError(many.getWeights(), startOf.get(3)!).worst).toBeLessThan(1e-5);
        // Eight more steps from there (steps 6–9 and 10–13 to the engine): the first run (0–3) is no longer kept.
        await run(many, 3, 8, kept);
        await expect(many.restoreStepStart(1)).rejects.toThrow(/the weights step 1 started from are not kept \(steps 4 to 13 are\)/);
        // The runs still kept replay from their batches: step 13's start is 7 steps (data 3–9) after step 3's; `one` ran 3–5.
        await run(one, 6, 4);
        await many.restoreStepStart(13);
        expect(worstRelativeError(many.getWeights(), one.getWeights()).worst, 'start of step 13').toBeLessThan(1e-5);
        // 24 more (engine steps 14–37, data 10–33): the batch rings wrap twice; runs 26–29, 30–33 and 34–37 are kept.
        const later = new Map<number, NamedWeights>();
        for (let k = 0; k < 24; k++) {
          later.set(14 + k, one.getWeights());
          await run(one, 10 + k, 1);
        }
        await run(many, 10, 24, kept);
        await expect(many.restoreStepStart(25)).rejects.toThrow(/\(steps 26 to 37 are\)/);
        for (const step of [29, 26, 33, 37, 31]) {
          await many.restoreStepStart(step);
          expect(worstRelativeError(many.getWeights(), later.get(step)!).worst, `start of step ${step}`).toBeLessThan(1e-5);
        }
      });
    });
  }

  it("puts back the step before's start when a NaN step begins the first of the two runs a statistics step settles", async () => {
    await withPair(seedModel1, sgd, async ({ one, many }) => {
      many.keepLastFinite();
      // Steps 0–3 as one run; step 3's learning rate (∞) leaves non-finite weights behind a finite loss.
      const lrAt = (step: number) => (step === 3 ? Infinity : 0.01);
      const stepOn = (engine: OrtStepEngine, step: number, read = false) =>
        engine.step(batchX(step), batchY(step), BATCH, lrAt(step), masksAt(engine, step), undefined, read ? { read } : {});
      for (let step = 0; step < 6; step++) await stepOn(many, step);
      // A statistics step: steps 4–5 run first (one run), then itself (another); the loop settles all three together.
      await stepOn(many, 6, true);
      const losses = many.takeReadSteps().map((r) => r.loss);
      expect(losses.slice(0, 4).every(Number.isFinite)).toBe(true);
      expect(Number.isNaN(losses[4])).toBe(true);
      for (let step = 0; step < 3; step++) await stepOn(one, step);
      // Step 4 started from step 3's non-finite update: step 3's start is what comes back.
      expect(await many.restoreLastFinite(4)).toBe('previous');
      expect(worstRelativeError(many.getWeights(), one.getWeights()).worst).toBeLessThan(1e-5);
    });
  });
});

describe('the ONNX Runtime step', () => {
  it('declines what it does not support, with the reason', () => {
    const dilated = smallCnn();
    dilated.config.layers[1]!.config.dilation_rate = [2, 2];
    expect(stepGraphSupport(dilated, sgd)).toMatch(/conv2d: Conv2D with dilation_rate \[2, 2\]/);
    expect(stepGraphSupport(smallCnn(1), sgd)).toMatch(/batch_normalization: BatchNormalization over axis 1, not the last/);
    expect(stepGraphSupport(smallCnn(), sgd)).toBeNull();
    const denseOnImages = structuredClone(plainMlp);
    denseOnImages.config.layers.splice(0, 1);
    denseOnImages.config.layers[0]!.config.batch_input_shape = [null, 28, 28];
    expect(stepGraphSupport(denseOnImages, sgd)).toMatch(/layer dense \(Dense\) gets a rank-3 input/);
    const normalized = structuredClone(plainMlp);
    normalized.config.layers.splice(2, 0, layer('LayerNormalization', 'layer_normalization', {}));
    expect(stepGraphSupport(normalized, sgd)).toMatch(/layer_normalization: LayerNormalization is not in the ONNX Runtime step/);
    const sigmoidOut = structuredClone(plainMlp);
    sigmoidOut.config.layers[3]!.config.activation = 'sigmoid';
    expect(stepGraphSupport(sigmoidOut, sgd)).toMatch(/does not end in a softmax/);
    expect(stepGraphSupport(seedModel1, sgd)).toBeNull();
    expect(stepGraphSupport({ ...plainMlp, config: { ...plainMlp.config, layers: [] } }, defaultTrainingSettings.optimizer)).toMatch(/no layers|not valid/);
  });

  it("drops the first Dense's dx product from AFFINE_INPUT_MIN_BATCH on, keeping it below", async () => {
    const has = (bytes: Uint8Array, name: string) => Buffer.from(bytes).includes(name);
    const fused = buildStepGraph(seedModel1, sgd, { affineInputs: true });
    expect(has(fused.plainBytes, 'dense/dx')).toBe(false);
    expect(has(fused.plainBytes, 'dense/xhat_dz')).toBe(true);
    expect(has(fused.plainBytes, 'dense_1/dx')).toBe(true);
    expect(has(buildStepGraph(seedModel1, sgd, { affineInputs: false }).plainBytes, 'dense/dx')).toBe(true);
    // The engine decides by the run's batch size.
    const weights = await startWeights(seedModel1);
    for (const [batchSize, fusedStep] of [
      [AFFINE_INPUT_MIN_BATCH, true],
      [AFFINE_INPUT_MIN_BATCH - 1, false],
    ] as const) {
      const engine = await engineFor(seedModel1, sgd, weights, { batchSize });
      expect(has(engine.graph.plainBytes, 'dense/dx')).toBe(!fusedStep);
      await engine.dispose();
    }
  });

  it('takes its intra-op threads from LAYERBENCH_ORT_THREADS, and names a value out of range', async () => {
    expect(pinnedOrtThreads({})).toBeNull();
    expect(pinnedOrtThreads({ [ORT_THREADS_ENV]: '2' })).toBe(2);
    for (const bad of ['0', '2.5', 'two', '65']) {
      expect(() => pinnedOrtThreads({ [ORT_THREADS_ENV]: bad })).toThrow(new RegExp(`^${ORT_THREADS_ENV} must be a whole number from 1 to 64, not "${bad}"$`));
    }
    const weights = await startWeights(plainMlp);
    process.env[ORT_THREADS_ENV] = '2';
    try {
      // Pinned, the count is not timed even with a batch size.
      const engine = await engineFor(plainMlp, sgd, weights, { batchSize: BATCH });
      expect(engine.description).toMatch(/^ONNX Runtime \d+\.\d+\.\d+ \(CPU, 2 threads\)/);
      expect(engine.threadTimings).toEqual([]);
      await engine.dispose();
      expect(await probeOnnxRuntime(process.env)).toMatch(/, native CPU, 2 intra-op threads;/);
    } finally {
      delete process.env[ORT_THREADS_ENV];
    }
  });

  it("times 1 and 2 intra-op threads on the run's batch size, keeps the faster, and trains as one thread does", async () => {
    expect(threadCandidates(undefined, 8)).toEqual([1]);
    expect(threadCandidates(256, 1)).toEqual([1]);
    expect(threadCandidates(256, 2)).toEqual([1, 2]);
    expect(threadCandidates(TWO_THREADS_MIN_BATCH, 2)).toEqual([1, 2]);
    expect(threadCandidates(TWO_THREADS_MIN_BATCH - 1, 8)).toEqual([1]);
    const start = await startWeights(seedModel1);
    const timed = await timedEngineFor(seedModel1, momentum, start, { batchSize: BATCH, threadCandidates: [1, 2] });
    const single = await engineFor(seedModel1, momentum, start, { batchSize: BATCH, intraOpNumThreads: 1 });
    const double = await engineFor(seedModel1, momentum, start, { batchSize: BATCH, intraOpNumThreads: 2 });
    try {
      expect(single.threadTimings).toEqual([]);
      expect(single.description).toMatch(/\(CPU, 1 thread\)/);
      const [one, two] = timed.threadTimings;
      expect([one?.threads, two?.threads]).toEqual([1, 2]);
      expect(one!.msPerStep).toBeGreaterThan(0);
      // Two threads only when they are MORE_THREADS_MIN_GAIN faster.
      const chosen = two!.msPerStep < one!.msPerStep * (1 - MORE_THREADS_MIN_GAIN) ? 2 : 1;
      expect(timed.description).toMatch(new RegExp(`\\(CPU, ${chosen} threads? by timing: 1: \\d+\\.\\d\\d ms, 2: \\d+\\.\\d\\d ms a step\\)`));
      // The timing runs trained nothing: both engines start from `start` and take the same steps.
      expect(worstRelativeError(timed.getWeights(), start).worst).toBe(0);
      // Whichever count it chose, it trains as 1 and as 2 threads do.
      expect(double.description).toMatch(/\(CPU, 2 threads\)/);
      for (let step = 0; step < 5; step++) {
        const [a, b, c] = [
          await timed.step(batchX(step), batchY(step), BATCH, 0.01),
          await single.step(batchX(step), batchY(step), BATCH, 0.01),
          await double.step(batchX(step), batchY(step), BATCH, 0.01),
        ];
        expect(Math.abs(a.loss - b.loss)).toBeLessThan(1e-5);
        expect(Math.abs(a.loss - c.loss)).toBeLessThan(1e-5);
      }
      expect(worstRelativeError(timed.getWeights(), single.getWeights()).worst).toBeLessThan(1e-5);
      expect(worstRelativeError(double.getWeights(), single.getWeights()).worst).toBeLessThan(1e-5);
      // A count that is not a whole number from 1, or none, is refused.
      await expect(OrtStepEngine.create(seedModel1, momentum, start, { batchSize: BATCH, threadCandidates: [] })).rejects.toThrow(
        /intra-op thread counts must be whole numbers from 1: \[\]/,
      );
      await expect(OrtStepEngine.create(seedModel1, momentum, start, { intraOpNumThreads: 0 })).rejects.toThrow(/whole numbers from 1: \[0\]/);
    } finally {
      await timed.dispose();
      await single.dispose();
      await double.dispose();
    }
  });

  it('moves its several-steps runs between the timed thread counts, and trains as one thread does', async () => {
    const start = await startWeights(seedModel1);
    // A re-timing one run after engine start (then 2, 4 … while 2 threads stay; every run while 1 thread is in use): both counts take runs whatever the machine's load.
    const moving = await timedEngineFor(seedModel1, momentum, start, { batchSize: BATCH, threadCandidates: [1, 2], stepsPerRun: 4, retimeEveryRuns: 1 });
    const single = await engineFor(seedModel1, momentum, start, { batchSize: BATCH, intraOpNumThreads: 1, stepsPerRun: 4 });
    try {
      expect(moving.description).toMatch(/\(CPU, [12] threads? at the start by timing: 1: \d+\.\d\d ms, 2: \d+\.\d\d ms a step, timed again as it trains, 4 steps a run\)/);
      expect(single.threadRuns()).toEqual([{ threads: 1, runs: 0 }]);
      // Each count's own session takes that count's runs: their run calls are counted on the real sessions.
      const sessions = (moving as unknown as { sessions: { unrolled: { sessions: { run: (...args: unknown[]) => Promise<unknown> }[] } } }).sessions.unrolled.sessions;
      const calls = sessions.map(() => 0);
      sessions.forEach((session, i) => {
        const run = session.run.bind(session);
        session.run = (...args: unknown[]) => {
          calls[i]!++;
          return run(...args);
        };
      });
      for (let step = 0; step < 32; step++) {
        await moving.step(batchX(step % STEPS), batchY(step % STEPS), BATCH, 0.01);
        await single.step(batchX(step % STEPS), batchY(step % STEPS), BATCH, 0.01);
      }
      const a = moving.takeReadSteps();
      const b = single.takeReadSteps();
      expect(a).toHaveLength(32);
      a.forEach((r, i) => expect(Math.abs(r.loss - b[i]!.loss)).toBeLessThan(1e-5));
      expect(worstRelativeError(moving.getWeights(), single.getWeights()).worst).toBeLessThan(1e-5);
      const runs = moving.threadRuns();
      expect(runs.map((r) => r.threads)).toEqual([1, 2]);
      expect(runs.every((r) => r.runs > 0)).toBe(true);
      expect(runs[0]!.runs + runs[1]!.runs).toBe(8);
      expect(calls).toEqual(runs.map((r) => r.runs));
      expect(single.threadRuns()).toEqual([{ threads: 1, runs: 8 }]);
      // Where a second session would cost more memory than allowed, the start's count is kept, alone, as before.
      const kept = await timedEngineFor(seedModel1, momentum, start, { batchSize: BATCH, threadCandidates: [1, 2], stepsPerRun: 4, keepOtherCountsUpTo: 0 });
      try {
        expect(kept.description).toMatch(/\(CPU, [12] threads? by timing: 1: \d+\.\d\d ms, 2: \d+\.\d\d ms a step, not timed again \(a session holds \d+ MB\), 4 steps a run\)/);
        expect((kept as unknown as { sessions: { unrolled: { sessions: unknown[] } } }).sessions.unrolled.sessions).toHaveLength(1);
        for (let step = 0; step < 8; step++) await kept.step(batchX(step), batchY(step), BATCH, 0.01);
        const [only] = kept.threadRuns();
        expect(kept.threadRuns()).toHaveLength(1);
        expect(only!.runs).toBe(2);
        expect(kept.description).toContain(`(CPU, ${only!.threads} thread`);
      } finally {
        await kept.dispose();
      }
      await expect(OrtStepEngine.create(seedModel1, momentum, start, { batchSize: BATCH, threadCandidates: [1, 2], stepsPerRun: 4, keepOtherCountsUpTo: -1 })).rejects.toThrow(
        /may hold must be 0 bytes or more, not -1/,
      );
      // A number of runs between re-timings that is not a whole number from 1 is refused before any session starts.
      for (const bad of [0, 1.5]) {
        await expect(OrtStepEngine.create(seedModel1, momentum, start, { batchSize: BATCH, threadCandidates: [1, 2], stepsPerRun: 4, retimeEveryRuns: bad })).rejects.toThrow(
          new RegExp(`runs between re-timings must be a whole number from 1, not ${bad}`),
        );
      }
    } finally {
      await moving.dispose();
      await single.dispose();
    }
  });

  it('refuses labels outside the classes and short batches, keeping its weights', async () => {
    const start = await startWeights(plainMlp);
    const engine = await engineFor(plainMlp, sgd, start);
    try {
      await expect(
        engine.step(
          batchX(0),
          Int32Array.from(batchY(0), (v, i) => (i === 3 ? 10 : v)),
          BATCH,
          0.01,
        ),
      ).rejects.toThrow(/label 10 is outside/);
      await expect(engine.step(batchX(0).subarray(0, 784), batchY(0), BATCH, 0.01)).rejects.toThrow(/needs 32 samples/);
      expect(worstRelativeError(engine.getWeights(), start).worst).toBe(0);
      // A smaller last batch runs through the same session.
      const { loss } = await engine.step(batchX(0), batchY(0), 7, 0.01);
      expect(Number.isFinite(loss)).toBe(true);
    } finally {
      await engine.dispose();
    }
  });
});
