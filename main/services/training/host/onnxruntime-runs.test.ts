/**
 * The onnxruntime backend end to end: the host's real worker on real Fashion-MNIST, the step in ONNX
 * Runtime and tfjs (wasm) for validation, statistics, checkpoints and the saved weights. A run
 * trains as the same run on wasm does (losses, validation, statistics records, saved and best
 * weights), records its backend and step in run.json, evaluates and exports; a model the step
 * declines trains on tfjs and says why; a NaN loss puts the last finite weights back.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TrainingSettings } from '../../../../contract';
import { defaultTrainingSettings, StatsRecordSchema } from '../../../../contract';
import { plainMlp, seedModel1 } from '../../../../model/presets';
import type { ModelSpec } from '../../../../model/spec';
import { expectExportsPredictAsRun, maxAbsDiff } from '../../export/test-support';
import { expectClose, relativeError, savedWeights, testHost } from './host-test-support';

const { host, store, ended, stepKind, dataDir, dispose } = testHost(['onnxruntime', 'wasm']);
afterAll(dispose);

async function train(spec: ModelSpec, backend: 'onnxruntime' | 'wasm', settings: Partial<TrainingSettings> = {}) {
  const { runId } = await host.start({
    spec,
    settings: { ...defaultTrainingSettings, backend, epochs: 2, batchSize: 32, trainSubset: 400, validationSplit: 0.2, learningRate: 0.05, statsEvery: 3, seed: 11, ...settings },
  });
  const end = await ended(runId);
  const detail = await store.get(runId);
  return { end, detail, stepKind: stepKind(runId), losses: detail.batches.map((b) => b.loss) };
}

describe('the onnxruntime backend', () => {
  it('trains seed model 1 as wasm does: losses, validation, statistics, checkpoint and saved weights; records its step; evaluates and exports', async () => {
    const settings: Partial<TrainingSettings> = { bnFeatures: [0, 1, 2, 3, 150], checkpointBest: true };
    const ort = await train(seedModel1, 'onnxruntime', settings);
    const wasm = await train(seedModel1, 'wasm', settings);
    expect(ort.end).toEqual({ type: 'finished', runId: ort.detail.summary.runId });
    expect(ort.stepKind).toMatch(/^ONNX Runtime \d+\.\d+\.\d+ \(CPU, 1 thread, 4 steps a run\)/);
    expect(ort.detail.summary).toMatchObject({ backend: 'onnxruntime', step: ort.stepKind, status: 'finished', epochsDone: 2 });
    expect(wasm.detail.summary.backend).toBe('wasm');

    // The same seed, split and batches: the same run, within float32's reach.
    expect(ort.losses).toHaveLength(wasm.losses.length);
    expect(maxAbsDiff(ort.losses, wasm.losses)).toBeLessThan(1e-4);
    ort.detail.epochs.forEach((epoch, i) => {
      const other = wasm.detail.epochs[i]!;
      expect(Math.abs(epoch.val_loss! - other.val_loss!)).toBeLessThan(1e-4);
      expect(Math.abs(epoch.val_acc! - other.val_acc!)).toBeLessThan(0.02);
    });
    const saved = savedWeights(ort.detail.directory);
    expect([...saved.keys()]).toEqual([...savedWeights(wasm.detail.directory).keys()]);
    expect(relativeError(saved, savedWeights(wasm.detail.directory))).toBeLessThan(1e-4);
    // The best epoch's checkpoint was written from the engine's weights too.
    expect(existsSync(join(ort.detail.directory, 'best', 'model.json'))).toBe(true);
    expect(relativeError(savedWeights(ort.detail.directory, 'best'), savedWeights(wasm.detail.directory, 'best'))).toBeLessThan(1e-4);

    // The dashboard's records: the same steps and, within float32 noise, the same numbers.
    expect(ort.detail.stats.map((s) => s.step)).toEqual(wasm.detail.stats.map((s) => s.step));
    for (const record of ort.detail.stats) StatsRecordSchema.parse(record);
    ort.detail.stats.forEach((record, i) => expectClose(record, wasm.detail.stats[i], 1e-3, `stats[${i}]`));
    // The last record's moving statistics are the saved weights exactly: the engine's were synced.
    for (const bn of ort.detail.stats.at(-1)!.bn) {
      expect(bn.chosen.moving_mean).toEqual(bn.chosen.indices.map((i) => saved.get(`${bn.layer}/moving_mean`)![i]));
    }

    const evaluation = await host.evaluate(ort.detail.summary.runId);
    expect(evaluation.inference.acc).toBeGreaterThan(0.4);
    await expectExportsPredictAsRun(ort.detail.directory, mkdtempSync(join(dataDir, 'export-')), 50);
  });

  it('trains a model its step declines on tfjs, and says why in the step', async () => {
    const frozen = structuredClone(plainMlp);
    frozen.config.layers[1]!.config.trainable = false;
    const run = await train(frozen, 'onnxruntime', { epochs: 1 });
    expect(run.end.type).toBe('finished');
    expect(run.stepKind).toMatch(/\(no ONNX Runtime step: layer dense is frozen\)$/);
    expect(run.detail.summary).toMatchObject({ backend: 'onnxruntime', step: run.stepKind });
    expect(run.losses.every(Number.isFinite)).toBe(true);
  });

  it('puts back the last finite weights when the loss turns NaN', async () => {
    const run = await train(seedModel1, 'onnxruntime', { epochs: 1, learningRate: 1e6, validationSplit: 0 });
    expect(run.end.type).toBe('failed');
    if (run.end.type !== 'failed') return;
    expect(run.end.error).toMatch(/^Training diverged: the loss became/);
    expect(run.detail.hasWeights).toBe(true);
    for (const [name, values] of savedWeights(run.detail.directory)) expect(values.every(Number.isFinite), name).toBe(true);
  });
});
