import { describe, expect, it } from 'vitest';
import { buildLayer, kerasSnakeCase, nextLayerName, withDefaults } from './layers';
import { summarize } from './summary';
import { seedModel1, seedModel2 } from './presets';
import type { LayerSpec, ModelSpec } from './spec';

const model = (layers: LayerSpec[]): ModelSpec => ({ class_name: 'Sequential', config: { name: 'm', layers } });

describe('withDefaults', () => {
  it('fills in Keras defaults', () => {
    expect(withDefaults({ class_name: 'Dense', config: { name: 'dense', units: 10 } }).config).toEqual({
      name: 'dense',
      trainable: true,
      units: 10,
      activation: 'linear',
      use_bias: true,
      kernel_initializer: { class_name: 'GlorotUniform', config: { seed: null } },
      bias_initializer: { class_name: 'Zeros', config: {} },
      kernel_regularizer: null,
      kernel_constraint: null,
    });
    expect(withDefaults({ class_name: 'BatchNormalization', config: { name: 'bn' } }).config).toEqual({
      name: 'bn',
      trainable: true,
      axis: -1,
      momentum: 0.99,
      epsilon: 0.001,
      center: true,
      scale: true,
      beta_initializer: { class_name: 'Zeros', config: {} },
      gamma_initializer: { class_name: 'Ones', config: {} },
      moving_mean_initializer: { class_name: 'Zeros', config: {} },
      moving_variance_initializer: { class_name: 'Ones', config: {} },
    });
    expect(withDefaults({ class_name: 'Conv2D', config: { name: 'conv2d', filters: 8, kernel_size: 3 } }).config).toMatchObject({
      kernel_size: [3, 3],
      strides: [1, 1],
      padding: 'valid',
      data_format: 'channels_last',
      dilation_rate: [1, 1],
      groups: 1,
    });
    expect(withDefaults({ class_name: 'MaxPooling2D', config: { name: 'p' } }).config).toMatchObject({ pool_size: [2, 2], strides: null, padding: 'valid' });
    expect(withDefaults({ class_name: 'Dropout', config: { name: 'd', rate: 0.2 } }).config).toEqual({ name: 'd', trainable: true, rate: 0.2, noise_shape: null, seed: null });
  });

  it('canonicalizes initializer spellings and keeps what it does not know', () => {
    const l = withDefaults({
      class_name: 'Dense',
      config: { name: 'd', units: 2, kernel_initializer: 'lecun_normal', bias_initializer: { class_name: 'LeCunUniform', config: { seed: 3 } }, extra: 1 },
    });
    expect(l.config.kernel_initializer).toEqual({ class_name: 'LecunNormal', config: { seed: null } });
    expect(l.config.bias_initializer).toEqual({ class_name: 'LecunUniform', config: { seed: 3 } });
    expect(l.config.extra).toBe(1);
    expect(withDefaults({ class_name: 'Nope', config: { name: 'x' } })).toEqual({ class_name: 'Nope', config: { name: 'x' } });
  });
});

