/** DatasetStore: listing (Fashion-MNIST first, broken datasets reported apart), delete, cancellation and progress. */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetImportProgressSchema, type DatasetImportProgress, type ImportSource } from '../../../contract/datasets';
import { ImportCancelledError } from './errors';
import { DatasetStore, newDatasetId, pickPreviewSamples } from './store';
import { SampleWriter } from './writer';
import { CLASS_NAMES, SYSTEM_FMNIST, writeFmnistCsv } from './test-fixtures';

let scratch: string;
let bigCsv: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'layerbench-store-'));
  bigCsv = join(scratch, 'big.csv');
  await writeFmnistCsv(bigCsv, 6000); // ~14 MB: long enough to cancel midway
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

let n = 0;
const small = async (labels = '0,1'): Promise<ImportSource> => {
  const path = join(scratch, `s${n++}.csv`);
  await writeFile(
    path,
    `label,x\n${labels
      .split(',')
      .map((l, i) => `${l},${i}`)
      .join('\n')}\n`,
  );
  return { kind: 'csv', path, labelColumn: 'label', header: 'auto', delimiter: 'auto', reshape: null };
};
const run = (store: DatasetStore, name: string, source: ImportSource, signal = new AbortController().signal, onProgress?: (p: DatasetImportProgress) => void) =>
  store.import({ importId: `i${n++}`, name, source, skipBad: false }, signal, onProgress);

