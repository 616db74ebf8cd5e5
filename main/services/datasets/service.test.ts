/** The datasets commands through createServices().dispatch: contract validation, events, cancel. */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { deserializeError, type CommandName, type CommandRequest, type CommandResponse, type EventPayload, type Result } from '../../../contract';
import { createServices, type Services } from '../index';
import { defaultTrainingSettings } from '../../../contract';
import { seedModel1 } from '../../../model/presets';
import { isCancelledImport } from '../../../renderer/lib/datasets';
import { DatasetService } from './service';
import { TEMP_PREFIX } from './writer';
import { writeFmnistCsv, writeFmnistPngFolder } from './test-fixtures';

let scratch: string;
let services: Services;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'layerbench-dsvc-'));
  services = createServices({ host: 'browser', dataDir: join(scratch, 'data') });
});
afterAll(async () => {
  await services.dispose();
  await rm(scratch, { recursive: true, force: true });
});

/** The error of a failed result as the renderer receives it. */
const unwrapError = (result: Result) => deserializeError(result.ok ? null : result.error);

async function ok<N extends CommandName>(name: N, payload: CommandRequest<N>): Promise<CommandResponse<N>> {
  const result = await services.dispatch(name, payload);
  if (!result.ok) throw new Error(`${name}: ${result.error.code}: ${result.error.message}`);
  return result.value as CommandResponse<N>;
}

describe('datasets commands', () => {
  it('scan → import → list → preview → delete', async () => {
    const folder = join(scratch, 'png');
    await writeFmnistPngFolder(folder, 4, 3);
    const source = { kind: 'image-folder', path: folder, width: 28, height: 28 } as const;
    expect(await ok('datasets.scan', { source })).toEqual({
      kind: 'image-folder',
      classes: [
        { name: 'Pullover', files: 4 },
        { name: 'T-shirt-top', files: 4 },
        { name: 'Trouser', files: 4 },
      ],
    });

    const events: EventPayload<'datasets.importProgress'>[] = [];
    const off = services.onEvent((name, payload) => {
      if (name === 'datasets.importProgress') events.push(payload as EventPayload<'datasets.importProgress'>);
    });
    const { dataset, skippedItems } = await ok('datasets.import', { importId: 'imp-1', name: 'Clothes', source, skipBad: false });
    off();
    expect(skippedItems).toEqual([]);
    expect(dataset).toMatchObject({ kind: 'image-folder', count: 12, sampleShape: [28, 28, 1], classNames: ['Pullover', 'T-shirt-top', 'Trouser'] });
    expect(events.every((e) => e.importId === 'imp-1')).toBe(true);
    expect(events.at(-1)).toEqual({ importId: 'imp-1', phase: 'done', done: 12, total: 12, skipped: 0 });

    const listed = await ok('datasets.list', {});
    expect(listed.datasets.map((d: { id: string }) => d.id)).toEqual(['fashion-mnist', dataset.id]);
    expect(listed.unreadable).toEqual([]);

    const preview = await ok('datasets.preview', { id: dataset.id });
    expect(preview.classCounts).toEqual([4, 4, 4]);
    expect(preview.samples).toHaveLength(12);
    expect(Buffer.from(preview.samples[0]!.pixels!, 'base64')).toHaveLength(784);

    expect(await ok('datasets.delete', { id: dataset.id })).toEqual({ deleted: true });
    expect((await ok('datasets.list', {})).datasets).toHaveLength(1);
    const gone = await services.dispatch('datasets.preview', { id: dataset.id });
    expect(gone).toMatchObject({ ok: false, error: { code: 'not-found', message: expect.stringContaining(`Unknown dataset "${dataset.id}"`) } });
  });

  it('rejects invalid requests at the boundary and reports bad input with file and line', async () => {
    const bad = await services.dispatch('datasets.import', { importId: 'x', name: '', source: { kind: 'csv', path: '/x.csv', labelColumn: -1 }, skipBad: false });
    expect(bad).toMatchObject({ ok: false, error: { code: 'invalid-request' } });
    const missing = join(scratch, 'missing.csv');
    const failed = await services.dispatch('datasets.import', { importId: 'x', name: 'n', source: { kind: 'csv', path: missing, labelColumn: 0 }, skipBad: false });
    expect(failed).toMatchObject({ ok: false, error: { code: 'not-found', message: expect.stringContaining(`${missing}: no such file`) } });
  });

  it('datasets.cancelImport stops an import in flight and leaves nothing', async () => {
    const path = join(scratch, 'big.csv');
    await writeFmnistCsv(path, 4000);
    expect(await ok('datasets.cancelImport', { importId: 'nothing-running' })).toEqual({ cancelled: false });
    let cancel: Promise<unknown> | null = null;
    const off = services.onEvent((name, payload) => {
      const p = payload as EventPayload<'datasets.importProgress'>;
      if (name === 'datasets.importProgress' && p.phase === 'reading' && !cancel) cancel = ok('datasets.cancelImport', { importId: 'big' });
    });
    const result = await services.dispatch('datasets.import', { importId: 'big', name: 'Big', source: { kind: 'csv', path, labelColumn: 'label' }, skipBad: false });
    off();
    expect(await cancel).toEqual({ cancelled: true });
    expect(result).toEqual({ ok: false, error: { code: 'cancelled', name: 'ImportCancelledError', message: 'Import big was cancelled' } });
    expect(isCancelledImport(unwrapError(result))).toBe(true); // what the form recognises: the code
    expect(await readdir(join(scratch, 'data', 'datasets'))).toEqual([]);
  });

  it('datasets.delete refuses a dataset a training run uses, keeps it, and deletes it once the run has ended', async () => {
    const csv = join(scratch, 'in-use.csv');
    await writeFmnistCsv(csv, 2000);
    const { dataset } = await ok('datasets.import', {
      importId: 'in-use',
      name: 'In use',
      source: { kind: 'csv', path: csv, labelColumn: 'label', reshape: [28, 28] },
      skipBad: false,
    });
    // A real run on it, in the real worker: long enough to still be training when the delete comes.
    const { runId } = await ok('training.start', { spec: seedModel1, settings: { ...defaultTrainingSettings, dataset: dataset.id, epochs: 50, trainSubset: null } });
    const refused = await services.dispatch('datasets.delete', { id: dataset.id });
    expect(refused).toMatchObject({ ok: false, error: { code: 'busy', message: `Dataset "${dataset.id}" is in use by the training run ${runId}; stop it first` } });
    expect((await ok('datasets.list', {})).datasets.map((d: { id: string }) => d.id)).toContain(dataset.id);
    const ended = new Promise<void>((resolve) => {
      const off = services.onEvent((name, payload) => {
        const e = payload as EventPayload<'training'>;
        if (name === 'training' && e.runId === runId && ['stopped', 'finished', 'failed'].includes(e.type)) {
          off();
          resolve();
        }
      });
    });
    await ok('training.stop', { runId });
    await ended;
    expect(await ok('datasets.delete', { id: dataset.id })).toEqual({ deleted: true });
  }, 120_000);

  it('datasets.delete removes an unreadable dataset folder listed with its reason', async () => {
    const id = 'user-broken-abc123';
    const dir = join(scratch, 'data', 'datasets', id);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'meta.json'), '{"formatVersion": 1, "summ');
    await writeFile(join(dir, 'x.bin'), Buffer.alloc(16));
    const listed = await ok('datasets.list', {});
    expect(listed.unreadable).toEqual([{ id, message: expect.stringContaining('malformed JSON') }]);
    expect(await ok('datasets.delete', { id })).toEqual({ deleted: true });
    expect((await ok('datasets.list', {})).unreadable).toEqual([]);
    expect(await readdir(join(scratch, 'data', 'datasets'))).not.toContain(id);
  });
});

