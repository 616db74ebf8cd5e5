/**
 * Training on the user's own data: a CSV and a PNG folder written from real Fashion-MNIST images,
 * imported into the real dataset cache, then split, normalized, streamed and trained on in the real
 * worker (wasm), and evaluated on the run's held-out test share.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultTrainingSettings, TrainingEventSchema, type DatasetSummary, type TrainingEvent, type TrainingSettings } from '../../../../contract';
import { seedModel1 } from '../../../../model/presets';
import type { ModelSpec } from '../../../../model/spec';
import { openDatasetDir } from '../../datasets/open';
import { DatasetStore } from '../../datasets/store';
import { writeFmnistCsv, writeFmnistPngFolder } from '../../datasets/test-fixtures';
import { RunStore } from '../../runs/store';
import { TrainingHost } from './host';
import { EpochFeeder, splitRun, standardization } from '../worker/pipeline';

const dataDir = mkdtempSync(join(tmpdir(), 'layerbench-own-data-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const datasets = new DatasetStore(dataDir, { fashionMnistSystemDirs: [] });
let csv: DatasetSummary;
let pngs: DatasetSummary;

beforeAll(async () => {
  const sources = join(dataDir, 'sources');
  await mkdir(sources, { recursive: true });
  await writeFmnistCsv(join(sources, 'fmnist.csv'), 1500, { textLabels: true });
  csv = (
    await datasets.import(
      {
        importId: 'csv',
        name: 'Fashion CSV',
        source: { kind: 'csv', path: join(sources, 'fmnist.csv'), labelColumn: 'label', header: 'auto', delimiter: 'auto', reshape: [28, 28] },
        skipBad: false,
      },
      new AbortController().signal,
    )
  ).dataset;
  await writeFmnistPngFolder(join(sources, 'pngs'), 30, 3);
  pngs = (
    await datasets.import(
      { importId: 'png', name: 'Three classes', source: { kind: 'image-folder', path: join(sources, 'pngs'), width: 14, height: 14, color: 'grayscale' }, skipBad: false },
      new AbortController().signal,
    )
  ).dataset;
}, 120_000);

describe('the run pipeline over an imported dataset', () => {
  it('splits off a test share that does not depend on the subset or the validation split', () => {
    const a = splitRun(1000, { seed: 7, testSplit: 0.2, trainSubset: null, validationSplit: 0.1 }, false);
    const b = splitRun(1000, { seed: 7, testSplit: 0.2, trainSubset: 300, validationSplit: 0.5 }, false);
    expect(a.test.length).toBe(200);
    expect(Array.from(b.test)).toEqual(Array.from(a.test));
    const seen = new Set([...a.train, ...a.validation, ...a.test]);
    expect(seen.size).toBe(1000);
    expect([a.train.length, a.validation.length]).toEqual([720, 80]);
    expect(splitRun(1000, { seed: 7, testSplit: 0.2, trainSubset: null, validationSplit: 0 }, true).test.length).toBe(0);
  });

  it('a streamed source feeds every training sample exactly once an epoch, with the same values as in memory', async () => {
    const inMemory = await openDatasetDir(datasets.dirOf(csv.id), { memoryBudgetBytes: 1 << 30 });
    const streamed = await openDatasetDir(datasets.dirOf(csv.id), { memoryBudgetBytes: 0 });
    expect([inMemory.pool.streamed, streamed.pool.streamed]).toEqual([false, true]);
    const { train } = splitRun(csv.count, { seed: 3, testSplit: 0.1, trainSubset: null, validationSplit: 0.1 }, false);
    const norm = await standardization(streamed.pool, train);
    expect(norm).toEqual(await standardization(inMemory.pool, train));
    // A sample is identified by its (normalized) values' checksum and its label.
    const fingerprints = async (feeder: EpochFeeder, epoch: number) => {
      const out: string[] = [];
      for await (const { x, y, n } of feeder.batches(epoch)) {
        for (let i = 0; i < n; i++) {
          let sum = 0;
          for (let p = 0; p < 784; p++) sum += x[i * 784 + p]! * (p + 1);
          out.push(`${y[i]}:${sum.toFixed(3)}`);
        }
      }
      return out;
    };
    const memoryFeeder = new EpochFeeder(inMemory.pool, train, norm, 32, 3);
    // Kept normalized between epochs or read again each epoch: the same batches, bit for bit.
    const batchesOf = async (feeder: EpochFeeder, epoch: number) => {
      const xs: number[] = [];
      const ys: number[] = [];
      for await (const { x, y } of feeder.batches(epoch)) {
        xs.push(...x);
        ys.push(...y);
      }
      return { xs: Float32Array.from(xs), ys };
    };
    const unkept = new EpochFeeder(inMemory.pool, train, norm, 32, 3, { cacheBytes: 0 });
    // An engine that holds 3 batches after their step: a ring of 4, each batch left alone for the next 3 (epochs go on counting).
    const ringFeeder = new EpochFeeder(inMemory.pool, train, norm, 32, 3, { heldBatches: 3 });
    for (const epoch of [0, 1]) {
      const [kept, read, ringed] = [await batchesOf(memoryFeeder, epoch), await batchesOf(unkept, epoch), await batchesOf(ringFeeder, epoch)];
      expect(kept.ys).toEqual(read.ys);
      expect(ringed.ys).toEqual(read.ys);
      expect(Buffer.from(kept.xs.buffer).equals(Buffer.from(read.xs.buffer))).toBe(true);
      expect(Buffer.from(ringed.xs.buffer).equals(Buffer.from(read.xs.buffer))).toBe(true);
    }
    const recent: { x: Float32Array; copy: Float32Array; keptFor: number | undefined }[] = [];
    for (const epoch of [2, 3]) {
      for await (const { x, keptFor } of ringFeeder.batches(epoch)) {
        recent.push({ x, copy: x.slice(), keptFor });
        // The 3 batches before this one are as they were yielded; the one before them was overwritten by this one.
        for (const held of recent.slice(-4, -1)) expect(held.x).toEqual(held.copy);
        const reused = recent.at(-5);
        if (reused) expect(reused.x.buffer).toBe(x.buffer);
      }
    }
    expect(recent.length).toBe(2 * ringFeeder.batchesPerEpoch);
    expect(new Set(recent.map((b) => b.keptFor))).toEqual(new Set([3]));
    const streamFeeder = new EpochFeeder(streamed.pool, train, norm, 32, 3);
    const [m0, s0, s1] = [await fingerprints(memoryFeeder, 0), await fingerprints(streamFeeder, 0), await fingerprints(streamFeeder, 1)];
    expect(s0.length).toBe(train.length);
    expect([...s0].sort()).toEqual([...m0].sort());
    expect(s1).not.toEqual(s0); // reshuffled each epoch
    expect(streamFeeder.batchesPerEpoch).toBe(Math.ceil(train.length / 32));
    await Promise.all([inMemory.pool.close(), streamed.pool.close()]);
  }, 60_000);
});

describe('training on imported data in the worker', () => {
  const events: TrainingEvent[] = [];
  const runs = new RunStore(dataDir);
  const host = new TrainingHost({ dataDir, backends: ['wasm'], runs, onEvent: (e) => events.push(TrainingEventSchema.parse(e)) });
  afterAll(() => host.dispose());

  async function run(spec: ModelSpec, settings: Partial<TrainingSettings>) {
    const { runId } = await host.start({ spec, settings: { ...defaultTrainingSettings, ...settings } });
    for (let waited = 0; waited < 120_000; waited += 20) {
      const end = events.find((e) => e.runId === runId && ['finished', 'failed', 'stopped'].includes(e.type));
      if (end) return { runId, end, detail: await runs.get(runId), of: events.filter((e) => e.runId === runId) };
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('run did not end');
  }

  it('trains on the CSV (standardized, 10% test share), learns, and evaluates on the held-out test share', async () => {
    const r = await run(seedModel1, { dataset: csv.id, normalization: 'standardize', testSplit: 0.1, validationSplit: 0.1, trainSubset: null, epochs: 3 });
    expect(r.end.type).toBe('finished');
    const started = r.of.find((e) => e.type === 'started');
    expect(started).toMatchObject({ trainSamples: 1215, validationSamples: 135 });
    expect(r.detail.epochs.at(-1)!.val_acc).toBeGreaterThan(0.6);
    const evaluation = await host.evaluate(r.runId);
    expect(evaluation.samples).toBe(150);
    expect(evaluation.classNames).toEqual([...csv.classNames]);
    expect(evaluation.inference.acc).toBeGreaterThan(0.6);
    expect(evaluation.examples[0]!.shape).toEqual([28, 28, 1]);
    // The CSV's text labels are the class names, sorted.
    expect(csv.classNames).toEqual([...csv.classNames].sort());
  }, 180_000);

  it('trains a 14×14×1, 3-class image folder once the model fits it, and refuses it with the mismatch when it does not', async () => {
    // Refused before a run exists, with what the builder shows at the layers (the dataset's meta.json gives its shape).
    await expect(run(seedModel1, { dataset: pngs.id, trainSubset: null, epochs: 1 })).rejects.toMatchObject({
      code: 'invalid-input',
      message:
        "The model cannot be trained on Three classes: flatten (layer 0): input shape 28×28 does not match Three classes's samples (14×14×1); dense_2 (layer 6): 10 units, but Three classes has 3 classes: the output must be (None, 3)",
    });

    const fitted = structuredClone(seedModel1);
    fitted.config.layers[0]!.config.batch_input_shape = [null, 14, 14, 1];
    fitted.config.layers.at(-1)!.config.units = 3;
    const r = await run(fitted, { dataset: pngs.id, trainSubset: null, validationSplit: 0.2, testSplit: 0.2, epochs: 5, batchSize: 8 });
    expect(r.end.type).toBe('finished');
    expect(r.detail.epochs.at(-1)!.loss).toBeLessThan(r.detail.epochs[0]!.loss);
    const evaluation = await host.evaluate(r.runId);
    expect(evaluation.confusion).toHaveLength(3);
    expect(evaluation.samples).toBe(18);
  }, 180_000);

  it('a streamed dataset (over the memory budget) trains, validates and evaluates chunk by chunk from disk', async () => {
    await host.backends(); // this host's worker starts now, with the default budget: it holds datasets in memory
    const before = process.env.LAYERBENCH_DATASET_MEMORY_BUDGET;
    process.env.LAYERBENCH_DATASET_MEMORY_BUDGET = '0'; // the streamed host's worker reads it when it starts
    const streamedEvents: TrainingEvent[] = [];
    const streamedHost = new TrainingHost({ dataDir, backends: ['wasm'], runs, onEvent: (e) => streamedEvents.push(TrainingEventSchema.parse(e)) });
    try {
      const settings = { ...defaultTrainingSettings, dataset: csv.id, normalization: 'standardize' as const, testSplit: 0.1, validationSplit: 0.1, trainSubset: null, epochs: 2 };
      const { runId } = await streamedHost.start({ spec: seedModel1, settings });
      for (let waited = 0; !streamedEvents.some((e) => e.runId === runId && e.type === 'finished'); waited += 20) {
        if (waited > 120_000 || streamedEvents.some((e) => e.runId === runId && e.type === 'failed')) throw new Error(JSON.stringify(streamedEvents.at(-1)));
        await new Promise((r) => setTimeout(r, 20));
      }
      const detail = await runs.get(runId);
      expect(detail.epochs.map((e) => e.val_acc! > 0.3)).toEqual([true, true]);
      // The same saved weights scored on the test share twice: streamed (chunk by chunk from disk)
      // and in memory (the other host): the same numbers.
      const streamed = await streamedHost.evaluate(runId);
      const inMemory = await host.evaluate(runId);
      expect(streamed.samples).toBe(150);
      expect(Math.abs(streamed.inference.loss - inMemory.inference.loss)).toBeLessThan(1e-5);
      expect(Math.abs(streamed.training.loss - inMemory.training.loss)).toBeLessThan(1e-5);
      expect(streamed.confusion).toEqual(inMemory.confusion);
      expect(streamed.examples.map((e) => e.index)).toEqual(inMemory.examples.map((e) => e.index));
    } finally {
      if (before === undefined) delete process.env.LAYERBENCH_DATASET_MEMORY_BUDGET;
      else process.env.LAYERBENCH_DATASET_MEMORY_BUDGET = before;
      await streamedHost.dispose();
    }
  }, 240_000);

  it('refuses a dataset that is not imported, at the start', async () => {
    await expect(host.start({ spec: seedModel1, settings: { ...defaultTrainingSettings, dataset: 'user-gone-000000' } })).rejects.toThrow(
      /Dataset user-gone-000000 is not imported here/,
    );
  });
});
