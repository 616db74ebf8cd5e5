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
import { plainMlp, seedModel1, seluMlp } from '../../../../../../model/presets';
import { initializer, type LayerSpec, type ModelSpec } from '../../../../../../model/spec';
import type { NamedWeights } from '../../../../export/weights';
import { BN_FLAG_COMBINATIONS, bnMlp, flagsLabel } from '../../../common/bn-flag-specs';
import { buildModel } from '../../build-model';
import { applyMaxNorm, forwardWithLogits, meanCrossEntropy, planLayers, regularizationLoss } from '../../forward';
import { useFashionBatches } from '../../test-images';
import { clipGradients, createOptimizer } from '../../optimizers';
import { weightsOf, worstRelativeError } from '../compare-weights';
import { dropoutKeepMasks } from './dropout-masks';
import { OrtStepEngine } from './engine';
import { stepGraphSupport } from './step-graph';

const BATCH = 32;
const STEPS = 20;
const SEED = 7;
const { x: batchX, y: batchY } = useFashionBatches(tf, BATCH, STEPS);

const sgd: OptimizerSettings = { class_name: 'SGD', config: { momentum: 0, nesterov: false, clipnorm: null, clipvalue: null } };
const momentum: OptimizerSettings = { class_name: 'SGD', config: { momentum: 0.9, nesterov: false, clipnorm: null, clipvalue: null } };
const nesterov: OptimizerSettings = { class_name: 'SGD', config: { momentum: 0.9, nesterov: true, clipnorm: null, clipvalue: null } };
const adam: OptimizerSettings = { class_name: 'Adam', config: { beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7, clipnorm: null, clipvalue: null } };

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

async function engineFor(spec: ModelSpec, optimizer: OptimizerSettings, weights: NamedWeights, options = {}): Promise<OrtStepEngine> {
  const engine = await OrtStepEngine.create(spec, optimizer, weights, options);
  if (!(engine instanceof OrtStepEngine)) throw new Error(`declined: ${engine.unsupported}`);
  return engine;
}

