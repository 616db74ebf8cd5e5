/** openDatasetDir: the system Fashion-MNIST, imported caches in memory and streamed, and broken caches. */
import { cp, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImportSource } from '../../../contract/datasets';
import { MEMORY_BUDGET_ENV, memoryBudgetBytes, openDatasetDir } from './open';
import { DatasetStore } from './store';
import { imageOf, realImages, SYSTEM_FMNIST, writeFmnistCsv } from './test-fixtures';

let scratch: string;
let store: DatasetStore;
let csvId: string;
let idxId: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'layerbench-open-'));
  store = new DatasetStore(join(scratch, 'data'), { fashionMnistSystemDirs: [] });
  const path = join(scratch, 'f.csv');
  await writeFmnistCsv(path, 500);
  const csv: ImportSource = { kind: 'csv', path, labelColumn: 'label', header: 'auto', delimiter: 'auto', reshape: [28, 28] };
  csvId = (await store.import({ importId: 'a', name: 'csv', source: csv, skipBad: false }, new AbortController().signal)).dataset.id;
  const idx: ImportSource = { kind: 'idx', imagesPath: join(SYSTEM_FMNIST, 't10k-images-idx3-ubyte.gz'), labelsPath: join(SYSTEM_FMNIST, 't10k-labels-idx1-ubyte.gz') };
  idxId = (await store.import({ importId: 'b', name: 'idx', source: idx, skipBad: false }, new AbortController().signal)).dataset.id;
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

/** Shuffled indices with some contiguous runs in them, as a training loop's batches have. */
function batchIndices(count: number): Uint32Array {
  const out: number[] = [];
  for (let i = 0; i < 40; i++) out.push((i * 7919) % count);
  for (let i = 100; i < 120; i++) out.push(i);
  out.push(count - 1, 0, 1, 2, 5, 3);
  return Uint32Array.from(out);
}

