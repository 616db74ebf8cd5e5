/**
 * The rules every file reader follows, in one place: `stat` first and refuse anything that is not a
 * regular file (a FIFO would block forever, /dev/zero grows memory without end, a folder is no
 * file); check the size against a cap before allocating; decompress no more than the gzip trailer
 * declares; quote offending content short and printable. Errors are FileReadErrors (DomainErrors)
 * naming the path: 'limit' for a cap, 'unsupported' for a wrong kind of file, 'invalid-input' for
 * corrupt data, 'not-found', 'io'.
 */
import { constants } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { createGunzip, gunzip, gunzipSync } from 'node:zlib';
import { promisify } from 'node:util';
import { DomainError, type DomainErrorCode } from '../../../contract/wire';
import { formatBytes } from '../../../model/memory';

export { formatBytes };

const gunzipAsync = promisify(gunzip);

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

/** The caps a user may change, each by an environment variable (documented in the README). */
export const LIMITS_ENV = {
  /** Width × height of one image, read from its header before decoding. */
  imagePixels: { name: 'LAYERBENCH_MAX_IMAGE_PIXELS', fallback: 50_000_000 },
  /** Bytes in one CSV line (a file without line breaks would otherwise be one string). */
  csvLineBytes: { name: 'LAYERBENCH_MAX_CSV_LINE_BYTES', fallback: MiB },
  /** Bytes of a binary file read whole (IDX data after decompression, weights, images, HDF5). */
  fileBytes: { name: 'LAYERBENCH_MAX_FILE_BYTES', fallback: 2 * GiB },
} as const;
export type LimitName = keyof typeof LIMITS_ENV;

/** JSON documents (projects, run.json, meta.json, model.json): far above any real one. */
export const MAX_JSON_BYTES = 64 * MiB;
/** Line-per-record logs (metrics.jsonl, stats.jsonl): below V8's longest string (~512 MiB). */
export const MAX_LOG_BYTES = 400 * MiB;

/** A cap: its environment variable when set (a positive integer), else its default. */
export function limit(name: LimitName, env: NodeJS.ProcessEnv = process.env): number {
  const { name: variable, fallback } = LIMITS_ENV[name];
  const raw = env[variable];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1) throw new DomainError('invalid-input', `${variable} must be a positive whole number, got ${quote(raw)}`);
  return value;
}

/** A refused or failed read: `path: problem`, both kept apart for callers that word errors their own way. */
export class FileReadError extends DomainError {
  constructor(
    code: DomainErrorCode,
    readonly path: string,
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(code, `${path}: ${problem}`, options);
    this.name = 'FileReadError';
  }
}

/** Up to `max` characters of `text` with everything unprintable escaped; `cut` when there was more. */
function escapeText(text: string, max: number, quotes: boolean): { out: string; cut: boolean } {
  let out = '';
  let shown = 0;
  for (const char of text) {
    if (shown >= max) return { out, cut: true };
    const code = char.codePointAt(0)!;
    if (code < 0x20 || code === 0x7f || (code >= 0x80 && code < 0xa0))
      out += code === 0x0a ? '\\n' : code === 0x09 ? '\\t' : code === 0x0d ? '\\r' : `\\x${code.toString(16).padStart(2, '0')}`;
    // Lone surrogates, and U+FFFD (what invalid UTF-8 decodes to): binary, shown as escapes.
    else if ((code >= 0xd800 && code <= 0xdfff) || code === 0xfffd) out += `\\u${code.toString(16)}`;
    else if (quotes && (char === '"' || char === '\\')) out += `\\${char}`;
    else out += char;
    shown++;
  }
  return { out, cut: false };
}

/**
 * At most `max` characters of `text` in double quotes, printable only: control characters,
 * lone surrogates and U+FFFD as escapes (\x00, \n, \ufffd), the rest counted
 * ("… (1048576 characters in all)"). Safe to put in any message.
 */
export function quote(text: string, max = 80): string {
  const { out, cut } = escapeText(text, max, true);
  return `"${out}"${cut ? `… (${text.length} characters in all)` : ''}`;
}

/** A message from elsewhere (JSON.parse quotes the text it failed on) made printable and short. */
export function printable(text: string, max = 300): string {
  const { out, cut } = escapeText(text, max, false);
  return cut ? `${out}…` : out;
}

/** What a path is, in words, for a refusal: "a named pipe (FIFO)". */
function kindOf(info: Awaited<ReturnType<typeof stat>>): string {
  if (info.isDirectory()) return 'a folder';
  if (info.isFIFO()) return 'a named pipe (FIFO)';
  if (info.isSocket()) return 'a socket';
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

export interface ReadOptions {
  /** The cap in bytes; a larger file is refused without reading it. */
  maxBytes: number;
  /** The environment variable that raises the cap, named in the refusal. */
  limitEnv?: string;
  /** What the file is, for messages: "project file", "IDX file". */
  what?: string;
}

/** The refusal of a file over a cap. */
export function tooLarge(path: string, size: number, options: ReadOptions): FileReadError {
  return new FileReadError('limit', path, `the ${options.what ?? 'file'} is ${formatBytes(size)}, ${overLimit(options)}`);
}

/** "more than the limit of 2.0 GiB (set LAYERBENCH_… to raise the limit)" */
export function overLimit(options: Pick<ReadOptions, 'maxBytes' | 'limitEnv'>): string {
  return `more than the limit of ${formatBytes(options.maxBytes)}${options.limitEnv ? ` (set ${options.limitEnv} to raise the limit)` : ''}`;
}

function fsError(path: string, error: unknown): FileReadError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new FileReadError('not-found', path, `no such file`, { cause: error });
  if (code === 'ENOTDIR') return new FileReadError('not-found', path, `a part of the path is not a folder`, { cause: error });
  if (code === 'EACCES' || code === 'EPERM') return new FileReadError('io', path, `permission denied`, { cause: error });
  if (code === 'ELOOP') return new FileReadError('unsupported', path, `too many symbolic links (a link loop)`, { cause: error });
  return new FileReadError('io', path, `cannot read (${(error as Error).message})`, { cause: error });
}

