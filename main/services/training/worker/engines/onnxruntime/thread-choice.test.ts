import { describe, expect, it } from 'vitest';
import { fastestCount, MORE_THREADS_MIN_GAIN, RETIME_EVERY_RUNS, ThreadSwitch } from './thread-choice';

/** Runs `runs` runs through the switch, each taking `msAt(threads)` a step; returns the counts they ran at. */
function drive(threads: ThreadSwitch, runs: number, msAt: (threads: number) => number): number[] {
  const used: number[] = [];
  for (let r = 0; r < runs; r++) {
    const at = threads.next();
    used.push(threads.counts[at]!);
    threads.observe(at, msAt(threads.counts[at]!));
  }
  return used;
}

/** A switch between 1 and 2 threads timed at `one` and `two` ms a step at the start, using the count at index `chosen`. */
const timedAt = (one: number, two: number, chosen: number, retimeEvery?: number) =>
  new ThreadSwitch(
    [1, 2],
    [
      { threads: 1, msPerStep: one },
      { threads: 2, msPerStep: two },
    ],
    chosen,
    retimeEvery,
  );

describe('thread choice', () => {
  it('uses more threads only when they are MORE_THREADS_MIN_GAIN faster a step', () => {
    expect(fastestCount([5])).toBe(0);
    expect(fastestCount([5, 3.6])).toBe(1);
    expect(fastestCount([5, 5 * (1 - MORE_THREADS_MIN_GAIN) + 0.01])).toBe(0);
    expect(fastestCount([5, 7])).toBe(0);
    expect(fastestCount([6, 4, 3.9])).toBe(1);
    expect(fastestCount([6, 4, 3.7])).toBe(2);
  });

  it('on a steady machine keeps the count timed at the start, re-timing the other ever more rarely', () => {
    const threads = timedAt(5.3, 3.6, 1);
    const used = drive(threads, 1000, (t) => (t === 1 ? 5.3 : 3.6));
    expect(threads.threads).toBe(2);
    // Re-timings after 32 runs, then 64, then 128, then every 128 (the intervals double up to 4×).
    const ones = used.flatMap((t, i) => (t === 1 ? [i] : []));
    const r = RETIME_EVERY_RUNS;
    expect(ones.slice(0, 4)).toEqual([r, r + 1 + 2 * r, r + 1 + 2 * r + 1 + 4 * r, r + 1 + 2 * r + 1 + 4 * r + 1 + 4 * r]);
    expect(ones.length).toBeLessThanOrEqual(1000 / 128 + 1);
    expect(threads.runs).toEqual([ones.length, 1000 - ones.length]);
  });

  it('moves to fewer threads when another program takes a core, and back when it leaves', () => {
    const threads = timedAt(5.3, 3.6, 1);
    drive(threads, 400, (t) => (t === 1 ? 5.3 : 3.6));
    expect(threads.threads).toBe(2);
    // Busy: two threads take 2–3× as long, one ~10% longer. Three slow runs in a row re-time 1 thread at the next run.
    const busy = drive(threads, 5, (t) => (t === 1 ? 5.9 : 9.5));
    expect(busy).toEqual([2, 2, 2, 1, 1]);
    expect(threads.threads).toBe(1);
    // On 1 thread a freed core does not show in the runs' times: 2 threads are re-timed every RETIME_EVERY_RUNS runs, not more rarely.
    const stillBusy = drive(threads, 200, (t) => (t === 1 ? 5.9 : 9.5));
    expect(threads.threads).toBe(1);
    const twos = stillBusy.flatMap((t, i) => (t === 2 ? [i] : []));
    expect(twos.slice(0, 3)).toEqual([RETIME_EVERY_RUNS - 1, 2 * RETIME_EVERY_RUNS, 3 * RETIME_EVERY_RUNS + 1]);
    // Idle again: the next re-timing of 2 threads finds them faster.
    const idle = drive(threads, RETIME_EVERY_RUNS + 1, (t) => (t === 1 ? 5.3 : 3.6));
    expect(idle).toContain(2);
    expect(threads.threads).toBe(2);
  });

  it('re-times when the runs get faster than when the count was chosen (it was chosen in a busy moment)', () => {
    const threads = timedAt(9, 6, 1);
    // Three runs 40% faster than the 6 ms the count was chosen at: 1 thread is timed at the fourth.
    expect(drive(threads, 5, (t) => (t === 1 ? 5.3 : 3.6))).toEqual([2, 2, 2, 1, 2]);
    expect(threads.threads).toBe(2);
  });

  it('weighs the count in use by its running average, not its last run', () => {
    const threads = timedAt(5.3, 3.6, 1);
    drive(threads, RETIME_EVERY_RUNS - 1, () => 3.6);
    // One slow run (not three: no load change) just before the re-timing: 3.6·0.7 + 6·0.3 = 4.32 ms stays below 1 thread's 5.3.
    drive(threads, 1, () => 6);
    expect(drive(threads, 1, () => 5.3)).toEqual([1]);
    expect(threads.threads).toBe(2);
  });

  it("after a move, measures a load change from the new count's own next run, not from its cold re-timing run", () => {
    const threads = timedAt(5.3, 3.6, 0, 4);
    // 1 thread in use; 2 threads' first run (the re-timing) is cold, 4.6 ms; their runs after it warm, 3.6 ms.
    let twoThreadRuns = 0;
    const used = drive(threads, 12, (t) => (t === 1 ? 5.3 : twoThreadRuns++ === 0 ? 4.6 : 3.6));
    // Runs 5–8 at 2 threads are 22% faster than the cold run, which is no load change: 1 thread is re-timed at run 9
    // (RETIME_EVERY_RUNS after the move), not at run 8. 2 threads stay, and the next re-timing is 8 runs away.
    expect(used).toEqual([1, 1, 1, 1, 2, 2, 2, 2, 2, 1, 2, 2]);
    expect(threads.threads).toBe(2);
  });

  it('starts from a count that was not timed (one count, or a time unknown)', () => {
    const single = new ThreadSwitch([1], [], 0);
    expect(drive(single, 100, () => 5)).toEqual(Array<number>(100).fill(1));
    expect(single.runs).toEqual([100]);
    const untimed = new ThreadSwitch([1, 2], [], 0, 4);
    drive(untimed, 20, (t) => (t === 1 ? 5.3 : 3.6));
    expect(untimed.threads).toBe(2);
    expect(() => new ThreadSwitch([1, 2], [], 0, 0)).toThrow(/whole number from 1, not 0/);
  });
});
