/**
 * The fused WebGPU step on SwiftShader against the general tfjs path (forward.ts on the gradient
 * tape + the tfjs optimizer, as loop.ts' trainStep, on the wasm backend) on real Fashion-MNIST
 * images: the same losses and the same weights (BN moving statistics included) after 20 steps from
 * the same initial weights, at batch sizes that are not multiples of any tile; the per-step cost
 * counted on the WebGPU API; metrics read back every K steps; declined cases say why.
 * SwiftShader runs the GPU's work on the CPU: small batches, few steps.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, describe, expect, it } from 'vitest';
import type { OptimizerSettings } from '../../../../../../contract';
import { plainMlp, seedModel1, seedModel2, seluMlp } from '../../../../../../model/presets';
import type { LayerSpec, ModelSpec } from '../../../../../../model/spec';
import type { NamedWeights } from '../../../../export/weights';
import { buildModel } from '../../build-model';
import { forwardWithLogits, meanCrossEntropy, planLayers } from '../../forward';
import { clipGradients, createOptimizer } from '../../optimizers';
import { useFashionBatches } from '../../test-images';
import { dropoutKeepMasks } from '../onnxruntime/dropout-masks';
import { WebGpuStepEngine, type WebGpuEngineOptions } from './engine';
import { weightsOf, worstRelativeError } from '../compare-weights';
import { countGpuCalls, gpuCountersInstalled } from '../../gpu-counters';
import { webGpuStepSupport } from './layout';
import { testDevice } from './test-device';

const STEPS = 20;
const SEED = 7;
const MAX_BATCH = 12;
const batches = useFashionBatches(tf, MAX_BATCH, STEPS);

const sgd: OptimizerSettings = { class_name: 'SGD', config: { momentum: 0, nesterov: false, clipnorm: null, clipvalue: null } };
const momentum: OptimizerSettings = { class_name: 'SGD', config: { momentum: 0.9, nesterov: false, clipnorm: null, clipvalue: null } };
const nesterov: OptimizerSettings = { class_name: 'SGD', config: { momentum: 0.9, nesterov: true, clipnorm: null, clipvalue: null } };
const adam: OptimizerSettings = { class_name: 'Adam', config: { beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7, clipnorm: null, clipvalue: null } };

const dawn = await testDevice();
if ('unavailable' in dawn) console.warn(dawn.unavailable);
const device = 'unavailable' in dawn ? null : dawn.device;

/** Absolute below norm 1: the first BN's β in seed model 2 has a true gradient of 0 (the next BN's mean subtraction cancels it), both paths hold rounding noise there. */
const ERROR_FLOOR = 1;

async function engineFor(spec: ModelSpec, optimizer: OptimizerSettings, weights: NamedWeights, options: WebGpuEngineOptions = {}): Promise<WebGpuStepEngine> {
  const engine = await WebGpuStepEngine.create(device!, spec, optimizer, weights, options);
  if (!(engine instanceof WebGpuStepEngine)) throw new Error(`declined: ${engine.unsupported}`);
  return engine;
}

/** An engine from the seeded tfjs model's initial weights (and those weights). */
async function seededEngine(spec: ModelSpec, optimizer: OptimizerSettings, options: WebGpuEngineOptions) {
  const model = await buildModel(tf, spec, { seed: SEED });
  const start = weightsOf(model);
  model.dispose();
  return { engine: await engineFor(spec, optimizer, start, options), start };
}

