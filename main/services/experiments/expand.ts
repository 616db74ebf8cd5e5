/**
 * A sweep's grid expanded: the arms (the cartesian product of the grid's values, in the grid's key
 * order) and one job per arm and seed (seed i = the base seed + i). Every value is checked against the
 * base as it is applied, and every arm as a whole, before anything is queued.
 */
import { createHash } from 'node:crypto';
import { DomainError } from '../../../contract/wire';
import type { Arm, GridValue, SweepGrid, SweepJob } from '../../../contract/sweeps';
import { TASK_LOSS, checkTask, describeBlocking, type TaskData } from '../../../model/task-check';
import { FASHION_MNIST_ID } from '../../../contract/datasets';
import { fashionMnistSummary } from '../datasets/builtin';
import { summarize } from '../../../model/summary';
import { applyGridValue, bnPositionOf, checkedSettings, parseGridKey, type GridPath, type SweepBase } from './grid-paths';
import { withBnPosition } from './bn-position';
import { SweepArmError, SweepGridError } from './errors';

/** Runs one sweep may hold (arms × seeds): a typo in a grid should not queue a week of training. */
export const MAX_SWEEP_RUNS = 500;

export interface NamedArm extends Arm {
  /** "lr=0.01 · kernel_initializer=he_normal" */
  name: string;
}

export interface ExpandedSweep {
  arms: NamedArm[];
  jobs: SweepJob[];
}

export interface SweepDefinition {
  sweepId: string;
  base: SweepBase;
  grid: SweepGrid;
  seeds: number;
}

export function expandSweep({ sweepId, base, grid, seeds }: SweepDefinition): ExpandedSweep {
  const keys = Object.keys(grid);
  const runs = keys.reduce((n, key) => n * grid[key]!.length, seeds);
  if (runs > MAX_SWEEP_RUNS) {
    const factors = [...keys.map((key) => `${grid[key]!.length} (${key})`), `${seeds} seeds`].join(' × ');
    throw new DomainError('limit', `the sweep has ${runs.toLocaleString('en-US')} runs (${factors}); a sweep holds at most ${MAX_SWEEP_RUNS}`);
  }
  const paths = keys.map(parseGridKey);
  // Each value alone, against the base: an error then names the one key and value at fault.
  for (const path of paths) {
    const values = grid[path.key]!;
    values.forEach((value, i) => {
      if (values.findIndex((other) => other === value) !== i) throw new SweepGridError(path.key, `lists ${JSON.stringify(value)} twice`);
      applyOne(base, path, value);
    });
  }
  const shortNames = shortKeyNames(keys);
  const arms: NamedArm[] = [];
  const jobs: SweepJob[] = [];
  for (const point of cartesian(paths.map((path) => grid[path.key]!))) {
    const settings = Object.fromEntries(keys.map((key, i) => [key, point[i]!]));
    const name = keys.map((key, i) => `${shortNames.get(key)}=${valueText(point[i]!)}`).join(' · ');
    const arm: NamedArm = { armId: armIdOf(settings), name, settings };
    const applied = applyArm(base, paths, point, name);
    arms.push(arm);
    for (let i = 0; i < seeds; i++) {
      const seed = applied.settings.seed + i;
      jobs.push({
        sweepId,
        armId: arm.armId,
        seed,
        name: `${name ? `${name} · ` : ''}seed ${seed}`.slice(0, 200),
        spec: applied.spec,
        settings: checkedSettings({ ...applied.settings, seed }, name),
      });
    }
  }
  return { arms, jobs };
}

/** A hash of the jobs' definitions, sweep id aside: the same sweep file over the same project gives the same one. */
export function definitionHash(jobs: readonly SweepJob[]): string {
  const hash = createHash('sha256');
  for (const { armId, seed, spec, settings } of jobs) hash.update(JSON.stringify({ armId, seed, spec, settings }));
  return hash.digest('hex');
}

function applyOne(base: SweepBase, path: GridPath, value: GridValue): SweepBase {
  const applied = applyGridValue(base, path, value);
  return path.kind === 'bn_position' ? { spec: withBnPosition(applied.spec, bnPositionOf(path, value)), settings: applied.settings } : applied;
}

/** The base with an arm's values: settings and layer fields first, then bn_position (it moves what they set). */
function applyArm(base: SweepBase, paths: GridPath[], point: GridValue[], name: string): SweepBase {
  let applied = base;
  paths.forEach((path, i) => path.kind !== 'bn_position' && (applied = applyGridValue(applied, path, point[i]!)));
  paths.forEach((path, i) => path.kind === 'bn_position' && (applied = applyOne(applied, path, point[i]!)));
  const summary = summarize(applied.spec);
  if (!summary.valid) {
    throw new SweepArmError(name, `the model cannot be built: ${summary.errors.map((e) => `${e.layerName || 'model'}${e.field ? `.${e.field}` : ''}: ${e.message}`).join('; ')}`);
  }
  const blocking = describeBlocking(checkTask(applied.spec, { loss: TASK_LOSS, data: knownTaskData(applied.settings.dataset) }, summary));
  if (blocking) throw new SweepArmError(name, `the model cannot be trained: ${blocking}`);
  return { spec: applied.spec, settings: checkedSettings(applied.settings, name) };
}

/** Fashion-MNIST's shape and classes are known without its files; an imported dataset's are checked when its run starts. */
function knownTaskData(dataset: string): TaskData | null {
  if (dataset !== FASHION_MNIST_ID) return null;
  const summary = fashionMnistSummary(null);
  return { name: summary.name, sampleShape: summary.sampleShape, classCount: summary.classNames.length };
}

function* cartesian(lists: GridValue[][]): Generator<GridValue[]> {
  const index = lists.map(() => 0);
  for (;;) {
    yield lists.map((list, i) => list[index[i]!]!);
    let k = lists.length - 1;
    while (k >= 0 && ++index[k]! === lists[k]!.length) index[k--] = 0;
    if (k < 0) return;
  }
}

function armIdOf(settings: Record<string, GridValue>): string {
  return `arm-${createHash('sha256')
    .update(JSON.stringify(Object.entries(settings)))
    .digest('hex')
    .slice(0, 12)}`;
}

const TRAINING_SHORT: Record<string, string> = { 'training.learningRate': 'lr', 'training.batchSize': 'batch' };

/** The names arms are written with: the key's last part (lr, kernel_initializer), the whole key where two would read alike. */
function shortKeyNames(keys: string[]): Map<string, string> {
  const short = (key: string) => TRAINING_SHORT[key] ?? key.slice(key.lastIndexOf('.') + 1);
  const counts = new Map<string, number>();
  for (const key of keys) counts.set(short(key), (counts.get(short(key)) ?? 0) + 1);
  return new Map(keys.map((key) => [key, counts.get(short(key))! > 1 ? key : short(key)]));
}

function valueText(value: GridValue): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}