describe('DatasetService cancellation edges', () => {
  const small = async (name: string) => {
    const path = join(scratch, `${name}.csv`);
    await writeFmnistCsv(path, 30);
    return { kind: 'csv' as const, path, labelColumn: 'label', header: 'auto' as const, delimiter: 'auto' as const, reshape: null };
  };

  it('a cancel after publishing started answers {cancelled: false}, and the dataset exists', async () => {
    const dataDir = join(scratch, 'late-cancel');
    const answers: { phase: string; cancelled: boolean }[] = [];
    const service: DatasetService = new DatasetService(dataDir, (p) => {
      if (p.phase === 'done') answers.push({ phase: p.phase, ...service.cancelImport(p.importId) });
    });
    const { dataset } = await service.import({ importId: 'late', name: 'Late', source: await small('late'), skipBad: false });
    expect(answers).toEqual([{ phase: 'done', cancelled: false }]);
    expect((await service.list()).datasets.map((d) => d.id)).toContain(dataset.id);
    await service.dispose();
  });

  it('a real failure while a cancel is pending is reported as itself, not as cancelled', async () => {
    const path = join(scratch, 'one-class.csv');
    await writeFile(path, 'label,x\n3,1\n3,2\n');
    const service: DatasetService = new DatasetService(join(scratch, 'failing'), (p) => {
      if (p.phase === 'writing') service.cancelImport(p.importId); // the single-class check comes before the next cancellation check
    });
    const failing = service.import({
      importId: 'fail',
      name: 'Fail',
      source: { kind: 'csv', path, labelColumn: 'label', header: 'auto', delimiter: 'auto', reshape: null },
      skipBad: false,
    });
    await expect(failing).rejects.toThrow(`${path}: a single class ("3") in 2 samples`);
    expect(await readdir(join(scratch, 'failing', 'datasets'))).toEqual([]);
    await service.dispose();
  });

  it('dispose() cancels the imports in flight and resolves only once their temp folders are gone', async () => {
    const path = join(scratch, 'dispose.csv');
    await writeFmnistCsv(path, 4000);
    const root = join(scratch, 'disposing', 'datasets');
    let disposed: Promise<void> | null = null;
    const service: DatasetService = new DatasetService(join(scratch, 'disposing'), (p) => {
      if (p.phase === 'reading' && !disposed) disposed = service.dispose();
    });
    const importing = service.import({
      importId: 'quit',
      name: 'Quit',
      source: { kind: 'csv', path, labelColumn: 'label', header: 'auto', delimiter: 'auto', reshape: null },
      skipBad: false,
    });
    const outcome = importing.catch((error: unknown) => error);
    await vi.waitFor(() => expect(disposed).not.toBeNull());
    await disposed;
    expect((await readdir(root)).filter((name) => name.startsWith(TEMP_PREFIX))).toEqual([]);
    expect(await outcome).toMatchObject({ name: 'ImportCancelledError' });
    await expect(service.import({ importId: 'after', name: 'After', source: await small('after'), skipBad: false })).rejects.toThrow('shutting down');
  });
});