/** `steps` steps of `batch` samples on both paths from the same initial weights: worst loss difference and worst weight error. */
async function compare(spec: ModelSpec, optimizer: OptimizerSettings, lr: number, batch: number, steps = STEPS, unsettled: string[] = []) {
  const model = await buildModel(tf, spec, { seed: SEED });
  const plans = planLayers(model);
  const tfOptimizer = createOptimizer(tf, optimizer, lr);
  const trainable = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const engine = await engineFor(spec, optimizer, weightsOf(model), { capacity: batch });
  try {
    expect([...engine.getWeights().keys()]).toEqual(model.weights.map((w) => w.originalName).sort((a, b) => order(spec, a) - order(spec, b)));
    let worstLoss = 0;
    for (let step = 0; step < steps; step++) {
      const xs = batches.x(step, batch);
      const ys = batches.y(step, batch);
      const loss = tf.tidy(() => {
        const xb = tf.tensor(xs, [batch, 28, 28]);
        const yb = tf.tensor1d(ys, 'int32');
        const { value, grads } = tfOptimizer.computeGradients(() => {
          const { output, logits } = forwardWithLogits(tf, plans, xb, { mode: 'train', seed: SEED, step });
          return meanCrossEntropy(tf, output, yb, logits);
        }, trainable);
        tfOptimizer.applyGradients(clipGradients(tf, grads, optimizer.config));
        return value;
      });
      const expected = loss.dataSync()[0]!;
      loss.dispose();
      const masks = dropoutKeepMasks(tf, engine.masks, batch, { seed: SEED, step });
      const actual = await engine.step(xs, ys, batch, lr, masks);
      expect(actual.stale).toBe(false);
      expect(actual.acc).toBeGreaterThanOrEqual(0);
      expect(actual.acc).toBeLessThanOrEqual(1);
      worstLoss = Math.max(worstLoss, Math.abs(actual.loss - expected));
    }
    const settled = (w: NamedWeights) => new Map([...w].filter(([name]) => !unsettled.includes(name)));
    return { worstLoss, weights: worstRelativeError(engine.getWeights(), settled(weightsOf(model)), ERROR_FLOOR) };
  } finally {
    await engine.dispose();
    tfOptimizer.dispose();
    model.dispose();
  }
}

/** Keras' order: layer by layer, each layer's variables as the spec lists them (tfjs lists trainable ones first). */
function order(spec: ModelSpec, name: string): number {
  const layer = spec.config.layers.findIndex((l) => name.startsWith(`${l.config.name as string}/`));
  const shorts = ['kernel', 'bias', 'gamma', 'beta', 'moving_mean', 'moving_variance'];
  return layer * 10 + shorts.indexOf(name.slice(name.indexOf('/') + 1));
}

function layer(class_name: string, name: string, config: Record<string, unknown>): LayerSpec {
  return { class_name, config: { name, trainable: true, ...config } };
}

