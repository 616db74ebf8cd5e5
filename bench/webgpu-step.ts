/**
 * The fused WebGPU step alone (main/services/training/worker/engines/webgpu): seed model 1, SGD
 * momentum 0.9, lr 0.01, per batch size: samples/s, and what a steady-state step costs on the host
 * counted on the WebGPU API (dispatches, submits, writeBuffers, buffers created) with the host
 * milliseconds a step spends in `step()` when it does not wait for a read-back.
 *
 *   npx tsx bench/webgpu-step.ts [batch…]            (default 32 256 1024)
 *   WEBGPU_STEPS=200 WEBGPU_READ_EVERY=50 …          (timed steps, read-back cadence)
 *
 * Self-contained for a GPU machine without Node modules: no tfjs (initial weights drawn here, Glorot
 * uniform), Fashion-MNIST when /usr/share/datasets/fashion-mnist has it, else seeded random images.
 * Bundle: npx esbuild bench/webgpu-step.ts --bundle --platform=node --format=esm --external:webgpu
 * --outfile=webgpu-step.mjs, and carry node_modules/webgpu/{package.json,index.js,dist/linux-x64/dawn.node}.
 */
import { existsSync } from 'node:fs';
import type { OptimizerSettings } from '../contract';
import { seedModel1 } from '../model/presets';
import { loadFashionMnist } from '../main/services/datasets/fashion-mnist';
import type { NamedWeights } from '../main/services/export/weights';
import { modelLayers } from '../main/services/export/weights';
import { openDawnDevice } from '../main/services/training/worker/engines/webgpu/dawn-device';
import { WebGpuStepEngine } from '../main/services/training/worker/engines/webgpu/engine';
import { countGpuCalls } from '../main/services/training/worker/gpu-counters';

const DATASET = '/usr/share/datasets/fashion-mnist';
const HELD_BATCHES = 8;

/** Deterministic uniform values in [−1, 1). */
function uniform(count: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: count }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

/** Glorot-uniform kernels, zero biases and β, unit γ and moving variance. */
function initialWeights(): NamedWeights {
  const weights: NamedWeights = new Map();
  modelLayers(seedModel1).forEach((layer, l) =>
    layer.variables.forEach((v, i) => {
      const count = v.shape.reduce((a, b) => a * b, 1);
      let data = new Float32Array(count);
      if (v.short === 'kernel') data = uniform(count, 100 * l + i).map((x) => x * Math.sqrt(6 / (v.shape[0]! + v.shape[1]!)));
      if (v.short === 'gamma' || v.short === 'moving_variance') data.fill(1);
      weights.set(v.name, { shape: v.shape, data });
    }),
  );
  return weights;
}

async function images(count: number): Promise<{ xs: Float32Array; ys: Int32Array; source: string }> {
  if (existsSync(DATASET)) {
    const data = await loadFashionMnist(DATASET, 'train');
    return { xs: Float32Array.from(data.images.subarray(0, count * 784), (v) => v / 255), ys: Int32Array.from(data.labels.subarray(0, count)), source: 'Fashion-MNIST' };
  }
  const xs = uniform(count * 784, 1).map((v) => (v + 1) / 2);
  return { xs, ys: Int32Array.from({ length: count }, (_, i) => (i * 7) % 10), source: 'seeded random images (no Fashion-MNIST here)' };
}

async function main(): Promise<void> {
  const sizes = process.argv
    .slice(2)
    .map(Number)
    .filter((n) => n > 0);
  const batchSizes = sizes.length ? sizes : [32, 256, 1024];
  const steps = Number(process.env.WEBGPU_STEPS ?? 100);
  const readEvery = Number(process.env.WEBGPU_READ_EVERY ?? 50);
  const dawn = await openDawnDevice();
  if ('unavailable' in dawn) throw new Error(dawn.unavailable);
  console.log(`adapter: ${dawn.adapterName}; ${steps} timed steps per batch size, metrics read every ${readEvery}`);
  const optimizer: OptimizerSettings = { class_name: 'SGD', config: { momentum: 0.9, nesterov: false, clipnorm: null, clipvalue: null } };
  const data = await images(Math.max(...batchSizes) * HELD_BATCHES);
  console.log(`data: ${data.source}`);
  console.log('batch | samples/s | dispatches/step | submits/step | writeBuffers/step | buffers created/step | host ms/step | loss first → last');
  for (const batch of batchSizes) {
    const engine = await WebGpuStepEngine.create(dawn.device, seedModel1, optimizer, initialWeights(), { capacity: batch, readEvery, adapterName: dawn.adapterName });
    if (!(engine instanceof WebGpuStepEngine)) throw new Error(`declined: ${engine.unsupported}`);
    const at = (s: number) => {
      const k = s % HELD_BATCHES;
      return { x: data.xs.subarray(k * batch * 784, (k + 1) * batch * 784), y: data.ys.subarray(k * batch, (k + 1) * batch) };
    };
    const first = await engine.step(at(0).x, at(0).y, batch, 0.01, new Map(), undefined, { read: true });
    for (let s = 1; s < 10; s++) await engine.step(at(s).x, at(s).y, batch, 0.01);
    await engine.readMetrics();
    const counter = countGpuCalls();
    let hostMs = 0;
    let hostSteps = 0;
    const started = performance.now();
    for (let s = 0; s < steps; s++) {
      const t = performance.now();
      const result = await engine.step(at(s).x, at(s).y, batch, 0.01);
      if (result.stale) {
        hostMs += performance.now() - t;
        hostSteps++;
      }
    }
    const c = { ...counter.counts };
    counter.restore();
    // The timed span ends when the GPU has finished: the read-back waits for the last step.
    const last = await engine.readMetrics();
    const seconds = (performance.now() - started) / 1000;
    const per = (v: number) => (v / steps).toFixed(2);
    console.log(
      [
        batch,
        Math.round((batch * steps) / seconds),
        per(c.dispatches),
        per(c.submits),
        per(c.writeBuffers),
        per(c.buffersCreated),
        hostSteps ? (hostMs / hostSteps).toFixed(3) : '–',
        `${first.loss.toFixed(4)} → ${last.loss.toFixed(4)}`,
      ].join(' | '),
    );
    await engine.dispose();
  }
  dawn.device.destroy();
}

await main();