describe('openDatasetDir', () => {
  it('opens the system Fashion-MNIST: pool = train, test = test, values 0..255', async () => {
    const { pool, test } = await openDatasetDir(SYSTEM_FMNIST);
    expect(pool).toMatchObject({ count: 60_000, sampleSize: 784, sampleShape: [28, 28], streamed: false });
    expect(pool.summary).toMatchObject({ id: 'fashion-mnist', kind: 'builtin', count: 60_000, testCount: 10_000 });
    expect(test!.count).toBe(10_000);
    const data = await realImages();
    expect(Array.from(test!.labels.subarray(0, 100))).toEqual(Array.from(data.labels.subarray(0, 100)));
    const out = new Float32Array(2 * 784);
    await test!.read(Uint32Array.of(42, 7), out);
    expect(Array.from(out.subarray(0, 784))).toEqual(Array.from(imageOf(data, 42)));
    expect(Array.from(out.subarray(784))).toEqual(Array.from(imageOf(data, 7)));
    // Fast enough for a training loop: an epoch's worth of reads well under a second.
    const all = Uint32Array.from({ length: 60_000 }, (_, i) => (i * 7919) % 60_000);
    const batch = new Float32Array(256 * 784);
    const started = performance.now();
    for (let b = 0; b + 256 <= all.length; b += 256) await pool.read(all.subarray(b, b + 256), batch);
    expect(performance.now() - started).toBeLessThan(3000);
  });

  for (const which of ['csv (float32)', 'idx (uint8)']) {
    it(`streamed read() equals in-memory read() for ${which}`, async () => {
      const dir = store.dirOf(which.startsWith('csv') ? csvId : idxId);
      const memory = (await openDatasetDir(dir)).pool;
      const streamed = (await openDatasetDir(dir, { memoryBudgetBytes: 1000 })).pool;
      expect(memory.streamed).toBe(false);
      expect(streamed.streamed).toBe(true);
      expect(streamed.summary.streamed).toBe(true);
      expect(Array.from(streamed.labels)).toEqual(Array.from(memory.labels));
      const indices = batchIndices(memory.count);
      const a = new Float32Array(indices.length * 784);
      const b = new Float32Array(indices.length * 784);
      await memory.read(indices, a);
      await streamed.read(indices, b);
      expect(b).toEqual(a);
      const data = await realImages();
      expect(Array.from(b.subarray(0, 784))).toEqual(Array.from(imageOf(data, indices[0])));
      await expect(streamed.read(Uint32Array.of(memory.count), new Float32Array(784))).rejects.toThrow(RangeError);
      await expect(streamed.read(Uint32Array.of(0, 1), new Float32Array(784))).rejects.toThrow('out holds 784 values');
      await streamed.close();
      await expect(streamed.read(Uint32Array.of(0), new Float32Array(784))).rejects.toThrow('read after close');
    });
  }

  it('the memory budget comes from the option, else the environment, else 1 GiB', async () => {
    expect(memoryBudgetBytes(undefined, {})).toBe(1024 ** 3);
    expect(memoryBudgetBytes(undefined, { [MEMORY_BUDGET_ENV]: '5000' })).toBe(5000);
    expect(memoryBudgetBytes(12, { [MEMORY_BUDGET_ENV]: '5000' })).toBe(12);
    expect(() => memoryBudgetBytes(undefined, { [MEMORY_BUDGET_ENV]: 'lots' })).toThrow(`${MEMORY_BUDGET_ENV} must be a number of bytes`);
    const saved = process.env[MEMORY_BUDGET_ENV];
    process.env[MEMORY_BUDGET_ENV] = '100';
    try {
      expect((await openDatasetDir(store.dirOf(csvId))).pool.streamed).toBe(true);
      expect((await store.list()).datasets.find((d) => d.id === csvId)!.streamed).toBe(true);
    } finally {
      if (saved === undefined) delete process.env[MEMORY_BUDGET_ENV];
      else process.env[MEMORY_BUDGET_ENV] = saved;
    }
  });

  it('decides streamed by the float32 copy a run holds (4 bytes a value), not by the stored bytes', async () => {
    const idx = await store.summary(idxId);
    expect(idx).toMatchObject({ dtype: 'uint8', count: 10_000, sizeBytes: 10_000 * 784 });
    const between = 2 * idx.sizeBytes; // the uint8 file fits, its float32 copy (4×) does not
    expect((await openDatasetDir(store.dirOf(idxId), { memoryBudgetBytes: between })).pool.streamed).toBe(true);
    expect((await openDatasetDir(store.dirOf(idxId), { memoryBudgetBytes: 4 * idx.sizeBytes })).pool.streamed).toBe(false);
    const listed = new DatasetStore(store.dataDir, { fashionMnistSystemDirs: [], memoryBudgetBytes: between });
    expect((await listed.list()).datasets.find((d) => d.id === idxId)!.streamed).toBe(true);
    expect((await listed.summary(idxId)).streamed).toBe(true);
  });

  it('refuses a folder that is no dataset and a cache whose files do not match meta.json', async () => {
    await expect(openDatasetDir(scratch)).rejects.toThrow(`${scratch}: not a dataset folder`);
    const copy = join(scratch, 'broken');
    await cp(store.dirOf(csvId), copy, { recursive: true });
    await truncate(join(copy, 'x.bin'), 1000);
    await expect(openDatasetDir(copy)).rejects.toThrow(`${join(copy, 'x.bin')}: size mismatch: 500 samples of 784 float32 values need 1568000 bytes, the file has 1000`);
    await expect(openDatasetDir(copy, { memoryBudgetBytes: 0 })).rejects.toThrow('size mismatch');
    await writeFile(join(copy, 'y.bin'), Buffer.alloc(500 * 4, 0xff));
    await expect(openDatasetDir(copy)).rejects.toThrow(`${join(copy, 'y.bin')}: label -1 of sample 0 is outside 0..9`);
  });
});