describe('validation: bad values give an error at that layer and never throw', () => {
  const bad = { zero: 0, negative: -3, fractional: 1.5, huge: 1e9, empty: '', NaN: Number.NaN, string: '12', null: null, infinite: Infinity };
  const cases: { layer: (v: unknown) => LayerSpec; field: string; values: Record<string, unknown> }[] = [
    { field: 'units', layer: (v) => ({ class_name: 'Dense', config: { name: 'dense', units: v } }), values: bad },
    { field: 'rate', layer: (v) => ({ class_name: 'Dropout', config: { name: 'dropout', rate: v } }), values: { ...bad, one: 1, fractional: -0.1, zero: undefined } },
    { field: 'rate', layer: (v) => ({ class_name: 'AlphaDropout', config: { name: 'alpha_dropout', rate: v } }), values: { ...bad, one: 1, zero: undefined, fractional: 1.5 } },
    { field: 'filters', layer: (v) => ({ class_name: 'Conv2D', config: { name: 'conv2d', filters: v, kernel_size: 3 } }), values: bad },
    {
      field: 'kernel_size',
      layer: (v) => ({ class_name: 'Conv2D', config: { name: 'conv2d', filters: 4, kernel_size: v } }),
      values: { ...bad, emptyList: [], single: [3], zeroPair: [3, 0], fractionalPair: [1.5, 2], tooBigForInput: 29 },
    },
    { field: 'pool_size', layer: (v) => ({ class_name: 'MaxPooling2D', config: { name: 'max_pooling2d', pool_size: v } }), values: { ...bad, tooBigForInput: [29, 2] } },
    { field: 'strides', layer: (v) => ({ class_name: 'Conv2D', config: { name: 'conv2d', filters: 4, kernel_size: 3, strides: v } }), values: bad },
  ];
  for (const c of cases) {
    for (const [label, value] of Object.entries(c.values)) {
      if (value === undefined) continue;
      it(`${c.layer(0).class_name}.${c.field} = ${label}`, () => {
        const spec = model([
          { class_name: 'Reshape', config: { name: 'reshape', target_shape: [28, 28, 1], batch_input_shape: [null, 784] } },
          c.layer(value),
          { class_name: 'Flatten', config: { name: 'flatten' } },
        ]);
        let s!: ReturnType<typeof summarize>;
        expect(() => (s = summarize(spec))).not.toThrow();
        expect(s.valid).toBe(false);
        expect(s.errors).toEqual([expect.objectContaining({ layerIndex: 1, field: c.field, message: expect.stringContaining(c.field) })]);
        expect(s.layers[1].error).toBeDefined();
        // rate does not change the shape: the layers after a Dropout with a bad rate keep theirs.
        if (c.field === 'rate') expect(s.layers[2].output_shape).toEqual([null, 784]);
        else expect(s.layers[2].error).toMatch(/no input shape: layer 1/);
      });
    }
  }

  it('accepts the edges of the valid ranges', () => {
    const ok = (layer: LayerSpec) =>
      summarize(model([{ class_name: 'Reshape', config: { name: 'reshape', target_shape: [28, 28, 1], batch_input_shape: [null, 784] } }, layer])).errors;
    expect(ok({ class_name: 'Dropout', config: { name: 'd', rate: 0 } })).toEqual([]);
    expect(ok({ class_name: 'Dropout', config: { name: 'd', rate: 0.999 } })).toEqual([]);
    expect(ok({ class_name: 'Dense', config: { name: 'd', units: 1 } })).toEqual([]);
    expect(ok({ class_name: 'Conv2D', config: { name: 'c', filters: 1, kernel_size: 28 } })).toEqual([]);
    expect(ok({ class_name: 'Conv2D', config: { name: 'c', filters: 1, kernel_size: 29, padding: 'same' } })).toEqual([]);
  });

  it('checks the other settings by name', () => {
    const errs = (layer: LayerSpec) =>
      summarize(model([{ class_name: 'Reshape', config: { name: 'reshape', target_shape: [28, 28, 1], batch_input_shape: [null, 784] } }, layer])).errors.map((e) => e.field);
    expect(errs({ class_name: 'Conv2D', config: { name: 'c', filters: 1, kernel_size: 3, padding: 'full' } })).toEqual(['padding']);
    expect(errs({ class_name: 'Conv2D', config: { name: 'c', filters: 1, kernel_size: 3, data_format: 'channels_first' } })).toEqual(['data_format']);
    expect(errs({ class_name: 'Conv2D', config: { name: 'c', filters: 1, kernel_size: 3, groups: 2 } })).toEqual(['groups']);
    expect(errs({ class_name: 'Conv2D', config: { name: 'c', filters: 1, kernel_size: 3, strides: 2, dilation_rate: 2 } })).toEqual(['dilation_rate']);
    expect(errs({ class_name: 'Dense', config: { name: 'c', units: 3, kernel_initializer: { class_name: 'Orthogonal', config: {} } } })).toEqual(['kernel_initializer']);
    expect(errs({ class_name: 'Dense', config: { name: 'c', units: 3, kernel_initializer: { class_name: 'VarianceScaling', config: { scale: -1 } } } })).toEqual([
      'kernel_initializer',
    ]);
    expect(errs({ class_name: 'Dense', config: { name: 'c', units: 3, kernel_initializer: { class_name: 'VarianceScaling', config: { mode: 'fan_sum' } } } })).toEqual([
      'kernel_initializer',
    ]);
    expect(errs({ class_name: 'Dense', config: { name: 'c', units: 3, use_bias: 'yes' } })).toEqual(['use_bias']);
    expect(errs({ class_name: 'Dense', config: { name: 'bad name!', units: 3 } })).toEqual(['name']);
    expect(errs({ class_name: 'Dense', config: { name: 'c', units: 3, trainable: 0 } })).toEqual(['trainable']);
    expect(errs({ class_name: 'BatchNormalization', config: { name: 'c', momentum: 2, epsilon: 0 } })).toEqual(['momentum', 'epsilon']);
    expect(errs({ class_name: 'Dropout', config: { name: 'c', rate: 0.1, noise_shape: [1, 2] } })).toEqual(['noise_shape']);
    expect(errs({ class_name: 'Activation', config: { name: 'c' } })).toEqual(['activation']);
    expect(errs({ class_name: 'Reshape', config: { name: 'c', target_shape: [] } })).toEqual(['target_shape']);
    expect(errs({ class_name: 'Reshape', config: { name: 'c', target_shape: [-1, -1] } })).toEqual(['target_shape']);
  });

  it('validates batch_input_shape', () => {
    for (const bis of [[], [null], [null, 0], [null, -1], [null, 2.5], 'x', [null, Number.NaN], [0, 3]]) {
      const s = summarize(model([{ class_name: 'Flatten', config: { name: 'flatten', batch_input_shape: bis } }]));
      expect(s.errors, JSON.stringify(bis)).toEqual([expect.objectContaining({ layerIndex: 0, field: 'batch_input_shape' })]);
    }
    expect(summarize(model([{ class_name: 'Flatten', config: { name: 'flatten', batch_input_shape: [32, 28, 28] } }])).layers[0].output_shape).toEqual([32, 784]);
  });
});

