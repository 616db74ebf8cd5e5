/**
 * HeldSteps (held-steps.ts): a batch is copied into the engine's ring unless its caller leaves it
 * alone for at least as many later batches as the ring has slots; a kept batch is held as it is.
 */
import { describe, expect, it } from 'vitest';
import { HeldSteps, RECENT_RUNS } from './held-steps';

describe('HeldSteps', () => {
  it('copies a batch unless the caller keeps it as long as the slots last, and holds a kept one as it is', () => {
    const held = new HeldSteps(4, 2);
    expect(held.slotCount).toBe((RECENT_RUNS + 1) * 2);
    const x = Float32Array.from({ length: 12 }, (_, i) => i);
    const y = Int32Array.of(1, 2, 3);
    const kept = held.hold(x, y, 2, 0.1, new Map(), held.slotCount);
    const copied = held.hold(x, y, 2, 0.1, new Map(), held.slotCount - 1);
    expect(kept.x.buffer).toBe(x.buffer);
    expect(kept.y.buffer).toBe(y.buffer);
    expect(copied.x.buffer).not.toBe(x.buffer);
    // n samples only, in either case.
    expect([...kept.x]).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect([...copied.x]).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect([...copied.y]).toEqual([1, 2]);
    x.fill(-1);
    y.fill(-1);
    expect(copied.x[0]).toBe(0);
    expect(copied.y[1]).toBe(2);
    expect(kept.x[0]).toBe(-1);
  });
});