describe.skipIf(!device)('the fused WebGPU step on SwiftShader', () => {
  afterAll(() => device?.destroy());

  // Batches 12 and 9: neither is a multiple of the matmul's 64-row tile or the BN kernels' 16 row lanes.
  const cases: [string, ModelSpec, number, [string, OptimizerSettings, number][]][] = [
    [
      'seed model 1 (BN after activation)',
      seedModel1,
      12,
      [
        ['SGD', sgd, 0.01],
        ['SGD Nesterov', nesterov, 0.01],
        ['Adam', adam, 0.001],
      ],
    ],
    [
      'seed model 2 (BN before activation)',
      seedModel2,
      9,
      [
        ['SGD', sgd, 0.01],
        ['SGD momentum', momentum, 0.01],
        ['Adam', adam, 0.001],
      ],
    ],
  ];
  for (const [modelName, spec, batch, optimizers] of cases) {
    for (const [optName, optimizer, lr] of optimizers) {
      it(`${modelName}, ${optName}, batch ${batch}: 20 steps equal the general path within 1e-4`, async () => {
        // Seed model 2's first BN feeds a Dense without bias into another BN, whose mean subtraction cancels the
        // first β: its true gradient is 0, and Adam turns both paths' rounding noise into full ±lr steps, so that β
        // and the next BN's moving mean follow the noise. The loss and every other variable are compared.
        const unsettled = spec === seedModel2 && optimizer === adam ? ['batch_normalization/beta', 'batch_normalization_1/moving_mean'] : [];
        const { worstLoss, weights } = await compare(spec, optimizer, lr, batch, STEPS, unsettled);
        expect(worstLoss).toBeLessThan(1e-4);
        expect(weights.worst, weights.at).toBeLessThan(1e-4);
      }, 600_000);
    }
  }

  it('Dropout and AlphaDropout take the keep masks the general path draws (SELU MLP and an ELU MLP with Dropout, 5 steps)', async () => {
    const withDropout = structuredClone(plainMlp);
    withDropout.config.layers.splice(2, 0, layer('Dropout', 'dropout', { rate: 0.3, noise_shape: null, seed: null }));
    withDropout.config.layers.splice(4, 0, layer('Dropout', 'dropout_1', { rate: 0.2, noise_shape: null, seed: 123 }));
    for (const spec of [seluMlp, withDropout]) {
      const { worstLoss, weights } = await compare(spec, momentum, 0.01, 7, 5);
      expect(worstLoss).toBeLessThan(1e-4);
      expect(weights.worst, weights.at).toBeLessThan(1e-4);
    }
  }, 300_000);

  it('a steady-state step is 17 dispatches (≤ 30), one submit, one writeBuffer and no buffer or bind group created', async () => {
    const { engine } = await seededEngine(seedModel1, momentum, { capacity: 8, readEvery: 1000 });
    const counter = countGpuCalls();
    try {
      // The first step at a batch size makes its uniform buffer and bind group once.
      await engine.step(batches.x(0, 8), batches.y(0, 8), 8, 0.01);
      expect(counter.counts.buffersCreated).toBe(1);
      counter.reset();
      const steps = 3;
      for (let s = 1; s <= steps; s++) {
        const result = await engine.step(batches.x(s, 8), batches.y(s, 8), 8, 0.01);
        expect(result.stale).toBe(true);
      }
      expect(counter.counts).toEqual({ dispatches: 17 * steps, submits: steps, writeBuffers: steps, buffersCreated: 0, bindGroups: 0, pipelines: 0, readbacks: 0 });
      expect(engine.dispatchesPerStep).toBe(17);
      expect(engine.description).toMatch(/17 dispatches and one submit a step/);
      // The metrics were summed on the GPU and come back on demand: means over the four steps since the start.
      counter.reset();
      const metrics = await engine.readMetrics();
      expect(counter.counts.buffersCreated).toBe(0);
      expect(metrics.steps).toBe(4);
      expect(Number.isFinite(metrics.loss) && Number.isFinite(metrics.meanLoss)).toBe(true);
      expect(metrics.meanAcc).toBeGreaterThanOrEqual(0);
      expect(metrics.meanAcc).toBeLessThanOrEqual(1);
      // A read resets the sums: the next read covers only the steps after it.
      await engine.step(batches.x(5, 8), batches.y(5, 8), 8, 0.01);
      const next = await engine.readMetrics();
      expect(next.steps).toBe(1);
      expect(next.meanLoss).toBeCloseTo(next.loss, 6);
      // A larger batch grows the arena once, keeping the weights (lr 0 leaves them; BN's moving statistics move).
      const before = await engine.readWeights();
      const grown = await engine.step(batches.x(1, 11), batches.y(1, 11), 11, 0, new Map(), undefined, { read: true });
      expect(grown.stale).toBe(false);
      const after = engine.getWeights();
      expect(after.get('dense/kernel')!.data).toEqual(before.get('dense/kernel')!.data);
      expect(after.get('batch_normalization/moving_mean')!.data).not.toEqual(before.get('batch_normalization/moving_mean')!.data);
    } finally {
      counter.restore();
      await engine.dispose();
    }
  }, 300_000);

  it('clipvalue clips each gradient value before the update (seed model 1, SGD momentum, 5 steps)', async () => {
    const clipped: OptimizerSettings = { class_name: 'SGD', config: { ...momentum.config, clipvalue: 0.01 } };
    const { worstLoss, weights } = await compare(seedModel1, clipped, 0.01, 6, 5);
    expect(worstLoss).toBeLessThan(1e-4);
    expect(weights.worst, weights.at).toBeLessThan(1e-4);
  }, 300_000);

  it("reads each BN layer's batch statistics of the last step for the dashboard (the first BN's are the images')", async () => {
    const { engine } = await seededEngine(seedModel1, sgd, { capacity: 5 });
    try {
      const n = 5;
      const xs = batches.x(2, n);
      await engine.step(xs, batches.y(2, n), n, 0.01);
      const stats = await engine.readBatchNormStatistics();
      expect([...stats].map(([name, s]) => [name, s.mean.length, s.variance.length])).toEqual([
        ['batch_normalization', 784, 784],
        ['batch_normalization_1', 300, 300],
        ['batch_normalization_2', 100, 100],
      ]);
      const first = stats.get('batch_normalization')!;
      let worst = 0;
      for (let f = 0; f < 784; f++) {
        let mean = 0;
        for (let i = 0; i < n; i++) mean += xs[i * 784 + f]! / n;
        let variance = 0;
        for (let i = 0; i < n; i++) variance += (xs[i * 784 + f]! - mean) ** 2 / n;
        worst = Math.max(worst, Math.abs(first.mean[f]! - mean), Math.abs(first.variance[f]! - variance));
      }
      expect(worst).toBeLessThan(1e-6);
      // Later BN layers see normalised, activated features: finite, non-negative variances.
      for (const { variance } of stats.values()) expect(variance.every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
    } finally {
      await engine.dispose();
    }
  }, 300_000);

  it('keeps the last finite weights on the GPU (a copy in each step, no buffer created) and puts them back after a NaN step', async () => {
    const { engine, start } = await seededEngine(plainMlp, sgd, { capacity: 4 });
    engine.keepLastFinite();
    const counter = countGpuCalls();
    const filled = (scale: number) => new Map([...start].map(([name, w]) => [name, { shape: w.shape, data: w.data.map((v) => v * scale) }]));
    try {
      await expect(engine.restoreLastFinite()).rejects.toThrow(/no step kept its weights/);
      await engine.step(batches.x(0, 4), batches.y(0, 4), 4, 0.01);
      const afterFirst = await engine.readWeights();
      counter.reset();
      expect(Number.isFinite((await engine.step(batches.x(1, 4), batches.y(1, 4), 4, 0.01)).loss)).toBe(true);
      expect(counter.counts).toMatchObject({ submits: 1, buffersCreated: 0 });
      // A step from NaN weights: its own starting weights are not finite, those the step before started from come back.
      engine.setWeights(filled(NaN));
      expect((await engine.step(batches.x(2, 4), batches.y(2, 4), 4, 0.01)).loss).toBeNaN();
      expect(await engine.restoreLastFinite()).toBe('previous');
      expect(worstRelativeError(await engine.readWeights(), afterFirst).worst).toBe(0);
      // A loss that overflows from finite weights: the step's own starting weights come back.
      const huge = filled(1e30);
      engine.setWeights(huge);
      expect(Number.isFinite((await engine.step(batches.x(3, 4), batches.y(3, 4), 4, 0.01)).loss)).toBe(false);
      expect(await engine.restoreLastFinite()).toBe('before');
      expect(worstRelativeError(await engine.readWeights(), huge).worst).toBe(0);
    } finally {
      counter.restore();
      await engine.dispose();
    }
  }, 300_000);

  it('read every 4 steps, hands out each step’s own loss and accuracy in order, as reading every step does, and keeps the window’s starting weights', async () => {
    const every = await seededEngine(plainMlp, sgd, { capacity: 4 });
    const fourth = await seededEngine(plainMlp, sgd, { capacity: 4, readEvery: 4 });
    fourth.engine.keepLastFinite();
    try {
      const perStep: { loss: number; acc: number }[] = [];
      const starts: NamedWeights[] = [];
      for (let s = 0; s < 6; s++) {
        starts.push(await every.engine.readWeights());
        const { loss, acc } = await every.engine.step(batches.x(s, 4), batches.y(s, 4), 4, 0.01);
        perStep.push({ loss, acc });
        expect((await fourth.engine.step(batches.x(s, 4), batches.y(s, 4), 4, 0.01)).stale).toBe(s !== 3);
        if (s === 1) expect(fourth.engine.takeReadSteps()).toEqual([]);
      }
      expect(fourth.engine.takeReadSteps()).toEqual(perStep.slice(0, 4));
      await fourth.engine.flush();
      expect(fourth.engine.takeReadSteps()).toEqual(perStep.slice(4));
      // K + 1 slots: steps 1 to 5 started from weights still kept, step 0's are overwritten.
      await expect(fourth.engine.restoreStepStart(0)).rejects.toThrow(/not kept/);
      await fourth.engine.restoreStepStart(1);
      expect(worstRelativeError(await fourth.engine.readWeights(), starts[1]!).worst).toBe(0);
    } finally {
      await every.engine.dispose();
      await fourth.engine.dispose();
    }
  }, 300_000);

  it('counts calls through the one counter module: the prototypes wrapped once while a counter counts, put back after the last', () => {
    const original = GPUQueue.prototype.submit;
    const outer = countGpuCalls();
    const inner = countGpuCalls();
    try {
      expect(GPUQueue.prototype.submit).not.toBe(original);
      device!.queue.submit([]);
      expect([outer.counts.submits, inner.counts.submits]).toEqual([1, 1]);
      inner.restore();
      expect(gpuCountersInstalled()).toBe(true);
    } finally {
      outer.restore();
    }
    expect(GPUQueue.prototype.submit).toBe(original);
    expect(gpuCountersInstalled()).toBe(false);
  });

  it('refuses labels outside the classes, short batches and missing masks, keeping its weights', async () => {
    const { engine, start } = await seededEngine(seluMlp, sgd, { capacity: 4 });
    try {
      const masks = dropoutKeepMasks(tf, engine.masks, 4, { seed: SEED, step: 0 });
      const badLabels = Int32Array.from(batches.y(0, 4), (v, i) => (i === 2 ? 10 : v));
      await expect(engine.step(batches.x(0, 4), badLabels, 4, 0.01, masks)).rejects.toThrow(/label 10 is outside/);
      await expect(engine.step(batches.x(0, 4).subarray(0, 784), batches.y(0, 4), 4, 0.01, masks)).rejects.toThrow(/needs 4 samples/);
      await expect(engine.step(batches.x(0, 4), batches.y(0, 4), 4, 0.01)).rejects.toThrow(/alpha_dropout needs a keep mask of 4 × 300/);
      expect(worstRelativeError(await engine.readWeights(), start).worst).toBe(0);
      expect(() => engine.setWeights(new Map([...start].slice(1)))).toThrow(/no weights for 'dense\/kernel'/);
    } finally {
      await engine.dispose();
    }
  }, 300_000);
});

describe('the fused WebGPU step declines what it does not train, with the reason', () => {
  it('names the layer, activation or optimizer', () => {
    // Conv2D on the images, then the MLP's Dense layers.
    const conv = structuredClone(plainMlp);
    conv.config.layers.splice(
      0,
      1,
      layer('Conv2D', 'conv2d', { batch_input_shape: [null, 28, 28, 1], filters: 4, kernel_size: [3, 3], activation: 'relu' }),
      layer('Flatten', 'flatten', {}),
    );
    expect(webGpuStepSupport(conv, sgd)).toMatch(/conv2d: Conv2D is not in the fused WebGPU step/);
    const swish = structuredClone(plainMlp);
    swish.config.layers[1]!.config.activation = 'swish';
    expect(webGpuStepSupport(swish, sgd)).toMatch(/layer dense: activation swish/);
    const sigmoidOut = structuredClone(plainMlp);
    sigmoidOut.config.layers[3]!.config.activation = 'sigmoid';
    expect(webGpuStepSupport(sigmoidOut, sgd)).toMatch(/does not end in a softmax/);
    const penalized = structuredClone(plainMlp);
    penalized.config.layers[1]!.config.kernel_regularizer = { class_name: 'L2', config: { l2: 0.01 } };
    expect(webGpuStepSupport(penalized, sgd)).toMatch(/layer dense: kernel regularizers/);
    const rmsprop: OptimizerSettings = { class_name: 'RMSprop', config: { rho: 0.9, momentum: 0, epsilon: 1e-7, centered: false, clipnorm: null, clipvalue: null } };
    expect(webGpuStepSupport(seedModel1, rmsprop)).toMatch(/RMSprop optimizer is not in the fused WebGPU step/);
    expect(webGpuStepSupport(seedModel1, { ...sgd, config: { ...sgd.config, clipnorm: 1 } })).toMatch(/clipnorm/);
    for (const spec of [seedModel1, seedModel2, plainMlp, seluMlp]) expect(webGpuStepSupport(spec, adam)).toBeNull();
  });

  it.skipIf(!device)('create answers { unsupported } instead of an engine', async () => {
    const spec = structuredClone(plainMlp);
    spec.config.layers[1]!.config.activation = 'swish';
    const answer = await WebGpuStepEngine.create(device!, spec, sgd, new Map());
    expect(answer).toEqual({ unsupported: expect.stringMatching(/activation swish/) });
  });
});
