/** The datasets commands through createServices().dispatch: contract validation, events, cancel. */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventPayload } from '../../../contract';
import { createServices, type Services } from '../index';
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

async function ok<T = any>(name: string, payload: unknown): Promise<T> {
  const result = await services.dispatch(name, payload);
  if (!result.ok) throw new Error(`${name}: ${result.error.code}: ${result.error.message}`);
  return result.value as T;
}

describe('datasets commands', () => {
  it('scan → import → list → preview → delete', async () => {
    const folder = join(scratch, 'png');
    await writeFmnistPngFolder(folder, 4, 3);
    const source = { kind: 'image-folder', path: folder, width: 28, height: 28 };
    expect(await ok('datasets.scan', { source })).toEqual({ kind: 'image-folder', classes: [{ name: 'Pullover', files: 4 }, { name: 'T-shirt-top', files: 4 }, { name: 'Trouser', files: 4 }] });

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
    expect(Buffer.from(preview.samples[0].pixels, 'base64')).toHaveLength(784);

    expect(await ok('datasets.delete', { id: dataset.id })).toEqual({ deleted: true });
    expect((await ok('datasets.list', {})).datasets).toHaveLength(1);
    const gone = await services.dispatch('datasets.preview', { id: dataset.id });
    expect(gone).toMatchObject({ ok: false, error: { code: 'failed', message: expect.stringContaining(`Unknown dataset "${dataset.id}"`) } });
  });

  it('rejects invalid requests at the boundary and reports bad input with file and line', async () => {
    const bad = await services.dispatch('datasets.import', { importId: 'x', name: '', source: { kind: 'csv', path: '/x.csv', labelColumn: -1 }, skipBad: false });
    expect(bad).toMatchObject({ ok: false, error: { code: 'invalid-request' } });
    const missing = join(scratch, 'missing.csv');
    const failed = await services.dispatch('datasets.import', { importId: 'x', name: 'n', source: { kind: 'csv', path: missing, labelColumn: 0 }, skipBad: false });
    expect(failed).toMatchObject({ ok: false, error: { code: 'failed', message: expect.stringContaining(`${missing}: cannot read`) } });
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
    expect(result).toMatchObject({ ok: false, error: { code: 'failed', message: 'Import big was cancelled' } });
    expect(await readdir(join(scratch, 'data', 'datasets'))).toEqual([]);
  });
});
