/**
 * What the renderer knows of the current run, fed by the training event stream. Batch data is
 * kept in flat arrays the chart reads directly; the chart itself bounds what it draws.
 */
import type { BatchRecord, EpochRecord, TrainingEvent } from '../../contract';

export type RunStatus = 'idle' | 'starting' | 'loading-data' | 'building-model' | 'training' | 'finished' | 'stopped' | 'failed';

export class RunState {
  runId = $state<string | null>(null);
  status = $state<RunStatus>('idle');
  error = $state<string | null>(null);
  backend = $state<string | null>(null);
  epochs = $state(0);
  batchesPerEpoch = $state(0);
  trainSamples = $state(0);
  validationSamples = $state(0);
  completedBatches = $state(0);
  totalBatches = $state(0);
  samplesPerSec = $state(0);
  lastBatch = $state<BatchRecord | null>(null);
  epochRecords = $state<EpochRecord[]>([]);
  /** Incremented whenever batches arrive; the chart pulls from `batches` (not reactive: it can be long). */
  batchVersion = $state(0);
  batches: BatchRecord[] = [];

  get progress(): number {
    return this.totalBatches > 0 ? this.completedBatches / this.totalBatches : 0;
  }

  get running(): boolean {
    return this.status === 'starting' || this.status === 'loading-data' || this.status === 'building-model' || this.status === 'training';
  }

  begin(): void {
    this.runId = null;
    this.status = 'starting';
    this.error = null;
    this.completedBatches = 0;
    this.totalBatches = 0;
    this.samplesPerSec = 0;
    this.lastBatch = null;
    this.epochRecords = [];
    this.batches = [];
    this.batchVersion++;
  }

  fail(message: string): void {
    this.status = 'failed';
    this.error = message;
  }

  apply(event: TrainingEvent): void {
    if (this.runId === null && this.status === 'starting') this.runId = event.runId;
    if (event.runId !== this.runId) return;
    switch (event.type) {
      case 'phase':
        this.status = event.phase;
        return;
      case 'started':
        this.backend = event.backend;
        this.epochs = event.epochs;
        this.batchesPerEpoch = event.batchesPerEpoch;
        this.totalBatches = event.epochs * event.batchesPerEpoch;
        this.trainSamples = event.trainSamples;
        this.validationSamples = event.validationSamples;
        this.status = 'training';
        return;
      case 'batches':
        this.batches.push(...event.batches);
        this.lastBatch = event.batches[event.batches.length - 1]!;
        this.completedBatches = event.completedBatches;
        this.totalBatches = event.totalBatches;
        this.samplesPerSec = event.samplesPerSec;
        this.batchVersion++;
        return;
      case 'epoch':
        this.epochRecords = [...this.epochRecords, event.record];
        return;
      case 'finished':
      case 'stopped':
        this.status = event.type;
        return;
      case 'failed':
        this.fail(event.error);
        return;
    }
  }
}
