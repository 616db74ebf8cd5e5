/**
 * ONNX Runtime's intra-op threads for a run, chosen by timing the run's own step at its start
 * (chooseThreads) and again while it trains (ThreadSwitch): on an idle 2-core machine a second core
 * gives the full path +15–40% (bench/README.md), and on a machine whose cores other work holds it
 * cost as much (the revert of 2026-12-04), so no fixed count is right everywhere, nor all the time.
 */
import { availableParallelism } from 'node:os';
import type * as Ort from 'onnxruntime-node';
import { product } from '../../../../../../model/layers/checks';
import type { HeldStep } from './held-steps';
import { stepFeeds, unrolledFeeds } from './step-feeds';
import type { StepGraph } from './step-graph';

/**
 * Session options for `threads` intra-op threads. Pool threads spin inside a run (waking a sleeping
 * thread for each of the step's ~140 small nodes cost what the second core saved) and stop spinning
 * when it returns (spinning on took the core the loop's own work between runs needs): bench/README.md.
 */
export function threadOptions(base: Ort.InferenceSession.SessionOptions, threads: number): Ort.InferenceSession.SessionOptions {
  return { ...base, intraOpNumThreads: threads, ...(threads > 1 ? { extra: { session: { intra_op: { allow_spinning: '1' }, force_spinning_stop: '1' } } } : {}) };
}

/**
 * The smallest batch at which a run times 2 threads against 1. Below it the step's nodes are small:
 * at batch 32 two threads won by 10–20% on an idle machine and lost by 20% in the day's full bench
 * run, where the loop's main thread and the second pool thread took turns on the second core.
 */
export const TWO_THREADS_MIN_BATCH = 128;

/** The counts a run times: 1 and 2 from TWO_THREADS_MIN_BATCH on a machine of two cores or more, else 1. */
export function threadCandidates(batchSize: number | undefined, cores = availableParallelism()): number[] {
  return batchSize !== undefined && batchSize >= TWO_THREADS_MIN_BATCH && cores >= 2 ? [1, 2] : [1];
}

/** More threads must beat fewer by this much a step to be used: a core the step barely needs is the main thread's. */
export const MORE_THREADS_MIN_GAIN = 0.05;
/** Timed runs per count, alternated after one warm-up run each. */
const TIMED_RUNS = 5;

export interface ThreadTiming {
  threads: number;
  /** Median wall clock of a run, ms, over its steps. */
  msPerStep: number;
}

export interface ThreadChoice {
  threads: number;
  timings: ThreadTiming[];
  /**
   * The timed sessions (the several-steps graph's where there is one, else the plain step's): each
   * count's in the order of the counts when they were to be kept and each holds at most the memory
   * allowed (for a ThreadSwitch); else the chosen count's alone.
   */
  sessions: Ort.InferenceSession[];
  /** The chosen count's session's index in `sessions`. */
  chosen: number;
  /** The resident memory one timed session took, bytes (the process's growth across their creation and first runs, shared out). */
  bytesPerSession: number;
}

/**
 * The most resident memory each further count's session may hold for a run to keep it and move
 * between counts (ThreadSwitch). ONNX Runtime's CPU arena keeps a session's largest run's memory
 * until the session is released: the seed model's four-step graph at batch 256 holds ~36 MB, a
 * two-Conv2D CNN's ~600 MB, which a second count is not worth.
 */
export const KEEP_OTHER_COUNTS_MAX_BYTES = 128 * 2 ** 20;

/** Refuses a number of runs between re-timings that is not a whole number from 1. */
export function checkRetimeEvery(runs: number): void {
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`runs between re-timings must be a whole number from 1, not ${runs}`);
}

/** The index of the count to use: the fewest threads unless more are MORE_THREADS_MIN_GAIN faster a step (counts ascending). */
export function fastestCount(msPerStep: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < msPerStep.length; i++) if (msPerStep[i]! < msPerStep[best]! * (1 - MORE_THREADS_MIN_GAIN)) best = i;
  return best;
}

/**
 * Runs at the count in use before another count is timed again; while the most threads are in use
 * and stay, doubled each time up to RETIME_MAX_FACTOR times.
 */
