/**
 * What the renderer knows of the current run, fed by the training event stream. Bulky data lives
 * in bounded stores (metrics, statistics) that charts read on their `version`; only small facts
 * are reactive state here, and records are `$state.raw` (replaced, never mutated: no proxies).
 *
 * The progress line (bar, counters, rate, ETA, last loss) is published at most every
 * `PROGRESS_MS` instead of on every 'batches' event (up to 20/s): nobody reads a counter 20 times
 * a second, and each change cost a style recalculation, a layout and a repaint of the page.
 * Status changes (pause, end, failure), epochs and callbacks publish it at once, so what is shown
 * next to them is never stale.
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

/** How often the progress line re-renders while batches stream in: 4 times a second. */
export const PROGRESS_MS = 250;

/** What a 'batches' event changes in the progress line, held until the next publish. */
interface ProgressFacts {
  completedBatches: number;
  totalBatches: number;
  samplesPerSec: number;
  etaSeconds: number | null;
  lastBatch: BatchRecord;
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
  lastBatch = $state.raw<BatchRecord | null>(null);
  epochRecords = $state.raw<EpochRecord[]>([]);
  /** What Auto measured before the run, and the callbacks' actions. */
  calibration = $state.raw<Calibration | null>(null);
  notes = $state.raw<RunNote[]>([]);
  /** A pause or resume request is on its way. */
  pending = $state(false);
  readonly metrics = new MetricsSeries();
  readonly stats = new StatsStore();

  // Active-time clock for the ETA: paused time does not count.
  private startedAt = 0;
  private pausedAt: number | null = null;
  private pausedMs = 0;

  // The progress line's throttle: the latest facts not shown yet.
  private unpublished: ProgressFacts | null = null;
  private publishTimer: ReturnType<typeof setTimeout> | null = null;

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
    // Nothing of the previous run may stay on screen: a start that fails shows no figures at all.
    this.backend = null;
    this.epochs = 0;
    this.batchesPerEpoch = 0;
    this.trainSamples = 0;
    this.validationSamples = 0;
    this.completedBatches = 0;
    this.totalBatches = 0;
    this.samplesPerSec = 0;
    this.etaSeconds = null;
    this.lastBatch = null;
    this.epochRecords = [];
    this.calibration = null;
    this.notes = [];
    this.pending = false;
    this.dropUnpublished();
    this.metrics.clear();
    this.stats.clear();
    this.startedAt = performance.now();
    this.pausedAt = null;
    this.pausedMs = 0;
  }

  /** The start request answered with this run's id (its first event may have told already). */
  adopt(runId: string): void {
    if (this.running) this.runId = runId;
  }

  fail(message: string): void {
    this.publishProgress();
    this.status = 'failed';
    this.error = message;
    this.etaSeconds = null;
  }

  private activeMs(now = performance.now()): number {
    return (this.pausedAt ?? now) - this.startedAt - this.pausedMs;
  }

  /** Shows the held progress facts now (a no-op when nothing is held). */
  publishProgress(): void {
    const facts = this.unpublished;
    this.dropUnpublished();
    if (!facts) return;
    this.completedBatches = facts.completedBatches;
    this.totalBatches = facts.totalBatches;
    this.samplesPerSec = facts.samplesPerSec;
    this.etaSeconds = facts.etaSeconds;
    this.lastBatch = facts.lastBatch;
  }

  private dropUnpublished(): void {
    if (this.publishTimer !== null) clearTimeout(this.publishTimer);
    this.publishTimer = null;
    this.unpublished = null;
  }

  /**
   * Shown at the next multiple of PROGRESS_MS on the page's clock: the statistics panels publish on
   * multiples of their own 500 ms (stats-store), so both land in the same frame and the page is
   * laid out and repainted once for the two, not twice.
   */
  private holdProgress(facts: ProgressFacts): void {
    this.unpublished = facts;
    this.publishTimer ??= setTimeout(() => this.publishProgress(), PROGRESS_MS - (performance.now() % PROGRESS_MS));
  }

  apply(event: TrainingEvent): void {
    // A run's first event is its 'loading-data' phase: that is this start's run, while events of a
    // run already streaming (another window's, which a refused start is refused for) are not.
    if (this.runId === null && this.status === 'starting') {
      if (event.type !== 'phase' || event.phase !== 'loading-data') return;
      this.runId = event.runId;
    }
    if (event.runId !== this.runId) return;
    // Anything but more batches or statistics is a moment worth showing exactly (a pause, an
    // epoch, the end): the progress line catches up first.
    if (event.type !== 'batches' && event.type !== 'stats') this.publishProgress();
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
        const done = event.completedBatches;
        this.holdProgress({
          completedBatches: done,
          totalBatches: event.totalBatches,
          samplesPerSec: event.samplesPerSec,
          // Whole-run average (validation included), so the estimate settles instead of jittering.
          etaSeconds: done > 0 ? ((this.activeMs() / done) * (event.totalBatches - done)) / 1000 : null,
          lastBatch: event.batches[event.batches.length - 1]!,
        });
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
          this.metrics.marker = { step: event.divergence.step + 1, label: 'diverged' };
          this.metrics.version++;
        }
        return;
    }
  }
}
