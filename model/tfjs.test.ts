/**
 * The spec against real TF.js (tfjs-layers 4.22, pure-JS 'cpu' backend): every exported topology must
 * load with tf.models.modelFromJSON and give the output shapes, parameter counts and variables
 * summarize() computes; initializers must sample with the std initializers.ts reports; TF.js'
 * own model.toJSON() must import back.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { fromKerasTopology, toKerasTopology } from './keras-json';
import { specWithDefaults } from './layers';
import { initializerStats, TRUNCATED_NORMAL_STD_FACTOR, type ExportOptions } from './initializers';
import { presets } from './presets';
import { summarize } from './summary';
import { initializer, type InitializerSpec, type LayerSpec, type ModelSpec } from './spec';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

type ModelJson = Parameters<typeof tf.models.modelFromJSON>[0];

async function build(spec: ModelSpec, options: ExportOptions = {}): Promise<tf.LayersModel> {
  return tf.models.modelFromJSON({ modelTopology: toKerasTopology(spec, options) } as unknown as ModelJson);
}

const count = (ws: tf.LayerVariable[]) => ws.reduce((n, w) => n + (w.shape as number[]).reduce((a, b) => a * b, 1), 0);

/** Asserts TF.js agrees with summarize() layer by layer. */
async function expectTfjsAgrees(spec: ModelSpec): Promise<tf.LayersModel> {
  const summary = summarize(spec);
  expect(summary.errors).toEqual([]);
  const model = await build(spec);
  expect(model.layers.map((l) => l.name)).toEqual(summary.layers.map((l) => l.name));
  model.layers.forEach((layer, i) => {
    const s = summary.layers[i];
    const where = `${spec.config.name} layer ${i} (${s.name})`;
    expect(layer.outputShape, where).toEqual(s.output_shape);
    expect(count(layer.trainableWeights), where).toBe(s.trainable_params);
    expect(count(layer.nonTrainableWeights), where).toBe(s.non_trainable_params);
    expect(layer.countParams(), where).toBe(s.params);
    const tfVars = [...layer.trainableWeights.map((w) => [w.originalName, w.shape, true]), ...layer.nonTrainableWeights.map((w) => [w.originalName, w.shape, false])];
    const ours = s.variables.map((v) => [v.name, v.shape, v.trainable]);
    expect(tfVars.sort(), where).toEqual(ours.sort());
  });
  expect(model.countParams()).toBe(summary.total);
  return model;
}

const seq = (name: string, layers: LayerSpec[]): ModelSpec => ({ class_name: 'Sequential', config: { name, layers } });
const conv = (name: string, filters: number, kernel_size: unknown, extra: Record<string, unknown> = {}): LayerSpec => ({
  class_name: 'Conv2D',
  config: { name, filters, kernel_size, ...extra },
});
const pool = (name: string, extra: Record<string, unknown> = {}): LayerSpec => ({ class_name: 'MaxPooling2D', config: { name, ...extra } });

const stacks: ModelSpec[] = [
  seq('lenet_like', [
    { class_name: 'Reshape', config: { name: 'reshape', target_shape: [28, 28, 1], batch_input_shape: [null, 28, 28] } },
    conv('conv2d', 6, 5, { padding: 'same', activation: 'relu', kernel_initializer: initializer('HeNormal') }),
    pool('max_pooling2d'),
    conv('conv2d_1', 16, 5, { activation: 'relu' }),
    pool('max_pooling2d_1'),
    { class_name: 'Flatten', config: { name: 'flatten' } },
    { class_name: 'Dense', config: { name: 'dense', units: 120, activation: 'relu' } },
    { class_name: 'Dense', config: { name: 'dense_1', units: 10, activation: 'softmax' } },
  ]),
  seq('strides_and_odd_sizes', [
    conv('conv2d', 4, [4, 2], { strides: [3, 2], batch_input_shape: [null, 13, 11, 3] }),
    conv('conv2d_1', 5, 3, { strides: 2, padding: 'same', use_bias: false }),
    { class_name: 'BatchNormalization', config: { name: 'batch_normalization' } },
    pool('max_pooling2d', { pool_size: [2, 1], padding: 'same' }),
    { class_name: 'Flatten', config: { name: 'flatten' } },
  ]),
  seq('odd_valid_pooling', [
    conv('conv2d', 3, 3, { batch_input_shape: [null, 15, 9, 2], dilation_rate: 2, activation: 'elu' }),
    pool('max_pooling2d', { pool_size: 3, strides: 2 }),
    { class_name: 'BatchNormalization', config: { name: 'batch_normalization', axis: 3, center: false, trainable: false } },
    pool('max_pooling2d_1', { pool_size: [1, 2], strides: [1, 1] }),
    { class_name: 'Reshape', config: { name: 'reshape', target_shape: [-1, 3] } },
    { class_name: 'Dense', config: { name: 'dense', units: 7, activation: 'silu' } },
    { class_name: 'BatchNormalization', config: { name: 'batch_normalization_1', axis: 1, scale: false } },
    { class_name: 'Activation', config: { name: 'activation', activation: 'leaky_relu' } },
    { class_name: 'Dropout', config: { name: 'dropout', rate: 0.3 } },
    { class_name: 'Flatten', config: { name: 'flatten' } },
  ]),
  seq('same_padding_stride_2', [
    { class_name: 'Reshape', config: { name: 'reshape', target_shape: [7, 7, 16], batch_input_shape: [null, 784] } },
    conv('conv2d', 8, 3, { strides: 2, padding: 'same', activation: 'selu', kernel_initializer: initializer('LecunNormal') }),
    conv('conv2d_1', 8, 1),
    pool('max_pooling2d', { padding: 'same' }),
    { class_name: 'AlphaDropout', config: { name: 'alpha_dropout', rate: 0.1 } },
    { class_name: 'Flatten', config: { name: 'flatten' } },
    { class_name: 'Dense', config: { name: 'dense', units: 3, use_bias: false, trainable: false } },
  ]),
];

