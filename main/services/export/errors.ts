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
  /** A layer, setting or data type the format cannot hold. */
  | 'unsupported';

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
