/**
 * The webgpu backend end to end on SwiftShader (the vitest project 'webgpu' points the Vulkan loader
 * at it): the host's real worker on real Fashion-MNIST, each step in the fused WebGPU step on the
 * device tfjs-webgpu holds, tfjs for validation, statistics and the saved weights. A run trains as
 * the same run on wasm does (losses, statistics records, saved weights) and evaluates (a model the
 * fused step declines: main/cli/cli.webgpu.test.ts). The worker reads the loss back every 4 steps
 * (LAYERBENCH_WEBGPU_READ_EVERY, set before it starts): records, pauses and stops are as with a read
 * every step. Skipped where SwiftShader is not installed.
 */
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { TrainingSettings } from '../../../../contract';
import { defaultTrainingSettings, StatsRecordSchema } from '../../../../contract';
import { plainMlp, seedModel1 } from '../../../../model/presets';
import { READ_EVERY_ENV } from '../worker/engines/webgpu/read-cadence';
import type { ModelSpec } from '../../../../model/spec';
import { maxAbsDiff } from '../../export/test-support';
import { expectClose, relativeError, savedWeights, testHost } from './host-test-support';

const icd = process.env['VK_ICD_FILENAMES'];
const swiftShader = icd !== undefined && existsSync(icd);

// The worker starts at the first run and takes the environment then.
process.env[READ_EVERY_ENV] = '4';
const { host, store, events, ended, stepKind, dispose } = testHost(['webgpu', 'wasm']);
afterAll(async () => {
  delete process.env[READ_EVERY_ENV];
  await dispose();
});

describe.skipIf(!swiftShader)('the webgpu backend (SwiftShader)', () => {
  async function train(spec: ModelSpec, backend: 'webgpu' | 'wasm', settings: Partial<TrainingSettings> = {}) {
    const { runId } = await host.start({
      spec,
      settings: { ...defaultTrainingSettings, backend, epochs: 2, batchSize: 16, trainSubset: 60, validationSplit: 0.2, learningRate: 0.05, statsEvery: 2, seed: 11, ...settings },
    });
    const end = await ended(runId, 300_000);
    const detail = await store.get(runId);
    return { end, detail, stepKind: stepKind(runId), losses: detail.batches.map((b) => b.loss) };
  }

  it('trains seed model 1 in the fused WebGPU step as wasm does: losses, statistics and saved weights; evaluates', async () => {
    const gpu = await train(seedModel1, 'webgpu');
    const wasm = await train(seedModel1, 'wasm');
    expect(gpu.end).toEqual({ type: 'finished', runId: gpu.detail.summary.runId });
    expect(gpu.stepKind).toMatch(/^WebGPU fused step: \d+ dispatches and one submit a step$/);
    expect(gpu.detail.summary).toMatchObject({ backend: 'webgpu', step: gpu.stepKind, status: 'finished', epochsDone: 2 });

    // The same seed, split, batches and dropout masks: the same run, within float32's reach.
    expect(gpu.losses).toHaveLength(wasm.losses.length);
    expect(maxAbsDiff(gpu.losses, wasm.losses)).toBeLessThan(1e-4);
    gpu.detail.epochs.forEach((epoch, i) => expect(Math.abs(epoch.val_loss! - wasm.detail.epochs[i]!.val_loss!)).toBeLessThan(1e-4));
    expect(relativeError(savedWeights(gpu.detail.directory), savedWeights(wasm.detail.directory))).toBeLessThan(1e-4);

    // Statistics at the same steps, reduced on the GPU in the engine's statistics steps.
    expect(gpu.detail.stats.length).toBeGreaterThan(0);
    expect(gpu.detail.stats.map((s) => s.step)).toEqual(wasm.detail.stats.map((s) => s.step));
    for (const record of gpu.detail.stats) StatsRecordSchema.parse(record);
    gpu.detail.stats.forEach((record, i) => expectClose(record, wasm.detail.stats[i], 1e-3, `stats[${i}]`));

    const evaluation = await host.evaluate(gpu.detail.summary.runId);
    expect(evaluation.inference.acc).toBeGreaterThan(0.2);
  });

  it('posts the steps still unread before a pause and a stop: every step in order, then quiet, then stopped with its weights', async () => {
    const { runId } = await host.start({
      spec: plainMlp,
      settings: { ...defaultTrainingSettings, backend: 'webgpu', epochs: 50, batchSize: 16, trainSubset: 64, validationSplit: 0, statsEvery: 1000, seed: 11 },
    });
    const posted = () => events.flatMap((e) => (e.runId === runId && e.type === 'batches' ? e.batches : []));
    const until = async (what: string, probe: () => boolean) => {
      for (const deadline = Date.now() + 120_000; !probe(); await new Promise((resolve) => setTimeout(resolve, 10))) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      }
    };
    await until('some batches', () => posted().length >= 6);
    expect(await host.pause(runId)).toEqual({ paused: true });
    await until('paused', () => events.some((e) => e.runId === runId && e.type === 'paused'));
    // 'paused' goes out once the loop has read the window's pending steps and posted them: nothing comes after it.
    const pausedAt = events.findIndex((e) => e.runId === runId && e.type === 'paused');
    const atPause = events.slice(0, pausedAt).flatMap((e) => (e.runId === runId && e.type === 'batches' ? e.batches : [])).length;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(posted().length).toBe(atPause);
    expect(await host.stop(runId)).toEqual({ stopped: true });
    expect(await ended(runId, 120_000)).toEqual({ type: 'stopped', runId });
    const detail = await store.get(runId);
    expect(detail.batches.map((b) => b.step)).toEqual(Array.from({ length: atPause }, (_, i) => i));
    expect(detail.summary).toMatchObject({ status: 'stopped', batchesDone: atPause });
    expect(detail.hasWeights).toBe(true);
    for (const values of savedWeights(detail.directory).values()) expect(values.every(Number.isFinite)).toBe(true);
  });
});
