/**
 * The training worker: one long-lived worker thread that owns TensorFlow.js. It probes backends
 * once at start, then trains one run at a time on the host's request (see ./loop), posting progress
 * as it goes; between batches it answers pause, resume and stop, and model inspections and
 * evaluations. Nothing here may throw out of a message handler: a failure becomes a 'failed' (or
 * '*-failed') message and the worker stays ready for the next request.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { inspectModel } from './build-model';
import { defaultLoaders, probeBackends } from './backends';
import { GpuStepMeter, gpuCountersInstalled } from './gpu-counters';
import { chooseBackend, useBackend } from './calibrate';
import type { BackendReport } from '../../../../contract';
import { installFastWasmMatMul } from './kernels/wasm-matmul';
import { evaluateSavedModel } from './evaluate';
import { RunControl, runTraining } from './loop';
import { FromWorkerSchema, ToWorkerSchema, failureOf, type FromWorker, type ToWorker } from '../common/protocol';
import { DomainError, serializeError } from '../../../../contract/wire';
import { openDatasetDir } from '../../datasets/open';
import { applyThreadPriority, type ThreadPriority } from '../common/thread-priority';
import type { OpenedDataset } from '../../datasets/source';

const port = parentPort;
if (!port) throw new Error('train.worker must run in a worker thread');

function post(message: FromWorker): void {
  port!.postMessage(message);
}

let backend = 'cpu';
let report: BackendReport | null = null;
let activeRun: { runId: string; control: RunControl } | null = null;

/**
 * Opened datasets: each run and evaluation of the same dataset reuses the decoded samples
 * (Fashion-MNIST takes a second to gunzip). An entry is in use while a run or an evaluation holds it;
 * beyond the three most recently used, entries nobody holds are closed (their memory, or their file
 * handle when streamed). One in use is never closed under its user.
 */
const KEEP_DATASETS = 3;
interface CachedDataset {
  opened: Promise<OpenedDataset>;
  users: number;
}
const datasets = new Map<string, CachedDataset>();

/** Opens (or reuses) a dataset for the duration of `use`. */
async function withDataset<T>(directory: string, use: (dataset: OpenedDataset) => Promise<T>): Promise<T> {
  let entry = datasets.get(directory);
  if (entry) {
    datasets.delete(directory); // re-inserted below as the most recent
  } else {
    entry = { opened: openDatasetDir(directory), users: 0 };
  }
  datasets.set(directory, entry);
  entry.users++;
  try {
    return await use(await entry.opened);
  } catch (error) {
    // A dataset that failed to open is not kept: the next request tries again.
    if (
      datasets.get(directory) === entry &&
      (await entry.opened.then(
        () => false,
        () => true,
      ))
    )
      datasets.delete(directory);
    throw error;
  } finally {
    entry.users--;
    evictIdle();
  }
}

function evictIdle(): void {
  let excess = datasets.size - KEEP_DATASETS;
  for (const [directory, entry] of datasets) {
    if (excess <= 0) break;
    if (entry.users > 0) continue;
    datasets.delete(directory);
    excess--;
    void entry.opened.then((d) => Promise.all([d.pool.close(), d.test?.close()])).catch(() => undefined);
  }
}

