/**
 * Counts what a training step asks of the WebGPU API: compute dispatches, queue submits and buffer
 * writes, buffers, bind groups and pipelines created, read-backs. On a real GPU a step's cost is per call, not per FLOP
 * (tens of milliseconds whatever the batch size), and calls can be counted on any adapter,
 * SwiftShader's included. The counts come from wrapping the prototypes of the `webgpu` package's
 * classes once per thread, before the tfjs backend (or a fused engine) gets a device; an increment
 * per call costs nothing next to the call itself. The waits for the GPU (mapAsync,
 * onSubmittedWorkDone) are timed too: a step's host time is its wall time less those waits (the
 * event loop is no measure: Dawn polls it while the GPU works).
 *
 * `GpuStepMeter` turns the counts into a run's steady-state averages per step (run.json's `gpu`);
 * `countGpuCalls()` counts from a point on (the fused step's tests, the GPU bench), wrapping the
 * prototypes itself when the worker has not, and putting them back on `restore()`.
 */
import { performance } from 'node:perf_hooks';
import type { GpuAdapter, GpuRunCounters } from '../../../../contract';

export interface GpuCallCounts {
  dispatches: number;
  submits: number;
  writeBuffers: number;
  buffersCreated: number;
  bindGroups: number;
  /** Compute pipelines created (sync or async). */
  pipelines: number;
  /** Read-backs: GPUBuffer.mapAsync calls. */
  readbacks: number;
}

const zero = (): GpuCallCounts => ({ dispatches: 0, submits: 0, writeBuffers: 0, buffersCreated: 0, bindGroups: 0, pipelines: 0, readbacks: 0 });
const totals = zero();
const COUNTS = Object.keys(totals) as (keyof GpuCallCounts)[];
/** The originals of the wrapped methods, to put back (null: not installed). */
let originals: (() => void)[] | null = null;
/** Counters that installed the wrappers themselves and have not restored yet (the worker's install stays). */
let borrowers = 0;

/** Time spent waiting for the GPU: while at least one wait is pending, from its start. */
const waits = { pending: 0, since: 0, doneMs: 0 };

/** Milliseconds spent waiting for the GPU so far (a pending wait counted up to now). */
export function gpuWaitMs(): number {
  return waits.doneMs + (waits.pending > 0 ? performance.now() - waits.since : 0);
}

function timedWait(promise: unknown): unknown {
  if (!(promise instanceof Promise)) return promise;
  if (waits.pending++ === 0) waits.since = performance.now();
  const done = () => {
    if (--waits.pending === 0) waits.doneMs += performance.now() - waits.since;
  };
  return promise.finally(done);
}

/** The `webgpu` package's globals that hold the counted methods. */
type CountedClass = { prototype: Record<string, unknown> };

/** [class, method, counter or null, whether it returns a wait for the GPU] for every wrapped method. */
const WRAPPED: ReadonlyArray<readonly [string, string, keyof GpuCallCounts | null, boolean]> = [
  ['GPUComputePassEncoder', 'dispatchWorkgroups', 'dispatches', false],
  ['GPUQueue', 'submit', 'submits', false],
  ['GPUQueue', 'writeBuffer', 'writeBuffers', false],
  ['GPUDevice', 'createBuffer', 'buffersCreated', false],
  ['GPUDevice', 'createBindGroup', 'bindGroups', false],
  ['GPUDevice', 'createComputePipeline', 'pipelines', false],
  ['GPUDevice', 'createComputePipelineAsync', 'pipelines', false],
  ['GPUBuffer', 'mapAsync', 'readbacks', true],
  ['GPUQueue', 'onSubmittedWorkDone', null, true],
];

/**
 * Wraps the counted methods of `globals` (the `webgpu` package's `globals`) once per thread; later
 * calls do nothing. Returns false, wrapping nothing, when a class or method is missing (a binding
 * of another shape): WebGPU still trains, and runs record no counters.
 */
export function installGpuCounters(globals: object): boolean {
  if (originals) return true;
  const classes = globals as Record<string, CountedClass | undefined>;
  if (WRAPPED.some(([className, method]) => typeof classes[className]?.prototype[method] !== 'function')) return false;
  originals = [];
  for (const [className, method, counter, wait] of WRAPPED) {
    const prototype = classes[className]!.prototype;
    const original = prototype[method] as (...args: unknown[]) => unknown;
    prototype[method] = function counted(this: unknown, ...args: unknown[]) {
      if (counter) totals[counter]++;
      const result = original.apply(this, args);
      return wait ? timedWait(result) : result;
    };
    originals.push(() => (prototype[method] = original));
  }
  return true;
}

