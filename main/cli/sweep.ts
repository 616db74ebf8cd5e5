/**
 * `layerbench sweep <sweep-file> [--out DIR] [--json] [--redis URL]`: a sweep (a grid × seeds over a
 * project, ../services/experiments/sweep-file.ts) run headlessly, one run at a time on the local
 * training host, queued in DIR/sweeps/ so that the same command after a crash or a kill resumes it
 * (finished runs kept, the interrupted one rerun). With --redis, the jobs go to agents on other
 * machines (../services/experiments/remote). Progress goes to stderr; with --json, stdout's last line
 * is the results table: {"sweepId": …, "arms": [{"armId", "settings", "runs", "mean", "sd"}]} in the grid's order;
 * without it, stderr ends with the arms ranked by the sweep's metric.
 */
import { resolve } from 'node:path';
import type { ArmResult, SweepJobState, SweepMetric } from '../../contract/sweeps';
import type { EpochRecord, TrainingEvent } from '../../contract/training';
import { lossText } from '../../contract/numbers';
import { definitionHash } from '../services/experiments/expand';
import { armResults, lastEpochMetrics } from '../services/experiments/results';
import { SweepService, newSweepId } from '../services/experiments/service';
import { expandSweepFile, readSweepFile, type LoadedSweep } from '../services/experiments/sweep-file';
import { RunStore } from '../services/runs/store';
import { defaultDataDir } from '../services/paths';
import { TrainingHost } from '../services/training/host/host';
import { UsageError, stringFlag, type ParsedArgs } from './args';

export const SWEEP_OPTIONS = { out: 'string', json: 'boolean', redis: 'string', 'data-dir': 'string', 'dataset-url': 'string', quiet: 'boolean' } as const;
export const SWEEP_USAGE = `sweep <sweep-file> [--out DIR] [--json] [--redis URL]
                                       run a sweep file (JSON or YAML: project, grid, seeds, metric)
                                       one run at a time; runs go to DIR/runs (like train's --out),
                                       the queue to DIR/sweeps, and the same command after a crash
                                       resumes it; --json: the results table as stdout's last line;
                                       --redis: enqueue the runs for \`layerbench agent\`s instead`;

export async function sweepCommand(args: ParsedArgs): Promise<number> {
  const [file, ...extra] = args.positionals;
  if (!file || extra.length) throw new UsageError('sweep takes exactly one sweep file');
  const loaded = await readSweepFile(file);
  const dataDir = stringFlag(args, 'data-dir') ?? defaultDataDir();
  const workspace = resolve(stringFlag(args, 'out') ?? dataDir);
  const runs = new RunStore(workspace);
  const quiet = args.flags.has('quiet');
  const log = (line: string) => quiet || process.stderr.write(`${line}\n`);
  for (const runId of await runs.recoverInterrupted()) log(`run ${runId}: its process died; marked interrupted`);

  const redis = stringFlag(args, 'redis');
  const result = redis
    ? await remoteSweep(loaded, redis, workspace, runs, log)
    : await localSweep(loaded, { dataDir, workspace, runs, log, datasetUrl: stringFlag(args, 'dataset-url') });
  if (args.flags.has('json')) process.stdout.write(`${JSON.stringify({ sweepId: result.sweepId, arms: result.arms })}\n`);
  else for (const arm of ranked(result.arms, loaded.file.metric)) log(armLine(arm));
  return result.complete ? 0 : 1;
}

interface SweepOutcome {
  sweepId: string;
  arms: ArmResult[];
  /** Every job finished. */
  complete: boolean;
}

interface LocalContext {
  dataDir: string;
  workspace: string;
  runs: RunStore;
  log(line: string): void;
  datasetUrl: string | undefined;
}

