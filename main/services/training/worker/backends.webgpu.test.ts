/**
 * WebGPU for real, on SwiftShader (Google's Vulkan on the CPU, from Debian's chromium-common; the
 * vitest project 'webgpu' points the Vulkan loader at it): the probe finds the adapter and labels it
 * software, the general training step gives the losses and weights wasm gives, and the counters see
 * a stock tfjs-webgpu step's calls. Skipped where SwiftShader is not installed.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { existsSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { BackendReportSchema, defaultTrainingSettings, type BackendReport, type OptimizerSettings } from '../../../../contract';
import { seedModel1 } from '../../../../model/presets';
import { probeBackends, usableBackends } from './backends';
import { buildModel } from './build-model';
import { calibrate, chooseBackend, FUSED_WEBGPU_STEPS_PER_TIMING } from './calibrate';
import { forwardWithLogits, meanCrossEntropy, planLayers, sumScalars } from './forward';
import { countGpuCalls, GpuStepMeter, gpuCountersInstalled } from './gpu-counters';
import { createOptimizer } from './optimizers';
import { useFashionBatches } from './test-images';

const icd = process.env['VK_ICD_FILENAMES'];
const swiftShader = icd !== undefined && existsSync(icd);
const BATCH = 16;
const STEPS = 3;
const SEED = 11;

/** Seed model 1 trained `STEPS` general steps on tf's active backend: the losses, then every variable. */
async function train(batches: ReturnType<typeof useFashionBatches>, meter?: GpuStepMeter): Promise<{ losses: number[]; weights: Float32Array[] }> {
  const model = await buildModel(tf, seedModel1, { seed: SEED });
  const plans = planLayers(model, seedModel1);
  const optimizer = createOptimizer(tf, defaultTrainingSettings.optimizer, defaultTrainingSettings.learningRate);
  const trainable = model.trainableWeights.map((w) => w.read() as tf.Variable);
  try {
    const losses: number[] = [];
    for (let step = 0; step < STEPS; step++) {
      meter?.begin();
      const loss = tf.tidy(() => {
        const xb = tf.tensor(batches.x(step), [BATCH, 28, 28]);
        const yb = tf.tensor1d(batches.y(step), 'int32');
        const { value, grads } = optimizer.computeGradients(() => {
          const { output, logits } = forwardWithLogits(tf, plans, xb, { mode: 'train', seed: SEED, step });
          return meanCrossEntropy(tf, output, yb, logits);
        }, trainable);
        optimizer.applyGradients(grads);
        return value;
      });
      losses.push((await loss.data())[0]!);
      loss.dispose();
      meter?.end(false);
    }
    const weights = await Promise.all(model.weights.map(async (w) => (await w.read().data()) as Float32Array));
    return { losses, weights };
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}

/** ‖a − b‖₂ / ‖b‖₂. */
function relativeError(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < b.length; i++) {
    diff += (a[i]! - b[i]!) ** 2;
    norm += b[i]! ** 2;
  }
  return Math.sqrt(diff) / Math.max(Math.sqrt(norm), 1e-12);
}