export const RETIME_EVERY_RUNS = 32;
const RETIME_MAX_FACTOR = 4;
/** Weight of a new time in the running average of the count in use. */
const NEW_TIME_WEIGHT = 0.3;
/**
 * Runs this much slower or faster than the count in use's time when it was chosen, LOAD_CHANGE_RUNS
 * in a row, say the load changed: another count is timed at the next run. Another program on the
 * second core makes a 2-thread run 2–3× slower, which shows; a 1-thread run only ~10% (bench/README.md),
 * which does not: on fewer threads than the most, the re-timings stay RETIME_EVERY_RUNS apart.
 */
const LOAD_CHANGE = 0.2;
const LOAD_CHANGE_RUNS = 3;

/**
 * Keeps choosing the step's intra-op threads while a run trains: the machine's load changes (another
 * program takes a core, or gives it back) and a count timed once at the start goes stale. Every run
 * is timed at the count it ran on (a running average). One run goes to another count after
 * RETIME_EVERY_RUNS runs, or at the next run when the runs' times say the load changed (LOAD_CHANGE),
 * and the runs after take whichever count is faster by fastestCount: the count in use's average
 * against the other's one run. While the most threads are in use and stay, the runs between
 * re-timings double (up to RETIME_MAX_FACTOR times): on a steady idle machine re-timing 1 thread costs
 * ~0.3% of the time. Each count's session is kept, and the step's results do not depend on the count
 * (engine.test.ts), so a move costs nothing but the re-timing runs. Pure bookkeeping: the engine runs
 * the sessions.
 */
export class ThreadSwitch {
  private readonly msPerStep: number[];
  private current: number;
  /** The count in use's time a step when it was chosen, against which a load change shows. */
  private reference: number;
  private sinceRetime = 0;
  private interval: number;
  /** Runs in a row that took LOAD_CHANGE longer (1) or shorter (−1) than `reference`. */
  private streak = { direction: 0, runs: 0 };
  /** The count being timed again (the next run's), or null. */
  private retiming: number | null = null;
  private retimes = 0;
  /** Runs taken at each count, in the order of the counts. */
  readonly runs: number[];

  constructor(
    readonly counts: readonly number[],
    timings: readonly ThreadTiming[],
    chosen: number,
    private readonly retimeEvery = RETIME_EVERY_RUNS,
  ) {
    checkRetimeEvery(retimeEvery);
    this.msPerStep = counts.map((threads) => timings.find((t) => t.threads === threads)?.msPerStep ?? Infinity);
    this.current = chosen;
    this.reference = this.msPerStep[chosen]!;
    this.interval = retimeEvery;
    this.runs = counts.map(() => 0);
  }

  /** The count in use. */
  get threads(): number {
    return this.counts[this.current]!;
  }

  /** The index (in the counts) of the count the next run takes. */
  next(): number {
    if (this.counts.length > 1 && this.retiming === null && this.sinceRetime >= this.interval) {
      // The other counts in turn.
      const others = this.counts.map((_, i) => i).filter((i) => i !== this.current);
      this.retiming = others[this.retimes++ % others.length]!;
    }
    return this.retiming ?? this.current;
  }

  /** A run's time a step, at the count `index` (what next() returned). */
  observe(index: number, msPerStep: number): void {
    this.runs[index]!++;
    if (this.retiming === index) {
      // The other count's time is this run's (its earlier ones are stale); the count to use is chosen again.
      this.msPerStep[index] = msPerStep;
      this.retiming = null;
      this.sinceRetime = 0;
      const previous = this.current;
      this.current = fastestCount(this.msPerStep);
      const most = this.current === this.counts.length - 1;
      this.interval = this.current === previous && most ? Math.min(this.interval * 2, this.retimeEvery * RETIME_MAX_FACTOR) : this.retimeEvery;
      // The count in use's next run sets the reference: a re-timing run's own time is one cold run.
      this.reference = this.current === previous ? this.msPerStep[this.current]! : NaN;
      this.streak = { direction: 0, runs: 0 };
      return;
    }
    const previous = this.msPerStep[index]!;
    this.msPerStep[index] = Number.isFinite(previous) ? previous * (1 - NEW_TIME_WEIGHT) + msPerStep * NEW_TIME_WEIGHT : msPerStep;
    this.sinceRetime++;
    if (!Number.isFinite(this.reference)) this.reference = msPerStep;
    const direction = msPerStep > this.reference * (1 + LOAD_CHANGE) ? 1 : msPerStep < this.reference * (1 - LOAD_CHANGE) ? -1 : 0;
    this.streak = { direction, runs: direction === 0 ? 0 : direction === this.streak.direction ? this.streak.runs + 1 : 1 };
    if (this.streak.runs >= LOAD_CHANGE_RUNS) {
      // The load changed: the next run times another count, and re-timings come often again.
      this.sinceRetime = this.interval = this.retimeEvery;
    }
  }
}

