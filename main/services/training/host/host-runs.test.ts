/**
 * Runs end to end: the host with its real worker thread (real tfjs, wasm backend, real
 * Fashion-MNIST) and the real runs workspace — the statistics stream against the saved weights,
 * persistence at full resolution under a rate-limited UI stream, divergence, a killed worker,
 * seeds, pause/resume, and evaluation of the saved weights.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { BatchRecord, StatsRecord, TrainingEvent, TrainingSettings } from '../../../../contract';
import { defaultTrainingSettings, EvaluationSchema, TrainingEventSchema } from '../../../../contract';
import { plainMlp, seedModel1, seluMlp } from '../../../../model/presets';
import type { ModelSpec } from '../../../../model/spec';
import { RunStore } from '../../runs/store';
import { TrainingHost } from './host';
import { binned, summarize } from '../worker/stats';

const dataDir = mkdtempSync(join(tmpdir(), 'layerbench-runs-host-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const store = new RunStore(dataDir);
const events: { event: TrainingEvent; t: number }[] = [];
const host = new TrainingHost({
  dataDir,
  backends: ['wasm'],
  runs: store,
  onEvent: (event) => {
    // Everything the UI gets must be on-contract.
    TrainingEventSchema.parse(event);
    events.push({ event, t: performance.now() });
  },
});
afterAll(() => host.dispose());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const of = (runId: string) => events.filter((e) => e.event.runId === runId);
const isEnd = (e: TrainingEvent) => e.type === 'finished' || e.type === 'failed' || e.type === 'stopped';

async function until<T>(what: string, probe: () => T | undefined | null | false, timeoutMs = 60_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (performance.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(10);
  }
}

const ended = (runId: string) => until(`the end of ${runId}`, () => of(runId).find((e) => isEnd(e.event))?.event);
const streamedBatches = (runId: string): BatchRecord[] => of(runId).flatMap(({ event }) => (event.type === 'batches' ? event.batches : []));
const streamedStats = (runId: string): StatsRecord[] => of(runId).flatMap(({ event }) => (event.type === 'stats' ? event.records : []));

function train(spec: ModelSpec, settings: Partial<TrainingSettings>) {
  return host.start({ spec, settings: { ...defaultTrainingSettings, validationSplit: 0, ...settings } });
}

/** Every line of a JSON-lines file parses. */
function jsonLines(path: string): unknown[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as unknown);
}

/** A saved weight's values, read straight from weights.bin through model.json's manifest. */
function savedWeight(weightsDir: string, name: string): Float32Array {
  const modelJson = JSON.parse(readFileSync(join(weightsDir, 'model.json'), 'utf8')) as {
    weightsManifest: { paths: string[]; weights: { name: string; shape: number[]; dtype: string }[] }[];
  };
  const group = modelJson.weightsManifest[0]!;
  expect(group.paths).toEqual(['weights.bin']);
  const bin = readFileSync(join(weightsDir, 'weights.bin'));
  let offset = 0;
  for (const spec of group.weights) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    expect(spec.dtype).toBe('float32');
    if (spec.name === name) return new Float32Array(bin.buffer.slice(bin.byteOffset + offset, bin.byteOffset + offset + size * 4));
    offset += size * 4;
  }
  throw new Error(`${name} is not in ${weightsDir}/model.json`);
}

