/**
 * Repeated seeds in the overlay (#17): runs of one arm (same model and settings, different seeds)
 * are drawn as their mean with a band, and read as mean ± sd with Welch's verdict against another arm.
 */
import { mean, sampleSd, seedNoiseVerdict, type SeedNoiseVerdict } from '../../contract/statistics';
import type { RunDetail } from '../../contract';
import type { Point } from '../dashboard/bounded-series';
import { meanSd } from './format';

/** min–max: every seed inside; sd: mean ± one sample standard deviation. */
export type BandKind = 'minmax' | 'sd';

export interface BandCurves {
  mean: Point[];
  lo: Point[];
  hi: Point[];
}

/**
 * The mean curve of one arm's runs and its band, x by x. Runs of an arm share their settings, so
 * their points fall on the same x; an x some runs lack (one stopped early) takes those that have it.
 * A diverged run's NaN is left out; an x where no run has a number stays a gap.
 */
export function bandCurves(curves: readonly Point[][], band: BandKind): BandCurves {
  const byX = new Map<number, number[]>();
  for (const curve of curves) {
    for (const { x, y } of curve) {
      let ys = byX.get(x);
      if (!ys) byX.set(x, (ys = []));
      if (Number.isFinite(y)) ys.push(y);
    }
  }
  const out: BandCurves = { mean: [], lo: [], hi: [] };
  for (const x of [...byX.keys()].sort((a, b) => a - b)) {
    const ys = byX.get(x)!;
    const m = mean(ys);
    const [lo, hi] = band === 'minmax' ? [Math.min(...ys), Math.max(...ys)] : spread(m, sampleSd(ys));
    out.mean.push({ x, y: m });
    out.lo.push({ x, y: ys.length ? lo : Number.NaN });
    out.hi.push({ x, y: ys.length ? hi : Number.NaN });
  }
  return out;
}

/** One seed has no sd: its band is the line itself. */
function spread(m: number, sd: number): [number, number] {
  return Number.isFinite(sd) ? [m - sd, m + sd] : [m, m];
}

/** A run's name without a seed suffix (" · seed 42", as a sweep or a person may write it): what the runs of one arm share. */
export function armName(runName: string): string {
  return runName.replace(/\s*·\s*seed \d+$/, '');
}

/** Groups runs into arms, in first-seen order: by an explicit arm (a sweep's) when given, else by name (a comparison names every seed of a variant alike). */
export function groupArms<R extends { runId: string; name: string }>(runs: readonly R[], armOf?: (runId: string) => string | undefined): { label: string; runs: R[] }[] {
  const arms = new Map<string, R[]>();
  for (const run of runs) {
    const label = armOf?.(run.runId) ?? armName(run.name);
    let members = arms.get(label);
    if (!members) arms.set(label, (members = []));
    members.push(run);
  }
  return [...arms].map(([label, members]) => ({ label, runs: members }));
}

/** The final-epoch numbers a comparison is read by, one value per run. */
export const ARM_METRICS = {
  final_val_acc: { title: 'final val acc', read: (d: RunDetail) => d.epochs.at(-1)?.val_acc, percent: true },
  best_val_acc: { title: 'best val acc', read: (d: RunDetail) => d.summary.bestValAcc ?? undefined, percent: true },
  final_val_loss: { title: 'final val loss', read: (d: RunDetail) => d.epochs.at(-1)?.val_loss, percent: false },
  final_loss: { title: 'final train loss', read: (d: RunDetail) => d.epochs.at(-1)?.loss, percent: false },
} as const;
export type ArmMetric = keyof typeof ARM_METRICS;

export function metricValues(details: readonly RunDetail[], metric: ArmMetric): number[] {
  return details.flatMap((d) => {
    const v = ARM_METRICS[metric].read(d);
    return v === undefined || v === null ? [] : [v];
  });
}

/** An arm's values as mean ± sd (format.ts' meanSd). */
export function meanSdText(values: readonly number[], asPercent: boolean): string {
  return meanSd(mean(values), sampleSd(values), asPercent);
}

export interface ArmVerdict {
  arm: string;
  reference: string;
  verdict: SeedNoiseVerdict;
}

/** Each arm against the first one, on one metric (final val accuracy by default). */
export function armVerdicts(arms: readonly { label: string; details: readonly RunDetail[] }[], metric: ArmMetric = 'final_val_acc'): ArmVerdict[] {
  const [reference, ...rest] = arms;
  if (!reference) return [];
  const base = metricValues(reference.details, metric);
  return rest.map((arm) => ({ arm: arm.label, reference: reference.label, verdict: seedNoiseVerdict(metricValues(arm.details, metric), base) }));
}
