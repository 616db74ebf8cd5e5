/** IDX-pair import: the real Fashion-MNIST test files, gzipped and plain copies, and broken pairs. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ImportSource } from '../../../contract/datasets';
import { openDatasetDir } from './open';
import { scanSource } from './scan';
import { idxBytes, imageOf, realImages, scratchStore, SYSTEM_FMNIST } from './test-fixtures';

const { scratch, store } = scratchStore('layerbench-idx-');

let n = 0;
const importIt = (source: ImportSource) => store.import({ importId: `i${n++}`, name: 'digits', source, skipBad: false }, new AbortController().signal);

describe('IDX import', () => {
  it('imports the real Fashion-MNIST test pair (.gz)', async () => {
    const source: ImportSource = { kind: 'idx', imagesPath: join(SYSTEM_FMNIST, 't10k-images-idx3-ubyte.gz'), labelsPath: join(SYSTEM_FMNIST, 't10k-labels-idx1-ubyte.gz') };
    expect(await scanSource(source)).toEqual({ kind: 'idx', sampleShape: [28, 28], count: 10_000 });
    const { dataset } = await importIt(source);
    expect(dataset).toMatchObject({ kind: 'idx', sampleShape: [28, 28], count: 10_000, dtype: 'uint8', classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] });
    const data = await realImages();
    const { pool } = await openDatasetDir(store.dirOf(dataset.id));
    expect(Array.from(pool.labels)).toEqual(Array.from(data.labels));
    const out = new Float32Array(784);
    await pool.read(Uint32Array.of(9999), out);
    expect(Array.from(out)).toEqual(Array.from(imageOf(data, 9999)));
    const preview = await store.preview(dataset.id);
    expect(preview.classCounts).toEqual(new Array(10).fill(1000));
    expect(preview.valueRange).toEqual({ min: 0, max: 255 });
  });

  it('plain rank-2 pairs with sparse labels map them to 0..k-1', async () => {
    const images = join(scratch, 'x.idx');
    const labels = join(scratch, 'y.idx');
    await writeFile(images, idxBytes([4, 3], Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])));
    await writeFile(labels, idxBytes([4], Uint8Array.from([9, 3, 3, 9])));
    const { dataset } = await importIt({ kind: 'idx', imagesPath: images, labelsPath: labels });
    expect(dataset).toMatchObject({ sampleShape: [3], classNames: ['3', '9'], count: 4 });
    const { pool } = await openDatasetDir(store.dirOf(dataset.id));
    expect(Array.from(pool.labels)).toEqual([1, 0, 0, 1]);
  });

  it('a count mismatch, swapped files and a corrupt file fail naming the file', async () => {
    const images = join(scratch, 'img.idx.gz');
    const labels = join(scratch, 'lab.idx');
    await writeFile(images, idxBytes([3, 2, 2], new Uint8Array(12), true));
    await writeFile(labels, idxBytes([2], Uint8Array.of(0, 1)));
    await expect(importIt({ kind: 'idx', imagesPath: images, labelsPath: labels })).rejects.toThrow(`${images}: count mismatch: holds 3 images, but ${labels} holds 2 labels`);
    await expect(importIt({ kind: 'idx', imagesPath: labels, labelsPath: images })).rejects.toThrow(`${labels}: expected images of rank 2 or more`);
    const corrupt = join(scratch, 'corrupt.idx');
    await writeFile(corrupt, 'garbage!');
    await expect(importIt({ kind: 'idx', imagesPath: corrupt, labelsPath: labels })).rejects.toThrow(`${corrupt}: not an IDX file`);
  });

  it('a dimension of size 0 is refused naming the file, by scan and import, and nothing is published', async () => {
    const images = join(scratch, 'zero-images.idx');
    const labels = join(scratch, 'zero-labels.idx');
    await writeFile(images, idxBytes([2, 0, 28], new Uint8Array(0)));
    await writeFile(labels, idxBytes([2], Uint8Array.of(0, 1)));
    const source: ImportSource = { kind: 'idx', imagesPath: images, labelsPath: labels };
    const message = `${images}: the header declares a dimension of size 0 (2×0×28): a sample holds no values`;
    await expect(scanSource(source)).rejects.toThrow(message);
    const before = (await store.list()).datasets.length;
    await expect(importIt(source)).rejects.toThrow(message);
    const noImages = join(scratch, 'zero-count-images.idx');
    const noLabels = join(scratch, 'zero-count-labels.idx');
    await writeFile(noImages, idxBytes([0, 28, 28], new Uint8Array(0)));
    await writeFile(noLabels, idxBytes([0], new Uint8Array(0)));
    await expect(importIt({ kind: 'idx', imagesPath: noImages, labelsPath: noLabels })).rejects.toThrow(
      `${noImages}: the header declares a dimension of size 0 (0×28×28): the file holds no samples`,
    );
    const listing = await store.list();
    expect(listing.datasets).toHaveLength(before);
    expect(listing.unreadable).toEqual([]);
  });
});
