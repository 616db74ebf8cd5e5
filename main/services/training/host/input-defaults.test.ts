/**
 * The input defaults on real data: an iris-shaped CSV (a text species column, float features in
 * −3.8…6.6) scanned, imported and trained in the real worker with its default normalization and
 * test share, against ÷255; and real Fashion-MNIST, whose bytes keep ÷255.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  defaultNormalization,
  defaultTrainingSettings,
  normalizationWarnings,
  TrainingEventSchema,
  type DatasetSummary,
  type TrainingEvent,
  type TrainingSettings,
} from '../../../../contract';
import { plainMlp, seluMlp } from '../../../../model/presets';
import type { ModelSpec } from '../../../../model/spec';
import { scanSource } from '../../datasets/scan';
import { DatasetStore } from '../../datasets/store';
import { idxBytes, realImages } from '../../datasets/test-fixtures';
import { RunStore } from '../../runs/store';
import { TrainingHost } from './host';

const dataDir = mkdtempSync(join(tmpdir(), 'layerbench-input-defaults-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
const datasets = new DatasetStore(dataDir);

const SPECIES = ['setosa', 'versicolor', 'virginica'];
const FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
/** Class means per feature: overlapping, on different scales, one feature negative. */
const MEANS = [
  [5.0, 3.4, -2.2, 0.2],
  [5.9, 2.8, 0.3, 1.3],
  [6.1, 3.0, 2.4, 2.0],
];

/** 50 rows per species, normal noise from a seeded generator (mulberry32 + Box–Muller). */
function irisShapedCsv(): string {
  let state = 20_26;
  const uniform = () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  const lines = [[...FEATURES, 'species'].join(',')];
  for (let i = 0; i < 150; i++) {
    const c = i % 3;
    lines.push([...MEANS[c]!.map((m) => (m + 0.45 * normal()).toFixed(2)), SPECIES[c]].join(','));
  }
  return `${lines.join('\n')}\n`;
}

/** An MLP for 4 features and 3 classes: plainMlp without its Flatten, its output resized. */
function irisModel(): ModelSpec {
  const spec = structuredClone(plainMlp);
  spec.config.layers.shift();
  spec.config.layers[0]!.config.batch_input_shape = [null, 4];
  spec.config.layers.at(-1)!.config.units = 3;
  return spec;
}

let iris: DatasetSummary;
let labelColumn: number;

beforeAll(async () => {
  const path = join(dataDir, 'iris.csv');
  await writeFile(path, irisShapedCsv());
  const scan = await scanSource({ kind: 'csv', path, labelColumn: 0, header: 'auto', delimiter: 'auto', reshape: null });
  labelColumn = scan.suggestedLabelColumn!;
  expect(scan.suggestedReshape).toBeUndefined(); // 4 measurements are no 2×2 picture
  iris = (
    await datasets.import(
      { importId: 'iris', name: 'Iris-shaped', source: { kind: 'csv', path, labelColumn, header: 'auto', delimiter: 'auto', reshape: null }, skipBad: false },
      new AbortController().signal,
    )
  ).dataset;
}, 60_000);

