/**
 * The webgpu backend end to end on SwiftShader (the vitest project 'webgpu' points the Vulkan loader
 * at it): the host's real worker on real Fashion-MNIST, each step in the fused WebGPU step on the
 * device tfjs-webgpu holds, tfjs for validation, statistics and the saved weights. A run trains as
 * the same run on wasm does (losses, statistics records, saved weights) and evaluates (a model the
 * fused step declines: main/cli/cli.webgpu.test.ts). Skipped where SwiftShader is not installed.
 */
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { TrainingSettings } from '../../../../contract';
import { defaultTrainingSettings, StatsRecordSchema } from '../../../../contract';
import { seedModel1 } from '../../../../model/presets';
import type { ModelSpec } from '../../../../model/spec';
import { maxAbsDiff } from '../../export/test-support';
import { expectClose, relativeError, savedWeights, testHost } from './host-test-support';

const icd = process.env['VK_ICD_FILENAMES'];
const swiftShader = icd !== undefined && existsSync(icd);

const { host, store, ended, stepKind, dispose } = testHost(['webgpu', 'wasm']);
afterAll(dispose);

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
});