async function localSweep(loaded: LoadedSweep, { dataDir, workspace, runs, log, datasetUrl }: LocalContext): Promise<SweepOutcome> {
  const lastEpochs = new Map<string, EpochRecord>();
  let sweeps: SweepService | null = null;
  const host = new TrainingHost({
    dataDir,
    runs,
    fashionMnistBaseUrl: datasetUrl,
    onDatasetProgress: (p) => log(`downloading ${p.file}: ${p.receivedBytes}${p.totalBytes ? `/${p.totalBytes}` : ''} bytes`),
    onEvent: (event: TrainingEvent) => {
      if (event.type === 'epoch') {
        lastEpochs.set(event.runId, event.record);
        log(`    epoch ${event.record.epoch + 1}: ${metricsText(lastEpochMetrics([event.record]))}`);
      }
      sweeps?.onTrainingEvent(event);
    },
  });
  sweeps = new SweepService({
    sweepsDir: resolve(workspace, 'sweeps'),
    runs,
    training: host,
    onJob: ({ summary, index, job, state }) => {
      const head = `[${index + 1}/${summary.total}] ${job.name}`;
      const attempt = state.attempt > 1 ? ` (attempt ${state.attempt})` : '';
      if (state.status === 'running' && state.runId) log(`${head}: training run ${state.runId}${attempt}`);
      else if (state.status === 'finished')
        log(`${head}: finished · ${metricsText(lastEpochMetrics(state.runId && lastEpochs.has(state.runId) ? [lastEpochs.get(state.runId)!] : []))}`);
      else if (state.status === 'failed' || state.status === 'stopped') log(`${head}: ${state.status}${state.error ? ` · ${state.error}` : ''}`);
    },
  });
  let sweepId = newSweepId();
  const expanded = expandSweepFile(loaded, sweepId);
  const resumable = await sweeps.findResumable(definitionHash(expanded.jobs));
  if (resumable && (await sweeps.resume(resumable)).length) {
    sweepId = resumable;
    const { summary } = await sweeps.get(sweepId);
    log(`resuming sweep ${sweepId} (${summary.finished} of ${summary.total} runs finished) in ${sweeps.store.sweepDir(sweepId)}`);
  } else {
    await sweeps.start(
      {
        name: loaded.name,
        base: { spec: loaded.project.model, settings: loaded.project.training },
        grid: loaded.file.grid,
        seeds: loaded.file.seeds,
        metric: loaded.file.metric,
        queue: { kind: 'local' },
      },
      { ...expanded, sweepId },
    );
    log(`sweep ${sweepId}: ${expanded.arms.length} arms × ${loaded.file.seeds} seeds = ${expanded.jobs.length} runs, in ${sweeps.store.sweepDir(sweepId)}`);
  }
  const stop = () => void sweeps.stop(sweepId);
  process.once('SIGINT', stop);
  try {
    await sweeps.settled(sweepId);
  } finally {
    process.off('SIGINT', stop);
    const disposed = sweeps.dispose();
    await host.dispose();
    await disposed;
  }
  const detail = await sweeps.get(sweepId);
  log(
    `sweep ${sweepId} ${detail.summary.status}: ${detail.summary.finished} of ${detail.summary.total} runs finished${detail.summary.failed ? `, ${detail.summary.failed} failed` : ''}`,
  );
  return { sweepId, arms: detail.arms, complete: detail.summary.finished === detail.summary.total };
}

async function remoteSweep(loaded: LoadedSweep, redis: string, workspace: string, runs: RunStore, log: (line: string) => void): Promise<SweepOutcome> {
  // BullMQ and ioredis load only for --redis.
  const { runRemoteSweep, progressLine } = await import('../services/experiments/remote');
  const sweepId = newSweepId();
  const { arms, jobs } = expandSweepFile(loaded, sweepId);
  log(`sweep ${sweepId}: ${arms.length} arms × ${loaded.file.seeds} seeds = ${jobs.length} runs, queued on Redis`);
  const states: SweepJobState[] = await runRemoteSweep(jobs, {
    redis,
    dataDir: workspace,
    onProgress: (progress) => {
      const line = progressLine(progress);
      if (line) log(line);
    },
  });
  return { sweepId, arms: await armResults(arms, states, runs), complete: states.length === jobs.length && states.every((s) => s.status === 'finished') };
}

function metricsText(metrics: Partial<Record<string, number>>): string {
  const parts = Object.entries(metrics).map(([name, value]) => `${name} ${name.endsWith('loss') ? lossText(value!) : `${(value! * 100).toFixed(2)}%`}`);
  return parts.join(' · ') || 'no epoch recorded';
}

/** Best first by the sweep's metric (losses ascending, accuracies descending); arms without it last. */
function ranked(arms: readonly ArmResult[], metric: SweepMetric): ArmResult[] {
  const sign = metric.endsWith('loss') ? 1 : -1;
  const key = (arm: ArmResult) => (arm.mean[metric] === undefined ? Infinity : sign * arm.mean[metric]);
  return [...arms].sort((a, b) => key(a) - key(b));
}

function armLine(arm: ArmResult): string {
  const settings = Object.entries(arm.settings)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' · ');
  const metrics = Object.keys(arm.mean).map((m) => `${m} ${arm.mean[m]!.toPrecision(4)}${arm.sd[m] === undefined ? '' : ` ± ${arm.sd[m]!.toPrecision(2)}`}`);
  return `${settings || 'base'}: ${metrics.join(' · ') || 'no finished run'} (${arm.runs.length} runs)`;
}
