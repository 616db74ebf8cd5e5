import { describe, expect, it } from 'vitest';
import { KerasImportError, ModelSpecError, fromKerasTopology, toKerasTopology } from './keras-json';
import { specWithDefaults } from './layers';
import { presets, seedModel1 } from './presets';
import { summarize } from './summary';
import { sequential, type ModelSpec } from './spec';
import { keras2SeedModel1 } from './keras2-fixture';

// ---------------------------------------------------------------- fixtures
// Seed model 1 as Keras writes it, built as
//   Sequential([Flatten(input_shape=[28, 28]), BatchNormalization(),
//               Dense(300, activation="elu", kernel_initializer="he_normal"), BatchNormalization(),
//               Dense(100, activation="elu", kernel_initializer="he_normal"), BatchNormalization(),
//               Dense(10, activation="softmax")])

const KERAS2_JSON = JSON.stringify(keras2SeedModel1);

/** Keras 3 `model.to_json()`: module/registered_name/build_config everywhere, InputLayer with batch_shape, DTypePolicy dtypes. */
const policy = { module: 'keras', class_name: 'DTypePolicy', config: { name: 'float32' }, registered_name: null };
const k3init = (class_name: string, config: Record<string, unknown> = {}) => ({ module: 'keras.initializers', class_name, config, registered_name: null });
const keras3Layer = (class_name: string, config: Record<string, unknown>, inputShape: (number | null)[]) => ({
  module: 'keras.layers',
  class_name,
  config: { name: config.name, trainable: true, dtype: policy, ...config },
  registered_name: null,
  build_config: { input_shape: inputShape },
});
const keras3Bn = (name: string, n: number) =>
  keras3Layer(
    'BatchNormalization',
    {
      name,
      axis: -1,
      momentum: 0.99,
      epsilon: 0.001,
      center: true,
      scale: true,
      beta_initializer: k3init('Zeros'),
      gamma_initializer: k3init('Ones'),
      moving_mean_initializer: k3init('Zeros'),
      moving_variance_initializer: k3init('Ones'),
      beta_regularizer: null,
      gamma_regularizer: null,
      beta_constraint: null,
      gamma_constraint: null,
      synchronized: false,
    },
    [null, n],
  );
const keras3Dense = (name: string, units: number, activation: string, kernel: string, n: number) =>
  keras3Layer(
    'Dense',
    {
      name,
      units,
      activation,
      use_bias: true,
      kernel_initializer: k3init(kernel, { seed: null }),
      bias_initializer: k3init('Zeros'),
      kernel_regularizer: null,
      bias_regularizer: null,
      kernel_constraint: null,
      bias_constraint: null,
    },
    [null, n],
  );
const KERAS3 = {
  module: 'keras',
  class_name: 'Sequential',
  config: {
    name: 'sequential',
    trainable: true,
    dtype: policy,
    layers: [
      { module: 'keras.layers', class_name: 'InputLayer', config: { batch_shape: [null, 28, 28], dtype: 'float32', sparse: false, name: 'input_layer' }, registered_name: null },
      keras3Layer('Flatten', { name: 'flatten', data_format: 'channels_last' }, [null, 28, 28]),
      keras3Bn('batch_normalization', 784),
      keras3Dense('dense', 300, 'elu', 'HeNormal', 784),
      keras3Bn('batch_normalization_1', 300),
      keras3Dense('dense_1', 100, 'elu', 'HeNormal', 300),
      keras3Bn('batch_normalization_2', 100),
      keras3Dense('dense_2', 10, 'softmax', 'GlorotUniform', 100),
    ],
    build_input_shape: [null, 28, 28],
  },
  registered_name: null,
  build_config: { input_shape: [null, 28, 28] },
};

const golden = (spec: ModelSpec) => {
  const s = summarize(spec);
  expect(s.errors).toEqual([]);
  expect(s.layers.map((l) => l.params)).toEqual([0, 3136, 235500, 1200, 30100, 400, 1010]);
  expect([s.total, s.trainable, s.non_trainable]).toEqual([271_346, 268_978, 2_368]);
};

