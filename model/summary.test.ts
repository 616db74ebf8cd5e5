import { describe, expect, it } from 'vitest';
import { formatSummaryTable, initializerReport, summarize } from './summary';
import { deepPlainMlp, plainMlp, presets, seedModel1, seedModel2, seluMlp } from './presets';
import type { LayerSpec, ModelSpec } from './spec';
import { initializer } from './spec';

const model = (layers: LayerSpec[]): ModelSpec => ({ class_name: 'Sequential', config: { name: 'm', layers } });

describe('summarize: golden values (Keras model.summary())', () => {
  it('seed model 1 (BN after activation)', () => {
    const s = summarize(seedModel1);
    expect(s.valid).toBe(true);
    expect(s.errors).toEqual([]);
    expect(s.layers.map((l) => l.params)).toEqual([0, 3136, 235500, 1200, 30100, 400, 1010]);
    expect(s.layers.map((l) => l.output_shape)).toEqual([
      [null, 784],
      [null, 784],
      [null, 300],
      [null, 300],
      [null, 100],
      [null, 100],
      [null, 10],
    ]);
    expect(s.total).toBe(271_346);
    expect(s.trainable).toBe(268_978);
    expect(s.non_trainable).toBe(2_368);
    expect(s.layers[1]).toMatchObject({ name: 'batch_normalization', class_name: 'BatchNormalization', trainable_params: 1568, non_trainable_params: 1568 });
  });

  it('seed model 2 (BN before activation, Dense without bias)', () => {
    const s = summarize(seedModel2);
    expect(s.valid).toBe(true);
    expect(s.layers.map((l) => l.params)).toEqual([0, 3136, 235200, 1200, 0, 30000, 400, 0, 1010]);
    expect(s.total).toBe(270_946);
    expect(s.trainable).toBe(268_578);
    expect(s.non_trainable).toBe(2_368);
  });

  it('plain and SELU MLPs', () => {
    for (const spec of [plainMlp, seluMlp]) {
      const s = summarize(spec);
      expect(s.valid).toBe(true);
      expect([s.total, s.trainable, s.non_trainable]).toEqual([266_610, 266_610, 0]);
    }
  });

  it('deep plain MLP: 20 Dense(100) without BN', () => {
    const s = summarize(deepPlainMlp);
    expect(s.valid).toBe(true);
    expect(s.layers.map((l) => l.params)).toEqual([0, 78_500, ...Array(19).fill(10_100), 1010]);
    expect(s.layers.slice(1, -1).every((l) => l.class_name === 'Dense' && l.output_shape?.join() === ',100')).toBe(true);
    expect(s.layers.at(-1)).toMatchObject({ name: 'dense_20', output_shape: [null, 10] });
    expect([s.total, s.trainable, s.non_trainable]).toEqual([271_410, 271_410, 0]);
  });

  it('every preset is valid', () => {
    for (const p of presets) expect(summarize(p.spec).errors, p.id).toEqual([]);
  });

  it('lists the variables Keras creates, BN moving statistics non-trainable', () => {
    const s = summarize(seedModel1);
    expect(s.layers[1].variables).toEqual([
      { name: 'batch_normalization/gamma', shape: [784], trainable: true, initializer_field: 'gamma_initializer' },
      { name: 'batch_normalization/beta', shape: [784], trainable: true, initializer_field: 'beta_initializer' },
      { name: 'batch_normalization/moving_mean', shape: [784], trainable: false, initializer_field: 'moving_mean_initializer' },
      { name: 'batch_normalization/moving_variance', shape: [784], trainable: false, initializer_field: 'moving_variance_initializer' },
    ]);
    expect(s.layers[2].variables.map((v) => [v.name, v.shape])).toEqual([
      ['dense/kernel', [784, 300]],
      ['dense/bias', [300]],
    ]);
  });

  it('trainable: false makes every parameter of the layer non-trainable', () => {
    const spec = structuredClone(seedModel1);
    spec.config.layers[2].config.trainable = false;
    spec.config.layers[3].config.trainable = false;
    const s = summarize(spec);
    expect(s.total).toBe(271_346);
    expect(s.layers[2]).toMatchObject({ trainable_params: 0, non_trainable_params: 235_500 });
    expect(s.layers[3]).toMatchObject({ trainable_params: 0, non_trainable_params: 1200 });
    expect(s.non_trainable).toBe(2_368 + 235_500 + 600);
  });

  it('BN with center/scale false omits beta/gamma', () => {
    const s = summarize(
      model([
        { class_name: 'Flatten', config: { name: 'flatten', batch_input_shape: [null, 10] } },
        { class_name: 'BatchNormalization', config: { name: 'bn', center: false } },
        { class_name: 'BatchNormalization', config: { name: 'bn2', scale: false } },
        { class_name: 'BatchNormalization', config: { name: 'bn3', scale: false, center: false } },
      ]),
    );
    expect(s.layers[1].variables.map((v) => v.name)).toEqual(['bn/gamma', 'bn/moving_mean', 'bn/moving_variance']);
    expect(s.layers[2].variables.map((v) => v.name)).toEqual(['bn2/beta', 'bn2/moving_mean', 'bn2/moving_variance']);
    expect(s.layers.slice(1).map((l) => [l.trainable_params, l.non_trainable_params])).toEqual([
      [10, 20],
      [10, 20],
      [0, 20],
    ]);
  });
});