describe('output shapes (Keras formulas)', () => {
  const shape = (layer: LayerSpec, input: (number | null)[]) => buildLayer(layer, input).output_shape;
  it('Conv2D valid/same, strides, dilation, odd sizes', () => {
    const conv = (extra: Record<string, unknown>) => ({ class_name: 'Conv2D', config: { name: 'c', filters: 5, kernel_size: 3, ...extra } });
    expect(shape(conv({}), [null, 28, 28, 1])).toEqual([null, 26, 26, 5]);
    expect(shape(conv({ padding: 'same' }), [null, 28, 28, 1])).toEqual([null, 28, 28, 5]);
    expect(shape(conv({ strides: 2 }), [null, 28, 28, 1])).toEqual([null, 13, 13, 5]);
    expect(shape(conv({ strides: 2, padding: 'same' }), [null, 27, 13, 3])).toEqual([null, 14, 7, 5]);
    expect(shape(conv({ kernel_size: [4, 2], strides: [3, 2] }), [null, 13, 11, 3])).toEqual([null, 4, 5, 5]);
    expect(shape(conv({ dilation_rate: 2 }), [null, 9, 9, 3])).toEqual([null, 5, 5, 5]);
    expect(shape(conv({}), [null, null, 10, 3])).toEqual([null, null, 8, 5]);
    const r = buildLayer(conv({ kernel_size: [3, 2] }), [null, 8, 8, 4]);
    expect(r.variables.map((v) => v.shape)).toEqual([[3, 2, 4, 5], [5]]);
    expect(r.params).toBe(3 * 2 * 4 * 5 + 5);
  });

  it('MaxPooling2D with default strides (= pool_size), same padding and odd sizes', () => {
    const pool = (extra: Record<string, unknown>) => ({ class_name: 'MaxPooling2D', config: { name: 'p', ...extra } });
    expect(shape(pool({}), [null, 28, 28, 8])).toEqual([null, 14, 14, 8]);
    expect(shape(pool({}), [null, 7, 7, 8])).toEqual([null, 3, 3, 8]);
    expect(shape(pool({ padding: 'same' }), [null, 7, 7, 8])).toEqual([null, 4, 4, 8]);
    expect(shape(pool({ pool_size: 3, strides: 2 }), [null, 9, 10, 2])).toEqual([null, 4, 4, 2]);
    expect(shape(pool({ pool_size: [3, 1] }), [null, 9, 10, 2])).toEqual([null, 3, 10, 2]);
  });

  it('Reshape resolves -1, Flatten multiplies, Dense acts on the last axis', () => {
    expect(shape({ class_name: 'Reshape', config: { name: 'r', target_shape: [-1, 4] } }, [null, 784])).toEqual([null, 196, 4]);
    expect(shape({ class_name: 'Reshape', config: { name: 'r', target_shape: [-1, 4] } }, [null, null, 4])).toEqual([null, null, 4]);
    expect(shape({ class_name: 'Flatten', config: { name: 'f' } }, [null, 3, 5, 7])).toEqual([null, 105]);
    expect(shape({ class_name: 'Flatten', config: { name: 'f' } }, [null, null, 5])).toEqual([null, null]);
    const d = buildLayer({ class_name: 'Dense', config: { name: 'd', units: 6 } }, [null, 28, 28]);
    expect([d.output_shape, d.params]).toEqual([[null, 28, 6], 28 * 6 + 6]);
    expect(buildLayer({ class_name: 'Dense', config: { name: 'd', units: 6 } }, [null, null]).issues[0].message).toMatch(/last dimension/);
  });
});

describe('layer names', () => {
  it("Keras' snake_case", () => {
    expect(['Dense', 'BatchNormalization', 'Conv2D', 'MaxPooling2D', 'AlphaDropout', 'InputLayer', 'Flatten'].map(kerasSnakeCase)).toEqual([
      'dense',
      'batch_normalization',
      'conv2d',
      'max_pooling2d',
      'alpha_dropout',
      'input_layer',
      'flatten',
    ]);
  });

  it('nextLayerName continues the _N sequence', () => {
    expect(nextLayerName(seedModel1, 'Dense')).toBe('dense_3');
    expect(nextLayerName(seedModel1, 'BatchNormalization')).toBe('batch_normalization_3');
    expect(nextLayerName(seedModel1, 'Flatten')).toBe('flatten_1');
    expect(nextLayerName(seedModel1, 'Conv2D')).toBe('conv2d');
    expect(nextLayerName(seedModel2, 'Activation')).toBe('activation_2');
    const gap = model([{ class_name: 'Dense', config: { name: 'dense_4' } }]);
    expect(nextLayerName(gap, 'Dense')).toBe('dense_5');
    expect(nextLayerName(model([]), 'MaxPooling2D')).toBe('max_pooling2d');
  });
});