describe('fromKerasTopology', () => {
  it('imports Keras 2 model.to_json() with the golden numbers', () => {
    const spec = fromKerasTopology(KERAS2_JSON);
    golden(spec);
    expect(spec.config.name).toBe('sequential');
    expect(spec.config.layers.map((l) => l.config.name)).toEqual([
      'flatten',
      'batch_normalization',
      'dense',
      'batch_normalization_1',
      'dense_1',
      'batch_normalization_2',
      'dense_2',
    ]);
    expect(spec.config.layers[0].config.batch_input_shape).toEqual([null, 28, 28]);
    expect(spec.config.layers[0].config).not.toHaveProperty('dtype');
    expect(spec.config.layers[1].config.axis).toEqual([1]);
    expect(spec.config.layers[2].config.kernel_initializer).toEqual({ class_name: 'HeNormal', config: { seed: null } });
    expect(spec.config.layers[2].config.kernel_regularizer).toBeNull();
  });

  it('imports Keras 3 model.to_json() (object and string) with the golden numbers', () => {
    for (const input of [KERAS3, JSON.stringify(KERAS3)]) {
      const spec = fromKerasTopology(input);
      golden(spec);
      expect(spec.config.layers[0].config.batch_input_shape).toEqual([null, 28, 28]);
      // Same model, same spec as seed model 1 apart from the model's name and BN's built-axis spelling.
      expect(spec.config.layers.slice(1)).toEqual(specWithDefaults(seedModel1).config.layers.slice(1));
      expect(spec.config.layers[2].config).not.toHaveProperty('module');
    }
  });

  it('takes the input shape from build_input_shape when there is no InputLayer', () => {
    const k3 = structuredClone(KERAS3);
    k3.config.layers.shift();
    golden(fromKerasTopology(k3));
  });

  it('accepts model.json ({ modelTopology }) and Keras model_config wrappers', () => {
    golden(fromKerasTopology({ format: 'layers-model', generatedBy: 'keras v2.12.0', modelTopology: JSON.parse(KERAS2_JSON), weightsManifest: [] }));
    golden(fromKerasTopology({ modelTopology: { keras_version: '2.12.0', backend: 'tensorflow', model_config: JSON.parse(KERAS2_JSON) } }));
    golden(fromKerasTopology(JSON.stringify({ modelTopology: KERAS3 })));
  });

  it('accepts TF.js and snake_case spellings of initializers, activation null and MaxPool2D', () => {
    const spec = fromKerasTopology({
      class_name: 'Sequential',
      config: {
        name: 'm',
        layers: [
          { class_name: 'Reshape', config: { name: 'r', target_shape: [8, 8, 1], batch_input_shape: [null, 64] } },
          { class_name: 'Conv2D', config: { name: 'c', filters: 2, kernel_size: 3, activation: null, kernel_initializer: { class_name: 'LeCunUniform', config: {} } } },
          { class_name: 'MaxPool2D', config: { name: 'p', pool_size: 2 } },
          { class_name: 'Flatten', config: { name: 'f' } },
          {
            class_name: 'Dense',
            config: {
              name: 'd',
              units: 3,
              kernel_initializer: 'he_uniform',
              bias_initializer: { class_name: 'VarianceScaling', config: { mode: 'fanAvg', distribution: 'truncatedNormal' } },
            },
          },
        ],
      },
    });
    const [, conv, pool, , dense] = spec.config.layers;
    expect(conv.config).toMatchObject({ activation: 'linear', kernel_size: [3, 3], kernel_initializer: { class_name: 'LecunUniform', config: { seed: null } } });
    expect(pool.class_name).toBe('MaxPooling2D');
    expect(dense.config.kernel_initializer).toEqual({ class_name: 'HeUniform', config: { seed: null } });
    expect(dense.config.bias_initializer).toEqual({ class_name: 'VarianceScaling', config: { scale: 1, mode: 'fan_avg', distribution: 'truncated_normal', seed: null } });
    expect(summarize(spec).valid).toBe(true);
  });

  it('gives clear errors naming the layer or field for malformed input', () => {
    const err = (input: unknown) => {
      try {
        fromKerasTopology(input);
      } catch (e) {
        expect(e).toBeInstanceOf(KerasImportError);
        return e as KerasImportError;
      }
      throw new Error('expected fromKerasTopology to throw');
    };
    const k2 = () => JSON.parse(KERAS2_JSON);
    expect(err('{"class_name": "Sequential", ').message).toMatch(/not valid JSON/);
    expect(err(42).message).toMatch(/expected a Keras model topology object/);
    expect(err({ config: { layers: [] } }).message).toMatch(/missing class_name/);
    expect(err({ class_name: 'Functional', config: { layers: [] } }).message).toMatch(/only Sequential models are supported, got 'Functional'/);
    expect(err({ class_name: 'Sequential', config: { name: 'x', layers: 'dense' } }).message).toMatch(/config\.layers: expected a list of layers/);
    expect(err({ class_name: 'Sequential', config: { name: 'x', layers: [null] } }).message).toMatch(/layers\[0\]: expected an object/);

    const lambda = k2();
    lambda.config.layers.splice(3, 0, { class_name: 'Lambda', config: { name: 'lambda', function: '...' } });
    const e1 = err(lambda);
    expect(e1.message).toMatch(/layers\[3\] \('lambda'\)\.class_name: unsupported layer type 'Lambda'/);
    expect([e1.layerIndex, e1.layerName, e1.field]).toEqual([3, 'lambda', 'class_name']);

    const reg = k2();
    reg.config.layers[3].config.kernel_regularizer = { class_name: 'L3', config: { l3: 0.01 } };
    expect(err(reg).message).toMatch(/layers\[3\] \('dense'\)\.kernel_regularizer: unsupported regularizer 'L3'/);
    const biasReg = k2();
    biasReg.config.layers[3].config.bias_regularizer = { class_name: 'L2', config: { l2: 0.01 } };
    expect(err(biasReg).message).toMatch(/layers\[3\] \('dense'\)\.bias_regularizer: regularizers other than kernel_regularizer are not supported/);

    const maxNorm = k2();
    maxNorm.config.layers[5].config.kernel_constraint = { class_name: 'UnitNorm', config: { axis: 0 } };
    expect(err(maxNorm)).toMatchObject({ layerIndex: 5, field: 'kernel_constraint', message: expect.stringMatching(/unsupported constraint 'UnitNorm'/) });

    const ortho = k2();
    ortho.config.layers[3].config.kernel_initializer = { class_name: 'Orthogonal', config: { gain: 1, seed: null } };
    expect(err(ortho).message).toMatch(/layers\[3\] \('dense'\)\.kernel_initializer: unknown initializer 'Orthogonal'/);

    const relu6 = k2();
    relu6.config.layers[3].config.activation = 'relu6';
    expect(err(relu6)).toMatchObject({ layerIndex: 3, field: 'activation', message: expect.stringMatching(/unsupported activation 'relu6'/) });

    const half = k2();
    half.config.layers[3].config.dtype = 'float16';
    expect(err(half)).toMatchObject({ layerIndex: 3, field: 'dtype' });

    const noShape = k2();
    noShape.config.layers[0].config = { name: 'input', dtype: 'float32' };
    expect(err(noShape).message).toMatch(/layers\[0\] \('input'\): InputLayer needs batch_input_shape/);

    const lateInput = k2();
    lateInput.config.layers.push({ class_name: 'InputLayer', config: { name: 'late', batch_input_shape: [null, 3] } });
    expect(err(lateInput).message).toMatch(/layers\[8\] \('late'\): an InputLayer may only come first/);

    const badConfig = k2();
    badConfig.config.layers[2].config = 'oops';
    expect(err(badConfig)).toMatchObject({ layerIndex: 2, field: 'config' });

    const leaky = k2();
    leaky.config.layers.push({ class_name: 'LeakyReLU', config: { name: 'leaky_re_lu', alpha: 0.3 } });
    expect(err(leaky)).toMatchObject({ layerIndex: 8, field: 'alpha' });
  });

  it('leaves bad values to summarize(), which reports them at the layer', () => {
    const k2 = JSON.parse(KERAS2_JSON);
    k2.config.layers[3].config.units = 0;
    const s = summarize(fromKerasTopology(k2));
    expect(s.errors).toEqual([expect.objectContaining({ layerIndex: 2, layerName: 'dense', field: 'units' })]);
  });
});

