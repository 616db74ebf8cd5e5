/**
 * A reader for the IDX format (the MNIST family's container): a 4-byte magic `00 00 <type> <ndims>`,
 * then one big-endian uint32 per dimension, then the data. Files may be gzipped (the official
 * downloads and Debian's copies are); we detect that from the content, not the file name.
 */
import { readFile } from 'node:fs/promises';
import { gunzip as gunzipCallback, gunzipSync } from 'node:zlib';
import { promisify } from 'node:util';

const gunzipAsync = promisify(gunzipCallback);

/** Every dataset problem is reported with the file it concerns, so the user knows what to fix or delete. */
export class DatasetError extends Error {
  override name = 'DatasetError';
  /** The file (path, name or URL) the problem is in. */
  readonly file: string;

  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super(`${file}: ${problem}`, options);
    this.file = file;
  }
}

export type IdxDataType = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';

export interface IdxArray {
  dataType: IdxDataType;
  dims: number[];
  /** Row-major values, a view into the (decompressed) file's bytes. */
  data: Uint8Array;
}

/** The type byte of the magic number, as the IDX spec defines it. */
const DATA_TYPES: Record<number, IdxDataType> = {
  0x08: 'uint8',
  0x09: 'int8',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
};

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/** Decompresses gzip content asynchronously (off the event loop: the training images are 47 MB). */
export async function gunzipIfNeeded(bytes: Uint8Array, fileLabel: string): Promise<Uint8Array> {
  if (!isGzip(bytes)) return bytes;
  try {
    return await gunzipAsync(bytes);
  } catch (error) {
    throw new DatasetError(fileLabel, `corrupt gzip data: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Parses IDX bytes (plain or gzipped). `fileLabel` is used in error messages only.
 * Strict about size: a truncated download or trailing junk is an error rather than silently odd data.
 */
export function parseIdx(bytes: Uint8Array, fileLabel: string): IdxArray {
  if (isGzip(bytes)) {
    try {
      bytes = gunzipSync(bytes);
    } catch (error) {
      throw new DatasetError(fileLabel, `corrupt gzip data: ${(error as Error).message}`, { cause: error });
    }
  }
  if (bytes.length < 4) {
    throw new DatasetError(fileLabel, `not an IDX file: only ${bytes.length} bytes, too short for the 4-byte magic number`);
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new DatasetError(fileLabel, `not an IDX file: magic number starts ${hex(bytes.subarray(0, 4))}, expected 00 00 <type> <dims>`);
  }
  const typeByte = bytes[2];
  const dataType = DATA_TYPES[typeByte];
  if (!dataType) {
    throw new DatasetError(fileLabel, `not an IDX file: unknown data type byte 0x${typeByte.toString(16).padStart(2, '0')}`);
  }
  if (dataType !== 'uint8') {
    throw new DatasetError(fileLabel, `unsupported IDX data type ${dataType} (0x${typeByte.toString(16).padStart(2, '0')}); only uint8 is supported`);
  }
  const dimCount = bytes[3];
  if (dimCount === 0) {
    throw new DatasetError(fileLabel, 'not an IDX file: the header declares 0 dimensions');
  }
  const headerSize = 4 + 4 * dimCount;
  if (bytes.length < headerSize) {
    throw new DatasetError(fileLabel, `truncated: header declares ${dimCount} dimensions (${headerSize} header bytes), file has ${bytes.length} bytes`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < dimCount; i++) dims.push(view.getUint32(4 + 4 * i, false));
  // uint8: one byte per value. The product of up to 255 uint32s can exceed 2^53, but then it
  // also exceeds any real file, so the comparison below still reports the mismatch correctly.
  const expected = dims.reduce((a, b) => a * b, 1);
  const actual = bytes.length - headerSize;
  const shape = `${dims.join('×')} = ${expected} bytes of data`;
  if (actual < expected) throw new DatasetError(fileLabel, `truncated: header says ${shape}, file has ${actual}`);
  if (actual > expected) throw new DatasetError(fileLabel, `trailing data: header says ${shape}, file has ${actual} (${actual - expected} extra)`);
  // A plain Uint8Array view (not a Buffer), so callers and tests see the same type either way.
  return { dataType, dims, data: new Uint8Array(bytes.buffer, bytes.byteOffset + headerSize, expected) };
}

/** Reads and parses an IDX file; errors name its path. */
export async function readIdxFile(path: string): Promise<IdxArray> {
  let raw: Uint8Array;
  try {
    raw = await readFile(path);
  } catch (error) {
    throw new DatasetError(path, `cannot read: ${(error as Error).message}`, { cause: error });
  }
  return parseIdx(await gunzipIfNeeded(raw, path), path);
}
