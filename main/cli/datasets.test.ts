/** `layerbench datasets …` run in-process on real files (the built-CLI tests cover argument plumbing). */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError, parseArgs } from './args';
import { DATASETS_OPTIONS, datasetsCommand } from './datasets';
import { SYSTEM_FMNIST, writeFmnistCsv } from '../services/datasets/test-fixtures';

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'layerbench-cli-ds-'));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await datasetsCommand(parseArgs([...argv, '--data-dir', join(scratch, 'data')], DATASETS_OPTIONS), { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

describe('layerbench datasets', () => {
  it('imports a CSV and an IDX pair, lists them, deletes one', async () => {
    const csv = join(scratch, 'shirts.csv');
    await writeFmnistCsv(csv, 50);
    const a = await cli('import', 'csv', csv, '--label-column', 'label', '--reshape', '28x28', '--quiet');
    expect(a.code).toBe(0);
    const csvId = a.out.trim();
    expect(csvId).toMatch(/^user-shirts-[0-9a-f]{6}$/);
    const b = await cli('import', 'idx', join(SYSTEM_FMNIST, 't10k-images-idx3-ubyte.gz'), join(SYSTEM_FMNIST, 't10k-labels-idx1-ubyte.gz'), '--name', 'FM test');
    expect(b.err).toContain('imported "FM test": 10000 samples of shape [28, 28], 10 classes');
    const listed = await cli('list');
    expect(listed.out.split('\n')[0]).toMatch(/^id\s+name\s+kind\s+shape\s+samples\s+classes$/);
    expect(listed.out).toMatch(new RegExp(`${csvId}\\s+shirts\\s+csv\\s+28×28\\s+50\\s+10`));
    const json = JSON.parse((await cli('list', '--json')).out);
    expect(json.datasets.map((d: { id: string }) => d.id)).toEqual(['fashion-mnist', b.out.trim(), csvId]);
    expect((await cli('delete', csvId)).out).toBe(`deleted ${csvId}\n`);
    await expect(cli('delete', csvId)).rejects.toThrow(`Unknown dataset "${csvId}"`);
  });

  it('says what is wrong with the arguments', async () => {
    await expect(cli('import', 'csv', 'x.csv')).rejects.toThrow(new UsageError('datasets import csv needs --label-column NAME or INDEX'));
    await expect(cli('import', 'image-folder', scratch)).rejects.toThrow('invalid import options: width');
    await expect(cli('import', 'tiff', 'x')).rejects.toThrow('datasets import needs a kind: csv, idx or image-folder, got "tiff"');
    await expect(cli('frobnicate')).rejects.toThrow('Unknown datasets action "frobnicate"');
  });

  it('--name is trimmed and limited to 200 characters as in the app; nothing is imported otherwise', async () => {
    const csv = join(scratch, 'named.csv');
    await writeFile(csv, 'label,x\n0,1\n1,2\n');
    await expect(cli('import', 'csv', csv, '--label-column', 'label', '--name', '   ')).rejects.toThrow(new UsageError('--name: A dataset name is needed (it was empty)'));
    await expect(cli('import', 'csv', csv, '--label-column', 'label', '--name', 'n'.repeat(201))).rejects.toThrow(UsageError);
    const ok = await cli('import', 'csv', csv, '--label-column', 'label', '--name', '  Padded  ', '--quiet');
    const json = JSON.parse((await cli('list', '--json')).out);
    expect(json.datasets.find((d: { id: string }) => d.id === ok.out.trim()).name).toBe('Padded');
    expect(json.datasets.filter((d: { name: string }) => d.name.startsWith('n') || !d.name.trim())).toEqual([]);
    expect(json.unreadable).toEqual([]);
  });
});