describe('TrainingHost with the runs workspace', () => {
  let finishedRunId = '';

  it("streams, without chosen BN features, each layer's 4 highest-variance features, the same all run long", async () => {
    const { runId } = await train(seedModel1, { epochs: 1, batchSize: 32, trainSubset: 320, statsEvery: 3, bnFeatures: null });
    expect(await ended(runId)).toEqual({ type: 'finished', runId });
    const stats = streamedStats(runId);
    expect(stats.length).toBeGreaterThan(2);
    const first = stats[0]!.bn;
    for (const bn of first) {
      expect(bn.chosen.indices).toHaveLength(4);
      // Chosen at the first statistics step: the largest batch variances of that step.
      expect(Math.max(...bn.chosen.batch_variance)).toBe(bn.batch_variance.max);
      expect(Math.min(...bn.chosen.batch_variance)).toBeGreaterThanOrEqual(bn.batch_variance.p95);
      for (const later of stats) expect(later.bn.find((b) => b.layer === bn.layer)!.chosen.indices).toEqual(bn.chosen.indices);
    }
    // The input BN's features 0–3 are Fashion-MNIST's corner pixels, black in every image: never picked.
    expect(first[0]!.chosen.indices.some((i) => i < 4)).toBe(false);
  });

  it('streams BN statistics that match the saved weights, persists every batch, keeps the UI under 25 updates/s', async () => {
    const { runId } = await train(seedModel1, { epochs: 1, batchSize: 32, learningRate: 0.01, trainSubset: 2000, statsEvery: 5, bnFeatures: [0, 1, 2, 3, 299, 5000] });
    finishedRunId = runId;
    expect(await ended(runId)).toEqual({ type: 'finished', runId });

    const detail = await store.get(runId);
    expect(detail.summary).toMatchObject({ status: 'finished', batchesDone: 63, epochsDone: 1, backend: 'wasm' });
    expect(detail.hasWeights).toBe(true);
    // The file holds every batch; the UI stream, coalesced, holds them too.
    const lines = jsonLines(join(detail.directory, 'metrics.jsonl')) as { kind: string }[];
    expect(lines.filter((l) => l.kind === 'batch')).toHaveLength(63);
    expect(detail.batches.map((b) => b.step)).toEqual(Array.from({ length: 63 }, (_, i) => i));
    expect(streamedBatches(runId)).toEqual(detail.batches);
    expect(detail.epochs[0]).toMatchObject({ epoch: 0, learningRate: 0.01 });

    // Statistics every 5 steps, plus the epoch's last step; all persisted, all streamed.
    const stats = streamedStats(runId);
    expect(stats.map((s) => s.step)).toEqual([...Array.from({ length: 13 }, (_, i) => i * 5), 62]);
    expect(jsonLines(join(detail.directory, 'stats.jsonl'))).toHaveLength(stats.length);
    expect(detail.stats).toEqual(stats);

    // The last record's moving statistics are the saved weights, exactly.
    const last = stats[stats.length - 1]!;
    expect(last.bn.map((b) => [b.layer, b.features, b.momentum])).toEqual([
      ['batch_normalization', 784, 0.99],
      ['batch_normalization_1', 300, 0.99],
      ['batch_normalization_2', 100, 0.99],
    ]);
    for (const bn of last.bn) {
      const movingMean = savedWeight(detail.directory + '/weights', `${bn.layer}/moving_mean`);
      const movingVariance = savedWeight(detail.directory + '/weights', `${bn.layer}/moving_variance`);
      expect(bn.chosen.indices).toEqual([0, 1, 2, 3, 299].filter((i) => i < bn.features));
      expect(bn.chosen.moving_mean).toEqual(bn.chosen.indices.map((i) => movingMean[i]));
      expect(bn.chosen.moving_variance).toEqual(bn.chosen.indices.map((i) => movingVariance[i]));
      expect(bn.moving_mean).toEqual(summarize(movingMean));
      expect(bn.moving_variance).toEqual(summarize(movingVariance));
      expect(bn.moving_mean_bins).toEqual(binned(movingMean));
      expect(bn.moving_mean_bins.length).toBe(Math.min(128, bn.features));
      // Training mode updated the moving statistics (they start at 0 and 1).
      expect(bn.moving_mean.max).toBeGreaterThan(0);
    }
    // The first BN sees raw pixels in [0, 1]: its batch mean is the pixel mean (~0.29 for Fashion-MNIST).
    expect(last.bn[0]!.batch_mean.mean).toBeGreaterThan(0.2);
    expect(last.bn[0]!.batch_mean.mean).toBeLessThan(0.4);
    expect(last.bn[0]!.batch_variance.min).toBeGreaterThanOrEqual(0);

    const dense = last.layers.find((l) => l.layer === 'dense')!;
    expect(dense).toMatchObject({ activation: 'elu' });
    expect(dense.grad_norm).toBeGreaterThan(0);
    expect(dense.weight_norm).toBeGreaterThan(0);
    expect(dense.update_ratio).toBeGreaterThan(0);
    expect(dense.update_ratio).toBeLessThan(0.1);
    expect(dense.saturation).toBeGreaterThanOrEqual(0);
    expect(dense.saturation).toBeLessThanOrEqual(1);
    expect(last.layers.find((l) => l.layer === 'dense_2')).toMatchObject({ activation: 'softmax' });
    expect(last.layers.find((l) => l.layer === 'batch_normalization')?.grad_norm).toBeGreaterThan(0);

    // The UI saw at most ~20 updates (batches + stats events) a second, in any one-second window.
    const updates = of(runId)
      .filter((e) => e.event.type === 'batches' || e.event.type === 'stats')
      .map((e) => e.t);
    const busiest = Math.max(...updates.map((t) => updates.filter((u) => u >= t && u < t + 1000).length));
    expect(busiest).toBeLessThanOrEqual(25);
    const span = (updates[updates.length - 1]! - updates[0]!) / 1000;
    expect(updates.length / Math.max(1, span)).toBeLessThanOrEqual(25);
  });

  it('evaluates the saved weights on the 10,000 test images, in inference and in training mode', async () => {
    const evaluation = EvaluationSchema.parse(await host.evaluate(finishedRunId));
    expect(evaluation.samples).toBe(10_000);
    expect(evaluation.inference.acc).toBeGreaterThan(0.6);
    expect(evaluation.training.acc).toBeGreaterThan(0.5);
    expect(evaluation.inference.acc).not.toBe(evaluation.training.acc);
    expect(evaluation.confusion.flat().reduce((a, b) => a + b, 0)).toBe(10_000);
    expect(evaluation.confusion.map((row) => row.reduce((a, b) => a + b, 0))).toEqual(new Array(10).fill(1000));
    const diagonal = evaluation.confusion.reduce((sum, row, i) => sum + row[i]!, 0);
    expect(diagonal / 10_000).toBeCloseTo(evaluation.inference.acc, 10);
    expect(evaluation.classNames[9]).toBe('Ankle boot');
    expect(evaluation.examples).toHaveLength(24);
    for (const example of evaluation.examples) {
      expect(Buffer.from(example.pixels, 'base64')).toHaveLength(784);
      expect(example.confidence).toBeGreaterThan(0);
      expect(example.confidence).toBeLessThanOrEqual(1);
    }
    expect(evaluation.examples.some((e) => e.predicted !== e.label)).toBe(true);
    // Evaluating changed nothing on disk: a second evaluation gives the same numbers.
    const again = await host.evaluate(finishedRunId);
    expect(again.inference).toEqual(evaluation.inference);
    expect(again.training).toEqual(evaluation.training);
  });

  it('stops a diverging run (learning rate 1e6) as failed, with the cause, files intact', async () => {
    const { runId } = await train(seedModel1, { epochs: 1, learningRate: 1e6, trainSubset: 640 });
    const end = await ended(runId);
    expect(end.type).toBe('failed');
    if (end.type !== 'failed') return;
    expect(end.error).toMatch(/^Training diverged: the loss became (NaN|[+−]∞)/);
    expect(end.divergence).toBeDefined();
    expect(end.divergence!.lastFiniteLoss).toEqual(expect.any(Number));
    expect(end.divergence!.likelyCauses[0]).toMatch(/^Learning rate too high: 1,000,000 is far above .*; try 0\.01\./);

    const detail = await store.get(runId);
    expect(detail.summary.status).toBe('failed');
    expect(detail.summary.failure).toEqual({ error: end.error, divergence: end.divergence });
    const runJson = JSON.parse(readFileSync(join(detail.directory, 'run.json'), 'utf8')) as { summary: { status: string } };
    expect(runJson.summary.status).toBe('failed');
    const lines = (jsonLines(join(detail.directory, 'metrics.jsonl')) as { kind: string; step: number; loss: unknown }[]).filter((l) => l.kind === 'batch');
    // Every finite batch, then the diverged one with its loss as written ("NaN").
    expect(lines.map((l) => l.step)).toEqual(Array.from({ length: end.divergence!.step + 1 }, (_, i) => i));
    expect(lines[lines.length - 1]!.loss).toMatch(/^(NaN|-?Infinity)$/);
    expect(detail.batches).toHaveLength(end.divergence!.step);
    // The last finite weights were saved.
    expect(detail.hasWeights).toBe(true);
    expect(savedWeight(join(detail.directory, 'weights'), 'dense/kernel').every(Number.isFinite)).toBe(true);
  });

  it('marks a run interrupted when its worker is killed mid-epoch, and starts the next run in a fresh worker', async () => {
    const { runId } = await train(seedModel1, { epochs: 20, trainSubset: 2000 });
    await until('10 batches', () => streamedBatches(runId).length >= 10);
    await host.killWorkerForTest();
    const end = await ended(runId);
    expect(end).toMatchObject({ type: 'failed', error: expect.stringMatching(/stopped unexpectedly/) });

    const detail = await store.get(runId);
    expect(detail.summary.status).toBe('interrupted');
    expect(detail.summary.failure?.error).toMatch(/stopped unexpectedly/);
    expect(JSON.parse(readFileSync(join(detail.directory, 'run.json'), 'utf8'))).toMatchObject({ summary: { status: 'interrupted' } });
    const lines = (jsonLines(join(detail.directory, 'metrics.jsonl')) as { kind: string }[]).filter((l) => l.kind === 'batch');
    expect(lines.length).toBeGreaterThanOrEqual(10);
    expect(detail.batches.length).toBe(lines.length);
    jsonLines(join(detail.directory, 'stats.jsonl'));
    expect(existsSync(join(detail.directory, 'weights', 'model.json'))).toBe(false);

    const next = await train(seedModel1, { epochs: 1, trainSubset: 320 });
    expect(await ended(next.runId)).toEqual({ type: 'finished', runId: next.runId });
    expect((await store.get(next.runId)).summary.status).toBe('finished');
  });

  it('reproduces a run from its seed: same first-epoch losses (initializers, shuffling and dropout seeded)', async () => {
    const losses = async (spec: ModelSpec, seed: number) => {
      const { runId } = await train(spec, { epochs: 1, trainSubset: 640, seed });
      expect((await ended(runId)).type).toBe('finished');
      return (await store.get(runId)).batches.map((b) => b.loss);
    };
    // seluMlp has AlphaDropout: its masks are drawn from the run seed too.
    const a = await losses(seluMlp, 7);
    const b = await losses(seluMlp, 7);
    expect(a).toHaveLength(20);
    expect(b).toEqual(a);
    const c = await losses(seluMlp, 8);
    expect(c).not.toEqual(a);
    expect(await losses(seedModel1, 7)).toEqual(await losses(seedModel1, 7));
  });

  it('pauses between batches (the batch counter stops), resumes, and stops while paused', async () => {
    const { runId } = await train(plainMlp, { epochs: 50, trainSubset: 2000 });
    await until('some batches', () => streamedBatches(runId).length >= 5);
    expect(await host.pause(runId)).toEqual({ paused: true });
    expect(await host.pause(runId)).toEqual({ paused: false });
    await until('paused', () => of(runId).some((e) => e.event.type === 'paused'));
    const atPause = streamedBatches(runId).length;
    await sleep(600);
    expect(streamedBatches(runId).length).toBe(atPause);
    expect((await store.get(runId)).summary).toMatchObject({ status: 'paused', batchesDone: atPause });

    expect(await host.resume(runId)).toEqual({ resumed: true });
    await until('resumed', () => of(runId).some((e) => e.event.type === 'resumed'));
    await until('more batches', () => streamedBatches(runId).length > atPause + 5);
    expect((await store.get(runId)).summary.status).toBe('running');
    const steps = streamedBatches(runId).map((b) => b.step);
    expect(steps).toEqual(Array.from({ length: steps.length }, (_, i) => i));

    await host.pause(runId);
    await until('paused again', () => of(runId).filter((e) => e.event.type === 'paused').length === 2);
    expect(await host.stop(runId)).toEqual({ stopped: true });
    expect(await ended(runId)).toEqual({ type: 'stopped', runId });
    const detail = await store.get(runId);
    expect(detail.summary.status).toBe('stopped');
    expect(detail.hasWeights).toBe(true);
    const order = of(runId).map((e) => e.event.type);
    expect(order.indexOf('paused')).toBeLessThan(order.indexOf('resumed'));
    expect(order[order.length - 1]).toBe('stopped');
  });
});
