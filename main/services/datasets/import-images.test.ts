/** Image-folder import on real Fashion-MNIST images written as PNG and JPEG files, plus broken files. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImportSourceSchema, type ImportSource } from '../../../contract/datasets';
import { axisWeights, toSample } from './images';
import { openDatasetDir } from './open';
import { scanSource } from './scan';
import { DatasetStore } from './store';
import { CLASS_NAMES, encodeJpeg, encodePng, imageOf, realImages, writeFmnistPngFolder } from './test-fixtures';

let scratch: string;
let store: DatasetStore;
let folder: string;
let used: Map<string, number[]>;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'layerbench-img-'));
  store = new DatasetStore(join(scratch, 'data'), { fashionMnistSystemDirs: [] });
  folder = join(scratch, 'fmnist-png');
  used = await writeFmnistPngFolder(folder, 6);
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

let n = 0;
function source(path: string, extra: Record<string, unknown> = {}): ImportSource {
  return ImportSourceSchema.parse({ kind: 'image-folder', path, width: 28, height: 28, ...extra });
}
function importIt(src: ImportSource, skipBad = false) {
  return store.import({ importId: `i${n++}`, name: 'Pictures', source: src, skipBad }, new AbortController().signal);
}
async function copyOfFolder(name: string, classes = 3, perClass = 2): Promise<string> {
  const dir = join(scratch, name);
  await writeFmnistPngFolder(dir, perClass, classes);
  return dir;
}

describe('resizing', () => {
  it('weights of every target pixel sum to 1, shrinking averages areas, same size is the identity', () => {
    for (const [from, to] of [
      [28, 14],
      [28, 10],
      [10, 28],
      [5, 5],
      [1, 3],
      [3, 1],
    ]) {
      const { weights } = axisWeights(from, to);
      for (const w of weights) expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    }
    const image = { width: 4, height: 2, data: new Uint8Array(4 * 2 * 4) };
    [10, 20, 30, 40, 50, 60, 70, 80].forEach((v, p) => image.data.set([v, v, v, 255], p * 4));
    expect(Array.from(toSample(image, 2, 1, 1))).toEqual([35, 55]); // 2×2 block means
    expect(Array.from(toSample(image, 4, 2, 1))).toEqual([10, 20, 30, 40, 50, 60, 70, 80]);
    // Transparent pixels count as black.
    image.data[3] = 0;
    expect(toSample(image, 4, 2, 3)[0]).toBe(0);
  });
});

describe('image-folder import', () => {
  it('imports real Fashion-MNIST PNGs at 28×28 grayscale exactly', async () => {
    const scan = await scanSource(source(folder));
    expect(scan.classes).toEqual([...used.keys()].sort().map((name) => ({ name, files: 6 })));
    const { dataset } = await importIt(source(folder));
    expect(dataset).toMatchObject({ kind: 'image-folder', sampleShape: [28, 28, 1], count: 60, dtype: 'uint8', source: folder });
    expect(dataset.classNames).toEqual(CLASS_NAMES.map((c) => c.replace('/', '-')).sort());
    const data = await realImages();
    const { pool } = await openDatasetDir(store.dirOf(dataset.id));
    const out = new Float32Array(60 * 784);
    await pool.read(
      Uint32Array.from({ length: 60 }, (_, i) => i),
      out,
    );
    // Classes in sorted folder order, files sorted within each.
    let k = 0;
    for (const name of dataset.classNames) {
      for (const i of used.get(name)!) {
        expect(pool.classNames[pool.labels[k]]).toBe(name);
        expect(Array.from(out.subarray(k * 784, (k + 1) * 784))).toEqual(Array.from(imageOf(data, i)));
        k++;
      }
    }
    const preview = await store.preview(dataset.id);
    expect(preview.samples).toHaveLength(30); // 10 classes × ⌊32/10⌋
    expect(Buffer.from(preview.samples[0].pixels!, 'base64')).toEqual(Buffer.from(imageOf(data, used.get(dataset.classNames[0])![0])));
    await pool.close();
  });

  it('resizes to rgb 14×14 (2×2 area means) and reads JPEGs', async () => {
    const dir = await copyOfFolder('rgb', 2, 2);
    const data = await realImages();
    await writeFile(join(dir, 'Trouser', 'photo.JPG'), encodeJpeg(28, 28, imageOf(data, 0), 100));
    const { dataset } = await importIt(source(dir, { width: 14, height: 14, color: 'rgb' }));
    expect(dataset.sampleShape).toEqual([14, 14, 3]);
    expect(dataset.count).toBe(5);
    const { pool } = await openDatasetDir(store.dirOf(dataset.id));
    const out = new Float32Array(14 * 14 * 3);
    await pool.read(Uint32Array.of(0), out);
    const first = [...used.entries()].filter(([name]) => name === 'T-shirt-top')[0]?.[1][0] ?? 0;
    const img = imageOf(data, first);
    const mean = (y: number, x: number) => (img[2 * y * 28 + 2 * x] + img[2 * y * 28 + 2 * x + 1] + img[(2 * y + 1) * 28 + 2 * x] + img[(2 * y + 1) * 28 + 2 * x + 1]) / 4;
    for (const [y, x] of [
      [0, 0],
      [7, 7],
      [10, 3],
      [13, 13],
    ]) {
      const o = (y * 14 + x) * 3;
      expect(Math.abs(out[o] - mean(y, x))).toBeLessThanOrEqual(0.5);
      expect(out[o]).toBe(out[o + 1]); // gray stays gray in RGB
    }
    await pool.close();
  });

  it('a corrupt image, a truncated PNG and an unsupported file fail naming the file; skipBad skips them', async () => {
    const dir = await copyOfFolder('broken', 2, 3);
    const corrupt = join(dir, 'Trouser', 'zz-corrupt.png');
    await writeFile(corrupt, 'this is not a png');
    await expect(importIt(source(dir))).rejects.toThrow(`${corrupt}: corrupt image: the content is not PNG data`);
    await rm(corrupt);

    const truncated = join(dir, 'Trouser', 'zz-truncated.png');
    await writeFile(truncated, encodePng(28, 28, new Uint8Array(784).fill(9)).subarray(0, 60));
    await expect(importIt(source(dir))).rejects.toThrow(new RegExp(`^${truncated.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: corrupt PNG image: `));

    const text = join(dir, 'T-shirt-top', 'notes.txt');
    await writeFile(text, 'hello');
    await writeFile(join(dir, 'T-shirt-top', '.DS_Store'), 'ignored');
    await expect(importIt(source(dir))).rejects.toThrow(`${text}: unsupported file type .txt: only PNG and JPEG images can be imported`);

    const { dataset, skippedItems } = await importIt(source(dir), true);
    expect(dataset.count).toBe(6);
    expect(dataset.skipped).toBe(2);
    expect(skippedItems.map((b) => b.file).sort()).toEqual([text, truncated].sort());
  });

  it('whole-source errors: missing folder, no class folders, a single class', async () => {
    const missing = join(scratch, 'no-such-folder');
    await expect(importIt(source(missing), true)).rejects.toThrow(`${missing}: cannot read the image folder: no such folder`);
    const flat = join(scratch, 'flat');
    await mkdir(flat);
    await writeFile(join(flat, 'a.png'), encodePng(2, 2, new Uint8Array(4)));
    await expect(importIt(source(flat), true)).rejects.toThrow(`${flat}: no class sub-folders`);
    const single = await copyOfFolder('single', 1, 2);
    await expect(importIt(source(single), true)).rejects.toThrow(`${single}: a single class ("T-shirt-top") in 2 samples`);
  });
});
