/**
 * A statistics step through the fused step (stats.ts' FusedStatsProbe, the fused step's probe) gives
 * the same record as the general path's probed, taped pass (StatsCollector, as loop.ts' trainStep
 * gathers it) from the same weights and batch: BN batch and moving statistics, activation moments
 * and saturation, gradient and weight norms, update ratios — on the real wasm backend, for plain
 * SGD, momentum and Adam, with ELU/BN (seed model 1) and SELU/AlphaDropout (selu MLP).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultOptimizer, defaultTrainingSettings, type StatsRecord, type TrainingSettings } from '../../../../contract';
import { seedModel1, seluMlp } from '../../../../model/presets';
import type { ModelSpec } from '../../../../model/spec';
import { loadFashionMnist } from '../../datasets/fashion-mnist';
import { buildModel } from './build-model';
import { accuracy, forwardWithLogits, meanCrossEntropy, planLayers } from './forward';
import { createFusedStep } from './fused/fused-step';
import { installFastWasmMatMul } from './kernels/wasm-matmul';
import { createOptimizer } from './optimizers';
import { addGradientStats, addWeightStats, buildStatsRecord, FusedStatsProbe, probeLayer, SATURATION_RULES, StatsCollector } from './stats';

const BATCH = 32;
let xs: Float32Array;
let ys: Int32Array;

beforeAll(async () => {
  expect(await tf.setBackend('wasm')).toBe(true);
  expect(installFastWasmMatMul(tf).installed).toBe(true);
  const data = await loadFashionMnist('/usr/share/datasets/fashion-mnist', 'train');
  xs = new Float32Array(BATCH * 784);
  for (let i = 0; i < xs.length; i++) xs[i] = data.images[i]! / 255;
  ys = Int32Array.from(data.labels.subarray(0, BATCH));
});

const at = { epoch: 0, step: 3, bnFeatures: [0, 5, 50] };

/** A model built from `spec` with `settings`' seed, its layer plans, a fresh optimizer and its variables. */
async function freshModel(spec: ModelSpec, settings: TrainingSettings) {
  const model = await buildModel(tf, spec, { seed: settings.seed });
  const plans = planLayers(model);
  const optimizer = createOptimizer(tf, settings.optimizer, settings.learningRate);
  const trainable = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const variables = model.weights.map((w) => w.read() as tf.Variable);
  return { model, plans, optimizer, trainable, variables };
}

/** The general path's statistics step (loop.ts' trainStep with a collector, its own update). */
async function generalRecord(spec: ModelSpec, settings: TrainingSettings): Promise<StatsRecord> {
  const { model, plans, optimizer, trainable, variables } = await freshModel(spec, settings);
  const collector = new StatsCollector(tf);
  const readback = tf.tidy(() => {
    const before = new Map(variables.map((v) => [v.name, tf.clone(v)]));
    const xb = tf.tensor(xs, [BATCH, 28, 28]);
    const yb = tf.tensor1d(ys, 'int32');
    const { grads } = optimizer.computeGradients(() => {
      const { output, logits } = forwardWithLogits(tf, plans, xb, {
        mode: 'train',
        seed: settings.seed,
        step: at.step,
        probe: (plan, input, output) => probeLayer(tf, collector, plan, input, output),
      });
      accuracy(tf, output, yb);
      return meanCrossEntropy(tf, output, yb, logits);
    }, trainable);
    addGradientStats(tf, collector, plans, grads);
    optimizer.applyGradients(grads);
    addWeightStats(tf, collector, plans, before);
    return collector.concat();
  });
  const values = readback.dataSync() as Float32Array;
  readback.dispose();
  const record = buildStatsRecord(plans, collector.decode(values, 0), at);
  optimizer.dispose();
  model.dispose();
  return record;
}

