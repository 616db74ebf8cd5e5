import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entriesOrNone } from './subfolders';

describe('entriesOrNone', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'lb-subfolders-'));
    await mkdir(join(root, 'a'));
    await writeFile(join(root, 'b.txt'), 'x');
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('lists a folder with what each entry is', async () => {
    const entries = await entriesOrNone(root);
    expect(entries.map((e) => [e.name, e.isDirectory()]).sort()).toEqual([
      ['a', true],
      ['b.txt', false],
    ]);
  });

  it('gives nothing for a folder not made yet', async () => {
    expect(await entriesOrNone(join(root, 'missing'))).toEqual([]);
  });

  it('throws other errors: a file where the folder should be', async () => {
    await expect(entriesOrNone(join(root, 'b.txt'))).rejects.toMatchObject({ code: 'ENOTDIR' });
  });
});
