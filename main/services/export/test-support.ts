/**
 * Shared by the export tests (not used by the app): real TF.js models trained on real Fashion-MNIST
 * images, saved in TF.js layers format through a file IO handler, and loaded back with
 * tf.loadLayersModel.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { expect } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initializer, type ModelSpec } from '../../../model';
import type { NamedWeights } from './weights';
import { defaultTrainingSettings, type TrainingSettings } from '../../../contract/training';
import { loadFashionMnist, type FashionMnistSplit } from '../datasets/fashion-mnist';
import { buildModel } from '../training/worker/build-model';

export { tf };

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** Activates a TF.js backend ('wasm' is about 5× faster than 'cpu' for training here). */
export async function useBackend(name: 'cpu' | 'wasm'): Promise<void> {
  if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  const { warn } = console;
  console.warn = () => {};
  try {
    if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') failed`);
    await tf.ready();
  } finally {
    console.warn = warn;
  }
}

export const useCpuBackend = () => useBackend('cpu');

const splits = new Map<FashionMnistSplit, ReturnType<typeof loadFashionMnist>>();

/** `count` images from `offset` as floats in [0, 1] (count×784) and their labels. */
export async function fashionImages(split: FashionMnistSplit, count: number, offset = 0): Promise<{ x: Float32Array; y: Int32Array }> {
  if (!splits.has(split)) splits.set(split, loadFashionMnist(FASHION_MNIST_DIR, split));
  const data = await splits.get(split)!;
  const x = new Float32Array(count * 784);
  for (let i = 0; i < count * 784; i++) x[i] = data.images[offset * 784 + i]! / 255;
  return { x, y: Int32Array.from(data.labels.subarray(offset, offset + count)) };
}

export const inputShape = (spec: ModelSpec) => (spec.config.layers[0]!.config.batch_input_shape as number[]).slice(1);

/** Seeded, so the few training steps end at the same weights every run (the accuracy floor is not luck). */
export async function buildTfModel(spec: ModelSpec, seed = 1): Promise<tf.LayersModel> {
  return buildModel(tf, spec, { seed });
}

