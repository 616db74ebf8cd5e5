/**
 * Loss and accuracy of one run, bounded: per-batch series (≤ 5,000 points each) plus the epoch
 * records. Fed live by the event stream or at once from a stored run; charts watch `version`.
 */
import type { BatchRecord, EpochRecord } from '../../contract';
import { BoundedSeries, type Point } from './bounded-series';

export class MetricsSeries {
  version = $state(0);
  loss = new BoundedSeries(5000);
  acc = new BoundedSeries(5000);
  epochs: EpochRecord[] = [];
  /** Batches received (what `data-points` reports), even after thinning. */
  received = 0;
  /** The last global step (+1) seen in each epoch: where that epoch's point goes on a step axis. */
  private epochEnd = new Map<number, number>();
  /** A vertical marker, e.g. where the loss became NaN. */
  marker: { step: number; label: string } | null = null;

  addBatches(batches: BatchRecord[]): void {
    for (const b of batches) {
      this.loss.push(b.step + 1, b.loss);
      this.acc.push(b.step + 1, b.acc);
      this.epochEnd.set(b.epoch, b.step + 1);
    }
    this.received += batches.length;
    this.version++;
  }

  addEpoch(record: EpochRecord): void {
    this.epochs.push(record);
    this.version++;
  }

  setEpochs(records: EpochRecord[]): void {
    this.epochs = [...records];
    this.version++;
  }

  clear(): void {
    this.loss.clear();
    this.acc.clear();
    this.epochs = [];
    this.received = 0;
    this.epochEnd.clear();
    this.marker = null;
    this.version++;
  }

  /** Per-epoch points at the epoch's last step, e.g. `epochPoints('val_loss')`. */
  epochPoints(key: 'loss' | 'acc' | 'val_loss' | 'val_acc'): Point[] {
    const points: Point[] = [];
    for (const e of this.epochs) {
      const x = this.epochEnd.get(e.epoch);
      const y = e[key];
      if (x !== undefined && y !== undefined) points.push({ x, y });
    }
    return points;
  }

  get hasValidation(): boolean {
    return this.epochs.some((e) => e.val_loss !== undefined);
  }
}
