import { FileReadError } from '../files/bounded-read';

/** Errors of the export and import services: each names the file, and the layer or field when there is one. */
export type ExportErrorCode =
  /** The output exists and `force` was not given. */
  | 'exists'
  /** Reading or writing a file failed (permissions, full disk, a path through a file, ...). */
  | 'io'
  /** A file or a spec is malformed or does not match its weights. */
  | 'invalid'
  /** Something the export needs is not there (a run without weights, a missing weights file). */
  | 'missing'
  /** A layer, setting or data type the format cannot hold; a path that is no regular file. */
  | 'unsupported'
  /** A file over a size cap, or a model larger than Layerbench reads. */
  | 'limit';

export class ExportError extends Error {
  readonly code: ExportErrorCode;
  readonly path?: string;
  constructor(code: ExportErrorCode, message: string, path?: string) {
    super(message);
    this.name = 'ExportError';
    this.code = code;
    if (path !== undefined) this.path = path;
  }
}

/** `path: [field: ]message`, the shape every import error takes. */
export function fileError(code: ExportErrorCode, path: string, message: string, field?: string): ExportError {
  return new ExportError(code, `${path}: ${field ? `${field}: ` : ''}${message}`, path);
}

/** A refused read (bounded-read's FileReadError) as an ExportError with the matching code; anything else as it is. */
export function fromReadError(error: unknown): unknown {
  if (!(error instanceof FileReadError)) return error;
  const code: ExportErrorCode = error.code === 'not-found' ? 'missing' : error.code === 'limit' || error.code === 'unsupported' ? error.code : error.code === 'invalid-input' ? 'invalid' : 'io';
  return new ExportError(code, error.message, error.path);
}
