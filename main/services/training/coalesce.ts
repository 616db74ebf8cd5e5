/**
 * Bounds the rate of UI updates without losing data: batch records are buffered and delivered
 * together at most `maxPerSecond` times a second. Anything else (an epoch, the end of a run)
 * flushes the buffer first, so the UI sees events in the order they happened.
 */
import type { BatchRecord } from '../../../contract';

export interface BatchCoalescerOptions {
  maxPerSecond: number;
  flush(batches: BatchRecord[]): void;
  now?: () => number;
}

export class BatchCoalescer {
  private pending: BatchRecord[] = [];
  private timer: NodeJS.Timeout | null = null;
  private lastFlush = -Infinity;
  private readonly interval: number;
  private readonly now: () => number;

  constructor(private readonly options: BatchCoalescerOptions) {
    this.interval = 1000 / options.maxPerSecond;
    this.now = options.now ?? (() => performance.now());
  }

  push(record: BatchRecord): void {
    this.pending.push(record);
    if (this.timer) return;
    const wait = this.lastFlush + this.interval - this.now();
    if (wait <= 0) this.flush();
    else this.timer = setTimeout(() => this.flush(), wait);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.length === 0) return;
    const batches = this.pending;
    this.pending = [];
    this.lastFlush = this.now();
    this.options.flush(batches);
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.pending = [];
  }
}