describe('exported topologies build in TF.js with summarize()’s shapes and parameters', () => {
  for (const p of presets) {
    it(`preset ${p.id}`, async () => {
      const model = await expectTfjsAgrees(p.spec);
      model.dispose();
    });
  }
  for (const spec of stacks) {
    it(`stack ${spec.config.name}`, async () => {
      const model = await expectTfjsAgrees(spec);
      const out = model.predict(tf.zeros([2, ...(spec.config.layers[0].config.batch_input_shape as number[]).slice(1)])) as tf.Tensor;
      expect(out.shape).toEqual([2, ...(summarize(spec).layers.at(-1)!.output_shape as number[]).slice(1)]);
      out.dispose();
      model.dispose();
    });
  }

  it('golden seed-model numbers hold in TF.js', async () => {
    const m1 = await build(presets[0].spec);
    expect(m1.layers.map((l) => l.countParams())).toEqual([0, 3136, 235500, 1200, 30100, 400, 1010]);
    expect([m1.countParams(), count(m1.trainableWeights), count(m1.nonTrainableWeights)]).toEqual([271_346, 268_978, 2_368]);
    const m2 = await build(presets[1].spec);
    expect([m2.countParams(), count(m2.trainableWeights), count(m2.nonTrainableWeights)]).toEqual([270_946, 268_578, 2_368]);
    m1.dispose();
    m2.dispose();
  });
});

describe('TF.js model.toJSON() imports back', () => {
  for (const spec of [...presets.map((p) => p.spec), ...stacks]) {
    it(spec.config.name, async () => {
      const model = await build(spec);
      const asString = model.toJSON() as string;
      const asObject = model.toJSON(null, false) as object;
      const wrapped = { format: 'layers-model', generatedBy: 'TensorFlow.js tfjs-layers v4.22.0', modelTopology: asObject, weightsManifest: [] };
      for (const json of [asString, asObject, wrapped]) {
        const back = fromKerasTopology(json);
        expect(summarize(back)).toEqual(summarize(spec));
      }
      if (presets.some((p) => p.spec === spec)) {
        // The presets come back exactly (TF.js writes the Glorot/He/LeCun helpers as VarianceScaling).
        expect(fromKerasTopology(asString)).toEqual(specWithDefaults(spec));
      }
      model.dispose();
    });
  }
});

// ---------------------------------------------------------------- initializer statistics

function moments(values: Float32Array | Int32Array | Uint8Array) {
  let mean = 0;
  for (const v of values) mean += v;
  mean /= values.length;
  let m2 = 0;
  let m4 = 0;
  let max = 0;
  for (const v of values) {
    const d = v - mean;
    m2 += d * d;
    m4 += d ** 4;
    max = Math.max(max, Math.abs(v));
  }
  m2 /= values.length;
  return { mean, std: Math.sqrt(m2), kurtosis: m4 / values.length / (m2 * m2), max };
}

async function sampleKernel(init: InitializerSpec, options: ExportOptions = {}, inputShape = [null, 784], units = 300) {
  const spec = seq('init', [{ class_name: 'Dense', config: { name: 'dense', units, batch_input_shape: inputShape, kernel_initializer: init } }]);
  const model = await build(spec, options);
  const kernel = model.layers[0].getWeights()[0];
  const stats = moments(kernel.dataSync() as Float32Array);
  const shape = kernel.shape;
  model.dispose();
  return { stats, shape };
}

