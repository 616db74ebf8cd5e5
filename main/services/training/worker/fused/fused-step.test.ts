/**
 * The fused training step against the general path (forward.ts' layer-by-layer forward pass on the
 * gradient tape + the tfjs optimizer, as loop.ts' trainStep), on the real wasm backend with the fast
 * matmul installed (as the worker runs) and real Fashion-MNIST images: same losses and same final
 * weights (BN moving statistics and optimizer state included) from the same initial weights;
 * general and fused steps can alternate on one optimizer; declined cases say why; no leaks.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import { defaultTrainingSettings, type OptimizerSettings, type TrainingSettings } from '../../../../../contract';
import { plainMlp, seedModel1, seedModel2, seluMlp } from '../../../../../model/presets';
import type { LayerSpec, ModelSpec } from '../../../../../model/spec';
import { BN_FLAG_COMBINATIONS, bnMlp, expectedVariables, flagsLabel, type BnFlags } from '../../common/bn-flag-specs';
import { buildModel } from '../build-model';
import { forwardWithLogits, meanCrossEntropy, planLayers, type LayerPlan } from '../forward';
import { useFashionBatches } from '../test-images';
import { createOptimizer } from '../optimizers';
import { createFusedStep, type FusedStep } from './fused-step';

const BATCH = 32;
const STEPS = 20;
const SEED = 7;
const batches = useFashionBatches(tf, BATCH, STEPS);

interface Trainer {
  model: tf.LayersModel;
  plans: LayerPlan[];
  optimizer: tf.Optimizer;
  trainable: tf.Variable[];
}

async function trainer(spec: ModelSpec, settings: TrainingSettings): Promise<Trainer> {
  const model = await buildModel(tf, spec, { seed: settings.seed });
  return {
    model,
    plans: planLayers(model, spec),
    optimizer: createOptimizer(tf, settings.optimizer, settings.learningRate),
    trainable: model.trainableWeights.map((w) => w.read() as tf.Variable),
  };
}

/** The general path's step (loop.ts' trainStep without statistics). */
function generalStep(t: Trainer, step: number, seed: number, n = BATCH): number {
  const loss = tf.tidy(() => {
    const xb = tf.tensor(batches.x(step, n), [n, 28, 28]);
    const yb = tf.tensor1d(batches.y(step, n), 'int32');
    const { value, grads } = t.optimizer.computeGradients(() => {
      const { output, logits } = forwardWithLogits(tf, t.plans, xb, { mode: 'train', seed, step });
      return meanCrossEntropy(tf, output, yb, logits);
    }, t.trainable);
    t.optimizer.applyGradients(grads);
    return value;
  });
  const v = loss.dataSync()[0]!;
  loss.dispose();
  return v;
}

function fusedStep(fused: FusedStep, step: number, seed: number): Promise<{ loss: number; acc: number }> {
  return fused.step(batches.x(step), batches.y(step), BATCH, { seed, step });
}

function create(t: Trainer, settings: TrainingSettings): FusedStep {
  const fused = createFusedStep(tf, t.plans, t.model, settings, t.optimizer);
  if ('unsupported' in fused) throw new Error(`declined: ${fused.unsupported}`);
  return fused;
}

/**
 * The largest relative error over the model's variables (weights and BN moving statistics),
 * ‖a − b‖₂ / ‖b‖₂ per variable. Not max |a − b| / max |b|: under Adam, tfjs' own general path with the
 * stock and with the fast matmul (two summation orders) already differs by 2.2e-4 in that measure
 * (dense/kernel, seed model 1, 20 steps: 2.7e-5 on weights of 0.13), because Adam divides tiny
 * gradients by their own size; in the norm both stay far below 1e-4.
 *
 * `inert`: variables the loss does not depend on (seed model 2's first BN beta feeds a bias-free
 * Dense whose output the next BN re-centres, so its gradient is float32 rounding noise in both
 * paths, and so is the next BN's moving mean, βW). They are compared in absolute terms instead: at
 * most `inertBound` apart.
 */
