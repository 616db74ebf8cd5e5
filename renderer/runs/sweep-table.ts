/**
 * A sweep's results as a table in the manner of TensorBoard's HParams view: one row per arm, a
 * column per grid key and per metric (mean ± sd over the seeds that finished), sortable by any.
 */
import type { ArmResult, GridValue, SweepGrid, SweepMetric } from '../../contract/sweeps';
import { meanSd } from './format';

/** The metrics a run's last epoch has, in the order a table shows them. */
export const SWEEP_METRICS: SweepMetric[] = ['val_accuracy', 'val_loss', 'accuracy', 'loss'];

/** A grid key's last part: `layers[Dense].kernel_initializer` → kernel_initializer. */
export function shortKey(key: string): string {
  return key.slice(key.lastIndexOf('.') + 1) || key;
}

export function valueText(value: GridValue | undefined): string {
  return value === undefined ? '–' : value === null ? 'null' : String(value);
}

/** An arm's name in legends and bars: its grid values, "kernel_initializer=he_normal · bn_position=after". */
export function armLabel(settings: Record<string, GridValue>): string {
  const parts = Object.entries(settings).map(([key, value]) => `${shortKey(key)}=${valueText(value)}`);
  return parts.join(' · ') || 'base';
}

export const isAccuracy = (metric: string): boolean => metric.includes('accuracy');

/** A metric's mean ± sd: accuracies in percent, losses as numbers. */
export function metricText(metric: string, mean: number | undefined, sd: number | undefined): string {
  return meanSd(mean, sd, isAccuracy(metric));
}

/** The metric columns the arms have, known ones first. */
export function metricColumns(arms: readonly ArmResult[]): string[] {
  const present = new Set(arms.flatMap((a) => Object.keys(a.mean)));
  return [...SWEEP_METRICS.filter((m) => present.delete(m)), ...[...present].sort()];
}

export type SortKey = { kind: 'grid' | 'metric'; key: string };

/** Lower is better for losses: sorting "best first" by a loss is ascending, by an accuracy descending. */
export function bestFirst(metric: string): 'asc' | 'desc' {
  return isAccuracy(metric) ? 'desc' : 'asc';
}

/**
 * Arms sorted by a column. Metrics compare as numbers, arms without one last whatever the direction;
 * grid values compare as numbers when both are, else as text. Ties keep the grid's order.
 */
export function sortArms(arms: readonly ArmResult[], by: SortKey, direction: 'asc' | 'desc'): ArmResult[] {
  const sign = direction === 'asc' ? 1 : -1;
  const read = (a: ArmResult): GridValue | undefined => (by.kind === 'metric' ? a.mean[by.key] : a.settings[by.key]);
  return arms
    .map((arm, index) => ({ arm, index, value: read(arm) }))
    .sort((p, q) => {
      const missingP = p.value === undefined || (typeof p.value === 'number' && Number.isNaN(p.value));
      const missingQ = q.value === undefined || (typeof q.value === 'number' && Number.isNaN(q.value));
      if (missingP || missingQ) return missingP === missingQ ? p.index - q.index : missingP ? 1 : -1;
      const order = typeof p.value === 'number' && typeof q.value === 'number' ? p.value - q.value : valueText(p.value).localeCompare(valueText(q.value), 'en', { numeric: true });
      return order * sign || p.index - q.index;
    })
    .map((p) => p.arm);
}

/** How many arms a grid makes (the product of its value counts). */
export function armCount(grid: SweepGrid): number {
  return Object.values(grid).reduce((n, values) => n * values.length, 1);
}

export interface BarGroup {
  /** The first grid key's value shared by the group's bars. */
  label: string;
  /** `label`: the other keys' values as key=value; `values`: just the values, short enough to sit under a bar. */
  bars: { label: string; values: string; mean: number; sd: number; armId: string }[];
}

/**
 * The grouped bar chart's layout: arms grouped by the first grid key's value, a bar per value of the
 * other keys; heights are the ranking metric's mean, whiskers its sd.
 */
export function barGroups(arms: readonly ArmResult[], grid: SweepGrid, metric: string): BarGroup[] {
  const [first, ...rest] = Object.keys(grid);
  const groups = new Map<string, BarGroup>();
  for (const arm of arms) {
    // One key: a single group named by the key, a bar per value.
    const label = first === undefined ? 'all' : rest.length ? `${shortKey(first)}=${valueText(arm.settings[first])}` : shortKey(first);
    let group = groups.get(label);
    if (!group) groups.set(label, (group = { label, bars: [] }));
    const others = Object.fromEntries(rest.map((key) => [key, arm.settings[key] ?? null]));
    const values = rest.map((key) => valueText(arm.settings[key])).join(' · ');
    group.bars.push({
      label: rest.length ? armLabel(others) : armLabel(arm.settings),
      values: values || valueText(first === undefined ? undefined : arm.settings[first]),
      mean: arm.mean[metric] ?? Number.NaN,
      sd: arm.sd[metric] ?? Number.NaN,
      armId: arm.armId,
    });
  }
  return [...groups.values()];
}
