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
import { trainingBackendFor } from './kernel-support';
import { installFastWasmMatMul } from './kernels/wasm-matmul';
import { evaluateSavedModel } from './evaluate';
import { RunControl, runTraining } from './loop';
import { FromWorkerSchema, ToWorkerSchema, type FromWorker, type ToWorker } from './protocol';
import { loadFashionMnist, type FashionMnistData, type FashionMnistSplit } from '../datasets/fashion-mnist';

const port = parentPort;
if (!port) throw new Error('train.worker must run in a worker thread');

function post(message: FromWorker): void {
  port!.postMessage(message);
}

const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error));

let backend = 'cpu';
let activeRun: { runId: string; control: RunControl } | null = null;

/** Decoded dataset splits, kept for the worker's life: each run and evaluation reuses them. */
const datasets = new Map<string, Promise<FashionMnistData>>();
function dataset(directory: string, split: FashionMnistSplit): Promise<FashionMnistData> {
  const key = `${split}\u0000${directory}`;
  let loaded = datasets.get(key);
  if (!loaded) {
    loaded = loadFashionMnist(directory, split);
    loaded.catch(() => datasets.delete(key));
    datasets.set(key, loaded);
  }
  return loaded;
}

async function train(message: Extract<ToWorker, { type: 'train' }>): Promise<void> {
  const run = { runId: message.runId, control: new RunControl() };
  activeRun = run;
  const chosen = trainingBackendFor(tf, message.request.spec, backend);
  try {
    if (chosen.backend !== backend) {
      post({ type: 'phase', runId: message.runId, phase: 'building-model', detail: chosen.reason });
      await tf.setBackend(chosen.backend);
    }
    await runTraining(tf, {
      runId: message.runId,
      request: message.request,
      weightsDir: message.weightsDir,
      initialWeightsDir: message.initialWeightsDir ?? null,
      backend: chosen.backend,
      control: run.control,
      datasetDir: message.datasetDir,
      loadData: () => dataset(message.datasetDir, 'train'),
      post,
    });
  } finally {
    if (chosen.backend !== backend) await tf.setBackend(backend);
    if (activeRun === run) activeRun = null;
  }
}

port.on('message', (raw: unknown) => {
  const parsed = ToWorkerSchema.safeParse(raw);
  if (!parsed.success) {
    post({ type: 'fatal', error: `Invalid message to the training worker: ${parsed.error.message}` });
    return;
  }
  const message = parsed.data;
  switch (message.type) {
    case 'inspect':
      void inspectModel(tf, message.spec).then(
        (result) => post({ type: 'inspection', requestId: message.requestId, result: { backend, ...result } }),
        (error: unknown) => post({ type: 'inspection-failed', requestId: message.requestId, error: errorMessage(error) }),
      );
      return;
    case 'evaluate':
      void dataset(message.datasetDir, 'test')
        .then((test) => evaluateSavedModel(tf, message.runId, message.weightsDir, test))
        .then(
          (result) => post({ type: 'evaluation', requestId: message.requestId, result }),
          (error: unknown) => post({ type: 'evaluation-failed', requestId: message.requestId, error: errorMessage(error) }),
        );
      return;
    case 'stop':
      if (activeRun?.runId === message.runId) activeRun.control.stop();
      return;
    case 'pause':
      if (activeRun?.runId === message.runId && activeRun.control.pause()) post({ type: 'paused', runId: message.runId });
      return;
    case 'resume':
      if (activeRun?.runId === message.runId && activeRun.control.resume()) post({ type: 'resumed', runId: message.runId });
      return;
    case 'train':
      if (activeRun) {
        post({ type: 'failed', runId: message.runId, error: `Run ${activeRun.runId} is still training` });
        return;
      }
      void train(message);
      return;
  }
});

async function start(): Promise<void> {
  const options = (workerData ?? {}) as { wasmDir?: string; backends?: string[] };
  const loaders = defaultLoaders({ wasmDir: options.wasmDir }).filter((l) => !options.backends || options.backends.includes(l.name));
  const report = await probeBackends(tf, loaders);
  backend = report.active;
  // The stock wasm matMul is ~10× slower with a transposed operand, which every Dense backward
  // pass uses; the override transposes explicitly first (2.4–2.8× faster training, bench/README.md).
  installFastWasmMatMul(tf);
  // Validate our own output once: a worker that speaks off-contract should fail loudly in tests.
  post(FromWorkerSchema.parse({ type: 'ready', report }));
}

start().catch((error: unknown) => post({ type: 'fatal', error: errorMessage(error) }));