/** A few SGD steps on real training images, as the app trains (sparse categorical cross-entropy). */
export async function trainFewSteps(model: tf.LayersModel, spec: ModelSpec, options: { samples: number; batchSize: number; learningRate: number }): Promise<void> {
  const { x, y } = await fashionImages('train', options.samples);
  model.compile({ optimizer: tf.train.sgd(options.learningRate), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const xs = tf.tensor(x, [options.samples, ...inputShape(spec)]);
  const ys = tf.tensor1d(Array.from(y), 'float32');
  try {
    await model.fit(xs, ys, { epochs: 1, batchSize: options.batchSize, shuffle: false, verbose: 0 });
  } finally {
    xs.dispose();
    ys.dispose();
  }
}

/** Saves in TF.js layers format (model.json + weights.bin) through a file IO handler. */
export async function saveTfjs(model: tf.LayersModel, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const data = artifacts.weightData!;
      const bytes = new Uint8Array(Array.isArray(data) ? tf.io.concatenateArrayBuffers(data) : data);
      await writeFile(join(dir, 'weights.bin'), bytes);
      const json = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
      };
      await writeFile(join(dir, 'model.json'), JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
}

/** tf.loadLayersModel through a file IO handler (TF.js' own loader does the parsing and weight mapping). */
export async function loadTfjs(modelJsonPath: string): Promise<tf.LayersModel> {
  const handler: tf.io.IOHandler = {
    load: async () => {
      const json = JSON.parse(await readFile(modelJsonPath, 'utf8'));
      const group = json.weightsManifest[0];
      const buffers = await Promise.all(group.paths.map((p: string) => readFile(join(dirname(modelJsonPath), p))));
      const bytes = Buffer.concat(buffers);
      return {
        modelTopology: json.modelTopology,
        weightSpecs: group.weights,
        weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
        ...(json.userDefinedMetadata ? { userDefinedMetadata: json.userDefinedMetadata } : {}),
      };
    },
  };
  return tf.loadLayersModel(handler);
}

/** A run folder as the app writes it: run.json (spec, settings) and weights/ in TF.js format. */
export async function writeRunFolder(runDir: string, spec: ModelSpec, model: tf.LayersModel, settings: TrainingSettings = defaultTrainingSettings): Promise<void> {
  await mkdir(runDir, { recursive: true });
  await writeFile(join(runDir, 'run.json'), JSON.stringify({ summary: { runId: 'test' }, spec, settings }, null, 2));
  await saveTfjs(model, join(runDir, 'weights'));
}

/** Inference-mode predictions. */
export function predict(model: tf.LayersModel, x: Float32Array, shape: number[], training = false): Float32Array {
  return tf
    .tidy(() => {
      const input = tf.tensor(x, shape);
      const out = training ? (model.apply(input, { training: true }) as tf.Tensor) : (model.predict(input) as tf.Tensor);
      return out.dataSync() as Float32Array;
    })
    .slice();
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** A python3 that can import h5py (PATH's first, then Debian's), or null. */
export function pythonWithH5py(): string | null {
  for (const python of ['python3', '/usr/bin/python3']) {
    const r = spawnSync(python, ['-c', 'import h5py, numpy'], { encoding: 'utf8' });
    if (r.status === 0) return python;
  }
  return null;
}

export function python3(): string | null {
  const r = spawnSync('python3', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? 'python3' : null;
}

/** The model's weights by Keras name, as plain arrays. */
export function tfWeights(model: tf.LayersModel): Map<string, { shape: number[]; data: Float32Array }> {
  return new Map(model.weights.map((w) => [w.originalName, { shape: w.shape.map(Number), data: (w.read().dataSync() as Float32Array).slice() }]));
}

/** A small real model (Dense → BN → Dense) for file-level tests. */
export const tiny: ModelSpec = {
  class_name: 'Sequential',
  config: {
    name: 'tiny',
    layers: [
      { class_name: 'Dense', config: { name: 'dense', units: 3, activation: 'relu', kernel_initializer: initializer('HeNormal'), batch_input_shape: [null, 4] } },
      { class_name: 'BatchNormalization', config: { name: 'batch_normalization' } },
      { class_name: 'Dense', config: { name: 'dense_1', units: 2, activation: 'softmax' } },
    ],
  },
};

/** Fixed weights for `tiny`; `offset` varies the first kernel. */
export function tinyWeights(offset = 0): NamedWeights {
  const w = (shape: number[], f: (i: number) => number) => ({ shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => f(i)) });
  return new Map([
    ['dense/kernel', w([4, 3], (i) => Math.sin(i + offset))],
    ['dense/bias', w([3], (i) => 0.1 * i)],
    ['batch_normalization/gamma', w([3], (i) => 1 + 0.1 * i)],
    ['batch_normalization/beta', w([3], (i) => -0.1 * i)],
    ['batch_normalization/moving_mean', w([3], (i) => 0.2 * i)],
    ['batch_normalization/moving_variance', w([3], (i) => 1 + i)],
    ['dense_1/kernel', w([3, 2], (i) => Math.cos(i))],
    ['dense_1/bias', w([2], () => 0)],
  ]);
}

/**
 * Loads a trained run folder's model on wasm (handed to `inspect` before it is disposed), predicts
 * `count` real test images with it, exports the run to TF.js, ONNX and HDF5 in `out` and checks each
 * predicts as the run: TF.js and the .h5 imported back exactly, ONNX Runtime within 1e-4. The .h5 is
 * left at `out/model.h5`.
 */
export async function expectExportsPredictAsRun(runDir: string, out: string, count: number, inspect: (run: tf.LayersModel) => void = () => {}): Promise<void> {
  await useBackend('wasm');
  const { x } = await fashionImages('test', count);
  const run = await loadTfjs(join(runDir, 'weights', 'model.json'));
  const shape = [count, ...(run.inputs[0]!.shape.slice(1) as number[])];
  const expected = predict(run, x, shape);
  inspect(run);
  run.dispose();
  const { exportRun, importModel } = await import('.');
  const ort = await import('onnxruntime-node');
  await exportRun({ runDir, format: 'tfjs', out: join(out, 'tfjs') });
  const loaded = await loadTfjs(join(out, 'tfjs', 'model.json'));
  expect(maxAbsDiff(predict(loaded, x, shape), expected)).toBe(0);
  loaded.dispose();

  await exportRun({ runDir, format: 'onnx', out: join(out, 'model.onnx') });
  const session = await ort.InferenceSession.create(join(out, 'model.onnx'));
  try {
    const result = await session.run({ input: new ort.Tensor('float32', x, shape) });
    expect(maxAbsDiff(result.output!.data as Float32Array, expected)).toBeLessThanOrEqual(1e-4);
  } finally {
    await session.release();
  }

  await exportRun({ runDir, format: 'h5', out: join(out, 'model.h5') });
  // The .h5 imports back to a model that predicts as the run.
  const imported = await importModel(join(out, 'model.h5'));
  const rebuilt = await buildTfModel(imported.spec);
  rebuilt.setWeights(rebuilt.weights.map((w) => tf.tensor(imported.weights.get(w.originalName)!.data, w.shape as number[])));
  expect(maxAbsDiff(predict(rebuilt, x, shape), expected)).toBe(0);
  rebuilt.dispose();
}