/**
 * Times the step the run's plain steps take (the several-steps graph where there is one: a run's
 * start and end cost what they cost there) at each count, on batches of `batchSize` made-up samples
 * (the state as given: the run's starting weights), alternating counts so that a change in load hits
 * each, and keeps the fastest (fastestCount), and every count's session (for a ThreadSwitch) when
 * asked to and each holds at most `keepOthersUpTo` bytes (0: never). The runs' outputs are dropped: nothing trains.
 */
export async function chooseThreads(
  ort: typeof Ort,
  graph: StepGraph,
  state: ReadonlyMap<string, Float32Array>,
  batchSize: number,
  counts: number[],
  optionsFor: (threads: number) => Ort.InferenceSession.SessionOptions,
  keepOthersUpTo: number | null = null,
): Promise<ThreadChoice> {
  const steps = graph.unrolled?.steps ?? 1;
  const bytes = graph.unrolled?.bytes ?? graph.plainBytes;
  const sessions: Ort.InferenceSession[] = [];
  try {
    const before = process.memoryUsage.rss();
    for (const threads of counts) sessions.push(await ort.InferenceSession.create(bytes, optionsFor(threads)));
    const feeds = timingFeeds(ort, graph, state, batchSize, steps);
    for (const session of sessions) await session.run(feeds);
    const bytesPerSession = Math.max(0, process.memoryUsage.rss() - before) / sessions.length;
    const times: number[][] = counts.map(() => []);
    for (let round = 0; round < TIMED_RUNS; round++) {
      for (let i = 0; i < sessions.length; i++) {
        const t = performance.now();
        await sessions[i]!.run(feeds);
        times[i]!.push((performance.now() - t) / steps);
      }
    }
    const timings = counts.map((threads, i) => ({ threads, msPerStep: median(times[i]!) }));
    const best = fastestCount(timings.map((t) => t.msPerStep));
    const session = sessions[best]!;
    const keepAll = keepOthersUpTo !== null && keepOthersUpTo > 0 && bytesPerSession <= keepOthersUpTo;
    if (!keepAll) for (const other of sessions) if (other !== session) await other.release();
    return { threads: counts[best]!, timings, sessions: keepAll ? sessions : [session], chosen: keepAll ? best : 0, bytesPerSession };
  } catch (error) {
    for (const session of sessions) await session.release().catch(() => undefined);
    throw error;
  }
}

/** Feeds for `steps` steps (the several-steps graph's names when more than one): uniform [0, 1) samples (a fixed sequence), labels cycling through the classes, keep-all masks. */
function timingFeeds(ort: typeof Ort, graph: StepGraph, state: ReadonlyMap<string, Float32Array>, n: number, steps: number): Record<string, Ort.Tensor> {
  const x = new Float32Array(n * product(graph.inputShape));
  let seed = 1;
  for (let i = 0; i < x.length; i++) x[i] = (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const y = Int32Array.from({ length: n }, (_, i) => i % graph.classes);
  const masks = new Map(graph.masks.map((m) => [m.input, new Float32Array(n * m.features).fill(1)]));
  const step: HeldStep = { x, y, n, lr: 0.01, masks };
  return steps > 1 ? unrolledFeeds(ort, graph, Array<HeldStep>(steps).fill(step), state) : stepFeeds(ort, graph, step, state);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}
