/**
 * LayerNormalization: standardizes each sample over its feature axis (its own mean and variance, in
 * training and at inference alike), then scales by gamma and shifts by beta. Keras 3's defaults.
 */
import { checkEpsilonCenterScale, checkInitializers, checkSingleAxis, featureAxisSize, gammaBeta, normalizationArgs, normalizedAxis, ones, zeros } from './checks';
import { AXIS_TYPE } from './fields';
import { defineKit } from './registry';

const INITIALIZERS = ['gamma_initializer', 'beta_initializer'];

export const layerNormalization = defineKit({
  class_name: 'LayerNormalization',
  palette: { category: 'norm', blurb: 'Per sample, then γ, β', glyph: 'LN' },
  defaults: () => ({ axis: -1, epsilon: 0.001, center: true, scale: true, beta_initializer: zeros(), gamma_initializer: ones() }),
  required: [],
  caption: (c, f) => [`ε ${f.value(c.epsilon ?? 0.001)}`],
  shapeFields: ['axis', 'center', 'scale'],
  initializerFields: INITIALIZERS,
  fields: { axis: { kind: 'int', step: 1, hint: 'The feature axis each sample is normalised over (-1: the last one)', type: AXIS_TYPE } },
  validate: (cfg, report) => {
    checkSingleAxis(cfg, report);
    checkEpsilonCenterScale(cfg, report);
    checkInitializers(INITIALIZERS, cfg, report);
  },
  build: (cfg, input, report) => {
    const n = featureAxisSize(cfg, input, report);
    if (n === null) return null;
    return { output_shape: [...input], variables: gammaBeta(cfg, n) };
  },
  unsupportedIfSet: { rms_scaling: 'rms_scaling is not supported' },
  kerasNulls: ['beta_regularizer', 'gamma_regularizer', 'beta_constraint', 'gamma_constraint'],
  onnx: (cfg, name, e) => {
    // Opset 13 has no LayerNormalization: (x - mean) / √(var + ε) · γ + β over the axis, spelled out.
    const rank = e.input_shape.length;
    const axis = normalizedAxis(cfg, rank);
    const n = e.input_shape[axis] as number;
    const dims = Array.from({ length: rank }, (_, i) => (i === axis ? n : 1));
    const moments = [
      { name: 'axes', ints: [axis] },
      { name: 'keepdims', i: 1 },
    ];
    const mean = e.node('ReduceMean', [e.input], `${name}/mean`, moments);
    const centered = e.node('Sub', [e.input, mean], `${name}/center`);
    const variance = e.node('ReduceMean', [e.node('Mul', [centered, centered], `${name}/square`)], `${name}/variance`, moments);
    const std = e.node('Sqrt', [e.node('Add', [variance, e.floats(`${name}/epsilon`, [], new Float32Array([cfg.epsilon as number]))], `${name}/add_epsilon`)], `${name}/std`);
    let out = e.node('Div', [centered, std], `${name}/normalize`);
    const gamma = e.weight('gamma');
    if (gamma) out = e.node('Mul', [out, e.floats(`${name}/gamma`, dims, gamma.data)], `${name}/scale`);
    const beta = e.weight('beta');
    if (beta) out = e.node('Add', [out, e.floats(`${name}/beta`, dims, beta.data)], `${name}/shift`);
    return out;
  },
  pythonCall: (cfg) => ({
    class_name: 'LayerNormalization',
    args: normalizationArgs(cfg, ['epsilon', 'center', 'scale', 'beta_initializer', 'gamma_initializer']),
  }),
  // tfjs-layers 4.22's LayerNormalization reads beta and gamma unconditionally in its gradient, and the
  // general step (other backends, declined fused models) uses it: refused until that path computes LN itself.
  supports: (_path, cfg) =>
    cfg.center === false || cfg.scale === false
      ? {
          field: cfg.center === false ? 'center' : 'scale',
          message: 'TensorFlow.js 4.22 cannot train a LayerNormalization without its beta or gamma yet: keep center and scale on',
        }
      : null,
});
