/**
 * BatchNormalization: standardizes each feature with the batch's statistics in training and with
 * moving averages at inference, then scales by gamma and shifts by beta.
 */
import { describeValue } from '../initializers';
import { checkEpsilonCenterScale, checkInitializers, checkSingleAxis, featureAxisSize, gammaBeta, normalizationArgs, normalizedAxis, ones, variable, zeros } from './checks';
import type { Cfg } from './kit';
import { AXIS_TYPE } from './fields';
import { defineKit } from './registry';

const INITIALIZERS = ['gamma_initializer', 'beta_initializer', 'moving_mean_initializer', 'moving_variance_initializer'];

/**
 * The axis rule every training path shares: tfjs 4.22 applies the statistics along the last axis
 * whatever `axis` says (and the fused step's unit is written for it), so another axis would train
 * something other than what Keras does. `axis` is as written; `rank` includes the batch axis.
 */
export function normalizesLastAxis(cfg: Cfg, rank: number): boolean {
  return normalizedAxis(cfg, rank) === rank - 1;
}

export const batchNormalization = defineKit({
  class_name: 'BatchNormalization',
  palette: { category: 'norm', blurb: 'Standardize, then γ, β', glyph: 'BN' },
  defaults: () => ({
    axis: -1,
    momentum: 0.99,
    epsilon: 0.001,
    center: true,
    scale: true,
    beta_initializer: zeros(),
    gamma_initializer: ones(),
    moving_mean_initializer: zeros(),
    moving_variance_initializer: ones(),
  }),
  required: [],
  caption: (c, f) => [`momentum ${f.value(c.momentum ?? 0.99)}`, `ε ${f.value(c.epsilon ?? 0.001)}`],
  shapeFields: ['axis', 'center', 'scale'],
  initializerFields: INITIALIZERS,
  fields: {
    axis: { kind: 'int', step: 1, hint: 'The feature axis to normalise (-1: the last one)', type: AXIS_TYPE },
    momentum: { kind: 'float', step: 0.01, hint: 'Momentum of the moving mean and variance (typically 0.9, 0.99, 0.999)' },
    moving_mean_initializer: { kind: 'initializer', hint: 'Initial moving mean', advanced: true },
    moving_variance_initializer: { kind: 'initializer', hint: 'Initial moving variance', advanced: true },
  },
  validate: (cfg, report) => {
    checkSingleAxis(cfg, report);
    const m = cfg.momentum;
    if (typeof m !== 'number' || !Number.isFinite(m) || m < 0 || m > 1) report('momentum', `momentum must be a number in [0, 1], got ${describeValue(m)}`);
    checkEpsilonCenterScale(cfg, report);
    checkInitializers(INITIALIZERS, cfg, report);
  },
  build: (cfg, input, report) => {
    const n = featureAxisSize(cfg, input, report);
    if (n === null) return null;
    const variables = gammaBeta(cfg, n);
    variables.push(variable(cfg, 'moving_mean', [n], false, 'moving_mean_initializer'));
    variables.push(variable(cfg, 'moving_variance', [n], false, 'moving_variance_initializer'));
    return { output_shape: [...input], variables };
  },
  unsupportedIfSet: {
    renorm: 'batch renormalization is not supported',
    virtual_batch_size: 'virtual_batch_size is not supported',
    adjustment: 'adjustment is not supported',
  },
  kerasNulls: ['beta_regularizer', 'gamma_regularizer', 'beta_constraint', 'gamma_constraint'],
  onnxLayout: 'either',
  onnx: (cfg, name, e) => {
    const rank = e.input_shape.length;
    const axis = normalizedAxis(cfg, rank);
    const n = e.input_shape[axis] as number;
    const mean = e.weight('moving_mean')!.data;
    const variance = e.weight('moving_variance')!.data;
    const gamma = e.weight('gamma')?.data;
    const beta = e.weight('beta')?.data;
    // y = (x - mean) · gamma/√(var + ε) + beta, with the factor folded as TF.js computes it.
    const factor = new Float32Array(n);
    for (let i = 0; i < n; i++) factor[i] = (gamma ? gamma[i]! : 1) / Math.sqrt(variance[i]! + (cfg.epsilon as number));
    // The axis in the tensor's current layout (a NCHW tensor holds Keras axis 3 at 1, 1 at 2, 2 at 3).
    const at = e.nchw ? [0, 2, 3, 1][axis]! : axis;
    const dims = Array.from({ length: rank }, (_, i) => (i === at ? n : 1));
    let out = e.node('Sub', [e.input, e.floats(`${name}/moving_mean`, dims, mean)], `${name}/center`);
    out = e.node('Mul', [out, e.floats(`${name}/scale`, dims, factor)], `${name}/scale`);
    return beta ? e.node('Add', [out, e.floats(`${name}/beta`, dims, beta)], `${name}/shift`) : out;
  },
  pythonCall: (cfg) => ({
    class_name: 'BatchNormalization',
    args: normalizationArgs(cfg, ['momentum', 'epsilon', 'center', 'scale', 'beta_initializer', 'gamma_initializer', 'moving_mean_initializer', 'moving_variance_initializer']),
  }),
  supports: (_path, cfg, input) =>
    normalizesLastAxis(cfg, input.length)
      ? null
      : { field: 'axis', message: `TensorFlow.js normalises only along the last axis; set axis to -1 (the summary shows what Keras would do)` },
});
