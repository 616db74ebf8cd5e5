/**
 * Every layer type and activation a spec can hold, through ONNX Runtime: two models that use them
 * all (Conv2D with 'same' padding at stride 2 — TensorFlow's asymmetric padding —, dilation,
 * non-square kernels, 'same' and 'valid' pooling with odd sizes, BatchNormalization on each axis in
 * both layouts, Dense on rank-3 tensors, Reshape in the middle, softmax over a conv's channels),
 * with random weights and random BN statistics, must predict as TF.js on 100 real test images.
 *
 * BatchNormalization on an axis other than the last is checked against Keras' formula instead:
 * TF.js 4.22's BatchNorm kernels (cpu and wasm) cycle the statistics over the flat tensor, i.e.
 * always along the last axis, so TF.js' own layer is wrong there (ONNX follows Keras).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACTIVATIONS, SUPPORTED_LAYERS, type LayerSpec, type ModelSpec } from '../../../model';
import { exportRun } from '.';
import { buildTfModel, fashionImages, inputShape, maxAbsDiff, predict, tf, useCpuBackend } from './test-support';

const L = (class_name: string, config: Record<string, unknown>): LayerSpec => ({ class_name, config: config as LayerSpec['config'] });
const seq = (name: string, layers: LayerSpec[]): ModelSpec => ({ class_name: 'Sequential', config: { name, layers } });

const convZoo = seq('conv_zoo', [
  L('Reshape', { name: 'reshape', target_shape: [28, 28, 1], batch_input_shape: [null, 28, 28] }),
  L('Conv2D', { name: 'conv_s2_same', filters: 4, kernel_size: [3, 3], strides: [2, 2], padding: 'same', activation: 'elu' }),
  L('MaxPooling2D', { name: 'pool_same', pool_size: [3, 3], strides: [2, 2], padding: 'same' }),
  L('BatchNormalization', { name: 'bn_channels' }),
  L('Activation', { name: 'leaky', activation: 'leaky_relu' }),
  L('Conv2D', { name: 'conv_dilated', filters: 6, kernel_size: [2, 3], dilation_rate: [2, 2], padding: 'same', activation: 'selu', use_bias: false }),
  L('Conv2D', { name: 'conv_valid', filters: 5, kernel_size: [3, 3], padding: 'valid', activation: 'tanh' }),
  L('MaxPooling2D', { name: 'pool_valid', pool_size: [2, 2], padding: 'valid' }),
  L('Dropout', { name: 'dropout', rate: 0.3 }),
  L('BatchNormalization', { name: 'bn_last_positive', axis: 3, center: false }),
  L('LayerNormalization', { name: 'ln_channels', axis: 3, center: false }),
  L('Flatten', { name: 'flatten' }),
  L('Dense', { name: 'dense_swish', units: 32, activation: 'swish' }),
  L('AlphaDropout', { name: 'alpha_dropout', rate: 0.1 }),
  L('Dense', { name: 'dense_sigmoid', units: 16, activation: 'sigmoid' }),
  L('Activation', { name: 'silu', activation: 'silu' }),
  L('Dense', { name: 'dense_relu', units: 12, activation: 'relu' }),
  L('Dense', { name: 'dense_linear', units: 10, activation: 'linear' }),
  L('Activation', { name: 'softmax', activation: 'softmax' }),
]);

const denseZoo = seq('dense_zoo', [
  L('Dense', { name: 'dense_rank3', units: 16, activation: 'relu', batch_input_shape: [null, 28, 28] }),
  L('BatchNormalization', { name: 'bn_last', axis: -1 }),
  L('BatchNormalization', { name: 'bn_no_scale', axis: 2, scale: false }),
  L('LayerNormalization', { name: 'ln_rank3', epsilon: 1e-5 }),
  L('Reshape', { name: 'reshape_flat', target_shape: [-1, 8] }),
  L('Activation', { name: 'tanh', activation: 'tanh' }),
  L('Reshape', { name: 'reshape_image', target_shape: [7, 8, 8] }),
  L('Conv2D', { name: 'conv_softmax', filters: 3, kernel_size: [2, 2], padding: 'valid', activation: 'softmax' }),
  L('BatchNormalization', { name: 'bn_channels', axis: -1 }),
  L('MaxPooling2D', { name: 'pool_strided', pool_size: [2, 1], strides: [1, 2], padding: 'valid' }),
  L('Conv2D', { name: 'conv_silu', filters: 4, kernel_size: [1, 1], activation: 'silu' }),
  L('Flatten', { name: 'flatten' }),
  L('Dense', { name: 'dense_elu', units: 20, activation: 'elu' }),
  L('Dense', { name: 'dense_selu', units: 20, activation: 'selu' }),
  L('Activation', { name: 'relu', activation: 'relu' }),
  L('Activation', { name: 'sigmoid', activation: 'sigmoid' }),
  L('Dense', { name: 'dense_leaky', units: 10, activation: 'linear' }),
  L('Activation', { name: 'leaky', activation: 'leaky_relu' }),
  L('Activation', { name: 'swish', activation: 'swish' }),
  L('Dense', { name: 'dense_softmax', units: 10, activation: 'softmax' }),
]);

const zoos = [convZoo, denseZoo];

it('the two models cover every layer type and every activation', () => {
  const layers = new Set(zoos.flatMap((z) => z.config.layers.map((l) => l.class_name)));
  expect([...layers].sort()).toEqual([...SUPPORTED_LAYERS].sort());
  const activations = new Set(zoos.flatMap((z) => z.config.layers.map((l) => l.config.activation).filter(Boolean)));
  expect([...activations].sort()).toEqual([...ACTIVATIONS].sort());
});

describe.each(zoos)('$config.name', (spec) => {
  let dir: string;
  let weights: Map<string, { shape: number[]; data: Float32Array }>;

  beforeAll(async () => {
    await useCpuBackend();
    dir = await mkdtemp(join(tmpdir(), 'layerbench-onnx-'));
    const model = await buildTfModel(spec);
    // Random values everywhere, BN statistics included (positive variances); kernels keep their initial values.
    weights = new Map(
      model.weights.map((w, i) => {
        const name = w.originalName;
        const shape = w.shape as number[];
        const value = name.endsWith('/moving_variance')
          ? tf.randomUniform(shape, 0.3, 2, 'float32', i)
          : name.endsWith('/gamma')
            ? tf.randomUniform(shape, 0.5, 1.5, 'float32', i)
            : name.endsWith('/kernel')
              ? w.read()
              : tf.randomUniform(shape, -0.5, 0.5, 'float32', i);
        return [name, { shape, data: (value.dataSync() as Float32Array).slice() }];
      }),
    );
    model.dispose();
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('ONNX Runtime predicts as TF.js (inference mode) on 100 real test images, after every layer', async () => {
    const { x } = await fashionImages('test', 100);
    const shape = [100, ...inputShape(spec)];
    // Each prefix of the model is its own export, so every layer's output is compared before later layers squash it.
    for (let n = 1; n <= spec.config.layers.length; n++) {
      const prefix = seq(`${spec.config.name}_${n}`, spec.config.layers.slice(0, n));
      const model = await buildTfModel(prefix);
      const own = new Map(model.weights.map((w) => [w.originalName, weights.get(w.originalName)!]));
      model.setWeights(model.weights.map((w) => tf.tensor(own.get(w.originalName)!.data, w.shape as number[])));
      const expected = predict(model, x, shape);
      const outShape = model.outputs[0]!.shape.slice(1);
      model.dispose();

      const out = join(dir, `${prefix.config.name}.onnx`);
      await exportRun({ spec: prefix, weights: own, format: 'onnx', out });
      const session = await ort.InferenceSession.create(out);
      try {
        const got = (await session.run({ input: new ort.Tensor('float32', x, shape) })).output!;
        const layer = spec.config.layers[n - 1]!.config.name;
        expect(got.dims, layer).toEqual([100, ...outShape]);
        expect(maxAbsDiff(got.data as Float32Array, expected), layer).toBeLessThanOrEqual(1e-4);
      } finally {
        await session.release();
      }
    }
  });
});

describe('BatchNormalization on a non-last axis (rank 3, and rank 4 while the graph is NCHW)', () => {
  const bnSpec = seq('bn_axes', [
    L('Dense', { name: 'dense', units: 6, batch_input_shape: [null, 28, 28] }),
    L('BatchNormalization', { name: 'bn_rows', axis: 1, scale: false }),
    L('Reshape', { name: 'reshape', target_shape: [28, 6, 1] }),
    L('Conv2D', { name: 'conv2d', filters: 3, kernel_size: [3, 3], strides: [2, 1], padding: 'same' }),
    L('BatchNormalization', { name: 'bn_height', axis: 1 }),
    L('BatchNormalization', { name: 'bn_width', axis: -2, center: false }),
  ]);

  /** Keras' inference-mode BN along `axis` of a row-major tensor of `shape`. */
  function keras(x: Float32Array, shape: number[], axis: number, w: Map<string, { data: Float32Array }>, layer: string, eps = 1e-3): Float32Array {
    const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
    const n = shape[axis]!;
    const get = (v: string) => w.get(`${layer}/${v}`)?.data;
    const [mean, variance, gamma, beta] = [get('moving_mean')!, get('moving_variance')!, get('gamma'), get('beta')];
    return x.map((v, i) => {
      const c = Math.floor(i / inner) % n;
      return (v - mean[c]!) * ((gamma ? gamma[c]! : 1) / Math.sqrt(variance[c]! + eps)) + (beta ? beta[c]! : 0);
    });
  }

  it('ONNX Runtime follows Keras on 100 real test images', async () => {
    await useCpuBackend();
    const model = await buildTfModel(bnSpec);
    const weights = new Map(
      model.weights.map((w, i) => {
        const shape = w.shape as number[];
        const value = w.originalName.endsWith('variance') ? tf.randomUniform(shape, 0.3, 2, 'float32', i) : tf.randomUniform(shape, -0.5, 0.5, 'float32', i);
        return [w.originalName, { shape, data: value.dataSync() as Float32Array }];
      }),
    );
    model.setWeights(model.weights.map((w) => tf.tensor(weights.get(w.originalName)!.data, w.shape as number[])));
    const { x } = await fashionImages('test', 100);
    // TF.js computes Dense and Conv2D (correct there); the BN layers are computed with Keras' formula.
    const layerOut = (name: string, input: Float32Array, inShape: number[]) =>
      tf.tidy(() => (model.getLayer(name).apply(tf.tensor(input, inShape)) as tf.Tensor).dataSync() as Float32Array).slice();
    let h: Float32Array = layerOut('dense', x, [100, 28, 28]);
    h = keras(h, [100, 28, 6], 1, weights, 'bn_rows');
    h = layerOut('conv2d', h, [100, 28, 6, 1]);
    h = keras(h, [100, 14, 6, 3], 1, weights, 'bn_height');
    const expected = keras(h, [100, 14, 6, 3], 2, weights, 'bn_width');
    model.dispose();

    const dir = await mkdtemp(join(tmpdir(), 'layerbench-onnx-'));
    try {
      const out = join(dir, 'bn.onnx');
      await exportRun({ spec: bnSpec, weights, format: 'onnx', out });
      const session = await ort.InferenceSession.create(out);
      const got = (await session.run({ input: new ort.Tensor('float32', x, [100, 28, 28]) })).output!;
      await session.release();
      expect(got.dims).toEqual([100, 14, 6, 3]);
      expect(maxAbsDiff(got.data as Float32Array, expected)).toBeLessThanOrEqual(1e-4);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