function weightError(a: tf.LayersModel, b: tf.LayersModel, inert: string[] = [], inertBound = 0): number {
  let worst = 0;
  a.weights.forEach((w) => {
    const x = w.read().dataSync();
    // By name: a LayerNormalization without beta or gamma is compared with a full one (see compareLn).
    const y = b.weights
      .find((v) => v.originalName === w.originalName)!
      .read()
      .dataSync();
    let diff = 0;
    let norm = 0;
    let maxAbs = 0;
    for (let k = 0; k < y.length; k++) {
      diff += (x[k]! - y[k]!) ** 2;
      norm += y[k]! ** 2;
      maxAbs = Math.max(maxAbs, Math.abs(x[k]! - y[k]!));
    }
    if (inert.includes(w.originalName)) {
      expect(maxAbs, w.originalName).toBeLessThanOrEqual(inertBound);
      return;
    }
    worst = Math.max(worst, norm === 0 ? Math.sqrt(diff) : Math.sqrt(diff / norm));
  });
  return worst;
}

/** Flatten → LN → Dense(32, elu) → LN → Dense(10, softmax), both LayerNormalizations with `flags`. */
function lnMlp(flags: BnFlags): ModelSpec {
  const ln = (name: string): LayerSpec => ({ class_name: 'LayerNormalization', config: { name, axis: -1, epsilon: 0.001, ...flags } });
  const dense = (name: string, units: number, activation: string): LayerSpec => ({ class_name: 'Dense', config: { name, units, activation } });
  const layers: LayerSpec[] = [
    { class_name: 'Flatten', config: { name: 'flatten', batch_input_shape: [null, 28, 28] } },
    ln('layer_normalization'),
    dense('dense', 32, 'elu'),
    ln('layer_normalization_1'),
    dense('dense_1', 10, 'softmax'),
  ];
  return { class_name: 'Sequential', config: { name: 'ln_mlp', layers } };
}

const sgd: OptimizerSettings = { class_name: 'SGD', config: { momentum: 0, nesterov: false, clipnorm: null, clipvalue: null } };
const nesterov: OptimizerSettings = { class_name: 'SGD', config: { momentum: 0.9, nesterov: true, clipnorm: null, clipvalue: null } };
const momentum: OptimizerSettings = { class_name: 'SGD', config: { momentum: 0.9, nesterov: false, clipnorm: null, clipvalue: null } };
const adam: OptimizerSettings = { class_name: 'Adam', config: { beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7, clipnorm: null, clipvalue: null } };
const rmsprop: OptimizerSettings = { class_name: 'RMSprop', config: { rho: 0.9, momentum: 0, epsilon: 1e-7, centered: false, clipnorm: null, clipvalue: null } };

function settingsFor(optimizer: OptimizerSettings, learningRate: number): TrainingSettings {
  return { ...defaultTrainingSettings, optimizer, learningRate, seed: SEED, backend: 'wasm' };
}

const models: [string, ModelSpec][] = [
  ['seed model 1', seedModel1],
  ['seed model 2', seedModel2],
  ['plain MLP', plainMlp],
  ['SELU MLP with AlphaDropout', seluMlp],
];
const optimizers: [string, OptimizerSettings, number][] = [
  ['SGD', sgd, 0.01],
  ['SGD momentum + Nesterov', nesterov, 0.01],
  ['Adam', adam, 0.001],
];

/** Trains both from the same initial weights; `general(step)` picks steps that take the general path on the fused side too. */
async function compare(spec: ModelSpec, settings: TrainingSettings, general: (step: number) => boolean = () => false) {
  const inert = spec === seedModel2 ? ['batch_normalization/beta', 'batch_normalization_1/moving_mean'] : [];
  // Each step moves a weight by at most about the learning rate (Adam's step is lr·m̂/(√v̂+ε)).
  const a = await trainer(spec, settings);
  const b = await trainer(spec, settings);
  try {
    expect(weightError(b.model, a.model)).toBe(0);
    const fused = create(b, settings);
    let worstLoss = 0;
    for (let step = 0; step < STEPS; step++) {
      const expected = generalStep(a, step, SEED);
      const actual = general(step) ? generalStep(b, step, SEED) : (await fusedStep(fused, step, SEED)).loss;
      expect(Number.isFinite(actual)).toBe(true);
      worstLoss = Math.max(worstLoss, Math.abs(actual - expected));
    }
    fused.dispose();
    return { worstLoss, weights: weightError(b.model, a.model, inert, STEPS * settings.learningRate) };
  } finally {
    for (const t of [a, b]) {
      t.optimizer.dispose();
      t.model.dispose();
    }
  }
}

