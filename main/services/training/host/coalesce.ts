/**
 * Bounds the rate of UI updates without losing data: batch records and statistics records are
 * buffered and delivered together, as at most `maxPerSecond` events a second in all (a delivery
 * that sends both a 'batches' and a 'stats' event counts twice, and the next one waits twice as
 * long). Anything else (an epoch, a pause, the end of a run) flushes the buffer first, so the UI
 * sees events in the order they happened.
 */
import type { BatchRecord, StatsRecord } from '../../../../contract';

export interface UpdateCoalescerOptions {
  maxPerSecond: number;
  /** Delivers what was buffered (batches first); returns how many events it emitted. */
  flush(batches: BatchRecord[], stats: StatsRecord[]): number;
  now?: () => number;
}

export class UpdateCoalescer {
  private batches: BatchRecord[] = [];
  private stats: StatsRecord[] = [];
  private timer: NodeJS.Timeout | null = null;
  /** When the next timed delivery may happen. */
  private nextAllowed = -Infinity;
  private readonly interval: number;
  private readonly now: () => number;

  constructor(private readonly options: UpdateCoalescerOptions) {
    this.interval = 1000 / options.maxPerSecond;
    this.now = options.now ?? (() => performance.now());
  }

  pushBatch(record: BatchRecord): void {
    this.batches.push(record);
    this.schedule();
  }

  pushStats(record: StatsRecord): void {
    this.stats.push(record);
    this.schedule();
  }

  private schedule(): void {
    if (this.timer) return;
    const wait = this.nextAllowed - this.now();
    if (wait <= 0) this.flush();
    else this.timer = setTimeout(() => this.flush(), wait);
  }

  /** Delivers everything buffered now. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.batches.length === 0 && this.stats.length === 0) return;
    const batches = this.batches;
    const stats = this.stats;
    this.batches = [];
    this.stats = [];
    const emitted = this.options.flush(batches, stats);
    this.nextAllowed = this.now() + Math.max(1, emitted) * this.interval;
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.batches = [];
    this.stats = [];
  }
}
