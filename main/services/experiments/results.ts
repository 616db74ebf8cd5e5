/**
 * The results table: per arm, the mean and sample sd over its finished runs of each metric at the
 * run's last epoch, read from the stored runs (the files are the truth, not what was streamed).
 */
import type { Arm, ArmResult, SweepJobState, SweepMetric } from '../../../contract/sweeps';
import type { EpochRecord } from '../../../contract/training';
import { mean, sampleSd } from '../../../contract/statistics';
import type { RunStoreApi } from '../runs/types';

/** Each metric's field in an epoch record. */
export const METRIC_FIELDS: Record<SweepMetric, keyof EpochRecord> = { val_accuracy: 'val_acc', val_loss: 'val_loss', accuracy: 'acc', loss: 'loss' };
const METRICS = Object.keys(METRIC_FIELDS) as SweepMetric[];

/** The metrics of a run's last epoch (those it recorded). */
export function lastEpochMetrics(epochs: readonly EpochRecord[]): Partial<Record<SweepMetric, number>> {
  const last = epochs.at(-1);
  if (!last) return {};
  const metrics: Partial<Record<SweepMetric, number>> = {};
  for (const metric of METRICS) {
    const value = last[METRIC_FIELDS[metric]];
    if (typeof value === 'number' && Number.isFinite(value)) metrics[metric] = value;
  }
  return metrics;
}

/**
 * One row per arm. `runs` lists the finished runs (by seed); a metric's sd is given from two runs on
 * (one run has no spread to speak of).
 */
export async function armResults(arms: readonly Arm[], jobs: readonly SweepJobState[], runs: Pick<RunStoreApi, 'get'>): Promise<ArmResult[]> {
  const finished = jobs.filter((job) => job.status === 'finished' && job.runId !== null).sort((a, b) => a.seed - b.seed);
  const metricsByRun = new Map<string, Partial<Record<SweepMetric, number>>>();
  await Promise.all(
    finished.map(async (job) => {
      const detail = await runs.get(job.runId!).catch(() => null);
      metricsByRun.set(job.runId!, detail ? lastEpochMetrics(detail.epochs) : {});
    }),
  );
  return arms.map(({ armId, settings }) => {
    const runIds = finished.filter((job) => job.armId === armId).map((job) => job.runId!);
    const result: ArmResult = { armId, settings, runs: runIds, mean: {}, sd: {} };
    for (const metric of METRICS) {
      const values = runIds.map((id) => metricsByRun.get(id)?.[metric]).filter((v): v is number => v !== undefined);
      if (values.length >= 1) result.mean[metric] = mean(values);
      if (values.length >= 2) result.sd[metric] = sampleSd(values);
    }
    return result;
  });
}
