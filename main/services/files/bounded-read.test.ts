/** The shared read rules on real files: quoting, caps from the environment, the size check before reading. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { gunzipBounded, limit, printable, quote, readFileBounded, readTextBounded } from './bounded-read';

const dir = mkdtempSync(join(tmpdir(), 'layerbench-bounded-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('quote and printable', () => {
  it('show at most the asked characters, escape what is not printable, and say how much there was', () => {
    expect(quote('pixel3')).toBe('"pixel3"');
    expect(quote('a\u0000b\nc"d\\')).toBe('"a\\x00b\\nc\\"d\\\\"');
    expect(quote('x'.repeat(1000), 10)).toBe('"xxxxxxxxxx"… (1000 characters in all)');
    expect(quote('\ufffd\ud800ok')).toBe('"\\ufffd\\ud800ok"');
    expect(printable(`Unexpected token '\u0001', "\u0001\u0002" is not valid JSON`)).toBe(`Unexpected token '\\x01', "\\x01\\x02" is not valid JSON`);
    expect(printable('y'.repeat(500), 4)).toBe('yyyy…');
  });
});

describe('limits', () => {
  it('come from the environment when set, and refuse what is not a positive whole number', () => {
    expect(limit('imagePixels', {})).toBe(50_000_000);
    expect(limit('imagePixels', { LAYERBENCH_MAX_IMAGE_PIXELS: '1000' })).toBe(1000);
    expect(() => limit('csvLineBytes', { LAYERBENCH_MAX_CSV_LINE_BYTES: '-1' })).toThrow(/LAYERBENCH_MAX_CSV_LINE_BYTES must be a positive whole number, got "-1"/);
  });
});

describe('bounded reads', () => {
  it('read a regular file within its cap, and refuse a larger one by its size, naming the variable', async () => {
    const path = join(dir, 'ten.txt');
    writeFileSync(path, '0123456789');
    expect(await readTextBounded(path)).toBe('0123456789');
    await expect(readFileBounded(path, { maxBytes: 9, limitEnv: 'LAYERBENCH_MAX_FILE_BYTES', what: 'test file' })).rejects.toMatchObject({
      code: 'limit',
      message: `${path}: the test file is 10 B, more than the limit of 9 B (set LAYERBENCH_MAX_FILE_BYTES to raise the limit)`,
    });
    await expect(readTextBounded(join(dir, 'none'))).rejects.toMatchObject({ code: 'not-found', message: `${join(dir, 'none')}: no such file` });
  });

  it('decompress gzip to what its trailer declares, and no further', async () => {
    // 110 KB: several of zlib's output chunks, so the bound stops it before the trailer is checked.
    const plain = Buffer.from('layerbench '.repeat(10_000));
    expect((await gunzipBounded(gzipSync(plain), 'ok.gz', { maxBytes: 1_000_000 })).equals(plain)).toBe(true);
    const lying = gzipSync(plain);
    lying.writeUInt32LE(10, lying.length - 4);
    await expect(gunzipBounded(lying, 'lying.gz', { maxBytes: 1_000_000 })).rejects.toMatchObject({
      code: 'invalid-input',
      message: 'lying.gz: corrupt gzip data: it decompresses to more than the 10 B its trailer declares',
    });
    await expect(gunzipBounded(gzipSync(plain), 'big.gz', { maxBytes: 100 })).rejects.toMatchObject({
      code: 'limit',
      message: 'big.gz: decompresses to more than the limit of 100 B',
    });
  });
});
