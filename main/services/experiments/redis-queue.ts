/**
 * Sweeps on a Redis queue, followed from the app's host process: the jobs go to BullMQ for
 * `layerbench agent`s on other machines (./remote, loaded only when a Redis sweep starts or resumes),
 * their job states are written to the sweep's jobs.json like a local sweep's, and their training
 * events are passed on as they stream. A closed or killed app leaves the sweep 'running' on disk;
 * the next start follows it again (jobs already queued in Redis are not queued twice).
 */
import type { SweepJob, SweepJobState } from '../../../contract/sweeps';
import type { TrainingEvent } from '../../../contract/training';
import type { SweepStore, JobRecord, SweepRecord, SweepState } from './sweep-store';
import { LiveRemoteRuns } from './live-remote-runs';
import { redactRedisUrl } from './redis-url';

/** How long sweeps.start waits for a Redis that does not answer before it says so. */
export const REDIS_CONNECT_TIMEOUT_MS = 5_000;

export interface RedisQueueOptions {
  store: SweepStore;
  /** The data folder whose `runs/` receives the finished runs. */
  dataDir: string;
  /** How often job states are read from Redis (runRemoteSweep's pollMs). */
  pollMs?: number;
  /** After each written state change of a sweep. */
  onChange(record: SweepRecord, state: SweepState, job: { index: number; job: SweepJob; state: JobRecord } | null): void;
  /** A training event a remote run streamed, with the job and the agent that trains it. */
  onEvent(jobId: string, job: SweepJob, agent: { host: string; backend: string }, event: TrainingEvent): void;
}

interface Following {
  abort: AbortController;
  /** Why it was aborted: 'stop' ends the sweep as stopped; 'dispose' leaves it as it is on disk. */
  reason: 'stop' | 'dispose' | null;
  done: Promise<void>;
}

const ENDED = new Set(['finished', 'failed', 'stopped']);
const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));
const loadRemote = () => import('./remote');

export class RedisSweepQueue {
  /** The remote runs in progress, for `runs.list` and `runs.get`. */
  readonly live = new LiveRemoteRuns();
  private readonly following = new Map<string, Following>();
  private disposed = false;

  constructor(private readonly options: RedisQueueOptions) {}

  /** Connects and PINGs once within a bounded time: a wrong URL or unreachable Redis is a typed error ('io', or 'invalid-input' for the URL). */
  async check(url: string): Promise<void> {
    const { checkRedis } = await loadRemote();
    await checkRedis(url, REDIS_CONNECT_TIMEOUT_MS);
  }

  holds(sweepId: string): boolean {
    return this.following.has(sweepId);
  }

  settled(sweepId: string): Promise<void> {
    return this.following.get(sweepId)?.done ?? Promise.resolve();
  }

  /** Follows the sweep (its state already written) until all its jobs ended, it is stopped, or the queue disposed. */
  follow(sweepId: string): void {
    if (this.disposed || this.following.has(sweepId)) return;
    const following: Following = { abort: new AbortController(), reason: null, done: Promise.resolve() };
    this.following.set(sweepId, following);
    following.done = this.run(sweepId, following)
      .catch((error: unknown) => console.warn(`Layerbench: Redis sweep ${sweepId} is not followed any more: ${messageOf(error)}`))
      .finally(() => this.following.delete(sweepId));
  }

  /**
   * Stops following the sweep and removes its jobs no agent has taken from the queue (they stay
   * 'queued' in the sweep). Runs agents are training go on there; their jobs are marked stopped here.
   */
  async stop(sweepId: string): Promise<boolean> {
    const following = this.following.get(sweepId);
    if (following) {
      following.reason = 'stop';
      following.abort.abort();
      await following.done;
      return true;
    }
    // Not followed (its Redis did not answer when this process resumed it): stopped on disk all the same.
    const { store } = this.options;
    const { record, state } = await store.load(sweepId);
    if (!(state.status === 'running' || state.status === 'queued') || (await store.ownedElsewhere(sweepId, state.owner))) return false;
    await this.stopped(record, state, await store.readRedisUrl(sweepId), await loadRemote());
    state.owner = null;
    await store.writeState(sweepId, state);
    this.options.onChange(record, state, null);
    return true;
  }

