/**
 * LayerNormalization's kit: Keras 3's defaults and summary, the editor's fields, Keras 3 / Keras 2 /
 * TF.js JSON in and out, and the model TF.js builds from the export (its variables and count).
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { KerasImportError, fromKerasTopology, layerDefaults, seedModel1, summarize, toKerasTopology, type LayerSpec, type ModelSpec } from '..';
import { fieldsFor } from '../../renderer/lib/layer-fields';
import { layerKit } from './registry';
import { PALETTE_GROUPS, glyphOf, layerCaption } from '../../renderer/lib/layer-info';
import { insertLayer } from '../../renderer/lib/spec-edit';

const spec = (ln: Record<string, unknown> = {}): ModelSpec => ({
  class_name: 'Sequential',
  config: {
    name: 'ln_mlp',
    layers: [
      { class_name: 'Dense', config: { name: 'dense', units: 300, activation: 'relu', batch_input_shape: [null, 784] } },
      { class_name: 'LayerNormalization', config: { name: 'layer_normalization', ...ln } } as LayerSpec,
      { class_name: 'Dense', config: { name: 'dense_1', units: 10, activation: 'softmax' } },
    ],
  },
});

describe('LayerNormalization', () => {
  it("has Keras 3's defaults", () => {
    expect(layerDefaults('LayerNormalization')).toEqual({
      trainable: true,
      axis: -1,
      epsilon: 0.001,
      center: true,
      scale: true,
      beta_initializer: { class_name: 'Zeros', config: {} },
      gamma_initializer: { class_name: 'Ones', config: {} },
    });
  });

  it('summarizes as Keras: (None, 300) → (None, 300), 600 trainable parameters (gamma, beta); 300 without center', () => {
    const s = summarize(spec());
    expect(s.valid).toBe(true);
    const ln = s.layers[1]!;
    expect(ln.output_shape).toEqual([null, 300]);
    expect([ln.params, ln.trainable_params, ln.non_trainable_params]).toEqual([600, 600, 0]);
    expect(ln.variables.map((v) => [v.name, v.shape])).toEqual([
      ['layer_normalization/gamma', [300]],
      ['layer_normalization/beta', [300]],
    ]);
    expect(summarize(spec({ center: false })).layers[1]!.params).toBe(300);
  });

  it('reports bad settings at the field, with the words the other layers use', () => {
    const issues = summarize(spec({ epsilon: 0, axis: 0, center: 'yes' })).errors.map((e) => [e.field, e.message]);
    expect(issues).toContainEqual(['epsilon', 'epsilon must be a positive number, got 0']);
    expect(issues).toContainEqual(['center', "center must be true or false, got 'yes'"]);
    expect(summarize(spec({ axis: 0 })).errors.map((e) => e.message)).toContain('axis 0 is the batch axis; normalize a feature axis (1..1 or -1..-1)');
  });

  it("gives the editor its fields in Keras' order", () => {
    expect(fieldsFor('LayerNormalization', false).map((f) => [f.field, f.kind, f.advanced ?? false])).toEqual([
      ['name', 'text', false],
      ['trainable', 'bool', false],
      ['axis', 'int', false],
      ['epsilon', 'float', false],
      ['center', 'bool', false],
      ['scale', 'bool', false],
      ['beta_initializer', 'initializer', true],
      ['gamma_initializer', 'initializer', true],
    ]);
  });

  it('sits in the palette next to BatchNormalization, with its card caption and a valid freshly dropped layer', () => {
    expect(PALETTE_GROUPS.find((g) => g.category === 'norm')!.layers).toEqual(['BatchNormalization', 'LayerNormalization']);
    // Its glyph comes from its kit like every other type's, and tells it apart from the rest.
    const glyphs = PALETTE_GROUPS.flatMap((g) => g.layers).map(glyphOf);
    expect(glyphOf('LayerNormalization')).toBe('LN');
    expect(new Set(glyphs).size).toBe(glyphs.length);
    expect(glyphs).not.toContain('?');
    const dropped = insertLayer(seedModel1, seedModel1.config.layers.length - 1, 'LayerNormalization');
    const layer = dropped.spec.config.layers[dropped.index]!;
    expect(layer.config.name).toBe('layer_normalization');
    expect(layerCaption(layer)).toBe('ε 0.001');
    expect(layerCaption({ ...layer, config: { ...layer.config, epsilon: 1e-5 } })).toBe('ε 0.00001');
    expect(summarize(dropped.spec).valid).toBe(true);
  });

  it('imports Keras 3 JSON (module, registered_name, null regularizers and constraints) and refuses rms_scaling', () => {
    const keras3 = {
      class_name: 'Sequential',
      config: {
        name: 'sequential',
        layers: [
          { module: 'keras.layers', class_name: 'InputLayer', config: { batch_shape: [null, 300], dtype: 'float32', name: 'input_layer' } },
          {
            module: 'keras.layers',
            class_name: 'LayerNormalization',
            registered_name: null,
            config: {
              name: 'layer_normalization',
              trainable: true,
              dtype: { module: 'keras', class_name: 'DTypePolicy', config: { name: 'float32' } },
              axis: -1,
              epsilon: 0.001,
              center: true,
              scale: true,
              rms_scaling: false,
              beta_initializer: { module: 'keras.initializers', class_name: 'Zeros', config: {}, registered_name: null },
              gamma_initializer: { module: 'keras.initializers', class_name: 'Ones', config: {}, registered_name: null },
              beta_regularizer: null,
              gamma_regularizer: null,
              beta_constraint: null,
              gamma_constraint: null,
            },
          },
        ],
      },
    };
    const imported = fromKerasTopology(keras3);
    expect(imported.config.layers[0]).toEqual({
      class_name: 'LayerNormalization',
      config: { name: 'layer_normalization', batch_input_shape: [null, 300], ...layerDefaults('LayerNormalization') },
    });
    const rms = structuredClone(keras3);
    (rms.config.layers[1]!.config as Record<string, unknown>).rms_scaling = true;
    expect(() => fromKerasTopology(rms)).toThrow(KerasImportError);
    expect(() => fromKerasTopology(rms)).toThrow(/rms_scaling is not supported/);
  });

  it('imports Keras 2 JSON, whose built layer writes axis as a list of one', () => {
    const keras2 = {
      class_name: 'Sequential',
      config: { name: 'sequential', layers: [{ class_name: 'LayerNormalization', config: { name: 'ln', axis: [1], epsilon: 1e-5, batch_input_shape: [null, 300] } }] },
    };
    const s = fromKerasTopology(keras2);
    expect(s.config.layers[0]!.config).toMatchObject({ axis: [1], epsilon: 1e-5 });
    expect(summarize(s).layers[0]!.params).toBe(600);
  });

  it('exports TF.js JSON that TF.js builds with the same variables, and that imports back to the same spec', async () => {
    const original = spec({ epsilon: 1e-5, center: false });
    const topology = toKerasTopology(original);
    expect(topology.config.layers[1]).toMatchObject({ class_name: 'LayerNormalization', config: { axis: -1, epsilon: 1e-5, center: false, scale: true } });
    const model = await tf.models.modelFromJSON({ modelTopology: topology as unknown as tf.io.ModelJSON['modelTopology'] });
    try {
      const ln = model.getLayer('layer_normalization');
      expect(ln.getClassName()).toBe('LayerNormalization');
      expect(ln.weights.map((w) => [w.originalName, w.shape])).toEqual([['layer_normalization/gamma', [300]]]);
      expect(model.countParams()).toBe(summarize(original).total);
    } finally {
      model.dispose();
    }
    const back = fromKerasTopology(JSON.parse(JSON.stringify(topology)));
    expect(summarize(back).layers.map((l) => [l.name, l.output_shape, l.params])).toEqual(summarize(original).layers.map((l) => [l.name, l.output_shape, l.params]));
    expect(back.config.layers[1]!.config).toMatchObject({ axis: -1, epsilon: 1e-5, center: false, scale: true });
  });
});

describe('LayerNormalization training support', () => {
  it('refuses center or scale off for training (tfjs-layers 4.22 fails in their gradient), and accepts the defaults', () => {
    const kit = layerKit('LayerNormalization')!;
    const input = [null, 300];
    expect(kit.supports?.({ fused: false }, { ...kit.defaults(), center: false }, input)).toMatchObject({ field: 'center' });
    expect(kit.supports?.({ fused: false }, { ...kit.defaults(), scale: false }, input)).toMatchObject({ field: 'scale' });
    expect(kit.supports?.({ fused: false }, kit.defaults(), input)).toBeNull();
  });
});
