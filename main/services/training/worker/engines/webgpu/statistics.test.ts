/**
 * A statistics step of the fused WebGPU step on SwiftShader, as the loop takes it (engineTrainStep:
 * the engine feeds stats.ts' FusedStatsProbe from the GPU's reductions, the tfjs model synced after
 * for the weight norms), gives the record the general path's taped statistics step gives (loop.ts'
 * trainStep: StatsCollector on the gradient tape, on wasm) from the same weights and batch of real
 * Fashion-MNIST images: BN batch and moving statistics, gradient and weight norms, update ratios,
 * activation mean, spread and saturation (ELU, ReLU, tanh, softmax), with and without dropout. And
 * the statistics pass costs one dispatch on statistics steps only, and no buffer in steady state.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, describe, expect, it } from 'vitest';
import type { OptimizerSettings, StatsRecord } from '../../../../../../contract';
import { seedModel1 } from '../../../../../../model/presets';
import type { LayerSpec, ModelSpec } from '../../../../../../model/spec';
import { buildModel } from '../../build-model';
import { forwardWithLogits, meanCrossEntropy, planLayers } from '../../forward';
import { clipGradients, createOptimizer } from '../../optimizers';
import { addGradientStats, addWeightStats, buildStatsRecord, FusedStatsProbe, probeLayer, StatsCollector } from '../../stats';
import { useFashionBatches } from '../../test-images';
import { weightsOf } from '../compare-weights';
import { EngineStep } from '../engine-step';
import { dropoutKeepMasks } from '../onnxruntime/dropout-masks';
import { WebGpuStepEngine } from './engine';
import { countGpuCalls } from '../../gpu-counters';
import { testDevice } from './test-device';

const BATCH = 16;
const SEED = 13;
const LR = 0.01;
/** The run's step index: it seeds the dropout masks. */
const STEP = 3;
const at = { epoch: 0, step: STEP, bnFeatures: [0, 5, 50] };
const batches = useFashionBatches(tf, BATCH, 4);
const momentum: OptimizerSettings = { class_name: 'SGD', config: { momentum: 0.9, nesterov: false, clipnorm: null, clipvalue: null } };

const dawn = await testDevice();
if ('unavailable' in dawn) console.warn(dawn.unavailable);
const device = 'unavailable' in dawn ? null : dawn.device;

const layer = (class_name: string, name: string, config: Record<string, unknown>): LayerSpec => ({ class_name, config: { name, trainable: true, ...config } });

/** ReLU, Dropout, a tanh Activation layer and a seeded Dropout: the other saturation rules and the masks. */
const dropoutMlp: ModelSpec = {
  class_name: 'Sequential',
  config: {
    name: 'dropout_mlp',
    layers: [
      seedModel1.config.layers[0]!,
      layer('Dense', 'dense', { units: 64, activation: 'relu', use_bias: true }),
      layer('Dropout', 'dropout', { rate: 0.3, noise_shape: null, seed: null }),
      layer('Dense', 'dense_1', { units: 32, activation: 'linear', use_bias: true }),
      layer('Activation', 'activation', { activation: 'tanh' }),
      layer('Dropout', 'dropout_1', { rate: 0.2, noise_shape: null, seed: 123 }),
      layer('Dense', 'dense_2', { units: 10, activation: 'softmax', use_bias: true }),
    ],
  },
};

/** The general path's statistics step (loop.ts' trainStep with a collector and its own update). */
async function tapedRecord(spec: ModelSpec, xs: Float32Array, ys: Int32Array): Promise<StatsRecord> {
  const model = await buildModel(tf, spec, { seed: SEED });
  const plans = planLayers(model);
  const optimizer = createOptimizer(tf, momentum, LR);
  const trainable = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const variables = model.weights.map((w) => w.read() as tf.Variable);
  const collector = new StatsCollector(tf);
  try {
    const readback = tf.tidy(() => {
      const before = new Map(variables.map((v) => [v.name, tf.clone(v)]));
      const { grads } = optimizer.computeGradients(() => {
        const { output, logits } = forwardWithLogits(tf, plans, tf.tensor(xs, [BATCH, 28, 28]), {
          mode: 'train',
          seed: SEED,
          step: STEP,
          probe: (plan, input, output) => probeLayer(tf, collector, plan, input, output),
        });
        return meanCrossEntropy(tf, output, tf.tensor1d(ys, 'int32'), logits);
      }, trainable);
      addGradientStats(tf, collector, plans, grads);
      optimizer.applyGradients(clipGradients(tf, grads, momentum.config));
      addWeightStats(tf, collector, plans, before);
      return collector.concat();
    });
    const values = (await readback.data()) as Float32Array;
    readback.dispose();
    return buildStatsRecord(plans, collector.decode(values, 0), at);
  } finally {
    collector.dispose();
    optimizer.dispose();
    model.dispose();
  }
}