  /** Stops following every sweep, leaving each as it is on disk, to be followed again at the next start. */
  dispose(): Promise<void> {
    this.disposed = true;
    for (const following of this.following.values()) {
      following.reason = 'dispose';
      following.abort.abort();
    }
    return Promise.all([...this.following.values()].map((f) => f.done)).then(() => {});
  }

  private async run(sweepId: string, following: Following): Promise<void> {
    const { store } = this.options;
    const { record, state } = await store.load(sweepId);
    const url = await store.readRedisUrl(sweepId);
    const remote = await loadRemote();
    let saving = Promise.resolve();
    const save = (change: Parameters<RedisQueueOptions['onChange']>[2]) =>
      (saving = saving
        .then(async () => {
          if (following.reason === 'dispose') return;
          await store.writeState(sweepId, state);
          this.options.onChange(record, state, change);
        })
        // A state that cannot be written (a full disk) is said, and the next change tries again.
        .catch((error: unknown) => console.warn(`Layerbench: Redis sweep ${sweepId}: its state could not be written: ${messageOf(error)}`)));
    const release = await store.claim(sweepId, state);
    try {
      await save(null);
      const indexOf = new Map(record.jobs.map((job, index) => [remote.sweepJobId(job), index]));
      const open = record.jobs.filter((_, i) => !ENDED.has(state.jobs[i]!.status));
      await remote.runRemoteSweep(open, {
        redis: url,
        dataDir: this.options.dataDir,
        pollMs: this.options.pollMs,
        signal: following.abort.signal,
        onProgress: (progress) => {
          if (progress.type === 'warning') return console.warn(`Layerbench: Redis sweep ${sweepId}: ${progress.message}`);
          const index = indexOf.get(progress.jobId);
          if (index === undefined) return;
          const job = record.jobs[index]!;
          if (progress.type === 'event') {
            this.live.apply(progress.jobId, job, progress.agent, progress.event);
            return this.options.onEvent(progress.jobId, job, progress.agent, progress.event);
          }
          Object.assign(state.jobs[index]!, progress.state satisfies SweepJobState);
          // Stored now (or ended without a run): the stored run replaces the live one.
          if (ENDED.has(progress.state.status)) this.live.forgetJob(progress.jobId);
          void save({ index, job, state: state.jobs[index]! });
        },
      });
      await saving;
      if (following.reason === 'dispose') return;
      if (following.reason === 'stop') await this.stopped(record, state, url, remote);
      else state.status = state.jobs.some((j) => j.status === 'finished') || !state.jobs.length ? 'finished' : 'failed';
      state.owner = null;
      await save(null);
      await saving;
    } finally {
      release();
    }
  }

  private async stopped(record: SweepRecord, state: SweepState, url: string, remote: typeof import('./remote')): Promise<void> {
    state.status = 'stopped';
    const open = record.jobs.filter((_, i) => state.jobs[i]!.status === 'queued' || state.jobs[i]!.status === 'running');
    for (const job of open) this.live.forgetJob(remote.sweepJobId(job));
    try {
      await remote.removeQueuedJobs(url, open);
    } catch (error) {
      console.warn(`Layerbench: the queued jobs of sweep ${record.sweepId} stay in ${redactRedisUrl(url)}: ${messageOf(error)}`);
    }
    // Its agent trains it to the end, but this sweep no longer waits for it or stores it.
    for (const job of state.jobs) if (job.status === 'running') Object.assign(job, { status: 'stopped', error: 'the sweep was stopped while an agent trained it' });
  }
}
