/**
 * ONNX Runtime's intra-op threads for a run, chosen by timing the run's own step: a second core
 * helps at batch 256 on an idle 2-core machine (+16–25% for the full path) and costs at batch 32 or
 * when other work holds the cores (bench/README.md), so neither count is right everywhere.
 */
import { availableParallelism } from 'node:os';
import type * as Ort from 'onnxruntime-node';
import { product } from '../../../../../../model/layers/checks';
import { STEP_INPUTS, type StepGraph } from './step-graph';

/** Session options for `threads` intra-op threads. Pool threads do not spin between runs: spinning took the core the main thread and the loop's own work needed. */
export function threadOptions(base: Ort.InferenceSession.SessionOptions, threads: number): Ort.InferenceSession.SessionOptions {
  return { ...base, intraOpNumThreads: threads, ...(threads > 1 ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}) };
}

/** The counts a run times: 1 and 2 with a batch size on a machine of two cores or more, else 1. */
export function threadCandidates(batchSize: number | undefined, cores = availableParallelism()): number[] {
  return batchSize !== undefined && cores >= 2 ? [1, 2] : [1];
}

/** More threads must beat fewer by this much a step to be used: a core the step barely needs is the main thread's. */
export const MORE_THREADS_MIN_GAIN = 0.05;
/** Timed runs per count, alternated after one warm-up run each. */
const TIMED_RUNS = 5;

export interface ThreadTiming {
  threads: number;
  /** Median wall clock of a plain step's run, ms. */
  msPerStep: number;
}

export interface ThreadChoice {
  threads: number;
  /** The plain step's session at the chosen count (the others are released). */
  plain: Ort.InferenceSession;
  timings: ThreadTiming[];
}

/**
 * Times the plain step at each count on a batch of `batchSize` made-up samples (the state as given:
 * the run's starting weights), alternating counts so that a change in load hits each, and keeps the
 * fastest: the fewest threads unless more are MORE_THREADS_MIN_GAIN faster. The runs' outputs are
 * dropped: nothing trains.
 */
export async function chooseThreads(
  ort: typeof Ort,
  graph: StepGraph,
  state: ReadonlyMap<string, Float32Array>,
  batchSize: number,
  counts: number[],
  optionsFor: (threads: number) => Ort.InferenceSession.SessionOptions,
): Promise<ThreadChoice> {
  const sessions: Ort.InferenceSession[] = [];
  try {
    for (const threads of counts) sessions.push(await ort.InferenceSession.create(graph.plainBytes, optionsFor(threads)));
    const feeds = timingFeeds(ort, graph, state, batchSize);
    for (const session of sessions) await session.run(feeds);
    const times: number[][] = counts.map(() => []);
    for (let round = 0; round < TIMED_RUNS; round++) {
      for (let i = 0; i < sessions.length; i++) {
        const t = performance.now();
        await sessions[i]!.run(feeds);
        times[i]!.push(performance.now() - t);
      }
    }
    const timings = counts.map((threads, i) => ({ threads, msPerStep: median(times[i]!) }));
    let best = 0;
    for (let i = 1; i < timings.length; i++) if (timings[i]!.msPerStep < timings[best]!.msPerStep * (1 - MORE_THREADS_MIN_GAIN)) best = i;
    const plain = sessions[best]!;
    for (const session of sessions) if (session !== plain) await session.release();
    return { threads: counts[best]!, plain, timings };
  } catch (error) {
    for (const session of sessions) await session.release().catch(() => undefined);
    throw error;
  }
}

/** A plain step's feeds: uniform [0, 1) samples (a fixed sequence), labels cycling through the classes, keep-all masks. */
function timingFeeds(ort: typeof Ort, graph: StepGraph, state: ReadonlyMap<string, Float32Array>, n: number): Record<string, Ort.Tensor> {
  const x = new Float32Array(n * product(graph.inputShape));
  let seed = 1;
  for (let i = 0; i < x.length; i++) x[i] = (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const feeds: Record<string, Ort.Tensor> = {
    [STEP_INPUTS.x]: new ort.Tensor('float32', x, [n, ...graph.inputShape]),
    [STEP_INPUTS.y]: new ort.Tensor(
      'int32',
      Int32Array.from({ length: n }, (_, i) => i % graph.classes),
      [n],
    ),
    [STEP_INPUTS.lr]: new ort.Tensor('float32', Float32Array.of(0.01), []),
  };
  for (const m of graph.masks) feeds[m.input] = new ort.Tensor('float32', new Float32Array(n * m.features).fill(1), [n, m.features]);
  for (const s of graph.state) feeds[s.name] = new ort.Tensor('float32', state.get(s.name)!, s.shape);
  return feeds;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}
