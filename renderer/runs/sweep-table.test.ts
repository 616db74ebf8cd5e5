import { describe, expect, it } from 'vitest';
import { ArmResultSchema, type ArmResult } from '../../contract/sweeps';
import { armCount, armLabel, barGroups, bestFirst, metricColumns, metricText, sortArms } from './sweep-table';

const grid = { 'training.learningRate': [0.01, 0.05], 'layers[Dense].kernel_initializer': ['he_normal', 'glorot_uniform'] };
const arm = (armId: string, lr: number, init: string, acc: number | undefined, sd = 0.004): ArmResult =>
  ArmResultSchema.parse({
    armId,
    settings: { 'training.learningRate': lr, 'layers[Dense].kernel_initializer': init },
    runs: [],
    mean: acc === undefined ? {} : { val_accuracy: acc, val_loss: 1 - acc },
    sd: acc === undefined ? {} : { val_accuracy: sd, val_loss: sd },
  });
const arms = [arm('a0', 0.01, 'he_normal', 0.84), arm('a1', 0.01, 'glorot_uniform', 0.82), arm('a2', 0.05, 'he_normal', 0.86), arm('a3', 0.05, 'glorot_uniform', undefined)];

describe('sweep results table', () => {
  it('labels arms by their grid values and counts a grid', () => {
    expect(armLabel(arms[0]!.settings)).toBe('learningRate=0.01 · kernel_initializer=he_normal');
    expect(armLabel({})).toBe('base');
    expect(armCount(grid)).toBe(4);
    expect(armCount({ bn_position: ['before', 'after'], 'training.batchSize': [16, 32, 64] })).toBe(6);
  });

  it('shows accuracies as percent and losses as numbers, mean ± sd', () => {
    expect(metricText('val_accuracy', 0.8513, 0.0031)).toBe('85.13% ±\u00a00.31');
    expect(metricText('val_loss', 0.42114, 0.01234)).toBe('0.4211 ±\u00a00.0123');
    expect(metricText('val_loss', 0.42114, Number.NaN)).toBe('0.4211');
    expect(metricText('val_loss', undefined, undefined)).toBe('–');
    expect(metricColumns(arms)).toEqual(['val_accuracy', 'val_loss']);
  });

  it('sorts by a metric best first, arms without one last, and by grid values', () => {
    const byAcc = sortArms(arms, { kind: 'metric', key: 'val_accuracy' }, bestFirst('val_accuracy'));
    expect(byAcc.map((a) => a.armId)).toEqual(['a2', 'a0', 'a1', 'a3']);
    const byLoss = sortArms(arms, { kind: 'metric', key: 'val_loss' }, bestFirst('val_loss'));
    expect(byLoss.map((a) => a.armId)).toEqual(['a2', 'a0', 'a1', 'a3']);
    const byAccAsc = sortArms(arms, { kind: 'metric', key: 'val_accuracy' }, 'asc');
    expect(byAccAsc.map((a) => a.armId)).toEqual(['a1', 'a0', 'a2', 'a3']);
    const byInit = sortArms(arms, { kind: 'grid', key: 'layers[Dense].kernel_initializer' }, 'asc');
    expect(byInit.map((a) => a.armId)).toEqual(['a1', 'a3', 'a0', 'a2']);
    const byLr = sortArms(arms, { kind: 'grid', key: 'training.learningRate' }, 'desc');
    expect(byLr.map((a) => a.armId)).toEqual(['a2', 'a3', 'a0', 'a1']);
  });

  it('groups bars by the first grid key, a bar per value of the others', () => {
    const groups = barGroups(arms, grid, 'val_accuracy');
    expect(groups.map((g) => g.label)).toEqual(['learningRate=0.01', 'learningRate=0.05']);
    expect(groups[0]!.bars.map((b) => [b.label, b.mean])).toEqual([
      ['kernel_initializer=he_normal', 0.84],
      ['kernel_initializer=glorot_uniform', 0.82],
    ]);
    expect(groups[1]!.bars[1]!.mean).toBeNaN();
    expect(groups[1]!.bars.map((b) => b.values)).toEqual(['he_normal', 'glorot_uniform']);
    const single = barGroups(arms.slice(0, 2), { 'layers[Dense].kernel_initializer': ['he_normal', 'glorot_uniform'] }, 'val_accuracy');
    expect(single.map((g) => [g.label, g.bars.map((b) => b.values)])).toEqual([['kernel_initializer', ['he_normal', 'glorot_uniform']]]);
  });
});
