/**
 * A reader for the IDX format (the MNIST family's container): a 4-byte magic `00 00 <type> <ndims>`,
 * then one big-endian uint32 per dimension, then the data. Files may be gzipped (the official
 * downloads and Debian's copies are); we detect that from the content, not the file name.
 */
import type { DomainErrorCode } from '../../../contract/wire';
import { FileReadError, gunzipBounded, gunzipBoundedSync, isGzip, limit, LIMITS_ENV, openRegularFile, readAt, type ReadOptions } from '../files/bounded-read';

export { isGzip };

/** Every dataset problem is reported with the file it concerns, so the user knows what to fix or delete. */
export class DatasetError extends Error {
  override name = 'DatasetError';
  /** The file (path, name or URL) the problem is in. */
  readonly file: string;
  /** The API error code it crosses the wire with: a problem with the data unless the thrower says otherwise. */
  readonly code: DomainErrorCode;

  constructor(file: string, problem: string, options?: { cause?: unknown; code?: DomainErrorCode }) {
    super(`${file}: ${problem}`, options);
    this.file = file;
    this.code = options?.code ?? 'invalid-input';
  }
}

/** A refused read (not a regular file, over a cap, unreadable) as a DatasetError with the same code. */
export function asDatasetError(error: unknown): unknown {
  return error instanceof FileReadError ? new DatasetError(error.path, error.problem, { cause: error, code: error.code }) : error;
}

/** What an IDX file may hold once decompressed: $LAYERBENCH_MAX_FILE_BYTES. */
function idxReadOptions(): ReadOptions {
  return { maxBytes: limit('fileBytes'), limitEnv: LIMITS_ENV.fileBytes.name, what: 'IDX file' };
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

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/**
 * Decompresses gzip content asynchronously (off the event loop: the training images are 47 MB), to
 * no more than its trailer declares and $LAYERBENCH_MAX_FILE_BYTES allows.
 */
export async function gunzipIfNeeded(bytes: Uint8Array, fileLabel: string): Promise<Uint8Array> {
  if (!isGzip(bytes)) return bytes;
  try {
    return await gunzipBounded(bytes, fileLabel, idxReadOptions());
  } catch (error) {
    throw asDatasetError(error);
  }
}

/**
 * Parses IDX bytes (plain or gzipped). `fileLabel` is used in error messages only.
 * Strict about size: a truncated download or trailing junk is an error rather than silently odd data.
 */
export function parseIdx(bytes: Uint8Array, fileLabel: string): IdxArray {
  if (isGzip(bytes)) {
    try {
      bytes = gunzipBoundedSync(bytes, fileLabel, idxReadOptions());
    } catch (error) {
      throw asDatasetError(error);
    }
  }
  const { dataType, dims, headerSize } = parseIdxHeader(bytes, fileLabel);
  checkIdxSize(dims, bytes.length - headerSize, fileLabel);
  // A plain Uint8Array view (not a Buffer), so callers and tests see the same type either way.
  const expected = bytes.length - headerSize;
  return { dataType, dims, data: new Uint8Array(bytes.buffer, bytes.byteOffset + headerSize, expected) };
}

/** The largest IDX header: the magic number and 255 dimensions. */
const MAX_HEADER_BYTES = 4 + 4 * 255;

/** The magic number and dimensions from the first bytes (all of the header, or more). */
function parseIdxHeader(bytes: Uint8Array, fileLabel: string): { dataType: IdxDataType; dims: number[]; headerSize: number } {
  if (bytes.length < 4) {
    throw new DatasetError(fileLabel, `not an IDX file: only ${bytes.length} bytes, too short for the 4-byte magic number`, { code: 'invalid-input' });
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new DatasetError(fileLabel, `not an IDX file: magic number starts ${hex(bytes.subarray(0, 4))}, expected 00 00 <type> <dims>`, { code: 'invalid-input' });
  }
  const typeByte = bytes[2];
  const dataType = DATA_TYPES[typeByte];
  if (!dataType) {
    throw new DatasetError(fileLabel, `not an IDX file: unknown data type byte 0x${typeByte.toString(16).padStart(2, '0')}`, { code: 'invalid-input' });
  }
  if (dataType !== 'uint8') {
    throw new DatasetError(fileLabel, `unsupported IDX data type ${dataType} (0x${typeByte.toString(16).padStart(2, '0')}); only uint8 is supported`, { code: 'unsupported' });
  }
  const dimCount = bytes[3];
  if (dimCount === 0) {
    throw new DatasetError(fileLabel, 'not an IDX file: the header declares 0 dimensions', { code: 'invalid-input' });
  }
  const headerSize = 4 + 4 * dimCount;
  if (bytes.length < headerSize) {
    throw new DatasetError(fileLabel, `truncated: header declares ${dimCount} dimensions (${headerSize} header bytes), file has ${bytes.length} bytes`, { code: 'invalid-input' });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < dimCount; i++) dims.push(view.getUint32(4 + 4 * i, false));
  return { dataType, dims, headerSize };
}

/** The data's size against what the header declares: strict, so a truncated download or trailing junk is an error. */
function checkIdxSize(dims: readonly number[], actual: number, fileLabel: string): void {
  // uint8: one byte per value. The product of up to 255 uint32s can exceed 2^53, but then it
  // also exceeds any real file, so the comparison below still reports the mismatch correctly.
  const expected = dims.reduce((a, b) => a * b, 1);
  const shape = `${dims.join('×')} = ${expected} bytes of data`;
  if (actual < expected) throw new DatasetError(fileLabel, `truncated: header says ${shape}, file has ${actual}`, { code: 'invalid-input' });
  if (actual > expected) throw new DatasetError(fileLabel, `trailing data: header says ${shape}, file has ${actual} (${actual - expected} extra)`, { code: 'invalid-input' });
}

/**
 * Reads and parses an IDX file; errors name its path. Only regular files are read; a plain file's
 * header is checked against its size before the data is read, a gzipped one is decompressed no
 * further than its trailer declares, both within $LAYERBENCH_MAX_FILE_BYTES.
 */
export async function readIdxFile(path: string): Promise<IdxArray> {
  const options = idxReadOptions();
  try {
    const { handle, size } = await openRegularFile(path, options);
    let raw: Uint8Array;
    try {
      const head = await readAt(handle, Math.min(size, MAX_HEADER_BYTES), 0);
      if (!isGzip(head)) {
        const { dims, headerSize } = parseIdxHeader(head, path);
        checkIdxSize(dims, size - headerSize, path);
      }
      raw = await readAt(handle, size, 0);
    } finally {
      await handle.close();
    }
    return parseIdx(await gunzipIfNeeded(raw, path), path);
  } catch (error) {
    throw asDatasetError(error);
  }
}
