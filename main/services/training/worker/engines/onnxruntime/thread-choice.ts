/**
 * ONNX Runtime's intra-op threads for a run, chosen by timing the run's own step: on an idle 2-core
 * machine a second core gives the full path +15–40% (bench/README.md), and on a machine whose cores
 * other work holds it cost as much (the revert of 2026-12-04), so no fixed count is right everywhere.
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
  /** The timed session at the chosen count: the several-steps one where the graph has it, else the plain step's (the others are released). */
  session: Ort.InferenceSession;
  timings: ThreadTiming[];
}

/**
 * Times the step the run's plain steps take (the several-steps graph where there is one: a run's
 * start and end cost what they cost there) at each count, on batches of `batchSize` made-up samples
 * (the state as given: the run's starting weights), alternating counts so that a change in load hits
 * each, and keeps the fastest: the fewest threads unless more are MORE_THREADS_MIN_GAIN faster. The
 * runs' outputs are dropped: nothing trains.
 */
export async function chooseThreads(
  ort: typeof Ort,
  graph: StepGraph,
  state: ReadonlyMap<string, Float32Array>,
  batchSize: number,
  counts: number[],
  optionsFor: (threads: number) => Ort.InferenceSession.SessionOptions,
): Promise<ThreadChoice> {
  const steps = graph.unrolled?.steps ?? 1;
  const bytes = graph.unrolled?.bytes ?? graph.plainBytes;
  const sessions: Ort.InferenceSession[] = [];
  try {
    for (const threads of counts) sessions.push(await ort.InferenceSession.create(bytes, optionsFor(threads)));
    const feeds = timingFeeds(ort, graph, state, batchSize, steps);
    for (const session of sessions) await session.run(feeds);
    const times: number[][] = counts.map(() => []);
    for (let round = 0; round < TIMED_RUNS; round++) {
      for (let i = 0; i < sessions.length; i++) {
        const t = performance.now();
        await sessions[i]!.run(feeds);
        times[i]!.push((performance.now() - t) / steps);
      }
    }
    const timings = counts.map((threads, i) => ({ threads, msPerStep: median(times[i]!) }));
    let best = 0;
    for (let i = 1; i < timings.length; i++) if (timings[i]!.msPerStep < timings[best]!.msPerStep * (1 - MORE_THREADS_MIN_GAIN)) best = i;
    const session = sessions[best]!;
    for (const other of sessions) if (other !== session) await other.release();
    return { threads: counts[best]!, session, timings };
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
