/**
 * The kits' schemas accept every valid spec the app meets (presets, Keras 2 / Keras 3 / TF.js imports,
 * the raw forms summarize() accepts) and reject a layer field of the wrong type by its path.
 */
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { fromKerasTopology, layerKit, presets, summarize, toKerasTopology, type LayerSpec, type ModelSpec } from '..';
import { CheckedModelSpecSchema, DraftModelSpecSchema } from './spec-schema';

const seq = (layers: Record<string, unknown>[]): ModelSpec => ({ class_name: 'Sequential', config: { name: 'm', layers: layers as unknown as LayerSpec[] } });

describe('CheckedModelSpecSchema', () => {
  it('accepts every preset, as written and after a TF.js round trip', () => {
    for (const preset of presets) {
      expect(summarize(preset.spec).valid, preset.id).toBe(true);
      expect(CheckedModelSpecSchema.safeParse(preset.spec).error, preset.id).toBeUndefined();
      expect(CheckedModelSpecSchema.safeParse(fromKerasTopology(toKerasTopology(preset.spec))).error, preset.id).toBeUndefined();
    }
  });

  it('accepts the raw forms summarize() accepts: initializers by name, single-number pairs, Keras 2 list axes, null seeds and strides', () => {
    const spec = seq([
      { class_name: 'Reshape', config: { name: 'r', target_shape: [28, 28, 1], batch_input_shape: [null, 28, 28] } },
      { class_name: 'Conv2D', config: { name: 'c', filters: 4, kernel_size: 3, strides: 1, kernel_initializer: 'he_normal', kernel_regularizer: 'l2' } },
      { class_name: 'MaxPooling2D', config: { name: 'p', pool_size: 2, strides: null } },
      { class_name: 'BatchNormalization', config: { name: 'bn', axis: [3] } },
      { class_name: 'LayerNormalization', config: { name: 'ln', axis: -1 } },
      { class_name: 'Flatten', config: { name: 'f' } },
      { class_name: 'AlphaDropout', config: { name: 'd', rate: 0.1, seed: null, noise_shape: null } },
      { class_name: 'Dense', config: { name: 'o', units: 10, activation: 'softmax', kernel_constraint: { class_name: 'MaxNorm', config: { max_value: 2, axis: 0 } } } },
    ]);
    expect(summarize(spec).errors).toEqual([]);
    expect(CheckedModelSpecSchema.safeParse(spec).error).toBeUndefined();
  });

  it('rejects a field of the wrong type, and an unknown layer type, by path', () => {
    const bad = CheckedModelSpecSchema.safeParse(seq([{ class_name: 'BatchNormalization', config: { name: 'bn', momentum: '0.9', batch_input_shape: [null, 4] } }]));
    expect(bad.error?.issues.map((i) => i.path.join('.'))).toEqual(['config.layers.0.config.momentum']);
    const unknown = CheckedModelSpecSchema.safeParse(seq([{ class_name: 'GRU', config: { name: 'g' } }]));
    expect(unknown.error?.issues[0]?.path.join('.')).toBe('config.layers.0.class_name');
  });

  it("describes each field with the editor's hint and Keras' default", () => {
    const config = layerKit('BatchNormalization')!.schema.shape.config as z.ZodObject;
    expect(config.shape.momentum!.description).toBe('Momentum of the moving mean and variance (typically 0.9, 0.99, 0.999). Keras default: 0.99.');
  });

  it('DraftModelSpecSchema also takes what the property panel stores mid-edit, and the checked schema does not', () => {
    const draft = seq([
      { class_name: 'Reshape', config: { name: 'r', target_shape: '28, x', batch_input_shape: [null, 28, 28] } },
      { class_name: 'Conv2D', config: { name: 'c', filters: 'abc', kernel_size: [3, null], strides: null } },
      { class_name: 'Dense', config: { name: 'o', units: 2.5, kernel_regularizer: { class_name: 'L1L2', config: { l1: 'x', l2: 0.01 } } } },
    ]);
    expect(summarize(draft).valid).toBe(false);
    expect(DraftModelSpecSchema.safeParse(draft).error).toBeUndefined();
    expect(CheckedModelSpecSchema.safeParse(draft).error?.issues.map((i) => i.path.join('.'))).toEqual([
      'config.layers.0.config.target_shape',
      'config.layers.1.config.filters',
      'config.layers.1.config.kernel_size',
      'config.layers.1.config.strides',
      'config.layers.2.config.units',
    ]);
    expect(DraftModelSpecSchema.safeParse(seq([{ class_name: 'Dense', config: { name: 'o', units: { n: 1 } } }])).success).toBe(false);
  });
});
