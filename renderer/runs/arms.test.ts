import { describe, expect, it } from 'vitest';
import type { RunDetail } from '../../contract';
import { armName, armVerdicts, bandCurves, groupArms, meanSdText, metricValues } from './arms';

const curve = (ys: number[]) => ys.map((y, i) => ({ x: (i + 1) / 4, y }));

/** A stored run's detail as far as the arm numbers read it: its epochs' records. */
function detail(runId: string, valAccs: number[]): RunDetail {
  const epochs = valAccs.map((val_acc, epoch) => ({ epoch, loss: 1 - val_acc, acc: val_acc, val_acc, val_loss: 1.1 - val_acc, durationMs: 100 }));
  return { summary: { runId, bestValAcc: Math.max(...valAccs) }, epochs, batches: [] } as unknown as RunDetail;
}

describe('arm bands', () => {
  it('draws the mean with a min–max or ±1 sd band, x by x', () => {
    const runs = [curve([1, 2, 3]), curve([3, 2, 5]), curve([2, 2, 4])];
    const minmax = bandCurves(runs, 'minmax');
    expect(minmax.mean.map((p) => p.y)).toEqual([2, 2, 4]);
    expect(minmax.lo.map((p) => p.y)).toEqual([1, 2, 3]);
    expect(minmax.hi.map((p) => p.y)).toEqual([3, 2, 5]);
    expect(minmax.mean.map((p) => p.x)).toEqual([0.25, 0.5, 0.75]);
    const sd = bandCurves(runs, 'sd');
    expect(sd.lo[0]!.y).toBeCloseTo(1, 12); // sd of 1, 3, 2 is 1
    expect(sd.hi[2]!.y).toBeCloseTo(5, 12);
    expect(sd.lo[1]!.y).toBe(2);
  });

  it('takes the runs that reach an x, leaves NaN out, keeps a gap where none has a number', () => {
    const b = bandCurves([curve([1, Number.NaN, Number.NaN]), curve([3, 4, Number.NaN]), curve([2])], 'sd');
    expect(b.mean.map((p) => p.y)).toEqual([2, 4, Number.NaN]);
    expect(b.lo[1]!.y).toBe(4); // one value: no sd, the band is the line
    expect(b.hi[2]!.y).toBeNaN();
  });
});

describe('arms', () => {
  it('groups runs by name without the seed, or by the arm a sweep gives', () => {
    const runs = [
      { runId: 'a', name: 'He normal init' },
      { runId: 'b', name: 'Glorot uniform init · seed 42' },
      { runId: 'c', name: 'He normal init · seed 43' },
      { runId: 'd', name: 'my run' },
    ];
    expect(armName('He normal init · seed 43')).toBe('He normal init');
    expect(groupArms(runs).map((a) => [a.label, a.runs.map((r) => r.runId)])).toEqual([
      ['He normal init', ['a', 'c']],
      ['Glorot uniform init', ['b']],
      ['my run', ['d']],
    ]);
    const arm = (id: string) => (id === 'd' ? undefined : 'arm-0');
    expect(groupArms(runs, arm).map((a) => a.runs.length)).toEqual([3, 1]);
  });

  it('reads final metrics as mean ± sd', () => {
    const details = [detail('a', [0.8, 0.85]), detail('b', [0.8, 0.86]), detail('c', [0.8, 0.84])];
    expect(metricValues(details, 'final_val_acc')).toEqual([0.85, 0.86, 0.84]);
    expect(meanSdText(metricValues(details, 'final_val_acc'), true)).toBe('85.00% ±\u00a01.00');
    expect(meanSdText([0.4211], false)).toBe('0.4211');
    expect(meanSdText([], false)).toBe('–');
  });

  it('judges each arm against the first', () => {
    const he = [detail('a', [0.851]), detail('b', [0.848]), detail('c', [0.853])];
    const glorot = [detail('d', [0.838]), detail('e', [0.842]), detail('f', [0.836])];
    const close = [detail('g', [0.85]), detail('h', [0.852]), detail('i', [0.849])];
    const verdicts = armVerdicts([
      { label: 'He', details: he },
      { label: 'Glorot', details: glorot },
      { label: 'He again', details: close },
    ]);
    expect(verdicts.map((v) => [v.arm, v.reference, v.verdict.kind])).toEqual([
      ['Glorot', 'He', 'difference'],
      ['He again', 'He', 'noise'],
    ]);
    expect(verdicts[0]!.verdict.p).toBeCloseTo(0.006948133512877424, 10);
  });
});
