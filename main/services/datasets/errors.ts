/**
 * Errors of an import. A whole-source problem (missing folder, a single class, no samples) is a
 * plain DatasetError and always fails the import; a BadItemError concerns one file or CSV line and
 * is either fatal (the default) or skipped and listed when the user chose `skipBad`.
 */
import type { BadItem } from '../../../contract/datasets';
import { DatasetError } from './idx';

export { DatasetError };

export class BadItemError extends DatasetError {
  override name = 'BadItemError';
  readonly line: number | undefined;
  readonly reason: string;

  constructor(file: string, line: number | undefined, reason: string, options?: ConstructorParameters<typeof DatasetError>[2]) {
    super(file, reason, { code: 'invalid-input', ...options });
    this.line = line;
    this.reason = reason;
    // "data.csv, line 12: …": the user can jump straight to the place.
    if (line !== undefined) this.message = `${file}, line ${line}: ${reason}`;
  }

  toBadItem(): BadItem {
    return this.line === undefined ? { file: this.file, reason: this.reason } : { file: this.file, line: this.line, reason: this.reason };
  }
}

/** The error an import fails with when the user cancels it; callers recognise it by its code, `cancelled`. */
export class ImportCancelledError extends Error {
  override name = 'ImportCancelledError';
  readonly code = 'cancelled' as const;
  constructor(importId: string) {
    super(`Import ${importId} was cancelled`);
  }
}