/** Whether the counters are installed in this thread (WebGPU was loaded through backends.ts, or a counter is open). */
export function gpuCountersInstalled(): boolean {
  return originals !== null;
}

export interface GpuCallCounter {
  /** The calls made since the counter was made or last reset. */
  readonly counts: GpuCallCounts;
  reset(): void;
  /** Puts the prototypes back when this counter wrapped them (and no other counter still counts). */
  restore(): void;
}

/**
 * Counts from now on. Where the counters are not installed yet (a test or the bench, with Dawn's
 * globals on `globals`, see dawn-device.ts) they are installed for the counter's life.
 */
export function countGpuCalls(globals: object = globalThis): GpuCallCounter {
  let borrowed = false;
  if (!originals) {
    if (!installGpuCounters(globals)) throw new Error("the WebGPU classes to count are not there: install Dawn's globals first");
    borrowers++;
    borrowed = true;
  }
  let start = { ...totals };
  return {
    get counts() {
      const since = zero();
      for (const key of COUNTS) since[key] = totals[key] - start[key];
      return since;
    },
    reset: () => {
      start = { ...totals };
    },
    restore: () => {
      if (!borrowed) return;
      borrowed = false;
      if (--borrowers === 0 && originals) {
        originals.forEach((putBack) => putBack());
        originals = null;
      }
    },
  };
}

/** Steps left out of the averages: the first ones compile shaders and fill buffer pools. */
export const GPU_WARMUP_STEPS = 3;

/** Calls and host time summed over some steps. */
class StepSums {
  steps = 0;
  calls = zero();
  hostMs = 0;

  add(calls: GpuCallCounts, hostMs: number): void {
    for (const key of COUNTS) this.calls[key] += calls[key];
    this.hostMs += hostMs;
    this.steps++;
  }
}

/**
 * A run's steady-state cost per step on a WebGPU adapter: calls (above) and host milliseconds, the
 * step's wall time less its waits for the GPU — recording and submitting commands, tfjs'
 * bookkeeping. The first `warmupSteps` steps are left out, and so are statistics steps (more work,
 * for the dashboard) unless every step gathered statistics (slow steps: the auto cadence asks for
 * them all), which the record then says.
 */
export class GpuStepMeter {
  private seen = 0;
  private readonly plain = new StepSums();
  private readonly withStats = new StepSums();
  private current: { calls: GpuCallCounter; startMs: number; waitMs: number } | null = null;

  constructor(
    private readonly adapter: GpuAdapter,
    private readonly warmupSteps = GPU_WARMUP_STEPS,
  ) {}

  begin(): void {
    this.current = { calls: countGpuCalls(), startMs: performance.now(), waitMs: gpuWaitMs() };
  }

  /** Ends the step begun last; `withStats`: it also gathered statistics. */
  end(withStats: boolean): void {
    const current = this.current;
    this.current = null;
    if (!current || this.seen++ < this.warmupSteps) return;
    const hostMs = Math.max(0, performance.now() - current.startMs - (gpuWaitMs() - current.waitMs));
    (withStats ? this.withStats : this.plain).add(current.calls.counts, hostMs);
  }

  /** The averages, or null before any step past the warm-up was measured. */
  record(): GpuRunCounters | null {
    const sums = this.plain.steps > 0 ? this.plain : this.withStats;
    if (sums.steps === 0) return null;
    const per = (sum: number) => sum / sums.steps;
    return {
      adapter: this.adapter,
      software: this.adapter.software,
      steps: sums.steps,
      warmupSteps: this.warmupSteps,
      ...(sums === this.withStats ? { statisticsSteps: true } : {}),
      dispatchesPerStep: per(sums.calls.dispatches),
      submitsPerStep: per(sums.calls.submits),
      buffersCreatedPerStep: per(sums.calls.buffersCreated),
      bindGroupsPerStep: per(sums.calls.bindGroups),
      writeBuffersPerStep: per(sums.calls.writeBuffers),
      readbacksPerStep: per(sums.calls.readbacks),
      hostMsPerStep: per(sums.hostMs),
    };
  }
}