describe('toKerasTopology', () => {
  it('writes a Sequential topology with TF.js spellings', () => {
    const t = toKerasTopology(presets.find((p) => p.id === 'selu-self-normalizing')!.spec);
    expect(t.class_name).toBe('Sequential');
    expect(t.config.name).toBe('selu_self_normalizing');
    expect(t.config.layers[0]).toEqual({ class_name: 'Flatten', config: { name: 'flatten', trainable: true, batch_input_shape: [null, 28, 28], data_format: 'channels_last' } });
    expect(t.config.layers[1].config.kernel_initializer).toEqual({ class_name: 'LeCunNormal', config: { seed: null } });
    expect(t.config.layers[1].config).not.toHaveProperty('batch_input_shape');
  });

  it('maps silu, leaky_relu, truncated_normal, untruncated_normal and Reshape -1', () => {
    const spec = sequential('m', [
      { class_name: 'Reshape', config: { name: 'reshape', target_shape: [-1, 4], batch_input_shape: [null, 16] } },
      {
        class_name: 'Dense',
        config: {
          name: 'dense',
          units: 5,
          activation: 'silu',
          kernel_initializer: { class_name: 'VarianceScaling', config: { scale: 2, mode: 'fan_in', distribution: 'untruncated_normal' } },
        },
      },
      { class_name: 'Activation', config: { name: 'activation', activation: 'leaky_relu' } },
      {
        class_name: 'Dense',
        config: {
          name: 'dense_1',
          units: 5,
          kernel_initializer: { class_name: 'VarianceScaling', config: { scale: 3, mode: 'fan_out', distribution: 'truncated_normal', seed: 7 } },
        },
      },
    ]);
    const [reshape, dense, act, dense1] = toKerasTopology(spec).config.layers;
    expect(reshape.config.target_shape).toEqual([4, 4]);
    expect(dense.config.activation).toBe('swish');
    expect(dense.config.kernel_initializer).toEqual({ class_name: 'RandomNormal', config: { mean: 0, stddev: Math.sqrt(2 / 4), seed: null } });
    expect(act).toEqual({ class_name: 'LeakyReLU', config: { name: 'activation', trainable: true, alpha: 0.2 } });
    expect(dense1.config.kernel_initializer).toEqual({ class_name: 'VarianceScaling', config: { scale: 3, mode: 'fan_out', distribution: 'normal', seed: 7 } });
    const compensated = toKerasTopology(spec, { kerasVariance: true }).config.layers[3].config.kernel_initializer as { config: { scale: number } };
    expect(compensated.config.scale).toBeCloseTo(3 / 0.87962566103423978 ** 2, 12);
  });

  it('refuses an invalid spec with the summary errors', () => {
    const spec = structuredClone(seedModel1);
    spec.config.layers[2].config.units = 1.5;
    expect(() => toKerasTopology(spec)).toThrow(ModelSpecError);
    expect(() => toKerasTopology(spec)).toThrow(/layer 2 'dense'\.units: units must be a positive whole number, got 1\.5/);
  });

  it('round-trips spec → toKerasTopology → fromKerasTopology to the spec with defaults, also through a JSON string', () => {
    const conv = sequential('cnn', [
      {
        class_name: 'Conv2D',
        config: {
          name: 'conv2d',
          filters: 8,
          kernel_size: 3,
          padding: 'same',
          activation: 'relu',
          kernel_initializer: { class_name: 'HeUniform', config: { seed: 1 } },
          batch_input_shape: [null, 28, 28, 1],
        },
      },
      { class_name: 'MaxPooling2D', config: { name: 'max_pooling2d' } },
      { class_name: 'BatchNormalization', config: { name: 'batch_normalization', momentum: 0.9, center: false } },
      { class_name: 'Conv2D', config: { name: 'conv2d_1', filters: 4, kernel_size: [5, 3], strides: [2, 1], use_bias: false, trainable: false } },
      { class_name: 'MaxPooling2D', config: { name: 'max_pooling2d_1', pool_size: 3, strides: 2, padding: 'same' } },
      { class_name: 'Flatten', config: { name: 'flatten' } },
      { class_name: 'Dropout', config: { name: 'dropout', rate: 0.25, seed: 3 } },
      { class_name: 'Activation', config: { name: 'activation', activation: 'leaky_relu' } },
      {
        class_name: 'Dense',
        config: {
          name: 'dense',
          units: 10,
          activation: 'softmax',
          kernel_initializer: { class_name: 'VarianceScaling', config: { scale: 0.5, mode: 'fan_avg', distribution: 'uniform' } },
        },
      },
    ]);
    for (const spec of [...presets.map((p) => p.spec), conv]) {
      const expected = specWithDefaults(spec);
      expect(fromKerasTopology(toKerasTopology(spec))).toEqual(expected);
      expect(fromKerasTopology(JSON.stringify(toKerasTopology(spec)))).toEqual(expected);
      expect(summarize(fromKerasTopology(toKerasTopology(spec)))).toEqual(summarize(spec));
    }
  });
});