/**
 * Opens a regular file for reading, refusing anything else before opening it. The open is
 * non-blocking (a FIFO swapped in after the stat cannot block) and checked again on the handle.
 * Returns the handle and the size; the caller closes the handle.
 */
export async function openRegularFile(path: string, options: ReadOptions): Promise<{ handle: FileHandle; size: number }> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    throw fsError(path, error);
  }
  if (!info.isFile()) throw new FileReadError('unsupported', path, `${kindOf(info)}, not a regular file: give the path of a ${options.what ?? 'file'}`);
  if (info.size > options.maxBytes) throw tooLarge(path, info.size, options);
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw fsError(path, error);
  }
  const now = await handle.stat();
  if (!now.isFile() || now.size > options.maxBytes) {
    await handle.close();
    throw now.isFile() ? tooLarge(path, now.size, options) : new FileReadError('unsupported', path, `${kindOf(now)}, not a regular file`);
  }
  return { handle, size: now.size };
}

/** Reads `length` bytes from `position`, fewer only at the end of the file. */
export async function readAt(handle: FileHandle, length: number, position: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await handle.read(buffer, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === length ? buffer : buffer.subarray(0, got);
}

/** A regular file's bytes, refused (without reading) when over `maxBytes`. Never reads past the size it stat'ed. */
export async function readFileBounded(path: string, options: ReadOptions): Promise<Buffer> {
  const { handle, size } = await openRegularFile(path, options);
  try {
    return await readAt(handle, size, 0);
  } catch (error) {
    throw fsError(path, error);
  } finally {
    await handle.close();
  }
}

/** A regular file's text (UTF-8), capped like readFileBounded; JSON documents by default. */
export async function readTextBounded(path: string, options: Partial<ReadOptions> = {}): Promise<string> {
  return (await readFileBounded(path, { maxBytes: MAX_JSON_BYTES, ...options })).toString('utf8');
}

/** A JSON file read within the bounds and parsed; text that is not JSON is an `invalid-input` FileReadError ("malformed JSON: …"). */
export async function readJsonBounded(path: string, options: Partial<ReadOptions> = {}): Promise<unknown> {
  const text = await readTextBounded(path, options);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new FileReadError('invalid-input', path, `malformed JSON: ${printable((error as Error).message)}`, { cause: error });
  }
}

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** The size a gzip's trailer declares (ISIZE, its last four bytes): the bound decompression is held to. */
function declaredSize(bytes: Uint8Array, label: string): number {
  if (bytes.length < 18) throw new FileReadError('invalid-input', label, `corrupt gzip data: ${bytes.length} bytes, too short for a gzip header and trailer`);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).readUInt32LE(bytes.length - 4);
}

function gzipError(error: unknown, label: string, declared: number): FileReadError {
  const code = (error as NodeJS.ErrnoException).code;
  const problem =
    error instanceof RangeError || code === 'ERR_BUFFER_TOO_LARGE' ? `it decompresses to more than the ${formatBytes(declared)} its trailer declares` : (error as Error).message;
  return new FileReadError('invalid-input', label, `corrupt gzip data: ${problem}`, { cause: error });
}

/**
 * Why a trailer declares more than the cap: the data is that large, or the file is truncated (its
 * last bytes are then no trailer). Inflating while only counting the output tells which, in
 * constant memory, and stops once past the cap.
 */
async function overDeclared(bytes: Uint8Array, label: string, options: ReadOptions): Promise<FileReadError> {
  const outcome = await new Promise<Error | null>((resolve) => {
    const inflater = createGunzip();
    let size = 0;
    inflater.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > options.maxBytes) {
        inflater.destroy();
        resolve(null);
      }
    });
    inflater.on('error', resolve);
    inflater.on('end', () => resolve(null));
    inflater.end(bytes);
  });
  if (outcome) return new FileReadError('invalid-input', label, `corrupt gzip data: ${outcome.message}`, { cause: outcome });
  return new FileReadError('limit', label, `decompresses to ${overLimit(options)}`);
}

/**
 * Decompresses gzip bytes into no more than the trailer declares, and that within `maxBytes`: a
 * bomb that declares little stops at what it declared; one that declares more than the cap is
 * never inflated into memory.
 */
export async function gunzipBounded(bytes: Uint8Array, label: string, options: ReadOptions): Promise<Buffer> {
  const declared = declaredSize(bytes, label);
  if (declared > options.maxBytes) throw await overDeclared(bytes, label, options);
  try {
    return await gunzipAsync(bytes, { maxOutputLength: Math.max(declared, 1) });
  } catch (error) {
    throw gzipError(error, label, declared);
  }
}

/** gunzipBounded, synchronously (small in-memory buffers): a trailer over the cap is refused as it is. */
export function gunzipBoundedSync(bytes: Uint8Array, label: string, options: ReadOptions): Buffer {
  const declared = declaredSize(bytes, label);
  if (declared > options.maxBytes)
    throw new FileReadError('limit', label, `corrupt or too large gzip data: its trailer declares ${formatBytes(declared)} decompressed, ${overLimit(options)}`);
  try {
    return gunzipSync(bytes, { maxOutputLength: Math.max(declared, 1) });
  } catch (error) {
    throw gzipError(error, label, declared);
  }
}
