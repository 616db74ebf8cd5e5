/**
 * Turns stored runs into overlay curves. Runs with different batch sizes or subsets have
 * different step counts, so the x axis is epochs (fractional within an epoch); the per-batch
 * curve is smoothed (exponential moving average, TensorBoard-style) and bounded per run.
 */
import type { RunDetail } from '../../contract';
import { BoundedSeries, type Point } from '../dashboard/bounded-series';

export interface OverlayCurves {
  loss: Point[];
  acc: Point[];
  valLoss: Point[];
  valAcc: Point[];
}

export function overlayCurves(detail: RunDetail, smoothing: number, maxPoints = 1500): OverlayCurves {
  // Batches per epoch from the records themselves (the last epoch may be cut short by a stop).
  let perEpoch = 1;
  for (const b of detail.batches) perEpoch = Math.max(perEpoch, b.batch + 1);
  const loss = new BoundedSeries(maxPoints);
  const acc = new BoundedSeries(maxPoints);
  let l: number | null = null;
  let a: number | null = null;
  for (const b of detail.batches) {
    const x = b.epoch + (b.batch + 1) / perEpoch;
    // A NaN loss would poison the average for good: draw the gap, restart after it.
    l = Number.isFinite(b.loss) ? (l === null ? b.loss : smoothing * l + (1 - smoothing) * b.loss) : null;
    a = Number.isFinite(b.acc) ? (a === null ? b.acc : smoothing * a + (1 - smoothing) * b.acc) : null;
    loss.push(x, l ?? Number.NaN);
    acc.push(x, a ?? Number.NaN);
  }
  const epochPoints = (key: 'val_loss' | 'val_acc'): Point[] => detail.epochs.flatMap((e) => (e[key] === undefined ? [] : [{ x: e.epoch + 1, y: e[key]! }]));
  return { loss: loss.points, acc: acc.points, valLoss: epochPoints('val_loss'), valAcc: epochPoints('val_acc') };
}
