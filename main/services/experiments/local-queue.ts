/**
 * The local sweep queue: sweeps persisted in the data folder (./sweep-store.ts) and run one run at a
 * time on the local training host, the one the app starts runs with. Every job state change is
 * written (atomically) before it is announced, so a process killed at any point leaves a sweep that
 * the next start resumes: finished runs kept, the interrupted run rerun as a new run (its attempt
 * counted up, the interrupted run kept and listed), the queued ones run.
 */
import { hostname } from 'node:os';
import type { StartTraining, TrainingEvent } from '../../../contract/training';
import type { SweepJob, SweepSummary } from '../../../contract/sweeps';
import { DomainError } from '../../../contract/wire';
import type { RunStoreApi } from '../runs/types';
import { SweepStore, type JobRecord, type SweepRecord, type SweepState } from './sweep-store';

/** What the queue needs of the training host. */
export interface SweepTrainer {
  start(request: StartTraining): Promise<{ runId: string }>;
  stop(runId: string): Promise<{ stopped: boolean }>;
}

export interface LocalQueueOptions {
  store: SweepStore;
  runs: Pick<RunStoreApi, 'get' | 'rename'>;
  training: SweepTrainer;
  /** After each written state change of a sweep. */
  onChange(record: SweepRecord, state: SweepState, job: { index: number; job: SweepJob; state: JobRecord } | null): void;
}

type RunEnd = Extract<TrainingEvent, { type: 'finished' | 'stopped' | 'failed' }>;
const DISPOSED = Symbol('disposed');
/** Tries of one job whose runs the worker's death cut short (a crash, not the model's fault). */
const MAX_ATTEMPTS = 3;
const attemptsLeft = (job: JobRecord) => job.attempt < MAX_ATTEMPTS;
/** How long a start refused as busy (the user's own run holds the worker) waits before it asks again. */
const BUSY_RETRY_MS = 1_000;

export function summaryOf(record: SweepRecord, state: SweepState): SweepSummary {
  return {
    sweepId: record.sweepId,
    name: record.name,
    status: state.status,
    createdAt: record.createdAt,
    metric: record.metric,
    seeds: record.seeds,
    grid: record.grid,
    queue: record.queue,
    ...(record.redisUrl ? { redisUrl: record.redisUrl } : {}),
    total: state.jobs.length,
    finished: state.jobs.filter((j) => j.status === 'finished').length,
    failed: state.jobs.filter((j) => j.status === 'failed').length,
  };
}

export class LocalSweepQueue {
  private readonly waiting: string[] = [];
  private current: { sweepId: string; runId: string | null; stopRequested: boolean } | null = null;
  /** Cleared in the same step that finds the queue empty, so a sweep queued just after starts a new drain. */
  private draining = false;
  private readonly runWaiters = new Map<string, (end: RunEnd | typeof DISPOSED) => void>();
  /** Ends that came before anyone waited for them (a run shorter than its state writes), kept until the next wait. */
  private readonly earlyEnds = new Map<string, RunEnd>();
  private readonly backends = new Map<string, string>();
  private disposed = false;
  private readonly idleListeners = new Map<string, (() => void)[]>();

  constructor(private readonly options: LocalQueueOptions) {}

  /** Queues a sweep (its state already written); runs start at once when none is running. */
  enqueue(sweepId: string): void {
    if (this.disposed || this.waiting.includes(sweepId) || this.current?.sweepId === sweepId) return;
    this.waiting.push(sweepId);
    if (this.draining) return;
    this.draining = true;
    void this.drain();
  }

  /** Whether this process runs or queues the sweep. */
  holds(sweepId: string): boolean {
    return this.current?.sweepId === sweepId || this.waiting.includes(sweepId);
  }

  /** Resolves when the sweep leaves this process's queue (ended, stopped, or the queue disposed). */
  settled(sweepId: string): Promise<void> {
    if (!this.holds(sweepId)) return Promise.resolve();
    return new Promise((resolve) => this.idleListeners.set(sweepId, [...(this.idleListeners.get(sweepId) ?? []), resolve]));
  }

  /** Stops the sweep's current run and the sweep; a queued sweep is taken off the queue. */
  async stop(sweepId: string): Promise<boolean> {
    const { store } = this.options;
    if (this.current?.sweepId === sweepId) {
      this.current.stopRequested = true;
      if (this.current.runId) await this.options.training.stop(this.current.runId);
      return true;
    }
    const at = this.waiting.indexOf(sweepId);
    if (at < 0) return false;
    this.waiting.splice(at, 1);
    const { record, state } = await store.load(sweepId);
    state.status = 'stopped';
    state.owner = null;
    await this.save(record, state, null);
    this.notifySettled(sweepId);
    return true;
  }

  /** The training host's events: the queue follows its runs' ends and backends. */
  onTrainingEvent(event: TrainingEvent): void {
    if (event.type === 'started') this.backends.set(event.runId, event.backend);
    if (event.type !== 'finished' && event.type !== 'stopped' && event.type !== 'failed') return;
    const waiter = this.runWaiters.get(event.runId);
    if (waiter) waiter(event);
    // The run may end before its state is written and its end waited for (a run that fails at once).
    else if (this.current) this.earlyEnds.set(event.runId, event);
  }