describe('summarize: errors', () => {
  it('a missing input shape is an error at layer 0 and later layers say why they have no shape', () => {
    const spec = structuredClone(plainMlp);
    delete spec.config.layers[0].config.batch_input_shape;
    const s = summarize(spec);
    expect(s.valid).toBe(false);
    expect(s.errors).toEqual([{ layerIndex: 0, layerName: 'flatten', field: 'batch_input_shape', message: expect.stringMatching(/batch_input_shape/) }]);
    expect(s.layers.every((l) => l.output_shape === null)).toBe(true);
    expect(s.layers[2].error).toMatch(/no input shape: layer 0 \('flatten'\)/);
    expect(s.total).toBe(0);
  });

  it('a bad layer is reported at its index; later layers lose their shape but their own errors are still found', () => {
    const spec = structuredClone(seedModel1);
    spec.config.layers[2].config.units = 0;
    spec.config.layers[4].config.activation = 'relu7';
    const s = summarize(spec);
    expect(s.errors.map((e) => [e.layerIndex, e.layerName, e.field])).toEqual([
      [2, 'dense', 'units'],
      [4, 'dense_1', 'activation'],
    ]);
    expect(s.layers[1].output_shape).toEqual([null, 784]);
    expect(s.layers[2].output_shape).toBeNull();
    expect(s.layers[3].error).toMatch(/no input shape: layer 2 \('dense'\)/);
    expect(s.layers[4].error).toMatch(/unknown activation 'relu7'/);
    expect(s.layers[0].params + s.layers[1].params).toBe(s.total);
  });

  it('a bad activation keeps the shape and parameter count', () => {
    const spec = structuredClone(plainMlp);
    spec.config.layers[1].config.activation = 'gelu_fast';
    const s = summarize(spec);
    expect(s.valid).toBe(false);
    expect(s.total).toBe(266_610);
    expect(s.errors).toHaveLength(1);
    expect(s.errors[0]).toMatchObject({ layerIndex: 1, field: 'activation' });
  });

  it('leaky_relu is an Activation layer only (TF.js has no such activation function)', () => {
    const spec = structuredClone(plainMlp);
    spec.config.layers[1].config.activation = 'leaky_relu';
    expect(summarize(spec).errors[0]).toMatchObject({ layerIndex: 1, field: 'activation', message: expect.stringMatching(/Activation\('leaky_relu'\)/) });
    spec.config.layers[1].config.activation = 'linear';
    spec.config.layers.splice(2, 0, { class_name: 'Activation', config: { name: 'activation', activation: 'leaky_relu' } });
    expect(summarize(spec).valid).toBe(true);
  });

  it('reports duplicate names, unsupported types, garbage entries and empty models without throwing', () => {
    const s = summarize(
      model([
        { class_name: 'Flatten', config: { name: 'flatten', batch_input_shape: [null, 4] } },
        { class_name: 'Dense', config: { name: 'flatten', units: 3 } },
        { class_name: 'Lambda', config: { name: 'lambda' } },
        null as unknown as LayerSpec,
        42 as unknown as LayerSpec,
        { class_name: 'Dense' } as unknown as LayerSpec,
      ]),
    );
    expect(s.errors.map((e) => [e.layerIndex, e.field])).toEqual([
      [1, 'name'],
      [2, 'class_name'],
      [3, 'class_name'],
      [4, 'class_name'],
      [5, 'name'],
      [5, 'units'],
    ]);
    expect(summarize(model([])).errors).toEqual([{ layerIndex: -1, layerName: '', message: 'the model has no layers' }]);
    expect(() => summarize({} as ModelSpec)).not.toThrow();
    expect(summarize({} as ModelSpec).valid).toBe(false);
  });

  it('bad BN axes and shape mismatches name the field', () => {
    const base = (layers: LayerSpec[]) => summarize(model([{ class_name: 'Flatten', config: { name: 'flatten', batch_input_shape: [null, 28, 28] } }, ...layers]));
    for (const axis of [0, 2, -3, 1.5, 'x', [1, 2]]) {
      const s = base([{ class_name: 'BatchNormalization', config: { name: 'bn', axis } }]);
      expect(s.errors, String(axis)).toEqual([expect.objectContaining({ layerIndex: 1, field: 'axis' })]);
    }
    expect(base([{ class_name: 'BatchNormalization', config: { name: 'bn', axis: [1] } }]).layers[1].params).toBe(4 * 784);
    expect(base([{ class_name: 'BatchNormalization', config: { name: 'bn', axis: -1 } }]).valid).toBe(true);
    expect(base([{ class_name: 'Reshape', config: { name: 'r', target_shape: [28, 27] } }]).errors[0]).toMatchObject({ field: 'target_shape' });
    expect(base([{ class_name: 'Reshape', config: { name: 'r', target_shape: [-1, 5] } }]).errors[0]).toMatchObject({ field: 'target_shape' });
    expect(base([{ class_name: 'Conv2D', config: { name: 'c', filters: 2, kernel_size: 3 } }]).errors[0].message).toMatch(/rank 4/);
  });
});

