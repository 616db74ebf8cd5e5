/**
 * The training host: owns one long-lived worker thread, starts, pauses, resumes and stops runs in
 * it, persists everything a run produces (every batch, epoch and statistics record, at full
 * resolution, through the runs workspace's writer) and turns the worker's messages into the
 * contract's training events — batches and statistics coalesced for the UI, at most
 * `maxUpdatesPerSecond` events a second in all.
 *
 * A worker that dies (a crash, or killed) takes its run with it: the run is marked 'interrupted' and
 * the next request starts a fresh worker.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { BackendReport, DatasetProgress, Evaluation, ModelInspection, RunFileFault, RunStatus, RunSummary, StartTraining, TrainingEvent } from '../../../../contract';
import type { ModelSpec } from '../../../../model/spec';
import { summarize, type ModelSummary } from '../../../../model/summary';
import { ModelSpecError } from '../../../../model/keras-json';
import { TASK_LOSS, checkTask, describeBlocking, type TaskData } from '../../../../model/task-check';
import { DomainError, deserializeError } from '../../../../contract/wire';
import { ensureFashionMnist } from '../../datasets/fashion-mnist';
import { fashionMnistSummary } from '../../datasets/builtin';
import { META_FILE, readMeta } from '../../datasets/meta';
import type { RunStoreApi, RunWriter } from '../../runs/types';
import { mergeFaults, withFaults } from '../../runs/faults';
import { BEST_CHECKPOINT_DIR, findSavedWeights } from '../../runs/saved-weights';
import { layerKit, withDefaults } from '../../../../model/layers';
import { UpdateCoalescer } from './coalesce';
import { checkModelMemory } from './memory-limit';
import type { ThreadPriority } from '../common/thread-priority';
import { FromWorkerSchema, failureOf, type FromWorker, type ToWorker } from '../common/protocol';
import { FASHION_MNIST_ID } from '../../../../contract/datasets';

export { BEST_CHECKPOINT_DIR } from '../../runs/saved-weights';

export interface TrainingHostOptions {
  dataDir: string;
  fashionMnistBaseUrl?: string;
  /** Directories searched for system copies of the dataset (default: Debian's). */
  systemDatasetDirs?: string[];
  onEvent(event: TrainingEvent): void;
  onDatasetProgress?(progress: DatasetProgress): void;
  /** Restricts the backends the worker may try (tests use this to exercise fallbacks). */
  backends?: string[];
  /**
   * The training thread's priority (./thread-priority): 'below-normal' where a UI shares the
   * machine, so drawing never waits behind training; default 'normal' (headless runs).
   */
  threadPriority?: ThreadPriority;
  /** Bound on UI updates: 'batches' and 'stats' events together, per second (default 20). */
  maxUpdatesPerSecond?: number;
  /**
   * The runs workspace. Every run is persisted there (run.json, metrics, statistics, weights), and
   * evaluations read their weights from it. Without it runs are not saved (tests of the worker alone).
   */
  runs?: RunStoreApi;
}

interface ActiveRun {
  runId: string;
  /** The dataset it trains on: not to be deleted under it. */
  datasetId: string;
  totalBatches: number;
  completedBatches: number;
  /** Recent (time, samples) pairs for a samples/s over the last few seconds. */
  window: { t: number; samples: number }[];
  coalescer: UpdateCoalescer;
  writer: RunWriter | null;
  /** The run's status writes, in order. */
  statusWrites: Promise<void>;
  /** The worker has the run (requests made before are sent right after it). */
  inWorker: boolean;
  stopRequested: boolean;
  /** A pause was asked for and not yet undone by a resume. */
  pauseRequested: boolean;
  /** The writer the run was settled with, once it was (see settle). */
  settled: { writer: RunWriter | null } | null;
  /** Files of the run that could not be written (weights, checkpoints; the writer keeps its own): the run ends 'failed'. */
  faults: RunFileFault[];
}

type Failure = NonNullable<RunSummary['failure']>;

