/**
 * The `sweeps.*` service: starts a sweep (expands its grid, writes it, queues it on the local queue),
 * lists and details sweeps with their results table, stops one, and on start resumes the sweeps a
 * killed or closed Layerbench left running.
 */
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import type { SweepDetail, SweepJob, SweepJobState, SweepSummary, StartSweep } from '../../../contract/sweeps';
import type { TrainingEvent } from '../../../contract/training';
import { DomainError } from '../../../contract/wire';
import type { RunStoreApi } from '../runs/types';
import { currentOwner } from '../runs/owner';
import { definitionHash, expandSweep, type ExpandedSweep } from './expand';
import { LocalSweepQueue, summaryOf, type SweepTrainer } from './local-queue';
import { armResults } from './results';
import { RedisSweepQueue } from './redis-queue';
import { eventsPerSecond } from './event-rate';
import { redactRedisUrl } from './redis-url';
import type { LiveRemoteRuns } from './live-remote-runs';
import { SweepStore, SWEEP_FORMAT, SWEEP_VERSION, type JobRecord, type SweepRecord, type SweepState } from './sweep-store';

/** Remote runs' events the training stream takes a second, all Redis sweeps together (ten runs' coalesced updates and more). */
const REMOTE_EVENTS_PER_SECOND = 250;

export interface SweepServiceOptions {
  /** `<data>/sweeps` */
  sweepsDir: string;
  runs: Pick<RunStoreApi, 'get' | 'rename'>;
  training: SweepTrainer;
  /** 'sweeps.progress': a sweep's summary after each change of a job's state. */
  onProgress?(summary: SweepSummary): void;
  /** Each change of a job's state, for the CLI's lines. */
  onJob?(change: { summary: SweepSummary; index: number; job: SweepJob; state: SweepJobState }): void;
  /** A training event of a Redis sweep's run, as its agent streams it (the app's training event stream). */
  onRemoteEvent?(event: TrainingEvent): void;
  /** The data folder whose `runs/` stores a Redis sweep's finished runs (default: the folder above `sweepsDir`). */
  dataDir?: string;
  /** How often a Redis sweep's job states are read (default 1 s). */
  redisPollMs?: number;
}

export function newSweepId(): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `sweep-${stamp}-${randomBytes(2).toString('hex')}`;
}

/** The contract's job state, without the bookkeeping of earlier attempts. */
function publicJob({ earlierRuns: _earlier, ...job }: JobRecord): SweepJobState {
  return job;
}

/**
 * A remote run's event as the app's training stream carries it: without what would be read as this
 * machine's own (the phase a starting Train view adopts its run by, the agent's backend calibration
 * and GPU memory, which the backend badge shows).
 */
function forThisMachinesStream(event: TrainingEvent): TrainingEvent | null {
  if (event.type === 'phase' || event.type === 'calibration') return null;
  if (event.type !== 'epoch' || !event.record.gpuMemory) return event;
  const { gpuMemory: _agentsGpu, ...record } = event.record;
  return { ...event, record };
}

export class SweepService {
  readonly store: SweepStore;
  private readonly queue: LocalSweepQueue;
  private readonly redis: RedisSweepQueue;

  constructor(private readonly options: SweepServiceOptions) {
    this.store = new SweepStore(options.sweepsDir);
    const onChange = (record: SweepRecord, state: SweepState, change: { index: number; job: SweepJob; state: JobRecord } | null) => {
      const summary = summaryOf(record, state);
      options.onProgress?.(summary);
      if (change) options.onJob?.({ summary, index: change.index, job: change.job, state: publicJob(change.state) });
    };
    this.queue = new LocalSweepQueue({ store: this.store, runs: options.runs, training: options.training, onChange });
    const remoteEventAllowed = eventsPerSecond(REMOTE_EVENTS_PER_SECOND);
    this.redis = new RedisSweepQueue({
      store: this.store,
      dataDir: options.dataDir ?? dirname(this.store.dir),
      pollMs: options.redisPollMs,
      onChange,
      onEvent: (_jobId, _job, _agent, event) => {
        const shown = forThisMachinesStream(event);
        if (shown && remoteEventAllowed()) options.onRemoteEvent?.(shown);
      },
    });
  }

  /** The Redis sweeps' runs agents are training now, for the runs list. */
  get remoteRuns(): LiveRemoteRuns {
    return this.redis.live;
  }

  /** Feed the training host's events here (the queue follows its runs). */
  onTrainingEvent(event: TrainingEvent): void {
    this.queue.onTrainingEvent(event);
  }

  /** Expands, writes and queues a sweep. `expanded` when the caller expanded it already (the CLI, to find one to resume). */
  async start(request: StartSweep, expanded?: ExpandedSweep & { sweepId: string }): Promise<{ sweepId: string }> {
    const sweepId = expanded?.sweepId ?? newSweepId();
    const { arms, jobs } = expanded ?? expandSweep({ sweepId, base: request.base, grid: request.grid, seeds: request.seeds });
    const redisUrl = request.queue.kind === 'redis' ? request.queue.url : undefined;
    // Checked before anything is written: a wrong URL or an unreachable Redis is an error here, in bounded time.
    if (redisUrl !== undefined) await this.redis.check(redisUrl);
    const record: SweepRecord = {
      format: SWEEP_FORMAT,
      version: SWEEP_VERSION,
      sweepId,
      name: request.name ?? `sweep of ${request.base.spec.config.name}`,
      createdAt: new Date().toISOString(),
      metric: request.metric,
      seeds: request.seeds,
      grid: request.grid,
      queue: request.queue.kind,
      ...(redisUrl !== undefined ? { redisUrl: redactRedisUrl(redisUrl) } : {}),
      definitionHash: definitionHash(jobs),
      arms,
      jobs,
    };
    const state: SweepState = {
      status: 'queued',
      // Owned from the start: another process's resume leaves it to this one.
      owner: currentOwner(),
      updatedAt: record.createdAt,
      jobs: jobs.map((job) => ({ armId: job.armId, seed: job.seed, status: 'queued', runId: null, attempt: 1, agent: null, error: null, earlierRuns: [] })),
    };
    await this.store.create(record, state, redisUrl);
    this.options.onProgress?.(summaryOf(record, state));
    this.run(record);
    return { sweepId };
  }

