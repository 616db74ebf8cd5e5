/** CSV import on real Fashion-MNIST rows written to a temp dir, and on malformed variants. */
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DatasetSummarySchema, ImportSourceSchema, type ImportSource } from '../../../contract/datasets';
import { DatasetError } from './idx';
import { openDatasetDir } from './open';
import { scanSource } from './scan';
import { CLASS_NAMES, imageOf, realImages, scratchStore, writeFmnistCsv } from './test-fixtures';

const { scratch, store } = scratchStore('layerbench-csv-');

let n = 0;
async function csvFile(text: string): Promise<string> {
  const path = join(scratch, `f${n++}.csv`);
  await writeFile(path, text);
  return path;
}
function csv(path: string, extra: Partial<Extract<ImportSource, { kind: 'csv' }>> = {}): ImportSource {
  return ImportSourceSchema.parse({ kind: 'csv', path, labelColumn: 'label', ...extra });
}
function importIt(source: ImportSource, skipBad = false) {
  return store.import({ importId: `i${n++}`, name: 'test set', source, skipBad }, new AbortController().signal);
}

describe('CSV import', () => {
  it('imports real Fashion-MNIST rows with text labels and a reshape', async () => {
    const path = join(scratch, 'fmnist.csv');
    await writeFmnistCsv(path, 300, { textLabels: true });
    // The scan starts the form on the text label column and offers the 28×28 picture.
    expect(await scanSource(csv(path, { labelColumn: 0 }))).toMatchObject({ suggestedLabelColumn: 0, suggestedReshape: [28, 28] });
    const { dataset, skippedItems } = await importIt(csv(path, { reshape: [28, 28] }));
    expect(dataset.featureNames).toEqual(Array.from({ length: 784 }, (_, i) => `p${i}`));
    DatasetSummarySchema.parse(dataset);
    expect(skippedItems).toEqual([]);
    expect(dataset).toMatchObject({ kind: 'csv', sampleShape: [28, 28], count: 300, testCount: 0, dtype: 'float32', sizeBytes: 300 * 784 * 4, skipped: 0, name: 'test set' });
    expect(dataset.id).toMatch(/^user-test-set-[0-9a-f]{6}$/);
    expect(dataset.classNames).toEqual([...CLASS_NAMES].sort());

    const data = await realImages();
    const { pool, test } = await openDatasetDir(store.dirOf(dataset.id));
    expect(test).toBeNull();
    const indices = Uint32Array.from([0, 1, 299, 150]);
    const out = new Float32Array(4 * 784);
    await pool.read(indices, out);
    indices.forEach((i, k) => {
      expect(Array.from(out.subarray(k * 784, (k + 1) * 784))).toEqual(Array.from(imageOf(data, i)));
      expect(pool.classNames[pool.labels[i]]).toBe(CLASS_NAMES[data.labels[i]]);
    });
    const preview = await store.preview(dataset.id);
    expect(preview.valueRange).toEqual({ min: 0, max: 255 });
    expect(preview.classCounts.reduce((a, b) => a + b)).toBe(300);
    await pool.close();
  });

  it('integer labels become class names sorted numerically, mapped to 0..k-1; ";" and no header detected', async () => {
    const path = await csvFile('10;1.5;2\n2;0.5;-1\n7;3;4e2\n10;0;0\n');
    const { dataset } = await importIt(csv(path, { labelColumn: 0 }));
    expect(dataset.classNames).toEqual(['2', '7', '10']);
    expect(dataset.sampleShape).toEqual([2]);
    const { pool } = await openDatasetDir(store.dirOf(dataset.id));
    expect(Array.from(pool.labels)).toEqual([2, 0, 1, 2]);
    const out = new Float32Array(8);
    await pool.read(Uint32Array.from([0, 1, 2, 3]), out);
    expect(Array.from(out)).toEqual([1.5, 2, 0.5, -1, 3, 400, 0, 0]);
    const preview = await store.preview(dataset.id);
    expect(preview.valueRange).toEqual({ min: -1, max: 400 });
    expect(preview.samples.every((s) => s.values && !s.pixels)).toBe(true);
  });

  it('reads tabs, quoted text labels, the label column by index and a header by "auto"', async () => {
    const path = await csvFile('a\tb\tkind\r\n1\t2\t"cat, big"\r\n3\t4\tdog\r\n\r\n5\t6\t"cat, big"\r\n');
    const { dataset } = await importIt(csv(path, { labelColumn: 2 }));
    expect(dataset.classNames).toEqual(['cat, big', 'dog']);
    expect(dataset.count).toBe(3);
  });

  it('errors name the file and line: ragged row, non-numeric value (with its column), empty label', async () => {
    const ragged = await csvFile('label,x,y\n0,1,2\n1,2\n');
    await expect(importIt(csv(ragged))).rejects.toThrow(`${ragged}, line 3: ragged row: 2 columns, expected 3 as on line 1`);
    const text = await csvFile('label,x,y\n0,1,2\n\n1,2,abc\n');
    await expect(importIt(csv(text))).rejects.toThrow(`${text}, line 4: column "y" (index 2) holds "abc", not a number`);
    const noHeader = await csvFile('0,1,2\n1,,3\n');
    await expect(importIt(csv(noHeader, { labelColumn: 0 }))).rejects.toThrow(`${noHeader}, line 2: column 1 holds "", not a number`);
    const emptyLabel = await csvFile('label,x\n0,1\n ,2\n');
    await expect(importIt(csv(emptyLabel))).rejects.toThrow(`${emptyLabel}, line 3: column "label" (index 0) (the label) is empty`);
  });

  it('whole-source errors: reshape mismatch, single class, no samples, unknown label column, missing file', async () => {
    const path = await csvFile('label,x,y,z\n0,1,2,3\n1,1,2,3\n');
    await expect(importIt(csv(path, { reshape: [2, 2] }))).rejects.toThrow(
      `${path}: reshape [2, 2] holds 4 values, but each row has 3 features (4 columns minus the label column)`,
    );
    const single = await csvFile('label,x\n3,1\n3,2\n');
    await expect(importIt(csv(single))).rejects.toThrow(`${single}: a single class ("3") in 2 samples`);
    const headerOnly = await csvFile('label,x\n');
    await expect(importIt(csv(headerOnly))).rejects.toThrow(`${headerOnly}: no samples`);
    const empty = await csvFile('');
    await expect(importIt(csv(empty))).rejects.toThrow(`${empty}: no samples: the file is empty`);
    await expect(importIt(csv(path, { labelColumn: 'class' }))).rejects.toThrow(`${path}: line 1: no column named "class" in the header (columns: "label", "x", "y", "z")`);
    const missing = join(scratch, 'nope.csv');
    await expect(importIt(csv(missing))).rejects.toThrow(DatasetError);
    await expect(importIt(csv(missing))).rejects.toThrow(`${missing}: no such file`);
  });

  it('skipBad skips and lists bad lines (up to 100), counts all, and still fails when nothing is left', async () => {
    const rows = ['label,x,y'];
    for (let i = 0; i < 150; i++) rows.push(i % 3 === 0 ? `${i % 2},1,oops` : `${i % 2},${i},1`);
    const path = await csvFile(`${rows.join('\n')}\n`);
    const { dataset, skippedItems } = await importIt(csv(path), true);
    expect(dataset.skipped).toBe(50);
    expect(dataset.count).toBe(100);
    expect(skippedItems).toHaveLength(50);
    expect(skippedItems[0]).toEqual({ file: path, line: 2, reason: 'column "y" (index 2) holds "oops", not a number' });

    const many = ['label,x', ...Array.from({ length: 130 }, (_, i) => `${i % 2},bad`), '0,1', '1,2'];
    const manyPath = await csvFile(many.join('\n'));
    const result = await importIt(csv(manyPath), true);
    expect(result.dataset.skipped).toBe(130);
    expect(result.skippedItems).toHaveLength(100);

    const allBad = await csvFile('label,x\n0,a\n1,b\n');
    await expect(importIt(csv(allBad), true)).rejects.toThrow(
      `${allBad}: no samples: all 2 items were bad (the first: ${allBad}, line 2: column "x" (index 1) holds "a", not a number)`,
    );
  });

  it('a pandas df.to_csv(index=False) header "0,1,2,label" is a header, not a sample of class "label"', async () => {
    const text = await csvFile('0,1,2,label\n0.5,1,2,cat\n1,2,3,dog\n2,3,4,cat\n');
    const { dataset } = await importIt(csv(text, { labelColumn: 3 }));
    expect(dataset.classNames).toEqual(['cat', 'dog']);
    expect(dataset.count).toBe(3);
    const ints = await csvFile('0,1,2,label\n0.5,1,2,0\n1,2,3,1\n');
    expect((await importIt(csv(ints))).dataset).toMatchObject({ classNames: ['0', '1'], count: 2 });
  });

  it("scan and import agree on a headerless file with text labels, whatever the scan's label column", async () => {
    const path = await csvFile('0.5,0.25,bird\n1,2,dog\n3,4,cat\n5,6,dog\n');
    const scan = await scanSource(csv(path, { labelColumn: 0 }));
    expect(scan).toMatchObject({ headerDetected: false, columns: ['column 0', 'column 1', 'column 2'] });
    expect(scan.rows?.[0]).toEqual(['0.5', '0.25', 'bird']);
    const { dataset } = await importIt(csv(path, { labelColumn: 2 }));
    expect(dataset.count).toBe(4);
    expect(dataset.classNames).toEqual(['bird', 'cat', 'dog']);
  });

  it('values beyond the float32 range are bad items (file, line, column): failed, or skipped with skipBad', async () => {
    const path = await csvFile('label,x,y\n0,1,2\n1,1e39,2\n0,3,-4e38\n1,5,6\n');
    await expect(importIt(csv(path))).rejects.toThrow(`${path}, line 3: column "x" (index 1) holds 1e39, beyond the float32 range (±3.4e38)`);
    const { dataset, skippedItems } = await importIt(csv(path), true);
    expect(dataset).toMatchObject({ count: 2, skipped: 2 });
    expect(skippedItems.map((item) => [item.line, item.reason])).toEqual([
      [3, 'column "x" (index 1) holds 1e39, beyond the float32 range (±3.4e38)'],
      [4, 'column "y" (index 2) holds -4e38, beyond the float32 range (±3.4e38)'],
    ]);
    const preview = await store.preview(dataset.id);
    expect(preview.valueRange).toEqual({ min: 1, max: 6 });
    expect((await store.list()).unreadable).toEqual([]);
  });

  it('a failed import leaves nothing in the datasets folder', async () => {
    const before = (await readdir(store.root)).sort();
    const ragged = await csvFile('label,x\n0,1\n1\n');
    await expect(importIt(csv(ragged))).rejects.toThrow('ragged row');
    expect((await readdir(store.root)).sort()).toEqual(before);
  });
});