/** Where the worker's code is: the bundle beside this one, or the TypeScript source via tsx. */
function workerEntry(): { url: URL; workerData?: Record<string, unknown> } {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    return {
      url: new URL('../worker/worker-source-loader.mjs', here),
      workerData: { entry: new URL('../worker/worker.ts', here).href },
    };
  }
  // In a packaged app the worker stays inside app.asar beside the main bundle: Electron ≥ 18 gives
  // worker threads asar support (electron/electron#33216), so it resolves @tensorflow/tfjs and the
  // other packages inside the archive like the main process does, while the native addons, .wasm
  // files and dawn.node it loads are unpacked (electron-builder.yml asarUnpack) and read from
  // app.asar.unpacked transparently. A worker started from app.asar.unpacked could not see the
  // packages that stay in the archive.
  const bundled = new URL('../worker/train.worker.js', here);
  if (!existsSync(bundled)) throw new Error(`Training worker bundle missing: ${bundled.pathname} (run npm run build)`);
  return { url: bundled };
}

function newRunId(): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `run-${stamp}-${Math.random().toString(36).slice(2, 6)}`;
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

export class TrainingHost {
  private worker: Worker | null = null;
  private ready: Promise<BackendReport> | null = null;
  private active: ActiveRun | null = null;
  /** The last run's final writes (status, then its last event); a new run starts after them. */
  private settling: Promise<void> = Promise.resolve();
  private nextRequestId = 1;
  /** Datasets evaluations are reading now (id → how many). */
  private evaluatingCounts = new Map<string, number>();
  private requests = new Map<number, { resolve: (value: never) => void; reject: (e: Error) => void }>();

  constructor(private readonly options: TrainingHostOptions) {}