  async list(): Promise<SweepSummary[]> {
    const summaries = await Promise.all(
      (await this.store.ids()).map(async (id) => {
        try {
          const { record, state } = await this.store.load(id);
          return summaryOf(record, state);
        } catch (error) {
          // One damaged folder does not hide the others.
          console.warn(`Layerbench: ${error instanceof Error ? error.message : String(error)}`);
          return null;
        }
      }),
    );
    return summaries.filter((s): s is SweepSummary => s !== null).sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
  }

  async get(sweepId: string): Promise<SweepDetail> {
    const { record, state } = await this.store.load(sweepId);
    const jobs = state.jobs.map(publicJob);
    return { summary: summaryOf(record, state), jobs, arms: await armResults(record.arms, jobs, this.options.runs) };
  }

  async stop(sweepId: string): Promise<{ stopped: boolean }> {
    this.store.sweepDir(sweepId);
    const onRedis = this.redis.holds(sweepId) || (await this.store.record(sweepId).catch(() => null))?.queue === 'redis';
    if (onRedis) return { stopped: await this.redis.stop(sweepId) };
    return { stopped: await this.queue.stop(sweepId) };
  }

  /** Resolves when the sweep leaves this process's queue: ended, stopped, or the service disposed. */
  settled(sweepId: string): Promise<void> {
    return this.redis.holds(sweepId) ? this.redis.settled(sweepId) : this.queue.settled(sweepId);
  }

  private holds(sweepId: string): boolean {
    return this.queue.holds(sweepId) || this.redis.holds(sweepId);
  }

  /** Queues a written sweep on its queue: the local worker, or Redis (followed from here). */
  private run(record: SweepRecord): void {
    if (record.queue === 'redis') this.redis.follow(record.sweepId);
    else this.queue.enqueue(record.sweepId);
  }

  /**
   * A sweep left unfinished with these jobs (a sweep file started again) whose process is gone; one
   * another live process still runs is refused as busy rather than started twice.
   */
  async findResumable(hash: string): Promise<string | null> {
    for (const id of await this.store.ids()) {
      const record = await this.store.record(id).catch(() => null);
      if (record?.definitionHash !== hash) continue;
      const state = await this.store.state(id).catch(() => null);
      if (!state || !(state.status === 'running' || state.status === 'queued') || this.holds(id)) continue;
      if (await this.store.ownedElsewhere(id, state.owner)) {
        throw new DomainError('busy', `Sweep ${id} of these runs is still running in process ${state.owner!.pid} on ${state.owner!.hostname}: let it finish, or stop it first`);
      }
      return id;
    }
    return null;
  }

  /**
   * Resumes sweeps left 'running' or 'queued' by a process that is gone (all of them, or `only`).
   * Call after the runs workspace's recovery, so that the run a killed process left is 'interrupted':
   * a job whose run finished (its state not yet written) is kept; one whose run did not end is rerun
   * as a new run, its attempt counted up. Returns the sweeps queued.
   */
  async resume(only?: string): Promise<string[]> {
    const resumed: string[] = [];
    for (const id of only ? [only] : await this.store.ids()) {
      try {
        const { record, state } = await this.store.load(id);
        if (!(state.status === 'running' || state.status === 'queued') || this.holds(id) || (await this.store.ownedElsewhere(id, state.owner))) continue;
        // A Redis sweep's running jobs may still be training on their agents: following it again finds out.
        if (record.queue === 'local') for (const job of state.jobs) if (job.status === 'running') await this.settleLeftRunning(job);
        state.owner = null;
        await this.store.writeState(id, state);
        this.options.onProgress?.(summaryOf(record, state));
        this.run(record);
        resumed.push(id);
      } catch (error) {
        console.warn(`Layerbench: could not resume sweep ${id}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return resumed;
  }

  private async settleLeftRunning(job: JobRecord): Promise<void> {
    const run = job.runId ? await this.options.runs.get(job.runId).catch(() => null) : null;
    const status = run?.summary.status;
    if (status === 'finished' || status === 'failed' || status === 'stopped') {
      Object.assign(job, { status, error: status === 'failed' ? (run!.summary.failure?.error ?? 'The run failed') : null });
      return;
    }
    if (job.runId) job.earlierRuns.push(job.runId);
    Object.assign(job, { status: 'queued', runId: null, attempt: job.attempt + 1, error: null, agent: null });
  }

  /**
   * Leaves every sweep as it stands on disk; call before the training host is disposed (the local
   * queue lets go at once; the promise resolves when the Redis sweeps are no longer followed).
   */
  dispose(): Promise<void> {
    this.queue.dispose();
    return this.redis.dispose();
  }
}