async function fusedRecord(spec: ModelSpec, settings: TrainingSettings): Promise<StatsRecord> {
  const { model, plans, optimizer, trainable, variables } = await freshModel(spec, settings);
  const fused = createFusedStep(tf, plans, model, settings, optimizer);
  if ('unsupported' in fused) throw new Error(fused.unsupported);
  const before = new Map(variables.map((v) => [v.name, tf.clone(v)]));
  const probe = new FusedStatsProbe(plans, trainable);
  fused.stepSync(xs, ys, BATCH, { seed: settings.seed, step: at.step }, probe);
  const record = buildStatsRecord(plans, probe.finish(tf, before), at);
  for (const t of before.values()) t.dispose();
  fused.dispose();
  optimizer.dispose();
  model.dispose();
  return record;
}

/** Every number of `b` within `tolerance` (relative, with an absolute floor) of `a`'s; the same keys. */
function expectClose(a: unknown, b: unknown, path = 'record'): void {
  if (typeof a === 'number') {
    expect(typeof b, path).toBe('number');
    expect(Math.abs(a - (b as number)), `${path}: ${a} vs ${b}`).toBeLessThanOrEqual(2e-3 * Math.max(Math.abs(a), 1e-2));
    return;
  }
  if (typeof a !== 'object' || a === null) {
    expect(b, path).toEqual(a);
    return;
  }
  expect(Object.keys(b as object).sort(), path).toEqual(Object.keys(a).sort());
  for (const [k, v] of Object.entries(a)) expectClose(v, (b as Record<string, unknown>)[k], `${path}.${k}`);
}

describe('statistics of a fused step', () => {
  const cases: [string, ModelSpec, TrainingSettings][] = [
    ['seed model 1, SGD', seedModel1, { ...defaultTrainingSettings, batchSize: BATCH, backend: 'wasm', seed: 11 }],
    [
      'seed model 1, SGD momentum',
      seedModel1,
      {
        ...defaultTrainingSettings,
        batchSize: BATCH,
        backend: 'wasm',
        seed: 11,
        optimizer: { class_name: 'SGD', config: { ...defaultOptimizer('SGD').config, momentum: 0.9 } } as TrainingSettings['optimizer'],
      },
    ],
    ['seed model 1, Adam', seedModel1, { ...defaultTrainingSettings, batchSize: BATCH, backend: 'wasm', seed: 11, optimizer: defaultOptimizer('Adam'), learningRate: 0.001 }],
    ['SELU MLP with AlphaDropout, SGD', seluMlp, { ...defaultTrainingSettings, batchSize: BATCH, backend: 'wasm', seed: 11 }],
  ];
  for (const [name, spec, settings] of cases) {
    it(`match the general path's: ${name}`, async () => {
      const general = await generalRecord(spec, settings);
      const fused = await fusedRecord(spec, settings);
      expect(general.layers.length).toBeGreaterThan(0);
      expect(fused.layers.some((l) => l.grad_norm !== undefined && l.update_ratio !== undefined && l.act_mean !== undefined)).toBe(true);
      expectClose(general, fused);
    });
  }
});

describe('saturation shares from values', () => {
  it('count what the tensor rules count, at the float32 edges too', () => {
    const random = (n: number, scale: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * scale);
    for (const [activation, rule] of Object.entries(SATURATION_RULES)) {
      const y = tf.tidy(() => {
        const z = tf.tensor2d(random(40 * 9, 5), [40, 9]);
        return (
          activation === 'softmax'
            ? tf.softmax(tf.mul(z, 3))
            : (tf.layers.activation({ activation: (activation === 'leaky_relu' ? 'relu' : activation) as 'relu' }).apply(z) as tf.Tensor)
        ) as tf.Tensor2D;
      });
      const values = y.dataSync() as Float32Array;
      const expected = tf.tidy(() => rule.measure(tf, y).dataSync()[0]!);
      expect(rule.share(values, 40, 9), activation).toBeCloseTo(expected, 6);
      y.dispose();
    }
  });
});