/**
 * `lnMlp(flags)` trained fused against the general path. tfjs-layers' LayerNormalization cannot
 * train without beta or gamma (its batchNorm call fails on the gradient tape), so the reference is
 * the full layer (center and scale on) from the same weights, with the missing variable held at its
 * initial 0 or 1 (left out of the variables the general step trains).
 */
async function compareLn(flags: BnFlags, settings: TrainingSettings, steps: number) {
  const a = await trainer(lnMlp({ center: true, scale: true }), settings);
  const b = await trainer(lnMlp(flags), settings);
  try {
    const names = new Set(b.model.weights.map((w) => w.originalName));
    for (const w of b.model.weights) w.write(a.model.weights.find((v) => v.originalName === w.originalName)!.read());
    const reference: Trainer = { ...a, trainable: a.model.trainableWeights.filter((w) => names.has(w.originalName)).map((w) => w.read() as tf.Variable) };
    const fused = create(b, settings);
    let worstLoss = 0;
    for (let step = 0; step < steps; step++) {
      const expected = generalStep(reference, step, SEED);
      worstLoss = Math.max(worstLoss, Math.abs((await fusedStep(fused, step, SEED)).loss - expected));
    }
    fused.dispose();
    return { worstLoss, weights: weightError(b.model, a.model) };
  } finally {
    for (const t of [a, b]) {
      t.optimizer.dispose();
      t.model.dispose();
    }
  }
}

describe('the fused step matches the general path (20 steps, batch 32, real images)', () => {
  for (const [modelName, spec] of models) {
    for (const [optName, optimizer, lr] of optimizers) {
      it(`${modelName}, ${optName}`, async () => {
        const { worstLoss, weights } = await compare(spec, settingsFor(optimizer, lr));
        expect(worstLoss).toBeLessThan(1e-4);
        expect(weights).toBeLessThan(1e-4);
      });
    }
  }

  it('alternates with general steps on one optimizer (statistics steps): momentum and Adam state carry over', async () => {
    for (const optimizer of [momentum, adam]) {
      const { worstLoss, weights } = await compare(seedModel1, settingsFor(optimizer, optimizer === adam ? 0.001 : 0.01), (step) => step % 3 === 0);
      expect(worstLoss).toBeLessThan(1e-4);
      expect(weights).toBeLessThan(1e-4);
    }
  });

  // tfjs-layers' own BatchNormalization cannot train without gamma or beta; forward.ts trains it.
  for (const flags of BN_FLAG_COMBINATIONS) {
    it(`BatchNormalization with ${flagsLabel(flags)}: SGD momentum and Adam`, async () => {
      const spec = bnMlp(flags);
      const t = await trainer(spec, settingsFor(sgd, 0.01));
      expect(t.trainable.map((v) => v.name.replace(/_\d+$/, ''))).toEqual(expectedVariables(spec, 'keras').filter((n) => !n.includes('moving_')));
      t.optimizer.dispose();
      t.model.dispose();
      for (const [optimizer, lr] of [
        [momentum, 0.01],
        [adam, 0.001],
      ] as const) {
        const { worstLoss, weights } = await compare(spec, settingsFor(optimizer, lr), (step) => step % 5 === 0);
        expect(worstLoss).toBeLessThan(1e-4);
        expect(weights).toBeLessThan(1e-4);
      }
    });
  }

  // The first LayerNormalization has no trainable layer before it (no input gradient), the second has.
  for (const flags of BN_FLAG_COMBINATIONS.slice(0, 3)) {
    it(`LayerNormalization with ${flagsLabel(flags)}: SGD momentum and Adam, 6 steps`, async () => {
      for (const [optimizer, lr] of [
        [momentum, 0.01],
        [adam, 0.001],
      ] as const) {
        const { worstLoss, weights } = await compareLn(flags, settingsFor(optimizer, lr), 6);
        expect(worstLoss).toBeLessThan(1e-4);
        expect(weights).toBeLessThan(1e-4);
      }
    });
  }

  it('RMSprop applies the fused gradients through the tfjs optimizer', async () => {
    const { worstLoss, weights } = await compare(seedModel1, settingsFor(rmsprop, 0.001));
    expect(worstLoss).toBeLessThan(1e-4);
    expect(weights).toBeLessThan(1e-4);
  });

  it('follows a learning-rate change (setLearningRate between steps)', async () => {
    const settings = settingsFor(sgd, 0.05);
    const a = await trainer(seedModel1, settings);
    const b = await trainer(seedModel1, settings);
    const fused = create(b, settings);
    for (let step = 0; step < 6; step++) {
      if (step === 3) {
        for (const t of [a, b]) (t.optimizer as unknown as { setLearningRate(lr: number): void }).setLearningRate(0.01);
      }
      const expected = generalStep(a, step, SEED);
      expect(Math.abs((await fusedStep(fused, step, SEED)).loss - expected)).toBeLessThan(1e-4);
    }
    expect(weightError(b.model, a.model)).toBeLessThan(1e-4);
    for (const t of [a, b]) {
      t.optimizer.dispose();
      t.model.dispose();
    }
  });
});