  /**
   * Leaves every sweep as it is on disk (a run in progress stays 'running' there, to be rerun by the
   * next start); call before the training host is disposed, whose ending runs must not end jobs.
   */
  dispose(): void {
    this.disposed = true;
    this.waiting.length = 0;
    for (const waiter of this.runWaiters.values()) waiter(DISPOSED);
    this.runWaiters.clear();
  }

  private async drain(): Promise<void> {
    for (let sweepId = this.waiting.shift(); sweepId !== undefined && !this.disposed; sweepId = this.waiting.shift()) {
      this.current = { sweepId, runId: null, stopRequested: false };
      try {
        await this.runSweep(sweepId);
      } catch (error) {
        console.warn(`Layerbench: sweep ${sweepId} stopped on an error: ${error instanceof Error ? error.message : String(error)}`);
      } finally {
        this.current = null;
        this.notifySettled(sweepId);
      }
    }
    this.draining = false;
    for (const sweepId of [...this.idleListeners.keys()]) if (!this.holds(sweepId)) this.notifySettled(sweepId);
  }

  private notifySettled(sweepId: string): void {
    for (const resolve of this.idleListeners.get(sweepId) ?? []) resolve();
    this.idleListeners.delete(sweepId);
  }

  private async runSweep(sweepId: string): Promise<void> {
    const { store } = this.options;
    const { record, state } = await store.load(sweepId);
    const release = await store.claim(sweepId, state);
    try {
      await this.save(record, state, null);
      for (const [index, job] of state.jobs.entries()) {
        if (job.status !== 'queued') continue;
        if (this.disposed || this.current?.stopRequested) break;
        if ((await this.runJob(record, state, index)) === DISPOSED) return;
      }
      if (this.disposed) return;
      const stopped = this.current?.stopRequested === true;
      state.status = stopped ? 'stopped' : state.jobs.some((j) => j.status === 'finished') || state.jobs.length === 0 ? 'finished' : 'failed';
      state.owner = null;
      await this.save(record, state, null);
    } finally {
      release();
    }
  }

  private async runJob(record: SweepRecord, state: SweepState, index: number): Promise<void | typeof DISPOSED> {
    const job = record.jobs[index]!;
    const jobState = state.jobs[index]!;
    const changed = () => this.save(record, state, { index, job, state: jobState });
    Object.assign(jobState, { status: 'running', runId: null, error: null, agent: { host: hostname(), backend: '' } });
    await changed();
    let runId: string;
    try {
      const started = await this.startWhenFree(job);
      if (started === DISPOSED) return DISPOSED;
      runId = started;
    } catch (error) {
      // Stopped while it waited for the host: the job never ran, and stays queued.
      const stopped = this.current?.stopRequested === true;
      Object.assign(jobState, stopped ? { status: 'queued', agent: null } : { status: 'failed', error: error instanceof Error ? error.message : String(error) });
      await changed();
      return;
    }
    this.current!.runId = runId;
    jobState.runId = runId;
    await changed();
    await this.options.runs.rename(runId, job.name).catch(() => {});
    // Asked to stop while the run was starting:
    if (this.current!.stopRequested) await this.options.training.stop(runId);
    const end = await this.ended(runId);
    if (end === DISPOSED) return DISPOSED;
    this.current!.runId = null;
    jobState.agent = { host: hostname(), backend: this.backends.get(runId) ?? '' };
    this.backends.delete(runId);
    if (end.type === 'failed' && attemptsLeft(jobState) && (await this.interrupted(runId))) {
      // The worker died under the run (a crash, not the model): rerun it as a new run, keeping this one.
      Object.assign(jobState, { status: 'queued', runId: null, attempt: jobState.attempt + 1, earlierRuns: [...jobState.earlierRuns, runId] });
      await changed();
      return this.current?.stopRequested ? undefined : this.runJob(record, state, index);
    }
    jobState.status = end.type;
    jobState.error = end.type === 'failed' ? end.error : null;
    await changed();
  }

  private async interrupted(runId: string): Promise<boolean> {
    const run = await this.options.runs.get(runId).catch(() => null);
    return run?.summary.status === 'interrupted';
  }

  /** Starts the job's run; while the host is busy with a run of the user's own, waits for it. */
  private async startWhenFree(job: SweepJob): Promise<string | typeof DISPOSED> {
    for (;;) {
      if (this.disposed) return DISPOSED;
      try {
        return (await this.options.training.start({ spec: job.spec, settings: job.settings })).runId;
      } catch (error) {
        if (!(error instanceof DomainError && error.code === 'busy') || this.current?.stopRequested) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, BUSY_RETRY_MS));
    }
  }

  private ended(runId: string): Promise<RunEnd | typeof DISPOSED> {
    const early = this.earlyEnds.get(runId);
    this.earlyEnds.clear();
    if (early) return Promise.resolve(early);
    if (this.disposed) return Promise.resolve(DISPOSED);
    return new Promise((resolve) =>
      this.runWaiters.set(runId, (end) => {
        this.runWaiters.delete(runId);
        resolve(end);
      }),
    );
  }

  private async save(record: SweepRecord, state: SweepState, job: Parameters<LocalQueueOptions['onChange']>[2]): Promise<void> {
    if (this.disposed) return;
    await this.options.store.writeState(record.sweepId, state);
    this.options.onChange(record, state, job);
  }
}