const vs = (scale: number, mode: string, distribution: string) => ({ class_name: 'VarianceScaling', config: { scale, mode, distribution, seed: null } });

describe('initializer statistics: a 784×300 Dense kernel sampled by TF.js', () => {
  const cases: [string, InitializerSpec][] = [
    ['GlorotUniform', initializer('GlorotUniform')],
    ['GlorotNormal', initializer('GlorotNormal')],
    ['HeNormal', initializer('HeNormal')],
    ['HeUniform', initializer('HeUniform')],
    ['LecunNormal', initializer('LecunNormal')],
    ['LecunUniform', initializer('LecunUniform')],
    ['VarianceScaling(2, fan_out, truncated_normal)', vs(2, 'fan_out', 'truncated_normal')],
    ['VarianceScaling(1, fan_avg, untruncated_normal)', vs(1, 'fan_avg', 'untruncated_normal')],
    ['VarianceScaling(3, fan_in, uniform)', vs(3, 'fan_in', 'uniform')],
    ['VarianceScaling(1, fan_in, normal)', vs(1, 'fan_in', 'normal')],
    ['RandomNormal(0, 0.05)', { class_name: 'RandomNormal', config: { mean: 0, stddev: 0.05, seed: null } }],
    ['TruncatedNormal(0, 0.05)', { class_name: 'TruncatedNormal', config: { mean: 0, stddev: 0.05, seed: null } }],
  ];
  for (const [label, init] of cases) {
    for (const kerasVariance of [false, true]) {
      it(`${label}${kerasVariance ? ' with kerasVariance' : ''}: sample std within 5% of the reported std`, async () => {
        const { stats, shape } = await sampleKernel(init, { kerasVariance });
        const expected = initializerStats(init, shape, { kerasVariance });
        expect(Math.abs(stats.std / expected.std - 1)).toBeLessThan(0.05);
        expect(Math.abs(stats.mean)).toBeLessThan(expected.std * 0.02);
        if (expected.limit !== null) expect(stats.max).toBeLessThanOrEqual(expected.limit * (1 + 1e-6));
        if (expected.distribution === 'uniform') expect(stats.kurtosis).toBeCloseTo(1.8, 1);
        if (expected.distribution === 'truncated_normal') expect(stats.kurtosis).toBeCloseTo(2.36, 1); // not uniform (TF.js' 'truncatedNormal' would be)
        if (expected.distribution === 'untruncated_normal') expect(stats.kurtosis).toBeCloseTo(3, 0);
        if (kerasVariance && label !== 'TruncatedNormal(0, 0.05)') expect(Math.abs(stats.std / expected.keras_std - 1)).toBeLessThan(0.05);
      });
    }
  }

  it("TF.js' He normal has std 0.88·√(2/fan_in) unless corrected", async () => {
    const sigma = Math.sqrt(2 / 784);
    const plain = (await sampleKernel(initializer('HeNormal'))).stats.std;
    expect(plain / sigma).toBeCloseTo(TRUNCATED_NORMAL_STD_FACTOR, 1);
    expect(Math.abs(plain / (TRUNCATED_NORMAL_STD_FACTOR * sigma) - 1)).toBeLessThan(0.02);
    const corrected = (await sampleKernel(initializer('HeNormal'), { kerasVariance: true })).stats.std;
    expect(Math.abs(corrected / sigma - 1)).toBeLessThan(0.02);
  });

  it('Zeros and Ones are exact', async () => {
    expect((await sampleKernel(initializer('Zeros', {}), {}, [null, 20], 10)).stats).toMatchObject({ mean: 0, std: 0 });
    expect((await sampleKernel({ class_name: 'Ones', config: {} }, {}, [null, 20], 10)).stats).toMatchObject({ mean: 1, std: 0 });
  });

  it('Conv2D kernel fans: receptive field × channels', async () => {
    const spec = seq('c', [conv('conv2d', 32, 3, { batch_input_shape: [null, 20, 20, 16], kernel_initializer: initializer('HeUniform') })]);
    const model = await build(spec);
    const kernel = model.layers[0].getWeights()[0];
    const stats = initializerStats(initializer('HeUniform'), kernel.shape);
    expect(stats.fans).toEqual({ fan_in: 9 * 16, fan_out: 9 * 32, fan_avg: (9 * 16 + 9 * 32) / 2 });
    expect(stats.limit).toBeCloseTo(Math.sqrt(6 / 144), 12);
    const m = moments(kernel.dataSync() as Float32Array);
    expect(Math.abs(m.std / stats.std - 1)).toBeLessThan(0.05);
    model.dispose();
  });
});