describe('formatSummaryTable', () => {
  it('prints a Keras-style table with thousands separators', () => {
    const text = formatSummaryTable(summarize(seedModel1));
    expect(text).toContain('Model: "bn_after_activation"');
    expect(text).toMatch(/Layer \(type\)\s+Output Shape\s+Param #/);
    expect(text).toMatch(/ batch_normalization \(BatchNormalization\)\s+\(None, 784\)\s+3136/);
    expect(text).toMatch(/ dense \(Dense\)\s+\(None, 300\)\s+235500/);
    expect(text).toContain('Total params: 271,346');
    expect(text).toContain('Trainable params: 268,978');
    expect(text).toContain('Non-trainable params: 2,368');
  });

  it('lists errors under the table', () => {
    const spec = structuredClone(seedModel1);
    spec.config.layers[2].config.units = -3;
    const text = formatSummaryTable(summarize(spec));
    expect(text).toMatch(/layer 2 'dense' \(units\): units must be a positive whole number, got -3/);
  });
});

describe('initializerReport', () => {
  it('gives each kernel its fans, σ² and the std of the samples', () => {
    const kernels = initializerReport(seedModel1).filter((r) => r.variable.endsWith('/kernel'));
    expect(kernels.map((k) => [k.variable, k.stats.fans.fan_in, k.stats.fans.fan_out, k.stats.variance])).toEqual([
      ['dense/kernel', 784, 300, 2 / 784],
      ['dense_1/kernel', 300, 100, 2 / 300],
      ['dense_2/kernel', 100, 10, 1 / 55],
    ]);
    const spec = model([{ class_name: 'Dense', config: { name: 'd', units: 3, batch_input_shape: [null, 5], kernel_initializer: initializer('LecunUniform') } }]);
    expect(initializerReport(spec)[0].stats.limit).toBeCloseTo(Math.sqrt(3 / 5));
  });
});
