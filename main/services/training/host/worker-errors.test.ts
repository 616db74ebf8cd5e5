/**
 * A run that fails in the real training worker keeps its error's domain code and class across the
 * worker boundary: in the host's 'failed' event (what the renderer receives) and in the run's file.
 * One failure in the worker's dataset opening (worker.ts), one in the training loop (loop.ts).
 */
import { mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultTrainingSettings, type DatasetSummary, type TrainingSettings } from '../../../../contract';
import { seedModel1 } from '../../../../model/presets';
import { DatasetStore } from '../../datasets/store';
import { writeFmnistCsv } from '../../datasets/test-fixtures';
import { testHost } from './host-test-support';

const t = testHost(['cpu']);
afterAll(() => t.dispose());

async function importCsv(store: DatasetStore, name: string): Promise<DatasetSummary> {
  const path = join(t.dataDir, `${name}.csv`);
  await writeFmnistCsv(path, 100);
  const source = { kind: 'csv' as const, path, labelColumn: 'label', header: 'auto' as const, delimiter: 'auto' as const, reshape: [28, 28] };
  return (await store.import({ importId: name, name, source, skipBad: false }, new AbortController().signal)).dataset;
}

const settings = (dataset: string): TrainingSettings => ({ ...defaultTrainingSettings, dataset, backend: 'cpu', epochs: 1, batchSize: 32, checkpointBest: false });

let store: DatasetStore;
beforeAll(() => {
  store = new DatasetStore(t.dataDir, { fashionMnistSystemDirs: [] });
});

describe('typed errors across the training worker', () => {
  it('a dataset the worker cannot read: invalid-input, DatasetError', async () => {
    const dataset = await importCsv(store, 'cut');
    // Cut after the host's checks (meta.json is intact): the worker finds x.bin shorter than meta.json says.
    truncateSync(join(store.dirOf(dataset.id), 'x.bin'), 100);
    const { runId } = await t.host.start({ spec: seedModel1, settings: settings(dataset.id) });
    const end = await t.ended(runId);
    expect(end).toMatchObject({ type: 'failed', code: 'invalid-input', name: 'DatasetError', error: expect.stringMatching(/x\.bin: size mismatch/) });
    expect((await t.store.get(runId)).summary.failure).toMatchObject({ code: 'invalid-input', name: 'DatasetError' });
  }, 120_000);

  it('weights to start from that are no model, found by the training loop: invalid-input, DomainError', async () => {
    const dataset = await importCsv(store, 'whole');
    const weights = t.store.weightsDir('run-not-weights');
    mkdirSync(weights, { recursive: true });
    writeFileSync(join(weights, 'model.json'), '{}');
    const { runId } = await t.host.start({ spec: seedModel1, settings: settings(dataset.id), initialWeightsFrom: 'run-not-weights' });
    const end = await t.ended(runId);
    expect(end).toMatchObject({ type: 'failed', code: 'invalid-input', name: 'DomainError', error: expect.stringMatching(/is not a TF\.js layers model/) });
  }, 120_000);
});
