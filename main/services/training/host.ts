/**
 * The training host: owns one long-lived worker thread, starts and stops runs in it, and turns
 * its messages into the contract's training events (batches coalesced for the UI).
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { BackendReport, DatasetProgress, ModelInspection, StartTraining, TrainingEvent } from '../../../contract';
import type { ModelSpec } from '../../../model/spec';
import { summarize } from '../../../model/summary';
import { ensureFashionMnist } from '../datasets/fashion-mnist';
import { BatchCoalescer } from './coalesce';
import { FromWorkerSchema, type FromWorker, type ToWorker } from './protocol';

export interface TrainingHostOptions {
  dataDir: string;
  fashionMnistBaseUrl?: string;
  /** Directories searched for system copies of the dataset (default: Debian's). */
  systemDatasetDirs?: string[];
  onEvent(event: TrainingEvent): void;
  onDatasetProgress?(progress: DatasetProgress): void;
  /** Restricts the backends the worker may try (tests use this to exercise fallbacks). */
  backends?: string[];
  /** UI update rate bound for batch events. */
  maxUpdatesPerSecond?: number;
}

interface ActiveRun {
  runId: string;
  totalBatches: number;
  completedBatches: number;
  /** Recent (time, samples) pairs for a samples/s over the last few seconds. */
  window: { t: number; samples: number }[];
  coalescer: BatchCoalescer;
}

/** Where the worker's code is: the bundle beside this one, or the TypeScript source via tsx. */
function workerEntry(): { url: URL; workerData?: Record<string, unknown> } {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    return {
      url: new URL('./worker-source-loader.mjs', here),
      workerData: { entry: new URL('./worker.ts', here).href },
    };
  }
  const bundled = new URL('../worker/train.worker.js', here);
  if (!existsSync(bundled)) throw new Error(`Training worker bundle missing: ${bundled.pathname} (run npm run build)`);
  return { url: bundled };
}

function newRunId(): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `run-${stamp}-${Math.random().toString(36).slice(2, 6)}`;
}

export class TrainingHost {
  private worker: Worker | null = null;
  private ready: Promise<BackendReport> | null = null;
  private active: ActiveRun | null = null;
  private nextRequestId = 1;
  private inspections = new Map<number, { resolve: (r: ModelInspection) => void; reject: (e: Error) => void }>();

  constructor(private readonly options: TrainingHostOptions) {}

  /** Starts the worker on first use; later calls share it. */
  private ensureWorker(): Promise<BackendReport> {
    if (this.ready) return this.ready;
    const entry = workerEntry();
    const worker = new Worker(entry.url, { workerData: { ...entry.workerData, backends: this.options.backends } });
    this.worker = worker;
    this.ready = new Promise<BackendReport>((resolve, reject) => {
      worker.on('message', (raw: unknown) => {
        const parsed = FromWorkerSchema.safeParse(raw);
        if (!parsed.success) {
          this.failActive(`The training worker sent an invalid message: ${parsed.error.message}`);
          return;
        }
        const message = parsed.data;
        if (message.type === 'ready') resolve(message.report);
        else if (message.type === 'inspection' || message.type === 'inspection-failed') this.settleInspection(message);
        else if (message.type === 'fatal') {
          reject(new Error(message.error));
          this.failActive(message.error);
        } else this.onWorkerMessage(message);
      });
      worker.on('error', (error) => {
        reject(error);
        this.failActive(`The training worker crashed: ${error.message}`);
      });
      worker.on('exit', (code) => {
        reject(new Error(`The training worker exited (code ${code}) before it was ready`));
        // A dead worker is replaced on the next request; the run it carried is reported failed.
        if (this.worker === worker) {
          this.worker = null;
          this.ready = null;
        }
        this.failActive(`The training worker stopped unexpectedly (exit code ${code})`);
        for (const pending of this.inspections.values()) pending.reject(new Error('The training worker stopped'));
        this.inspections.clear();
      });
    });
    this.ready.catch(() => {});
    return this.ready;
  }

  backends(): Promise<BackendReport> {
    return this.ensureWorker();
  }

  get activeRunId(): string | null {
    return this.active?.runId ?? null;
  }

