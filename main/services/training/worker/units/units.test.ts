/**
 * The training units' typed configs come from the layer's kit config (the spec with the kit's Keras
 * defaults, the same as a built model's own topology JSON gives), and each unit kind's `supports` says what the fused
 * step cannot do, naming the layer. Real built models (tfjs, cpu).
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { seedModel1, seluMlp } from '../../../../../model/presets';
import type { LayerSpec } from '../../../../../model/spec';
import { buildModel } from '../build-model';
import { planLayers } from '../forward';
import { batchNormalization } from './batch-normalization';
import { dense } from './dense';
import { dropout } from './dropout';
import { flatten } from './flatten';
import { layerNormalization } from './layer-normalization';
import { kitConfig } from './config';
import type { UnitKind, UnitSite } from './unit';

beforeAll(async () => {
  tf.env().set('IS_TEST', true); // no "install tfjs-node" banner
  await tf.setBackend('cpu');
});

/** A kind's typed config of a layer, from the layer's kit config (as planLayers hands it over). */
const of = <C>(kind: UnitKind<C>, layer: LayerSpec): C => kind.config(kitConfig(layer), layer.class_name);

const site = (over: Partial<UnitSite> = {}): UnitSite => ({ name: 'l', className: 'X', shape: [8], last: false, trainableBefore: false, variable: () => null, ...over });

describe('typed configs from the kit config', () => {
  it("fills in Keras' defaults for what the spec leaves out", () => {
    const bn: LayerSpec = { class_name: 'BatchNormalization', config: { name: 'bn' } };
    expect(of(batchNormalization, bn)).toEqual({ axis: -1, momentum: 0.99, epsilon: 0.001, center: true, scale: true });
    expect(of(dense, { class_name: 'Dense', config: { name: 'd', units: 4 } })).toEqual({ units: 4, activation: 'linear', useBias: true, regularizer: null, maxNorm: null });
    expect(of(layerNormalization, { class_name: 'LayerNormalization', config: { name: 'ln', axis: [1], center: false } })).toEqual({
      axis: 1,
      epsilon: 0.001,
      center: false,
      scale: true,
    });
    expect(of(dropout, { class_name: 'AlphaDropout', config: { name: 'a', rate: 0.1 } })).toEqual({ alpha: true, rate: 0.1, noiseShape: null, seed: null });
    expect(of(dense, { class_name: 'Dense', config: { name: 'd', units: 4, kernel_regularizer: { class_name: 'L2', config: { l2: 0.01 } } } }).regularizer).toEqual({
      l1: 0,
      l2: 0.01,
    });
  });

  it("plans a built model the same from its spec as from its own topology JSON (tfjs' names mapped to Keras')", async () => {
    for (const spec of [seedModel1, seluMlp]) {
      const model = await buildModel(tf, spec, { seed: 1 });
      try {
        const strip = (plans: ReturnType<typeof planLayers>) =>
          plans.map((p) => ({ name: p.name, activation: p.activation, dropout: p.dropout, bn: p.bn && { axis: p.bn.axis, momentum: p.bn.momentum, epsilon: p.bn.epsilon } }));
        expect(strip(planLayers(model))).toEqual(strip(planLayers(model, spec)));
      } finally {
        model.dispose();
      }
    }
  });
});

describe('what each unit kind declines, by layer name', () => {
  it('vector inputs only, the last axis for BatchNormalization and LayerNormalization, no noise shape, a target shape that fits', () => {
    expect(dense.supports(of(dense, { class_name: 'Dense', config: { name: 'd', units: 2 } }), site({ name: 'd', className: 'Dense', shape: [4, 4] }))).toBe(
      'layer d (Dense) gets a rank-3 input',
    );
    expect(batchNormalization.supports(of(batchNormalization, { class_name: 'BatchNormalization', config: { name: 'bn', axis: 0 } }), site({ name: 'bn' }))).toBe(
      'layer bn: BatchNormalization on axis 0',
    );
    const ln = (config: Record<string, unknown>) => of(layerNormalization, { class_name: 'LayerNormalization', config: { name: 'ln', ...config } });
    expect(layerNormalization.supports(ln({}), site({ name: 'ln', className: 'LayerNormalization', shape: [4, 4] }))).toBe('layer ln (LayerNormalization) gets a rank-3 input');
    expect(layerNormalization.supports(ln({ axis: 0 }), site({ name: 'ln' }))).toBe('layer ln: LayerNormalization on axis 0');
    expect(layerNormalization.supports(ln({ center: false }), site({ name: 'ln', variable: () => null }))).toBe('layer ln: no gamma or beta');
    expect(dropout.supports(of(dropout, { class_name: 'Dropout', config: { name: 'dr', rate: 0.5, noise_shape: [1, 8] } }), site({ name: 'dr' }))).toBe(
      'layer dr: dropout with a noise shape',
    );
    expect(dense.supports(of(dense, { class_name: 'Dense', config: { name: 'd', units: 2, activation: 'softmax' } }), site({ name: 'd' }))).toBe(
      'layer d: softmax before the last layer',
    );
    expect(flatten.supports(of(flatten, { class_name: 'Reshape', config: { name: 'r', target_shape: [3, -1] } }), site({ name: 'r' }))).toMatch(
      /layer r: target shape \[3, -1\] does not fit/,
    );
    expect(flatten.create(of(flatten, { class_name: 'Reshape', config: { name: 'r', target_shape: [2, -1] } }), site())).toEqual({ unit: null, shape: [2, 4] });
  });
});