/** 20 steps on both paths from the same initial weights: worst loss difference and worst weight error. */
async function compare(spec: ModelSpec, optimizer: OptimizerSettings, lr: number) {
  const model = await buildModel(tf, spec, { seed: SEED });
  const plans = planLayers(model);
  const tfOptimizer = createOptimizer(tf, optimizer, lr);
  const trainable = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const engine = await engineFor(spec, optimizer, weightsOf(model));
  try {
    // Keras' order (each layer's variables together); tfjs lists trainable ones first.
    expect([...engine.getWeights().keys()].sort()).toEqual(model.weights.map((w) => w.originalName).sort());
    let worstLoss = 0;
    for (let step = 0; step < STEPS; step++) {
      const summationError = penaltySummationError(plans);
      const loss = tf.tidy(() => {
        const xb = tf.tensor(batchX(step), [BATCH, 28, 28]);
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
    return { worstLoss, weights: worstRelativeError(engine.getWeights(), weightsOf(model)) };
  } finally {
    await engine.dispose();
    tfOptimizer.dispose();
    model.dispose();
  }
}

describe('the ONNX Runtime step matches the general tfjs path (20 steps, batch 32, real images)', () => {
  const optimizers: [string, OptimizerSettings, number][] = [
    ['SGD', sgd, 0.01],
    ['SGD momentum', momentum, 0.01],
    ['SGD Nesterov', nesterov, 0.01],
    ['Adam', adam, 0.001],
  ];
  for (const [modelName, spec] of [
    ['seed model (BN MLP)', seedModel1],
    ['plain MLP', plainMlp],
  ] as const) {
    for (const [optName, optimizer, lr] of optimizers) {
      it(`${modelName}, ${optName}`, async () => {
        const { worstLoss, weights } = await compare(spec, optimizer, lr);
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
    it(`seed model (BN MLP), ${optName}`, async () => {
      const { worstLoss, weights } = await compare(seedModel1, optimizer, lr);
      expect(worstLoss).toBeLessThan(1e-4);
      expect(weights.worst, weights.at).toBeLessThan(1e-4);
    });
  }
  // Masks drawn as forward.ts draws them: the layer's own seed, or the run's.
  const withDropout = structuredClone(plainMlp);
  withDropout.config.layers.splice(2, 0, layer('Dropout', 'dropout', { rate: 0.3, noise_shape: null, seed: null }));
  withDropout.config.layers.splice(4, 0, layer('Dropout', 'dropout_1', { rate: 0.2, noise_shape: null, seed: 123 }));
  for (const [modelName, spec] of [
    ['MLP with Dropout', withDropout],
    ['SELU MLP with AlphaDropout', seluMlp],
  ] as const) {
    it(`${modelName}, SGD momentum`, async () => {
      const { worstLoss, weights } = await compare(spec, momentum, 0.01);
      expect(worstLoss).toBeLessThan(1e-4);
      expect(weights.worst, weights.at).toBeLessThan(1e-4);
    });
  }
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

describe("gradients against finite differences (float32, central differences on each variable's largest-gradient values)", () => {
  const N = 16;
  for (const fn of ['linear', 'relu', 'elu', 'selu', 'leaky_relu', 'tanh', 'sigmoid', 'swish', 'silu']) {
    for (const bn of [
      { center: true, scale: true },
      { center: false, scale: false },
    ]) {
      it(`Dense/Activation ${fn}, BatchNormalization center ${bn.center} scale ${bn.scale}, softmax cross-entropy`, async () => {
        const spec = smallModel(fn, bn);
        const model = await buildModel(tf, spec, { seed: SEED });
        const start = weightsOf(model);
        model.dispose();
        // lr 0: a step returns the loss at the given weights and leaves them as they are.
        const engine = await engineFor(spec, sgd, start, { gradients: true });
        try {
          const masks = dropoutKeepMasks(tf, engine.graph.masks, N, { seed: SEED, step: 0 });
          expect(engine.graph.masks.length).toBe(1);
          const { grads, loss } = await engine.step(batchX(0, N), batchY(0, N), N, 0, masks);
          expect(Number.isFinite(loss)).toBe(true);
          const lossAt = async (name: string, index: number, eps: number) => {
            const w = new Map(start);
            const base = start.get(name)!;
            w.set(name, { shape: base.shape, data: base.data.map((v, i) => (i === index ? v + eps : v)) });
            engine.setWeights(w);
            return (await engine.step(batchX(0, N), batchY(0, N), N, 0, masks)).loss;
          };
          expect(grads!.size).toBe(engine.getWeights().size - 2); // every variable but the moving statistics
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
      });
    }
  }
});

describe('the ONNX Runtime step', () => {
  it('declines what it does not support, with the reason', () => {
    const conv: ModelSpec = {
      class_name: 'Sequential',
      config: {
        name: 'conv',
        layers: [
          layer('Conv2D', 'conv2d', { batch_input_shape: [null, 28, 28, 1], filters: 4, kernel_size: [3, 3], activation: 'relu' }),
          layer('Flatten', 'flatten', {}),
          layer('Dense', 'dense', { units: 10, activation: 'softmax' }),
        ],
      },
    };
    expect(stepGraphSupport(conv, sgd)).toMatch(/conv2d: Conv2D is not in the ONNX Runtime step/);
    const bnOnImages = structuredClone(plainMlp);
    bnOnImages.config.layers.unshift(layer('BatchNormalization', 'batch_normalization', { batch_input_shape: [null, 28, 28] }));
    delete bnOnImages.config.layers[1]!.config.batch_input_shape;
    expect(stepGraphSupport(bnOnImages, sgd)).toMatch(/batch_normalization \(BatchNormalization\) gets a rank-3 input/);
    const reshaped = structuredClone(plainMlp);
    reshaped.config.layers.splice(1, 0, layer('Reshape', 'reshape', { target_shape: [784] }));
    expect(stepGraphSupport(reshaped, sgd)).toMatch(/reshape: Reshape is not in the ONNX Runtime step/);
    const sigmoidOut = structuredClone(plainMlp);
    sigmoidOut.config.layers[3]!.config.activation = 'sigmoid';
    expect(stepGraphSupport(sigmoidOut, sgd)).toMatch(/does not end in a softmax/);
    expect(stepGraphSupport(seedModel1, sgd)).toBeNull();
    expect(stepGraphSupport({ ...plainMlp, config: { ...plainMlp.config, layers: [] } }, defaultTrainingSettings.optimizer)).toMatch(/no layers|not valid/);
  });

  it('refuses labels outside the classes and short batches, keeping its weights', async () => {
    const model = await buildModel(tf, plainMlp, { seed: SEED });
    const start = weightsOf(model);
    model.dispose();
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