async function train(message: Extract<ToWorker, { type: 'train' }>): Promise<void> {
  const run = { runId: message.runId, control: new RunControl((event) => post({ type: event, runId: message.runId })) };
  activeRun = run;
  const { runId, request } = message;
  let trainOn = backend;
  try {
    // Auto times a few steps of this model and batch size on each usable backend (small batches are
    // often faster on the CPU than on a GPU); a named backend is used as asked, or refused with why.
    const choice = await chooseBackend(tf, {
      report: report!,
      spec: request.spec,
      batchSize: request.settings.batchSize,
      requested: request.settings.backend,
      seed: request.settings.seed,
      optimizer: request.settings.optimizer,
      onBackend: (name) => post({ type: 'phase', runId, phase: 'building-model', detail: `Auto: timing a few training steps on ${name}` }),
    });
    if (choice.calibration) post({ type: 'calibration', runId, calibration: choice.calibration });
    if (choice.backend !== backend) {
      post({ type: 'phase', runId, phase: 'building-model', detail: choice.reason ?? `Training on ${choice.backend}` });
      await useBackend(tf, choice.backend);
      trainOn = choice.backend;
      installFastWasmMatMul(tf); // when Auto moved to wasm from a native default; a no-op elsewhere
    }
    await withDataset(message.datasetDir, (opened) =>
      runTraining(tf, {
        runId,
        request,
        weightsDir: message.weightsDir,
        checkpointDir: message.checkpointDir ?? null,
        initialWeightsDir: message.initialWeightsDir ?? null,
        backend: choice.backend,
        control: run.control,
        datasetDir: message.datasetDir,
        // The loop holds the dataset from here to the run's end.
        loadData: () => Promise.resolve(opened),
        post,
        gpuMeter: gpuMeterFor(choice.backend),
      }),
    );
  } catch (error) {
    post({ type: 'failed', runId, ...failureOf(error) });
  } finally {
    if (trainOn !== backend) await useBackend(tf, backend).catch(() => undefined);
    if (activeRun === run) activeRun = null;
  }
}

/** A meter of the run's GPU calls when it trains on WebGPU (whose calls backends.ts counts). */
function gpuMeterFor(trainOn: string): GpuStepMeter | null {
  const adapter = report?.adapter;
  return trainOn === 'webgpu' && adapter?.backend === 'webgpu' && gpuCountersInstalled() ? new GpuStepMeter(adapter) : null;
}

port.on('message', (raw: unknown) => {
  const parsed = ToWorkerSchema.safeParse(raw);
  if (!parsed.success) {
    post({ type: 'fatal', error: { code: 'invalid-request', message: `Invalid message to the training worker: ${parsed.error.message}` } });
    return;
  }
  const message = parsed.data;
  switch (message.type) {
    case 'inspect':
      void inspectModel(tf, message.spec).then(
        (result) => post({ type: 'inspection', requestId: message.requestId, result: { backend, ...result } }),
        (error: unknown) => post({ type: 'inspection-failed', requestId: message.requestId, error: serializeError(error) }),
      );
      return;
    case 'evaluate':
      void withDataset(message.datasetDir, (opened) => evaluateSavedModel(tf, message.runId, message.weightsDir, opened, message.split)).then(
        (result) => post({ type: 'evaluation', requestId: message.requestId, result }),
        (error: unknown) => post({ type: 'evaluation-failed', requestId: message.requestId, error: serializeError(error) }),
      );
      return;
    case 'stop':
      if (activeRun?.runId === message.runId) activeRun.control.stop();
      return;
    case 'pause':
      // The loop says 'paused' once it has stopped between batches (RunControl).
      if (activeRun?.runId === message.runId) activeRun.control.pause();
      return;
    case 'resume':
      if (activeRun?.runId === message.runId) activeRun.control.resume();
      return;
    case 'train':
      if (activeRun) {
        post({ type: 'failed', runId: message.runId, ...failureOf(new DomainError('busy', `Run ${activeRun.runId} is still training`)) });
        return;
      }
      void train(message);
      return;
  }
});

async function start(): Promise<void> {
  const options = (workerData ?? {}) as { wasmDir?: string; backends?: string[]; threadPriority?: ThreadPriority };
  const priority = applyThreadPriority(options.threadPriority ?? 'normal');
  if (!priority.applied && options.threadPriority === 'below-normal' && process.platform === 'linux') {
    console.warn(`Layerbench: training runs at normal priority: ${priority.reason}`);
  }
  const loaders = defaultLoaders({ wasmDir: options.wasmDir }).filter((l) => !options.backends || options.backends.includes(l.name));
  const probed = await probeBackends(tf, loaders);
  report = probed;
  backend = probed.active;
  // The stock wasm matMul is ~10× slower with a transposed operand, which every Dense backward
  // pass uses; the override transposes explicitly first (2.4–2.8× faster training, bench/README.md).
  installFastWasmMatMul(tf);
  // Validate our own output once: a worker that speaks off-contract should fail loudly in tests.
  post(FromWorkerSchema.parse({ type: 'ready', report: probed }));
}

start().catch((error: unknown) => post({ type: 'fatal', error: serializeError(error) }));