  /** Starts the worker on first use; later calls share it. */
  private ensureWorker(): Promise<BackendReport> {
    if (this.ready) return this.ready;
    const entry = workerEntry();
    const worker = new Worker(entry.url, { workerData: { ...entry.workerData, backends: this.options.backends, threadPriority: this.options.threadPriority } });
    this.worker = worker;
    this.ready = new Promise<BackendReport>((resolve, reject) => {
      worker.on('message', (raw: unknown) => {
        const parsed = FromWorkerSchema.safeParse(raw);
        if (!parsed.success) {
          this.failActive('failed', `The training worker sent an invalid message: ${parsed.error.message}`);
          return;
        }
        const message = parsed.data;
        switch (message.type) {
          case 'ready':
            resolve(message.report);
            return;
          case 'inspection':
          case 'evaluation':
            this.settleRequest(message.requestId, message.result);
            return;
          case 'inspection-failed':
          case 'evaluation-failed':
            this.settleRequest(message.requestId, null, deserializeError(message.error));
            return;
          case 'fatal':
            reject(deserializeError(message.error));
            this.failActive('failed', message.error.message);
            return;
          default:
            this.onWorkerMessage(message);
        }
      });
      worker.on('error', (error) => {
        reject(error);
        if (this.worker === worker) this.failActive('interrupted', `The training worker crashed: ${error.message}`);
      });
      worker.on('exit', (code) => {
        reject(new Error(`The training worker exited (code ${code}) before it was ready`));
        // A worker that was not disposed died under its run: the run is interrupted, and the next
        // request starts a fresh worker.
        if (this.worker !== worker) return;
        this.worker = null;
        this.ready = null;
        this.failActive('interrupted', `The training worker stopped unexpectedly (exit code ${code})`);
        this.rejectRequests('The training worker stopped');
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

  /** Who is reading a dataset now (a delete must wait): the active run, an evaluation, or nobody. */
  datasetUser(id: string): { run: string } | 'evaluation' | null {
    if (this.active?.datasetId === id) return { run: this.active.runId };
    return this.evaluatingCounts.has(id) ? 'evaluation' : null;
  }

  async start(request: StartTraining): Promise<{ runId: string }> {
    const summary = summarize(request.spec);
    if (!summary.valid) {
      throw new DomainError(
        'invalid-input',
        `The model cannot be trained: ${summary.errors.map((e) => `${e.layerName || 'model'}${e.field ? `.${e.field}` : ''}: ${e.message}`).join('; ')}`,
      );
    }
    const unsupported = unsupportedByTfjs(request.spec, summary);
    if (unsupported) throw new DomainError('invalid-input', `The model cannot be trained: ${unsupported}`);
    // Before the worker builds anything: a model the machine cannot hold is refused, not built until memory runs out.
    checkModelMemory(summary, { batchSize: request.settings.batchSize, optimizer: request.settings.optimizer });
    // The model against the loss and the data, as the builder checks it: refused before any run exists.
    const data = await this.taskData(request.settings.dataset);
    const blocking = describeBlocking(checkTask(request.spec, { loss: TASK_LOSS, data }, summary));
    if (blocking) throw new DomainError('invalid-input', `The model cannot be trained${data ? ` on ${data.name}` : ''}: ${blocking}`);
    let initialWeightsDir: string | null = null;
    if (request.initialWeightsFrom) {
      if (!this.options.runs) throw new DomainError('unsupported', 'Fine-tuning needs the runs workspace');
      initialWeightsDir = this.options.runs.weightsDir(request.initialWeightsFrom);
      if (!existsSync(join(initialWeightsDir, 'model.json'))) throw new DomainError('not-found', `Run ${request.initialWeightsFrom} has no saved weights to start from`);
    }
    if (this.active) throw new DomainError('busy', `Run ${this.active.runId} is still training: stop it first`);
    await this.settling;
    if (this.active) throw new DomainError('busy', `Run ${(this.active as ActiveRun).runId} is still training: stop it first`);
    const runId = newRunId();
    const run: ActiveRun = {
      runId,
      datasetId: request.settings.dataset,
      totalBatches: 0,
      completedBatches: 0,
      window: [],
      writer: null,
      statusWrites: Promise.resolve(),
      inWorker: false,
      stopRequested: false,
      pauseRequested: false,
      settled: null,
      faults: [],
      coalescer: new UpdateCoalescer({
        maxPerSecond: this.options.maxUpdatesPerSecond ?? 20,
        flush: (batches, stats) => {
          let events = 0;
          if (batches.length) {
            this.options.onEvent({
              type: 'batches',
              runId,
              batches,
              completedBatches: run.completedBatches,
              totalBatches: run.totalBatches,
              samplesPerSec: samplesPerSecond(run.window),
            });
            events++;
          }
          if (stats.length) {
            this.options.onEvent({ type: 'stats', runId, records: stats });
            events++;
          }
          return events;
        },
      }),
    };
    this.active = run;
    try {
      const report = await this.ensureWorker();
      this.options.onEvent({ type: 'phase', runId, phase: 'loading-data' });
      const dataset = await this.dataset(request.settings.dataset);
      if (this.options.runs) {
        run.writer = await this.options.runs.create({ runId, spec: request.spec, settings: request.settings, backend: report.active });
        run.writer.onFault((fault) => this.onRunFault(run, fault));
      }
      if (this.active !== run) throw new Error('The training worker stopped while the run was starting');
      this.post({
        type: 'train',
        runId,
        request,
        datasetDir: dataset.directory,
        weightsDir: run.writer?.weightsDir ?? null,
        checkpointDir: run.writer ? join(run.writer.directory, BEST_CHECKPOINT_DIR) : null,
        initialWeightsDir,
      });
      run.inWorker = true;
      // Asked for while the data was located or the run's folder created:
      if (run.stopRequested) this.post({ type: 'stop', runId });
      else if (run.pauseRequested) this.post({ type: 'pause', runId });
    } catch (error) {
      if (!run.settled) this.settle(run, 'failed', failureOf(error), null);
      else if (run.writer && run.settled.writer !== run.writer) {
        // The worker died while the run's folder was being created: end the run it left behind.
        const failure = { error: `The training worker stopped while the run was starting: ${messageOf(error)}` };
        await run.writer.setStatus('interrupted', failure).catch(() => {});
      }
      throw error;
    }
    return { runId };
  }

  /**
   * The dataset's sample shape and class count, without loading it: Fashion-MNIST's are known, an
   * imported dataset's are in its meta.json. Null when it is not imported (Start then says so).
   */
  private async taskData(id: string): Promise<TaskData | null> {
    const summary = id === FASHION_MNIST_ID ? fashionMnistSummary(null) : await this.importedSummary(id);
    return summary && { name: summary.name, sampleShape: summary.sampleShape, classCount: summary.classNames.length };
  }

  private async importedSummary(id: string) {
    const directory = join(this.options.dataDir, 'datasets', id);
    return existsSync(join(directory, META_FILE)) ? (await readMeta(directory)).summary : null;
  }

  /** The dataset's folder: Fashion-MNIST located (or downloaded), or an imported dataset's cache. */
  private async dataset(id: string): Promise<{ directory: string }> {
    if (id !== FASHION_MNIST_ID) {
      const directory = join(this.options.dataDir, 'datasets', id);
      if (!existsSync(join(directory, 'meta.json'))) throw new DomainError('not-found', `Dataset ${id} is not imported here (or was deleted): import it on the Data tab first`);
      return { directory };
    }
    return ensureFashionMnist({
      dataDir: this.options.dataDir,
      baseUrl: this.options.fashionMnistBaseUrl,
      ...(this.options.systemDatasetDirs ? { systemDirs: this.options.systemDatasetDirs } : {}),
      onProgress: this.options.onDatasetProgress,
    });
  }

  /** Builds the model in the worker and summarises every variable's initial values. */
  async inspect(spec: ModelSpec): Promise<ModelInspection> {
    const summary = summarize(spec);
    // A draft's problems come back as field errors (invalid-input), without starting the worker.
    if (!summary.valid) throw new ModelSpecError(summary.errors);
    checkModelMemory(summary, { batchSize: 1 });
    await this.ensureWorker();
    return this.request<ModelInspection>((requestId) => ({ type: 'inspect', requestId, spec }));
  }

  /**
   * Evaluates a run's saved weights on the Fashion-MNIST test set (in the worker; a training run
   * in progress pauses between two of its batches while it runs).
   */
  async evaluate(runId: string): Promise<Evaluation> {
    const runs = this.options.runs;
    if (!runs) throw new DomainError('unsupported', 'Evaluation needs the runs workspace');
    if (runId === '.' || runId === '..') throw new DomainError('not-found', `No run ${runId}`);
    if (this.active?.runId === runId) throw new DomainError('busy', `Run ${runId} is still training: its weights are saved when it ends`);
    const saved = findSavedWeights(dirname(runs.weightsDir(runId)));
    if (!saved) throw new DomainError('not-found', `Run ${runId} has no saved weights to evaluate (neither final weights nor a best-epoch checkpoint)`);
    const weightsDir = saved.dir;
    await this.ensureWorker();
    const { settings } = await runs.get(runId);
    const dataset = await this.dataset(settings.dataset);
    const split = { seed: settings.seed, testSplit: settings.testSplit, trainSubset: settings.trainSubset, validationSplit: settings.validationSplit };
    const id = settings.dataset;
    this.evaluatingCounts.set(id, (this.evaluatingCounts.get(id) ?? 0) + 1);
    try {
      const evaluation = await this.request<Evaluation>((requestId) => ({ type: 'evaluate', requestId, runId, weightsDir, datasetDir: dataset.directory, split }));
      return { ...evaluation, weightsFrom: saved.from };
    } finally {
      const left = (this.evaluatingCounts.get(id) ?? 1) - 1;
      if (left > 0) this.evaluatingCounts.set(id, left);
      else this.evaluatingCounts.delete(id);
    }
  }

  private request<T>(message: (requestId: number) => ToWorker): Promise<T> {
    const requestId = this.nextRequestId++;
    return new Promise<T>((resolve, reject) => {
      this.requests.set(requestId, { resolve: resolve as (value: never) => void, reject });
      try {
        this.post(message(requestId));
      } catch (error) {
        this.requests.delete(requestId);
        reject(error);
      }
    });
  }

  private settleRequest(requestId: number, result: unknown, error?: Error): void {
    const pending = this.requests.get(requestId);
    if (!pending) return;
    this.requests.delete(requestId);
    if (error) pending.reject(error);
    else pending.resolve(result as never);
  }

  private rejectRequests(reason: string): void {
    for (const pending of this.requests.values()) pending.reject(new Error(reason));
    this.requests.clear();
  }

  async stop(runId: string): Promise<{ stopped: boolean }> {
    const run = this.active;
    if (run?.runId !== runId) return { stopped: false };
    run.stopRequested = true;
    if (run.inWorker) this.post({ type: 'stop', runId });
    return { stopped: true };
  }

  /** Asks the run to pause before its next batch; the 'paused' event follows when it has. */
  async pause(runId: string): Promise<{ paused: boolean }> {
    const run = this.active;
    if (run?.runId !== runId || run.pauseRequested) return { paused: false };
    run.pauseRequested = true;
    if (run.inWorker) this.post({ type: 'pause', runId });
    return { paused: true };
  }

  async resume(runId: string): Promise<{ resumed: boolean }> {
    const run = this.active;
    if (run?.runId !== runId || !run.pauseRequested) return { resumed: false };
    run.pauseRequested = false;
    if (run.inWorker) this.post({ type: 'resume', runId });
    return { resumed: true };
  }

  /**
   * Test hook: kills the worker thread the way a crash would, mid-run. The run it carries is marked
   * 'interrupted' and the next request starts a fresh worker.
   */
  async killWorkerForTest(): Promise<void> {
    const worker = this.worker;
    if (worker) await worker.terminate();
  }

  /** Ends the worker; a run still in it is marked interrupted. */
  async dispose(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    this.ready = null;
    if (worker) await worker.terminate();
    this.rejectRequests('The training host was disposed');
    this.failActive('interrupted', 'Layerbench closed while the run was training');
    await this.settling;
  }

  private post(message: ToWorker): void {
    if (!this.worker) throw new Error('The training worker is not running');
    this.worker.postMessage(message);
  }

  /** Status changes are written in order, each after the previous one. */
  private writeStatus(run: ActiveRun, status: RunStatus, failure: Failure | null = null): void {
    const writer = run.writer;
    if (!writer) return;
    run.statusWrites = run.statusWrites
      .then(() => writer.setStatus(status, failure))
      .catch((error: unknown) => console.warn(`Layerbench: could not record run ${run.runId} as ${status}: ${messageOf(error)}`));
  }

  /**
   * Ends a run: flushes what the UI has not seen, then (after its files are flushed and its final
   * status written) emits its last event. A run some of whose files could not be written ends
   * 'failed' (code 'io', the files listed), whatever it ended with otherwise.
   */
  private settle(run: ActiveRun, status: RunStatus, failure: Failure | null, event: TrainingEvent | null): void {
    if (run.settled) return;
    const writer = run.writer;
    run.settled = { writer };
    run.coalescer.flush();
    run.coalescer.dispose();
    if (this.active === run) this.active = null;
    const written = run.statusWrites.then(async (): Promise<TrainingEvent | null> => {
      if (!writer) return event;
      // A failed append is one of writer.faults(): recorded below, not thrown away.
      await writer.flush().catch(() => {});
      let ended = withFaults(failure, mergeFaults(run.faults, writer.faults()), writer.directory);
      try {
        await writer.setStatus(ended !== failure ? 'failed' : status, ended);
      } catch (error) {
        // run.json itself could not be written: the run's owner is still told it failed, and why.
        console.warn(`Layerbench: could not record the end of run ${run.runId}: ${messageOf(error)}`);
        ended = withFaults(ended, writer.faults(), writer.directory);
      }
      return event && ended !== failure && ended ? { type: 'failed', runId: run.runId, ...ended } : event;
    });
    this.settling = Promise.all([this.settling, written]).then(([, last]) => {
      if (last) this.options.onEvent(last);
    });
  }

  /** A file of the run could not be written: the run stops at its next batch, and ends 'failed' (settle). */
  private onRunFault(run: ActiveRun, fault: RunFileFault): void {
    run.faults = mergeFaults(run.faults, [fault]);
    if (run.settled || run.stopRequested) return;
    run.stopRequested = true;
    if (run.inWorker && this.active === run) this.post({ type: 'stop', runId: run.runId });
  }

  private failActive(status: 'failed' | 'interrupted', error: string): void {
    const run = this.active;
    if (!run) return;
    this.settle(run, status, { error }, { type: 'failed', runId: run.runId, error });
  }

  private onWorkerMessage(message: Exclude<FromWorker, { type: 'ready' | 'fatal' | 'inspection' | 'inspection-failed' | 'evaluation' | 'evaluation-failed' }>): void {
    const run = this.active;
    if (!run || run.runId !== message.runId) return;
    switch (message.type) {
      case 'batch': {
        // The file gets every batch before the UI's coalesced stream does.
        run.writer?.appendBatch(message.record);
        run.completedBatches++;
        const t = performance.now();
        run.window.push({ t, samples: message.samples });
        while (run.window.length > 2 && t - run.window[0]!.t > 3000) run.window.shift();
        run.coalescer.pushBatch(message.record);
        return;
      }
      case 'stats':
        run.writer?.appendStats(message.record);
        run.coalescer.pushStats(message.record);
        return;
      case 'started':
        run.totalBatches = message.epochs * message.batchesPerEpoch;
        run.writer?.setBackend(message.backend, message.step);
        this.options.onEvent({ ...message });
        return;
      case 'phase':
      case 'calibration':
        this.options.onEvent({ ...message });
        return;
      case 'gpu':
        run.writer?.setGpu(message.gpu);
        return;
      case 'callback':
        // Early stopping, checkpoints and rate changes are part of the run's record, not only of the stream.
        run.writer?.appendCallback({ callback: message.callback, epoch: message.epoch, detail: message.detail });
        run.coalescer.flush();
        this.options.onEvent({ ...message });
        return;
      case 'epoch':
        run.writer?.appendEpoch(message.record);
        run.coalescer.flush();
        this.options.onEvent({ ...message });
        return;
      case 'paused':
      case 'resumed':
        run.coalescer.flush();
        // A samples/s across the pause would be meaningless.
        run.window = [];
        this.writeStatus(run, message.type === 'paused' ? 'paused' : 'running');
        this.options.onEvent({ type: message.type, runId: run.runId });
        return;
      case 'finished':
      case 'stopped':
        run.faults = mergeFaults(run.faults, message.faults ?? []);
        this.settle(run, message.type, null, { type: message.type, runId: run.runId });
        return;
      case 'failed': {
        if (message.divergedBatch) {
          // The file keeps the truth: the batch whose loss was NaN (written as "NaN"); the UI's stream has no place for it.
          const { epoch, batch, step, loss, acc } = message.divergedBatch;
          run.writer?.appendBatch({ epoch, batch, step, loss: Number(loss), acc: Number(acc) });
        }
        run.faults = mergeFaults(run.faults, message.faults ?? []);
        const { error, code, name, divergence } = message;
        const failure: Failure = { error, ...(code ? { code } : {}), ...(name ? { name } : {}), ...(divergence ? { divergence } : {}) };
        this.settle(run, 'failed', failure, { type: 'failed', runId: run.runId, ...failure });
        return;
      }
    }
  }
}

/**
 * The first layer tfjs would train as something other than Keras defines it (BatchNormalization on
 * another axis than the last, say), by its kit's rule, or null.
 */
export function unsupportedByTfjs(spec: ModelSpec, summary: ModelSummary): string | null {
  for (const [index, layer] of summary.layers.entries()) {
    const raw = spec.config.layers[index];
    if (!layer.input_shape || !raw) continue;
    const issue = layerKit(layer.class_name)?.supports?.({ fused: false }, withDefaults(raw).config, layer.input_shape);
    if (issue) return `${layer.name}${issue.field ? `.${issue.field}` : ''}: ${issue.message}`;
  }
  return null;
}

function samplesPerSecond(window: { t: number; samples: number }[]): number {
  if (window.length < 2) return 0;
  const span = (window[window.length - 1]!.t - window[0]!.t) / 1000;
  const samples = window.slice(1).reduce((sum, w) => sum + w.samples, 0);
  return span > 0 ? samples / span : 0;
}
