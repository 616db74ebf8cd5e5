import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetError, parseIdx, readIdxFile } from './idx';

/** Builds an IDX file: magic 00 00 <type> <ndims>, big-endian dims, then the data. */
function idx(dims: number[], data: number[], typeByte = 0x08): Uint8Array {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = typeByte;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(data)]);
}

function errorOf(fn: () => unknown): DatasetError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(DatasetError);
    return error as DatasetError;
  }
  throw new Error('expected an error');
}

describe('parseIdx', () => {
  const twoByThree = idx([2, 3], [1, 2, 3, 4, 5, 6]);

  it('parses a plain uint8 file', () => {
    const parsed = parseIdx(twoByThree, 'a.idx');
    expect(parsed.dataType).toBe('uint8');
    expect(parsed.dims).toEqual([2, 3]);
    expect(parsed.data).toEqual(new Uint8Array([1, 2, 3, 4, 5, 6]));
    expect(parsed.data.constructor).toBe(Uint8Array);
  });

  it('detects gzip by content and decompresses it', () => {
    const parsed = parseIdx(gzipSync(twoByThree), 'a.idx');
    expect(parsed.dims).toEqual([2, 3]);
    expect(Array.from(parsed.data)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('rejects a wrong magic number, naming the file', () => {
    const bytes = Uint8Array.from(twoByThree);
    bytes[0] = 0x50;
    const error = errorOf(() => parseIdx(bytes, 'x/images.idx'));
    expect(error.file).toBe('x/images.idx');
    expect(error.message).toMatch(/^x\/images\.idx: not an IDX file: magic number starts 50 00 08 02/);
  });

  it('rejects files too short for a header', () => {
    expect(errorOf(() => parseIdx(new Uint8Array([0, 0]), 'f')).message).toBe('f: not an IDX file: only 2 bytes, too short for the 4-byte magic number');
    expect(errorOf(() => parseIdx(idx([2, 3], []).subarray(0, 9), 'f')).message).toBe('f: truncated: header declares 2 dimensions (12 header bytes), file has 9 bytes');
  });

  it('rejects unknown and unsupported data types', () => {
    expect(errorOf(() => parseIdx(idx([1], [0], 0x07), 'f')).message).toBe('f: not an IDX file: unknown data type byte 0x07');
    expect(errorOf(() => parseIdx(idx([1], [0, 0, 0, 0], 0x0d), 'f')).message).toMatch(/^f: unsupported IDX data type float32 \(0x0d\)/);
  });

  it('rejects zero dimensions', () => {
    expect(errorOf(() => parseIdx(idx([], []), 'f')).message).toBe('f: not an IDX file: the header declares 0 dimensions');
  });

  it('rejects truncated data with the sizes involved', () => {
    const error = errorOf(() => parseIdx(twoByThree.subarray(0, twoByThree.length - 2), 'labels.gz'));
    expect(error.message).toBe('labels.gz: truncated: header says 2×3 = 6 bytes of data, file has 4');
  });

  it('rejects trailing data', () => {
    const error = errorOf(() => parseIdx(Buffer.concat([twoByThree, Buffer.from([9, 9])]), 'labels.gz'));
    expect(error.message).toBe('labels.gz: trailing data: header says 2×3 = 6 bytes of data, file has 8 (2 extra)');
  });

  it('rejects corrupt gzip', () => {
    const gz = gzipSync(twoByThree);
    const error = errorOf(() => parseIdx(gz.subarray(0, gz.length - 6), 'a.gz'));
    // Cut short, the trailer's declared size is garbage: refused before inflating, as too large.
    expect(error.message).toMatch(/^a\.gz: corrupt or too large gzip data: its trailer declares /);
  });
});

describe('readIdxFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'layerbench-idx-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads plain and gzipped files', async () => {
    const bytes = idx([3], [7, 8, 9]);
    await writeFile(join(dir, 'plain'), bytes);
    await writeFile(join(dir, 'zipped.gz'), gzipSync(bytes));
    for (const name of ['plain', 'zipped.gz']) {
      const parsed = await readIdxFile(join(dir, name));
      expect(parsed.dims).toEqual([3]);
      expect(Array.from(parsed.data)).toEqual([7, 8, 9]);
    }
  });

  it('names the path in errors', async () => {
    const path = join(dir, 'bad.gz');
    await writeFile(path, gzipSync(idx([4], [1, 2])));
    await expect(readIdxFile(path)).rejects.toThrow(`${path}: truncated: header says 4 = 4 bytes of data, file has 2`);
    const gone = join(dir, 'missing');
    await expect(readIdxFile(gone)).rejects.toMatchObject({ name: 'DatasetError', file: gone, message: `${gone}: no such file`, code: 'not-found' });
    const brokenGz = join(dir, 'broken.gz');
    await writeFile(brokenGz, Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3]));
    await expect(readIdxFile(brokenGz)).rejects.toThrow(`${brokenGz}: corrupt gzip data`);
  });
});
