/**
 * What the renderer knows of the current run, fed by the training event stream. Bulky data lives
 * in bounded stores (metrics, statistics) that charts read on their `version`; only small facts
 * are reactive state here.
 */
import type { BatchRecord, Calibration, EpochRecord, TrainingEvent } from '../../contract';
import { MetricsSeries } from '../dashboard/metrics-series.svelte';
import { StatsStore } from '../dashboard/stats-store.svelte';

export type RunStatus = 'idle' | 'starting' | 'loading-data' | 'building-model' | 'training' | 'paused' | 'finished' | 'stopped' | 'failed';

export interface Divergence {
  step: number;
  epoch: number;
  lastFiniteLoss: number | null;
  likelyCauses: string[];
}

/** A callback's action during the run (early stopping, best checkpoint, restore, reduce-lr), for the notes. */
export interface RunNote {
  kind: 'early-stopping' | 'checkpoint' | 'restore-best' | 'reduce-lr';
  epoch: number;
  detail: string;
}

export class RunState {
  runId = $state<string | null>(null);
  status = $state<RunStatus>('idle');
  error = $state<string | null>(null);
  divergence = $state<Divergence | null>(null);
  backend = $state<string | null>(null);
  epochs = $state(0);
  batchesPerEpoch = $state(0);
  trainSamples = $state(0);
  validationSamples = $state(0);
  completedBatches = $state(0);
  totalBatches = $state(0);
  samplesPerSec = $state(0);
  /** Seconds left, from the active (unpaused) time so far; null until a batch is done. */
  etaSeconds = $state<number | null>(null);
  lastBatch = $state<BatchRecord | null>(null);
  epochRecords = $state<EpochRecord[]>([]);
  /** What Auto measured before the run, and the callbacks' actions. */
  calibration = $state<Calibration | null>(null);
  notes = $state<RunNote[]>([]);
  /** A pause or resume request is on its way. */
  pending = $state(false);
  readonly metrics = new MetricsSeries();
  readonly stats = new StatsStore();

  // Active-time clock for the ETA: paused time does not count.
  private startedAt = 0;
  private pausedAt: number | null = null;
  private pausedMs = 0;

  get progress(): number {
    return this.totalBatches > 0 ? this.completedBatches / this.totalBatches : 0;
  }

  /** Working towards the end of a run (Start and the settings are locked). */
  get running(): boolean {
    return this.status === 'starting' || this.status === 'loading-data' || this.status === 'building-model' || this.status === 'training' || this.status === 'paused';
  }

  begin(): void {
    this.runId = null;
    this.status = 'starting';
    this.error = null;
    this.divergence = null;
    this.completedBatches = 0;
    this.totalBatches = 0;
    this.samplesPerSec = 0;
    this.etaSeconds = null;
    this.lastBatch = null;
    this.epochRecords = [];
    this.calibration = null;
    this.notes = [];
    this.pending = false;
    this.metrics.clear();
    this.stats.clear();
    this.startedAt = performance.now();
    this.pausedAt = null;
    this.pausedMs = 0;
  }

  fail(message: string): void {
    this.status = 'failed';
    this.error = message;
    this.etaSeconds = null;
  }

  private activeMs(now = performance.now()): number {
    return (this.pausedAt ?? now) - this.startedAt - this.pausedMs;
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
        this.startedAt = performance.now();
        this.pausedMs = 0;
        return;
      case 'batches': {
        this.metrics.addBatches(event.batches);
        this.lastBatch = event.batches[event.batches.length - 1]!;
        this.completedBatches = event.completedBatches;
        this.totalBatches = event.totalBatches;
        this.samplesPerSec = event.samplesPerSec;
        const done = event.completedBatches;
        // Whole-run average (validation included), so the estimate settles instead of jittering.
        this.etaSeconds = done > 0 ? (this.activeMs() / done) * (event.totalBatches - done) / 1000 : null;
        return;
      }
      case 'epoch':
        this.metrics.addEpoch(event.record);
        this.epochRecords = [...this.epochRecords, event.record];
        return;
      case 'stats':
        this.stats.push(event.records);
        return;
      case 'calibration':
        this.calibration = event.calibration;
        return;
      case 'callback':
        this.notes = [...this.notes, { kind: event.callback, epoch: event.epoch, detail: event.detail }];
        return;
      case 'paused':
        this.status = 'paused';
        this.pausedAt = performance.now();
        this.pending = false;
        return;
      case 'resumed':
        if (this.pausedAt !== null) this.pausedMs += performance.now() - this.pausedAt;
        this.pausedAt = null;
        this.status = 'training';
        this.pending = false;
        return;
      case 'finished':
      case 'stopped':
        this.status = event.type;
        this.etaSeconds = null;
        this.pending = false;
        return;
      case 'failed':
        this.fail(event.error);
        this.pending = false;
        if (event.divergence) {
          this.divergence = event.divergence;
          this.metrics.marker = { step: event.divergence.step + 1, label: 'NaN/Inf' };
          this.metrics.version++;
        }
        return;
    }
  }
}
