/**
 * The benchmark's bare TensorFlow.js baseline: seed model 1 trained with a plain `model.fit` on
 * the wasm backend, in a worker thread (the same kind of thread as Layerbench's training worker),
 * with the stock kernels or with the fast matmul installed. bench/run.mjs bundles this file with
 * esbuild into out/bench/fit-worker.js and starts it with workerData (see FitJob).
 *
 * Modes:
 *   fit   – train `epochs` epochs and post one message per epoch (timing, loss, numTensors).
 *   check – from one set of initial weights, train `steps` batches with the stock kernels and
 *           again with the fast ones, and post both loss sequences (a correctness check on the
 *           real model and data).
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import * as wasmBackend from '@tensorflow/tfjs-backend-wasm';
import { loadFashionMnist } from '../main/services/datasets/fashion-mnist';
import { shuffledIndices } from '../main/services/training/worker/data';
import { fastWasmMatMulStats, installFastWasmMatMul, uninstallFastWasmMatMul } from '../main/services/training/worker/kernels/wasm-matmul';
import { disposeThreadedWasm, registerThreadedWasm } from '../main/services/training/worker/kernels/wasm-threads';
import { toKerasTopology } from '../model/keras-json';
import { seedModel1 } from '../model/presets';

export interface FitJob {
  mode: 'fit' | 'check';
  fast: boolean;
  /** With `fast`: allow the swapped (op(B)ᵀ·op(A)ᵀ)ᵀ form (default true); false = explicit transposes only. */
  allowSwap?: boolean;
  /** XNNPACK threads through the threaded SIMD build (kernels/wasm-threads.ts); 1 or absent = the stock single-threaded build. */
  threads?: number;
  batchSize: number;
  /** Training images used (a seeded shuffle of the 60,000, then the first `subset`). */
  subset: number;
  epochs: number;
  /** check mode: batches per kernel variant. */
  steps: number;
  learningRate: number;
  seed: number;
  datasetDir: string;
}

export type FitMessage =
  | { type: 'ready'; backend: string; fast: { installed: boolean; reason?: string } }
  | { type: 'epoch'; epoch: number; loss: number; acc: number; durationMs: number; numTensors: number; samples: number }
  | { type: 'check'; stock: number[]; fast: number[] }
  | { type: 'done'; matmul: ReturnType<typeof fastWasmMatMulStats>; threads: number }
  | { type: 'error'; error: string };

const port = parentPort;
if (!port) throw new Error('fit-worker must run in a worker thread');
const job = workerData as FitJob;
const post = (message: FitMessage) => port.postMessage(message);

async function loadSubset(): Promise<{ x: tf.Tensor; y: tf.Tensor; samples: number }> {
  const data = await loadFashionMnist(job.datasetDir, 'train');
  // The same seeded shuffle as the app's runs: the same images for every kind of trial.
  const order = shuffledIndices(data.count, job.seed);
  const samples = Math.min(job.subset, data.count);
  const pixels = data.rows * data.cols;
  const x = new Float32Array(samples * pixels);
  const y = new Float32Array(samples);
  for (let i = 0; i < samples; i++) {
    const src = order[i]! * pixels;
    for (let p = 0; p < pixels; p++) x[i * pixels + p] = data.images[src + p]! / 255;
    y[i] = data.labels[order[i]!]!;
  }
  return { x: tf.tensor(x, [samples, data.rows, data.cols]), y: tf.tensor1d(y), samples };
}

async function buildModel(): Promise<tf.LayersModel> {
  const topology = toKerasTopology(seedModel1, { kerasVariance: true });
  const model = await tf.models.modelFromJSON({ modelTopology: topology as unknown as tf.io.ModelJSON['modelTopology'] } as Parameters<typeof tf.models.modelFromJSON>[0]);
  model.compile({ optimizer: tf.train.sgd(job.learningRate), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}

async function fit(): Promise<void> {
  const { x, y, samples } = await loadSubset();
  const model = await buildModel();
  let epochStart = 0;
  await model.fit(x, y, {
    epochs: job.epochs,
    batchSize: job.batchSize,
    shuffle: true,
    verbose: 0,
    callbacks: {
      onEpochBegin: async () => {
        epochStart = performance.now();
      },
      onEpochEnd: async (epoch, logs) => {
        post({
          type: 'epoch',
          epoch,
          loss: logs?.loss ?? NaN,
          acc: logs?.acc ?? NaN,
          durationMs: performance.now() - epochStart,
          numTensors: tf.memory().numTensors,
          samples,
        });
      },
    },
  });
  model.dispose();
  tf.dispose([x, y]);
}

async function check(): Promise<void> {
  const { x, y } = await loadSubset();
  const model = await buildModel();
  const initial = model.getWeights().map((w) => w.clone());
  const batches = Array.from({ length: job.steps }, (_, i) => {
    const from = (i * job.batchSize) % Math.max(1, x.shape[0]! - job.batchSize);
    return [x.slice(from, job.batchSize), y.slice(from, job.batchSize)] as const;
  });
  const run = async (): Promise<number[]> => {
    model.setWeights(initial);
    const losses: number[] = [];
    for (const [bx, by] of batches) {
      const out = await model.trainOnBatch(bx, by);
      losses.push(Array.isArray(out) ? out[0]! : out);
    }
    return losses;
  };
  uninstallFastWasmMatMul(tf);
  const stock = await run();
  installFastWasmMatMul(tf, { allowSwap: job.allowSwap ?? true });
  const fast = await run();
  post({ type: 'check', stock, fast });
  tf.dispose([...initial, ...batches.flat(), x, y]);
  model.dispose();
}

async function main(): Promise<void> {
  if ((job.threads ?? 1) > 1) {
    const threaded = registerThreadedWasm(tf, wasmBackend, { threads: job.threads });
    if (!threaded.registered) throw new Error(`threaded wasm not registered: ${threaded.reason}`);
  }
  if (!(await tf.setBackend('wasm'))) throw new Error("tf.setBackend('wasm') failed");
  await tf.ready();
  const fast = job.fast ? installFastWasmMatMul(tf, { allowSwap: job.allowSwap ?? true }) : { installed: false, reason: 'stock kernels requested' };
  if (job.fast && !fast.installed) throw new Error(`fast matmul not installed: ${fast.reason}`);
  post({ type: 'ready', backend: tf.getBackend(), fast });
  if (job.mode === 'check') await check();
  else await fit();
  post({ type: 'done', matmul: fastWasmMatMulStats(tf), threads: wasmBackend.getThreadsCount() });
  disposeThreadedWasm(tf);
}

main().catch((error: unknown) => post({ type: 'error', error: error instanceof Error ? (error.stack ?? error.message) : String(error) }));
