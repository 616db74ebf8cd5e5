import type { DomainErrorCode } from '../../../contract/wire';
import { FileReadError } from '../files/bounded-read';

/**
 * Errors of the export and import services: each names the file, and the layer or field when there
 * is one. The codes are the API's domain codes, so they reach the caller as they are:
 * 'exists' (the output exists and `force` was not given), 'io' (reading or writing failed),
 * 'invalid-input' (a malformed file or spec, weights that do not match), 'not-found' (a run without
 * weights, a missing file), 'unsupported' (a layer, setting or data type the format cannot hold; a
 * path that is no regular file), 'limit' (a file over a size cap, a model larger than Layerbench reads).
 */
export type ExportErrorCode = Extract<DomainErrorCode, 'exists' | 'io' | 'invalid-input' | 'not-found' | 'unsupported' | 'limit'>;

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
  const code: ExportErrorCode = error.code === 'not-found' || error.code === 'limit' || error.code === 'unsupported' || error.code === 'invalid-input' ? error.code : 'io';
  return new ExportError(code, error.message, error.path);
}
