import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { lastFiniteSlots, MAX_READ_EVERY, pinnedReadEvery, READ_EVERY_ENV, READ_TARGET_MS, ReadCadence } from './read-cadence';

describe('the read-back cadence of the fused WebGPU step', () => {
  it('is pinned by LAYERBENCH_WEBGPU_READ_EVERY, and a value that is not a step count is refused with its name', () => {
    expect(pinnedReadEvery({})).toBeNull();
    expect(pinnedReadEvery({ [READ_EVERY_ENV]: ' 4 ' })).toBe(4);
    for (const bad of ['0', '2.5', 'four', '100000']) expect(() => pinnedReadEvery({ [READ_EVERY_ENV]: bad })).toThrow(new RegExp(`${READ_EVERY_ENV}=${bad}`));
  });

  it('auto: one read a step while steps are slow, up to the most steps when they are fast', async () => {
    const cadence = new ReadCadence('auto');
    expect(cadence.every).toBe(1);
    await sleep(READ_TARGET_MS * 2);
    cadence.read(1, true);
    expect(cadence.every).toBe(1);
    // A window of 8 steps that took far less than the target: K goes to the most.
    cadence.read(8, true);
    expect(cadence.every).toBe(MAX_READ_EVERY);
    // A read that came without a step (a flush) leaves K.
    await sleep(READ_TARGET_MS * 2);
    cadence.read(1, false);
    expect(cadence.every).toBe(MAX_READ_EVERY);
  });

  it('keeps K + 1 last-finite slots, fewer (and K lowered) where the variables are large', () => {
    const fixed = new ReadCadence(8);
    expect(lastFiniteSlots(fixed, 1024, 2 ** 30)).toBe(9);
    expect(fixed.every).toBe(8);
    const large = new ReadCadence(8);
    expect(lastFiniteSlots(large, 100 * 2 ** 20, 2 ** 30)).toBe(2);
    expect(large.every).toBe(1);
  });
});
