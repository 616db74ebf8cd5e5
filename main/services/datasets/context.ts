/**
 * What every importer gets: where to report bad items (fatal or skipped), progress (rate-limited
 * here, once for all importers) and the cancellation signal.
 */
import type { BadItem, DatasetImportProgress } from '../../../contract/datasets';
import { BadItemError } from './errors';

/** How many skipped items a response lists; the summary counts all of them. */
export const MAX_LISTED_BAD_ITEMS = 100;
/** At most one progress event per this many ms (~10/s), plus phase changes and the final 'done'. */
export const PROGRESS_INTERVAL_MS = 100;

export type ImportPhase = DatasetImportProgress['phase'];

export class ImportContext {
  readonly badItems: BadItem[] = [];
  skipped = 0;
  private lastEmit = 0;
  private lastPhase: ImportPhase | null = null;

  constructor(
    readonly importId: string,
    readonly skipBad: boolean,
    readonly signal: AbortSignal,
    private readonly onProgress: (progress: DatasetImportProgress) => void = () => {},
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** A bad file or line: thrown when the user did not choose to skip, else counted and listed. */
  bad(error: BadItemError): void {
    if (!this.skipBad) throw error;
    this.skipped++;
    if (this.badItems.length < MAX_LISTED_BAD_ITEMS) this.badItems.push(error.toBadItem());
  }

  /** Reports progress when the interval has passed or the phase changed; cheap to call per item. */
  progress(phase: ImportPhase, done: number, total: number | null): void {
    const now = this.now();
    if (phase === this.lastPhase && now - this.lastEmit < PROGRESS_INTERVAL_MS) return;
    this.lastEmit = now;
    this.lastPhase = phase;
    this.onProgress({ importId: this.importId, phase, done, total, skipped: this.skipped });
  }

  /** The last event of a successful import, always sent. */
  done(count: number): void {
    this.lastPhase = 'done';
    this.onProgress({ importId: this.importId, phase: 'done', done: count, total: count, skipped: this.skipped });
  }

  /** Throws the cancellation error when cancelled; call it between items. */
  check(): void {
    this.signal.throwIfAborted();
  }
}