  async start(request: StartTraining): Promise<{ runId: string }> {
    const summary = summarize(request.spec);
    if (!summary.valid) {
      throw new Error(`The model cannot be trained: ${summary.errors.map((e) => `${e.layerName || 'model'}${e.field ? `.${e.field}` : ''}: ${e.message}`).join('; ')}`);
    }
    if (this.active) throw new Error(`Run ${this.active.runId} is still training: stop it first`);
    const runId = newRunId();
    const coalescer = new BatchCoalescer({
      maxPerSecond: this.options.maxUpdatesPerSecond ?? 20,
      flush: (batches) => {
        const run = this.active;
        if (!run) return;
        this.options.onEvent({
          type: 'batches',
          runId,
          batches,
          completedBatches: run.completedBatches,
          totalBatches: run.totalBatches,
          samplesPerSec: samplesPerSecond(run.window),
        });
      },
    });
    this.active = { runId, totalBatches: 0, completedBatches: 0, window: [], coalescer };
    try {
      await this.ensureWorker();
      this.options.onEvent({ type: 'phase', runId, phase: 'loading-data' });
      const dataset = await ensureFashionMnist({
        dataDir: this.options.dataDir,
        baseUrl: this.options.fashionMnistBaseUrl,
        ...(this.options.systemDatasetDirs ? { systemDirs: this.options.systemDatasetDirs } : {}),
        onProgress: this.options.onDatasetProgress,
      });
      this.post({ type: 'train', runId, request, datasetDir: dataset.directory });
    } catch (error) {
      this.active = null;
      coalescer.dispose();
      throw error;
    }
    return { runId };
  }

  /** Builds the model in the worker and summarises every variable's initial values. */
  async inspect(spec: ModelSpec): Promise<ModelInspection> {
    await this.ensureWorker();
    const requestId = this.nextRequestId++;
    return new Promise<ModelInspection>((resolve, reject) => {
      this.inspections.set(requestId, { resolve, reject });
      this.post({ type: 'inspect', requestId, spec });
    });
  }

  private settleInspection(message: Extract<FromWorker, { type: 'inspection' | 'inspection-failed' }>): void {
    const pending = this.inspections.get(message.requestId);
    if (!pending) return;
    this.inspections.delete(message.requestId);
    if (message.type === 'inspection') pending.resolve(message.result);
    else pending.reject(new Error(message.error));
  }

  async stop(runId: string): Promise<{ stopped: boolean }> {
    if (this.active?.runId !== runId) return { stopped: false };
    this.post({ type: 'stop', runId });
    return { stopped: true };
  }

  /** Ends the worker (and any run in it). */
  async dispose(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    this.ready = null;
    this.active?.coalescer.dispose();
    this.active = null;
    if (worker) await worker.terminate();
  }

  private post(message: ToWorker): void {
    if (!this.worker) throw new Error('The training worker is not running');
    this.worker.postMessage(message);
  }

  private failActive(error: string): void {
    const run = this.active;
    if (!run) return;
    run.coalescer.flush();
    this.active = null;
    this.options.onEvent({ type: 'failed', runId: run.runId, error });
  }

  private onWorkerMessage(message: Exclude<FromWorker, { type: 'ready' | 'fatal' | 'inspection' | 'inspection-failed' }>): void {
    const run = this.active;
    if (!run || run.runId !== message.runId) return;
    switch (message.type) {
      case 'batch': {
        run.completedBatches++;
        const t = performance.now();
        run.window.push({ t, samples: message.samples });
        while (run.window.length > 2 && t - run.window[0]!.t > 3000) run.window.shift();
        run.coalescer.push(message.record);
        return;
      }
      case 'started':
        run.totalBatches = message.epochs * message.batchesPerEpoch;
        this.options.onEvent({ ...message });
        return;
      case 'phase':
        this.options.onEvent({ ...message });
        return;
      case 'epoch':
        run.coalescer.flush();
        this.options.onEvent({ ...message });
        return;
      case 'finished':
      case 'stopped':
      case 'failed':
        run.coalescer.flush();
        run.coalescer.dispose();
        this.active = null;
        this.options.onEvent({ ...message });
        return;
    }
  }
}

function samplesPerSecond(window: { t: number; samples: number }[]): number {
  if (window.length < 2) return 0;
  const span = (window[window.length - 1]!.t - window[0]!.t) / 1000;
  const samples = window.slice(1).reduce((sum, w) => sum + w.samples, 0);
  return span > 0 ? samples / span : 0;
}
