/**
 * The training worker: one long-lived worker thread that owns TensorFlow.js. It probes backends
 * once at start, then trains one run at a time on the host's request, posting progress as it goes.
 * Nothing here may throw out of a message handler: a failure becomes a 'failed' message and the
 * worker stays ready for the next run.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { buildModel, inputShapeOf, inspectModel } from './build-model';
import { defaultLoaders, probeBackends } from './backends';
import { makeSplit } from './data';
import { FromWorkerSchema, ToWorkerSchema, type FromWorker, type ToWorker } from './protocol';
import { loadFashionMnist } from '../datasets/fashion-mnist';

const port = parentPort;
if (!port) throw new Error('train.worker must run in a worker thread');

function post(message: FromWorker): void {
  port!.postMessage(message);
}

/** Lets queued messages (a stop request) in between batches. */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

let backend = 'cpu';
let activeRun: { runId: string; stopRequested: boolean; model: tf.LayersModel | null } | null = null;

async function train(message: Extract<ToWorker, { type: 'train' }>): Promise<void> {
  const { runId, request, datasetDir } = message;
  const { spec, settings } = request;
  const run = { runId, stopRequested: false, model: null as tf.LayersModel | null };
  activeRun = run;
  const owned: tf.Tensor[] = [];
  try {
    post({ type: 'phase', runId, phase: 'loading-data', detail: datasetDir });
    const data = await loadFashionMnist(datasetDir, 'train');
    const pixels = data.rows * data.cols;

    post({ type: 'phase', runId, phase: 'building-model' });
    const inputShape = inputShapeOf(spec, pixels);
    const model = await buildModel(tf, spec);
    run.model = model;
    model.compile({ optimizer: tf.train.sgd(settings.learningRate), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });

    const split = makeSplit(tf, data.images, data.labels, pixels, inputShape, settings);
    owned.push(split.xTrain, split.yTrain, ...(split.xVal && split.yVal ? [split.xVal, split.yVal] : []));
    const batchesPerEpoch = Math.ceil(split.trainSamples / settings.batchSize);
    post({
      type: 'started',
      runId,
      backend,
      epochs: settings.epochs,
      batchesPerEpoch,
      trainSamples: split.trainSamples,
      validationSamples: split.validationSamples,
    });
    post({ type: 'phase', runId, phase: 'training' });

    let epoch = 0;
    let step = 0;
    let epochStart = performance.now();
    await model.fit(split.xTrain, split.yTrain, {
      epochs: settings.epochs,
      batchSize: settings.batchSize,
      shuffle: true,
      validationData: split.xVal && split.yVal ? [split.xVal, split.yVal] : undefined,
      verbose: 0,
      callbacks: {
        onEpochBegin: async (e) => {
          epoch = e;
          epochStart = performance.now();
        },
        onBatchEnd: async (batch, logs) => {
          const samples = Math.min(settings.batchSize, split.trainSamples - batch * settings.batchSize);
          post({ type: 'batch', runId, samples, record: { epoch, batch, step: step++, loss: logs?.loss ?? NaN, acc: logs?.acc ?? NaN } });
          await yieldToEventLoop();
          if (run.stopRequested) model.stopTraining = true;
        },
        onEpochEnd: async (e, logs) => {
          post({
            type: 'epoch',
            runId,
            record: {
              epoch: e,
              loss: logs?.loss ?? NaN,
              acc: logs?.acc ?? NaN,
              ...(logs?.val_loss !== undefined ? { val_loss: logs.val_loss, val_acc: logs.val_acc } : {}),
              durationMs: performance.now() - epochStart,
              numTensors: tf.memory().numTensors,
            },
          });
        },
      },
    });
    post(run.stopRequested ? { type: 'stopped', runId } : { type: 'finished', runId });
  } catch (error) {
    post({ type: 'failed', runId, error: error instanceof Error ? error.message : String(error) });
  } finally {
    for (const tensor of owned) tensor.dispose();
    run.model?.dispose();
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
  if (message.type === 'inspect') {
    void inspectModel(tf, message.spec).then(
      (result) => post({ type: 'inspection', requestId: message.requestId, result: { backend, ...result } }),
      (error: unknown) => post({ type: 'inspection-failed', requestId: message.requestId, error: error instanceof Error ? error.message : String(error) }),
    );
    return;
  }
  if (message.type === 'stop') {
    if (activeRun?.runId === message.runId) activeRun.stopRequested = true;
    return;
  }
  if (activeRun) {
    post({ type: 'failed', runId: message.runId, error: `Run ${activeRun.runId} is still training` });
    return;
  }
  void train(message);
});

async function start(): Promise<void> {
  const options = (workerData ?? {}) as { wasmDir?: string; backends?: string[] };
  const loaders = defaultLoaders({ wasmDir: options.wasmDir }).filter((l) => !options.backends || options.backends.includes(l.name));
  const report = await probeBackends(tf, loaders);
  backend = report.active;
  // Validate our own output once: a worker that speaks off-contract should fail loudly in tests.
  post(FromWorkerSchema.parse({ type: 'ready', report }));
}

start().catch((error: unknown) => post({ type: 'fatal', error: error instanceof Error ? error.message : String(error) }));
