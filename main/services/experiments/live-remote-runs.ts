/**
 * Runs that agents on other machines are training for this host's Redis sweeps, kept in memory from
 * the training events they stream, so that `runs.list` and `runs.get` show them live like a local
 * run (labelled with the agent's host and backend). A remote run is stored under the run id its
 * events carry once its job finishes: the stored run then replaces the live entry, never beside it.
 */
import type { RunDetail, RunSummary } from '../../../contract/runs';
import { runTraits } from '../../../contract/run-traits';
import type { SweepJob } from '../../../contract/sweeps';
import type { BatchRecord, EpochRecord, StatsRecord, TrainingEvent } from '../../../contract/training';

/**
 * What one live run keeps at most: a long remote run must not grow the host's memory without bound
 * (epochs and callbacks too: their count is whatever the agent sends, not what the settings allow).
 */
const KEEP = { batches: 50_000, stats: 2_000, epochs: 10_000, callbacks: 2_000 } as const;

interface LiveRun {
  jobId: string;
  job: SweepJob;
  summary: RunSummary;
  startedMs: number;
  batches: BatchRecord[];
  epochs: EpochRecord[];
  callbacks: RunDetail['callbacks'];
  stats: StatsRecord[];
}

const keepLast = <T>(items: T[], max: number) => (items.length > max ? items.splice(0, items.length - max) : undefined);

export class LiveRemoteRuns {
  private readonly runs = new Map<string, LiveRun>();

  /** One event of a remote run; the job's earlier attempt (a run id of its own) is dropped. */
  apply(jobId: string, job: SweepJob, agent: { host: string; backend: string }, event: TrainingEvent): void {
    let run = this.runs.get(event.runId);
    if (!run) {
      this.forgetJob(jobId);
      run = this.create(jobId, job, event.runId);
      this.runs.set(event.runId, run);
    }
    const { summary } = run;
    summary.agent = { ...agent };
    summary.backend = agent.backend;
    summary.durationMs = Date.now() - run.startedMs;
    switch (event.type) {
      case 'started':
        summary.backend = event.backend;
        if (event.step) summary.step = event.step;
        return;
      case 'batches':
        run.batches.push(...event.batches);
        keepLast(run.batches, KEEP.batches);
        summary.batchesDone = event.completedBatches;
        return;
      case 'epoch':
        run.epochs.push(event.record);
        keepLast(run.epochs, KEEP.epochs);
        summary.epochsDone++;
        if (event.record.val_acc !== undefined) summary.bestValAcc = Math.max(summary.bestValAcc ?? -Infinity, event.record.val_acc);
        return;
      case 'callback':
        run.callbacks.push({ callback: event.callback, epoch: event.epoch, detail: event.detail });
        keepLast(run.callbacks, KEEP.callbacks);
        return;
      case 'stats':
        run.stats.push(...event.records);
        keepLast(run.stats, KEEP.stats);
        return;
      case 'paused':
      case 'resumed':
        summary.status = event.type === 'paused' ? 'paused' : 'running';
        return;
      case 'finished':
      case 'stopped':
      case 'failed':
        // Ended on the agent; listed so until the coordinator has stored it.
        summary.status = event.type;
        summary.endedAt = new Date().toISOString();
        if (event.type === 'failed') summary.failure = { error: event.error, ...(event.code ? { code: event.code } : {}) };
        return;
    }
  }

  /** Drops the job's live run (its run is stored now, or the job ended without one). */
  forgetJob(jobId: string): void {
    for (const [runId, run] of this.runs) if (run.jobId === jobId) this.runs.delete(runId);
  }

  /** The live runs, except those `stored` lists already (a run stored before its entry was dropped). */
  list(stored: ReadonlySet<string> = new Set()): RunSummary[] {
    return [...this.runs.values()].filter((r) => !stored.has(r.summary.runId)).map((r) => ({ ...r.summary, durationMs: this.duration(r) }));
  }

  get(runId: string): RunDetail | null {
    const run = this.runs.get(runId);
    if (!run) return null;
    return {
      summary: { ...run.summary, durationMs: this.duration(run) },
      spec: run.job.spec,
      settings: run.job.settings,
      batches: [...run.batches],
      epochs: [...run.epochs],
      callbacks: [...run.callbacks],
      stats: [...run.stats],
      hasWeights: false,
      hasBestCheckpoint: false,
      // Not on this machine yet: the agent uploads the folder when the run ends.
      directory: '',
    };
  }

  private duration(run: LiveRun): number {
    return run.summary.endedAt ? run.summary.durationMs : Date.now() - run.startedMs;
  }

  private create(jobId: string, job: SweepJob, runId: string): LiveRun {
    const summary: RunSummary = {
      runId,
      name: job.name,
      status: 'running',
      createdAt: new Date().toISOString(),
      endedAt: null,
      durationMs: 0,
      backend: '',
      modelName: job.spec.config.name,
      epochsDone: 0,
      batchesDone: 0,
      bestValAcc: null,
      failure: null,
      traits: runTraits(job.spec, job.settings),
    };
    return { jobId, job, summary, startedMs: Date.now(), batches: [], epochs: [], callbacks: [], stats: [] };
  }
}