describe('DatasetStore', () => {
  it('lists Fashion-MNIST first, then imports newest first; reports broken ones apart; deletes', async () => {
    const store = new DatasetStore(join(scratch, 'list'), { fashionMnistSystemDirs: [SYSTEM_FMNIST] });
    const a = (await run(store, 'First one', await small())).dataset;
    await new Promise((r) => setTimeout(r, 5));
    const b = (await run(store, 'Ünïcode & stuff!', await small())).dataset;
    const c = (await run(store, 'Broken', await small())).dataset;
    const d = (await run(store, 'Future', await small())).dataset;
    expect(b.id).toMatch(/^user-unicode-stuff-[0-9a-f]{6}$/);
    await writeFile(join(store.dirOf(c.id), 'meta.json'), '{"formatVersion": 1, "summ');
    const meta = JSON.parse(await readFile(join(store.dirOf(d.id), 'meta.json'), 'utf8'));
    await writeFile(join(store.dirOf(d.id), 'meta.json'), JSON.stringify({ ...meta, formatVersion: 7 }));

    const listing = await store.list();
    expect(listing.datasets.map((s) => s.id)).toEqual(['fashion-mnist', b.id, a.id]);
    expect(listing.datasets[0]).toMatchObject({ kind: 'builtin', sampleShape: [28, 28], count: 60_000, testCount: 10_000, classNames: CLASS_NAMES, source: SYSTEM_FMNIST });
    expect(listing.unreadable).toHaveLength(2);
    const byId = new Map(listing.unreadable.map((u) => [u.id, u.message]));
    expect(byId.get(c.id)).toContain(`${join(store.dirOf(c.id), 'meta.json')}: malformed JSON`);
    expect(byId.get(d.id)).toContain('written by a newer Layerbench (format version 7; this one reads up to 1)');
    await expect(store.preview(d.id)).rejects.toThrow('written by a newer Layerbench');

    expect(await store.delete(a.id)).toBe(true);
    expect(await store.delete(a.id)).toBe(false);
    await expect(store.delete('fashion-mnist')).rejects.toThrow('built in');
    await expect(store.preview(a.id)).rejects.toThrow(`Unknown dataset "${a.id}"`);
    expect((await store.list()).datasets.map((s) => s.id)).toEqual(['fashion-mnist', b.id]);
  });

  it('previews Fashion-MNIST from the system copy', async () => {
    const store = new DatasetStore(join(scratch, 'builtin'), { fashionMnistSystemDirs: [SYSTEM_FMNIST] });
    const preview = await store.preview('fashion-mnist');
    expect(preview.classCounts).toEqual(new Array(10).fill(6000));
    expect(preview.samples).toHaveLength(30);
    expect(preview.samples.map((s) => s.label)).toEqual(Array.from({ length: 30 }, (_, i) => Math.floor(i / 3)));
    expect(Buffer.from(preview.samples[0].pixels!, 'base64')).toHaveLength(784);
    const missing = new DatasetStore(join(scratch, 'nofmnist'), { fashionMnistSystemDirs: [] });
    await expect(missing.preview('fashion-mnist')).rejects.toThrow('not downloaded yet');
  });

  it('cancellation stops promptly and leaves no folder behind', async () => {
    const store = new DatasetStore(join(scratch, 'cancel'), { fashionMnistSystemDirs: [] });
    const controller = new AbortController();
    let cancelledAt = 0;
    const importing = run(store, 'big', { kind: 'csv', path: bigCsv, labelColumn: 0, header: 'auto', delimiter: 'auto', reshape: [28, 28] }, controller.signal, (p) => {
      if (p.phase === 'reading' && p.done > 500 && !cancelledAt) {
        cancelledAt = performance.now();
        controller.abort();
      }
    });
    await expect(importing).rejects.toThrow(ImportCancelledError);
    expect(performance.now() - cancelledAt).toBeLessThan(500);
    expect(await readdir(store.root)).toEqual([]);
  });

  it('progress comes at most ~10 a second, ends with done', async () => {
    const store = new DatasetStore(join(scratch, 'progress'), { fashionMnistSystemDirs: [] });
    const events: { at: number; p: DatasetImportProgress }[] = [];
    const started = performance.now();
    const { dataset } = await run(store, 'big', { kind: 'csv', path: bigCsv, labelColumn: 'label', header: 'auto', delimiter: 'auto', reshape: null }, undefined, (p) =>
      events.push({ at: performance.now(), p: DatasetImportProgressSchema.parse(p) }),
    );
    const seconds = (performance.now() - started) / 1000;
    expect(dataset.count).toBe(6000);
    expect(events.at(-1)!.p).toMatchObject({ phase: 'done', done: 6000, total: 6000 });
    expect(events.map((e) => e.p.phase)).toContain('reading');
    // One per 100 ms per phase, plus the first of each phase (scanning, reading, writing) and done.
    expect(events.length).toBeLessThanOrEqual(Math.ceil(seconds * 10) + 4);
    for (let i = 1; i < events.length; i++) {
      if (events[i].p.phase === events[i - 1].p.phase) expect(events[i].at - events[i - 1].at).toBeGreaterThanOrEqual(99);
    }
  });

  it('names are trimmed and limited to 200 characters before anything is read', async () => {
    const store = new DatasetStore(join(scratch, 'names'), { fashionMnistSystemDirs: [] });
    expect((await run(store, '  Padded  ', await small())).dataset.name).toBe('Padded');
    await expect(run(store, '   ', await small())).rejects.toThrow('A dataset name is needed');
    await expect(run(store, 'x'.repeat(201), await small())).rejects.toThrow('A dataset name is at most 200 characters (this one has 201)');
    const listing = await store.list();
    expect(listing.datasets.map((d) => d.name)).toEqual(['Fashion-MNIST', 'Padded']);
    expect(listing.unreadable).toEqual([]);
    expect((await readdir(store.root)).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('a meta.json that would not be readable is not published (an infinite value range)', async () => {
    const store = new DatasetStore(join(scratch, 'unpublishable'), { fashionMnistSystemDirs: [] });
    const writer = await SampleWriter.create(store.root, 'float32');
    await writer.append(Float32Array.of(1, Infinity), 'a');
    await writer.append(Float32Array.of(2, 3), 'b');
    const samples = await writer.finishSamples();
    expect(samples.valueRange).toEqual({ min: 1, max: Infinity });
    const summary = {
      id: 'user-bad-000000',
      name: 'bad',
      kind: 'csv',
      sampleShape: [2],
      count: 2,
      testCount: 0,
      classNames: samples.classNames,
      dtype: 'float32',
      sizeBytes: 16,
      streamed: false,
      source: '/x/bad.csv',
      createdAt: new Date().toISOString(),
      skipped: 0,
    } as const;
    const target = join(store.root, summary.id);
    const publishing = writer.publish(
      { formatVersion: 1, summary: { ...summary, sampleShape: [2], classNames: samples.classNames }, classCounts: samples.classCounts, valueRange: samples.valueRange },
      target,
    );
    await expect(publishing).rejects.toThrow('/x/bad.csv: not published: its description would not be readable: valueRange.max');
    await writer.discard();
    expect(await readdir(store.root)).toEqual([]);
  });

  it('ids and preview picks', () => {
    expect(newDatasetId('')).toMatch(/^user-dataset-[0-9a-f]{6}$/);
    expect(newDatasetId('x'.repeat(200)).length).toBeLessThanOrEqual(80);
    expect(Array.from(pickPreviewSamples(Int32Array.from([0, 0, 1, 0, 1, 1, 1]), 2))).toEqual([0, 1, 3, 2, 4, 5, 6]);
    expect(
      pickPreviewSamples(
        Int32Array.from({ length: 100 }, (_, i) => i % 50),
        50,
      ),
    ).toHaveLength(32);
  });
});