describe.skipIf(!swiftShader)('WebGPU on SwiftShader (needs VK_ICD_FILENAMES → vk_swiftshader_icd.json, from Debian’s chromium)', () => {
  const batches = useFashionBatches(tf, BATCH, STEPS);
  let report: BackendReport;
  beforeAll(async () => {
    report = await probeBackends(tf);
  });

  it('probes webgpu as available on a software adapter, never the default, with its calls counted', async () => {
    expect(BackendReportSchema.parse(report)).toEqual(report);
    expect(report.candidates.find((c) => c.name === 'webgpu')).toMatchObject({ status: 'available' });
    expect(report.active).toBe('wasm');
    expect(report.adapter).toMatchObject({ backend: 'webgpu', vendor: 'google', architecture: 'swiftshader', software: true });
    expect(usableBackends(report)).toEqual(['webgpu', 'onnxruntime', 'wasm', 'cpu']);
    expect(gpuCountersInstalled()).toBe(true);
    // Named, it is used; Auto measures it after the CPU backends (software) and picks one of those, by far the faster here.
    expect(await chooseBackend(tf, { report, spec: seedModel1, batchSize: BATCH, requested: 'webgpu' })).toMatchObject({ backend: 'webgpu' });
    const auto = await chooseBackend(tf, { report, spec: seedModel1, batchSize: BATCH, requested: 'auto', steps: 1, warmupSteps: 1 });
    expect(auto.calibration!.results.map((r) => r.backend)).toEqual(['onnxruntime', 'wasm', 'webgpu']);
    expect(auto.calibration!.results[2]!.samplesPerSec).toBeGreaterThan(0);
    expect(auto.backend).not.toBe('webgpu');
  });

  it('Auto times webgpu through the fused step where it takes the model and optimizer, through stock tfjs-webgpu otherwise', async () => {
    /** The calls one calibration of seed model 1 on webgpu makes: one timed call, no warm-up. */
    const calibrated = async (optimizer: OptimizerSettings) => {
      const counter = countGpuCalls();
      try {
        const calibration = await calibrate(tf, { spec: seedModel1, batchSize: BATCH, backends: ['webgpu'], steps: 1, warmupSteps: 0, budgetMs: 60_000, optimizer });
        expect(calibration.results[0]!.samplesPerSec).toBeGreaterThan(0);
        return counter.counts;
      } finally {
        counter.restore();
      }
    };
    const sgd: OptimizerSettings = { class_name: 'SGD', config: { momentum: 0, nesterov: false, clipnorm: null, clipvalue: null } };
    const fused = await calibrated(sgd);
    // clipnorm is not in the fused step: stock tfjs-webgpu is timed.
    const stock = await calibrated({ ...sgd, config: { ...sgd.config, clipnorm: 1 } });
    // The same model built alike both times; the timed call is 4 fused steps of 17 dispatches against one stock step of about 200.
    expect(FUSED_WEBGPU_STEPS_PER_TIMING).toBe(4);
    expect(stock.dispatches - fused.dispatches).toBeGreaterThan(100);
    expect(tf.getBackend()).toBe('wasm');
  });

  it('sums more scalars than a shader stage may bind (the epoch-end finiteness check over every variable)', async () => {
    await tf.setBackend('webgpu');
    try {
      const sum = async (values: number[]) => {
        const total = tf.tidy(() =>
          sumScalars(
            tf,
            values.map((v) => tf.scalar(v)),
          ),
        );
        const value = (await total.data())[0]!;
        total.dispose();
        return value;
      };
      const ones = Array.from({ length: 19 }, () => 1);
      expect(await sum(ones)).toBe(19);
      expect(await sum([...ones, NaN])).toBeNaN();
    } finally {
      await tf.setBackend('wasm');
    }
  });

  it('averages the plain steps after the warm-up, and the statistics steps only when no step was plain', async () => {
    await tf.setBackend('webgpu');
    try {
      // 1,024 values: tfjs-webgpu computes tensors under 128 values on the CPU.
      const op = async () => {
        const t = tf.tidy(() => tf.add(tf.tensor1d(new Float32Array(1024).fill(1)), 1));
        await t.data();
        t.dispose();
      };
      const step = async (meter: GpuStepMeter, ops: number, withStats: boolean) => {
        meter.begin();
        for (let i = 0; i < ops; i++) await op();
        meter.end(withStats);
      };
      const meter = new GpuStepMeter(report.adapter!, 1);
      await step(meter, 1, false); // warm-up: not counted
      expect(meter.record()).toBeNull();
      await step(meter, 2, true);
      const statsOnly = meter.record()!;
      expect(statsOnly).toMatchObject({ steps: 1, statisticsSteps: true, readbacksPerStep: 2 });
      await step(meter, 1, false);
      const plain = meter.record()!;
      expect(plain).toMatchObject({ steps: 1, readbacksPerStep: 1 });
      expect(plain.statisticsSteps).toBeUndefined();
      expect(plain.dispatchesPerStep).toBeGreaterThanOrEqual(1);
      expect(statsOnly.dispatchesPerStep).toBe(2 * plain.dispatchesPerStep);
    } finally {
      await tf.setBackend('wasm');
    }
  });

  it('trains seed model 1 as wasm does (batch 16, 3 steps), and counts a stock tfjs-webgpu step', async () => {
    await tf.setBackend('wasm');
    const onWasm = await train(batches);
    await tf.setBackend('webgpu');
    try {
      const meter = new GpuStepMeter(report.adapter!, 1);
      const onWebGpu = await train(batches, meter);
      for (let step = 0; step < STEPS; step++) expect(Math.abs(onWebGpu.losses[step]! - onWasm.losses[step]!)).toBeLessThan(1e-4);
      // The loss falls: the steps really train.
      expect(onWebGpu.losses[STEPS - 1]!).toBeLessThan(onWebGpu.losses[0]!);
      onWebGpu.weights.forEach((w, i) => expect(relativeError(w, onWasm.weights[i]!), `variable ${i}`).toBeLessThan(1e-4));

      const record = meter.record()!;
      expect(record).toMatchObject({ software: true, steps: STEPS - 1, warmupSteps: 1, adapter: { architecture: 'swiftshader' } });
      // Stock tfjs-webgpu: one dispatch per op, about 190–210 for this model's step, a few submits,
      // pooled buffers still created every step, one read-back (the loss).
      expect(record.dispatchesPerStep).toBeGreaterThan(100);
      expect(record.dispatchesPerStep).toBeLessThan(400);
      expect(record.bindGroupsPerStep).toBe(record.dispatchesPerStep);
      expect(record.submitsPerStep).toBeGreaterThanOrEqual(1);
      expect(record.submitsPerStep).toBeLessThan(record.dispatchesPerStep);
      expect(record.buffersCreatedPerStep).toBeGreaterThan(0);
      expect(record.readbacksPerStep).toBe(1);
      expect(record.hostMsPerStep).toBeGreaterThan(0);
    } finally {
      await tf.setBackend('wasm');
    }
  });
});
