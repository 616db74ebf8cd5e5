/** The update coalescer: batches and stats to the UI at a bounded rate, none lost. */
import { describe, expect, it, vi } from 'vitest';
import type { BatchRecord, StatsRecord } from '../../../../contract';
import { UpdateCoalescer } from './coalesce';

describe('UpdateCoalescer', () => {
  it('delivers batches and stats together at most maxPerSecond events a second, losing nothing', () => {
    vi.useFakeTimers();
    try {
      const start = Date.now();
      const deliveries: { t: number; batches: number; stats: number }[] = [];
      const c = new UpdateCoalescer({
        maxPerSecond: 20,
        now: () => Date.now() - start,
        flush: (batches, stats) => {
          deliveries.push({ t: Date.now() - start, batches: batches.length, stats: stats.length });
          return (batches.length ? 1 : 0) + (stats.length ? 1 : 0);
        },
      });
      const batch = (step: number): BatchRecord => ({ epoch: 0, batch: step, step, loss: 1, acc: 0 });
      const stats = (step: number): StatsRecord => ({ epoch: 0, step, bn: [], layers: [] });
      for (let step = 0; step < 1000; step++) {
        // a batch every 5 ms, for 5 s
        c.pushBatch(batch(step));
        if (step % 50 === 0) c.pushStats(stats(step));
        vi.advanceTimersByTime(5);
      }
      const timed = deliveries.length;
      c.flush();
      expect(deliveries.reduce((n, d) => n + d.batches, 0)).toBe(1000);
      expect(deliveries.reduce((n, d) => n + d.stats, 0)).toBe(20);
      // Over the 5 s of timed deliveries (the final flush is forced), ≤ 20 events a second.
      const timedDeliveries = deliveries.slice(0, timed);
      const events = timedDeliveries.reduce((n, d) => n + (d.batches ? 1 : 0) + (d.stats ? 1 : 0), 0);
      const span = (timedDeliveries[timed - 1]!.t - timedDeliveries[0]!.t) / 1000;
      // (The first event opens the span.)
      expect((events - 1) / span).toBeLessThanOrEqual(20);
      expect((events - 1) / span).toBeGreaterThan(15);
      // A delivery with both kinds counts twice: the next one waits 100 ms instead of 50.
      const both = deliveries.findIndex((d) => d.batches && d.stats);
      expect(deliveries[both + 1]!.t - deliveries[both]!.t).toBeGreaterThanOrEqual(100);
    } finally {
      vi.useRealTimers();
    }
  });
});