/** The same step on the fused WebGPU step with a probe, as loop.ts' engineTrainStep takes it. */
async function webGpuRecord(spec: ModelSpec, xs: Float32Array, ys: Int32Array): Promise<StatsRecord> {
  const model = await buildModel(tf, spec, { seed: SEED });
  const plans = planLayers(model);
  const engine = await WebGpuStepEngine.create(device!, spec, momentum, weightsOf(model), { capacity: BATCH });
  if (!(engine instanceof WebGpuStepEngine)) throw new Error(`declined: ${engine.unsupported}`);
  const adapter = new EngineStep(tf, engine, model.weights, (n, step) => dropoutKeepMasks(tf, engine.masks, n, { seed: SEED, step }));
  const variables = model.weights.map((w) => w.read() as tf.Variable);
  const before = new Map(variables.map((v) => [v.name, tf.clone(v)]));
  try {
    const probe = new FusedStatsProbe(
      plans,
      model.trainableWeights.map((w) => w.read() as tf.Variable),
    );
    const { loss } = await adapter.step(xs, ys, BATCH, LR, STEP, probe.engineProbe(model.trainableWeights.map((w) => w.originalName)));
    expect(Number.isFinite(loss)).toBe(true);
    await adapter.syncToModel();
    return buildStatsRecord(plans, probe.finish(tf, before), at);
  } finally {
    for (const t of before.values()) t.dispose();
    await adapter.dispose();
    model.dispose();
  }
}

/** Every number of `actual` within 1e-4 of `expected`'s, relative (absolute below 1e-3); the same keys. */
function expectClose(actual: unknown, expected: unknown, path = 'record'): void {
  if (typeof expected === 'number') {
    expect(typeof actual, path).toBe('number');
    expect(Math.abs((actual as number) - expected), `${path}: ${actual as number} vs ${expected}`).toBeLessThanOrEqual(1e-4 * Math.max(Math.abs(expected), 1e-3));
    return;
  }
  if (typeof expected !== 'object' || expected === null) {
    expect(actual, path).toEqual(expected);
    return;
  }
  expect(Object.keys(actual as object).sort(), path).toEqual(Object.keys(expected).sort());
  for (const [k, v] of Object.entries(expected)) expectClose((actual as Record<string, unknown>)[k], v, `${path}.${k}`);
}

describe.skipIf(!device)('statistics of the fused WebGPU step on SwiftShader', () => {
  afterAll(() => device?.destroy());

  const cases: [string, ModelSpec, string[]][] = [
    ['seed model 1 (BN, ELU)', seedModel1, ['dense', 'dense_1', 'dense_2']],
    ['an MLP with ReLU, tanh and Dropout', dropoutMlp, ['dense', 'activation', 'dense_2']],
  ];
  for (const [name, spec, activating] of cases) {
    it(`a statistics step's record equals the taped tfjs path's within 1e-4: ${name}`, async () => {
      const xs = batches.x(1);
      const ys = batches.y(1);
      const taped = await tapedRecord(spec, xs, ys);
      const gpu = await webGpuRecord(spec, xs, ys);
      // Every activating layer is described, saturation included, and every trainable layer has its gradient norm.
      expect(gpu.layers.filter((l) => l.act_mean !== undefined && l.saturation !== undefined).map((l) => l.layer)).toEqual(activating);
      expect(gpu.layers.filter((l) => l.grad_norm !== undefined && l.update_ratio !== undefined).length).toBe(spec === seedModel1 ? 6 : 3);
      expect(gpu.bn.length).toBe(spec === seedModel1 ? 3 : 0);
      expectClose(gpu, taped);
    }, 300_000);
  }

  it('a statistics step adds one dispatch and reads back in the same submit; in steady state it creates no buffer', async () => {
    const model = await buildModel(tf, seedModel1, { seed: SEED });
    const plans = planLayers(model);
    const trainable = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const names = model.trainableWeights.map((w) => w.originalName);
    const engine = await WebGpuStepEngine.create(device!, seedModel1, momentum, weightsOf(model), { capacity: 8, readEvery: 1000 });
    if (!(engine instanceof WebGpuStepEngine)) throw new Error(`declined: ${engine.unsupported}`);
    const counter = countGpuCalls();
    const statisticsStep = async (s: number) => {
      const probe = new FusedStatsProbe(plans, trainable);
      await engine.step(batches.x(s, 8), batches.y(s, 8), 8, LR, new Map(), probe.engineProbe(names));
      return probe;
    };
    try {
      await engine.step(batches.x(0, 8), batches.y(0, 8), 8, LR);
      // The first statistics step at a batch size makes its task table and bind group once.
      await statisticsStep(1);
      counter.reset();
      const probe = await statisticsStep(2);
      // Two read-backs: the step's (metrics and variables) and the statistics buffer's, mapped together.
      expect(counter.counts).toEqual({ dispatches: 18, submits: 1, writeBuffers: 1, buffersCreated: 0, bindGroups: 0, pipelines: 0, readbacks: 2 });
      const values = probe.finish(tf, new Map());
      expect([...values.keys()].filter((k) => k.endsWith(':grad_sq'))).toHaveLength(6);
      expect(values.get('act:6:saturation')?.[0]).toBeGreaterThanOrEqual(0);
      // Plain steps around it keep their 17 dispatches.
      counter.reset();
      const plain = await engine.step(batches.x(3, 8), batches.y(3, 8), 8, LR);
      expect(plain.stale).toBe(true);
      expect(counter.counts).toMatchObject({ dispatches: 17, submits: 1, buffersCreated: 0 });
    } finally {
      counter.restore();
      await engine.dispose();
      model.dispose();
    }
  }, 300_000);
});