describe('the fused step', () => {
  it('gives every updated variable a new buffer: handles on the starting weights keep their values', async () => {
    const settings = settingsFor(nesterov, 0.01);
    const t = await trainer(seedModel1, settings);
    const fused = create(t, settings);
    const variables = t.model.weights.map((w) => w.read() as tf.Variable);
    const before = variables.map((v) => {
      const handle = tf.engine().makeTensorFromDataId(v.dataId, v.shape, v.dtype);
      tf.engine().backend.incRef(v.dataId);
      return handle;
    });
    const copies = before.map((h) => h.dataSync().slice());
    await fusedStep(fused, 0, SEED);
    before.forEach((h, i) => {
      expect(variables[i]!.dataId).not.toBe(h.dataId);
      expect(Array.from(h.dataSync())).toEqual(Array.from(copies[i]!));
    });
    tf.dispose(before);
    t.optimizer.dispose();
    t.model.dispose();
  });

  it('leaks no tensor and no wasm buffer over 100 steps', async () => {
    const settings = settingsFor(adam, 0.001);
    const t = await trainer(seluMlp, settings);
    const fused = create(t, settings);
    await fusedStep(fused, 0, SEED); // creates the optimizer's slots
    const backend = tf.engine().backend as unknown as { numDataIds(): number };
    const start = { ...tf.memory(), ids: backend.numDataIds() };
    for (let step = 1; step <= 100; step++) await fusedStep(fused, step % STEPS, SEED);
    const end = { ...tf.memory(), ids: backend.numDataIds() };
    expect(end.numTensors).toBe(start.numTensors);
    expect(end.numBytes).toBe(start.numBytes);
    expect(end.numDataBuffers).toBe(start.numDataBuffers);
    expect(end.ids).toBe(start.ids);
    t.optimizer.dispose();
    t.model.dispose();
  });

  it('handles a smaller last batch', async () => {
    const settings = settingsFor(sgd, 0.01);
    const a = await trainer(seedModel1, settings);
    const b = await trainer(seedModel1, settings);
    const fused = create(b, settings);
    const n = 7;
    const expected = generalStep(a, 0, SEED, n);
    const actual = await fused.step(batches.x(0, n), batches.y(0, n), n, { seed: SEED, step: 0 });
    expect(Math.abs(actual.loss - expected)).toBeLessThan(1e-4);
    expect(weightError(b.model, a.model)).toBeLessThan(1e-4);
    for (const t of [a, b]) {
      t.optimizer.dispose();
      t.model.dispose();
    }
  });

  it('trains through a Reshape to a vector as through Flatten (its unit moves no values)', async () => {
    const [first, ...rest] = plainMlp.config.layers;
    const layers = [{ class_name: 'Reshape', config: { name: 'reshape', batch_input_shape: first!.config['batch_input_shape'], target_shape: [784] } }, ...rest];
    const { worstLoss, weights } = await compare({ ...plainMlp, config: { ...plainMlp.config, layers } }, settingsFor(sgd, 0.01));
    expect(worstLoss).toBeLessThan(1e-4);
    expect(weights).toBeLessThan(1e-4);
  });

  it('declines what it does not support, with the reason', async () => {
    const declined = async (model: tf.LayersModel, settings: TrainingSettings = settingsFor(sgd, 0.01)) => {
      const optimizer = createOptimizer(tf, settings.optimizer, settings.learningRate);
      try {
        const result = createFusedStep(tf, planLayers(model), model, settings, optimizer);
        expect('unsupported' in result).toBe(true);
        return (result as { unsupported: string }).unsupported;
      } finally {
        optimizer.dispose();
        model.dispose();
      }
    };
    const seq = (...layers: tf.layers.Layer[]) => tf.sequential({ layers });

    expect(await declined(await buildModel(tf, seedModel1), settingsFor({ ...sgd, config: { ...sgd.config, clipnorm: 1 } } as OptimizerSettings, 0.01))).toMatch(/clipping/);
    expect(await declined(seq(tf.layers.dense({ inputShape: [4], units: 3, activation: 'softmax', kernelRegularizer: tf.regularizers.l2({ l2: 0.01 }) })))).toMatch(/regularizer/);
    expect(await declined(seq(tf.layers.dense({ inputShape: [4], units: 3, activation: 'softmax', kernelConstraint: tf.constraints.maxNorm({ maxValue: 2 }) })))).toMatch(
      /max-norm/,
    );
    expect(
      await declined(seq(tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 2, kernelSize: 3 }), tf.layers.flatten(), tf.layers.dense({ units: 3, activation: 'softmax' }))),
    ).toMatch(/conv2d.*rank-4|Conv2D/);
    expect(await declined(seq(tf.layers.batchNormalization({ inputShape: [4, 3], axis: 1 }), tf.layers.flatten(), tf.layers.dense({ units: 3, activation: 'softmax' })))).toMatch(
      /rank-3/,
    );
    expect(await declined(seq(tf.layers.layerNormalization({ inputShape: [4, 3] }), tf.layers.flatten(), tf.layers.dense({ units: 3, activation: 'softmax' })))).toMatch(
      /layer_normalization.*rank-3/,
    );
    expect(await declined(seq(tf.layers.dense({ inputShape: [4], units: 3, activation: 'sigmoid' })))).toMatch(/does not end in a softmax/);
    expect(await declined(seq(tf.layers.dense({ inputShape: [4], units: 5, activation: 'softplus' }), tf.layers.dense({ units: 3, activation: 'softmax' })))).toMatch(
      /activation softplus/,
    );
    expect(
      await declined(
        seq(tf.layers.dense({ inputShape: [4], units: 5 }), tf.layers.dropout({ rate: 0.5, noiseShape: [1, 5] }), tf.layers.dense({ units: 3, activation: 'softmax' })),
      ),
    ).toMatch(/noise shape/);
    const frozen = seq(tf.layers.dense({ inputShape: [4], units: 5 }), tf.layers.dense({ units: 3, activation: 'softmax' }));
    frozen.layers[0]!.trainable = false;
    expect(await declined(frozen)).toMatch(/frozen/);
  });

  it('declines a backend other than wasm', async () => {
    const settings = settingsFor(sgd, 0.01);
    const t = await trainer(plainMlp, settings);
    try {
      expect(await tf.setBackend('cpu')).toBe(true);
      const result = createFusedStep(tf, t.plans, t.model, settings, t.optimizer);
      expect(result).toEqual({ unsupported: 'the backend is cpu, not wasm' });
    } finally {
      expect(await tf.setBackend('wasm')).toBe(true);
      t.optimizer.dispose();
      t.model.dispose();
    }
  });
});