describe('an iris-shaped CSV', () => {
  it('is labelled by its text column, keeps the header names, and lists its value range', async () => {
    expect(labelColumn).toBe(4);
    expect(iris.classNames).toEqual(SPECIES);
    expect(iris.featureNames).toEqual(FEATURES);
    const listed = (await datasets.list()).datasets.find((d) => d.id === iris.id)!;
    expect(listed.featureNames).toEqual(FEATURES);
    expect(listed.valueRange).toEqual(iris.valueRange);
    expect(iris.valueRange!.min).toBeLessThan(-3);
    expect(iris.valueRange!.max).toBeGreaterThan(6);
  });

  it('defaults to standardize, and warns when ÷255 is chosen for values outside 0…255', () => {
    expect(defaultNormalization(iris)).toBe('standardize');
    expect(normalizationWarnings('standardize', iris, irisModel())).toEqual([]);
    const [warning, ...rest] = normalizationWarnings('scale-255', iris, irisModel());
    expect(rest).toEqual([]);
    expect(warning).toMatch(/^÷255 is meant for pixel values 0…255, but Iris-shaped's values run -\d\.\d+…\d\.\d+: standardize them instead$/);
  });

  describe('trained in the worker with the default settings', () => {
    const events: TrainingEvent[] = [];
    const runs = new RunStore(dataDir);
    const host = new TrainingHost({ dataDir, backends: ['wasm'], runs, onEvent: (e) => events.push(TrainingEventSchema.parse(e)) });
    afterAll(() => host.dispose());

    async function train(settings: Partial<TrainingSettings>) {
      const { runId } = await host.start({
        spec: irisModel(),
        settings: { ...defaultTrainingSettings, dataset: iris.id, trainSubset: null, epochs: 10, batchSize: 16, ...settings },
      });
      for (let waited = 0; waited < 120_000; waited += 20) {
        const end = events.find((e) => e.runId === runId && ['finished', 'failed', 'stopped'].includes(e.type));
        if (end) return { runId, end, detail: await runs.get(runId) };
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error('run did not end');
    }

    it('learns with the default (standardize) where ÷255 does not, and evaluates on the default 10% test share', async () => {
      const standardized = await train({ normalization: defaultNormalization(iris) });
      const scaled = await train({ normalization: 'scale-255' });
      expect([standardized.end, scaled.end].map((e) => (e.type === 'failed' ? e.error : e.type))).toEqual(['finished', 'finished']);
      const valAcc = (r: typeof standardized) => r.detail.epochs.at(-1)!.val_acc!;
      expect(valAcc(standardized)).toBeGreaterThan(0.85);
      expect(valAcc(scaled)).toBeLessThan(valAcc(standardized) - 0.2);
      // No test split was set: the default 10% of 150 samples is held out, so Evaluate works.
      expect(standardized.detail.settings.testSplit).toBe(0.1);
      const evaluation = await host.evaluate(standardized.runId);
      expect(evaluation.samples).toBe(15);
      expect(evaluation.inference.acc).toBeGreaterThan(0.7);
    }, 180_000);
  });
});

describe('real Fashion-MNIST', () => {
  it('keeps ÷255, built in or imported as IDX bytes; a SELU model on it is warned about', async () => {
    const data = await realImages();
    const range = data.images.reduce((r, v) => ({ min: Math.min(r.min, v), max: Math.max(r.max, v) }), { min: 255, max: 0 });
    const builtin = (await datasets.list()).datasets[0]!;
    expect(builtin.valueRange).toEqual(range); // the summary's claim holds for the real files
    expect(defaultNormalization(builtin)).toBe('scale-255');

    const images = join(dataDir, 'fm-images.idx');
    const labels = join(dataDir, 'fm-labels.idx');
    await writeFile(images, idxBytes([500, 28, 28], data.images.subarray(0, 500 * 784)));
    await writeFile(labels, idxBytes([500], data.labels.subarray(0, 500)));
    const { dataset } = await datasets.import(
      { importId: 'fm', name: 'FM 500', source: { kind: 'idx', imagesPath: images, labelsPath: labels }, skipBad: false },
      new AbortController().signal,
    );
    expect(dataset).toMatchObject({ dtype: 'uint8', sampleShape: [28, 28] });
    expect(defaultNormalization(dataset)).toBe('scale-255');
    expect(normalizationWarnings('scale-255', dataset, plainMlp)).toEqual([]);
    expect(normalizationWarnings('scale-255', dataset, seluMlp)).toEqual([
      'selu_self_normalizing uses SELU, which self-normalizes only on standardized inputs (mean 0, std 1): choose "standardize"',
    ]);
    expect(normalizationWarnings('standardize', dataset, seluMlp)).toEqual([]);
  });
});
