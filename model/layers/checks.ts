/** Value and shape checks the layer kits share. Nothing here throws: problems are reported by field. */
import { describeValue, validateInitializer } from '../initializers';
import { canonicalConstraint, validateRegularizer } from '../regularizers';
import type { Cfg, Dim, LayerBuild, Report, Shape, VariableInfo } from './kit';

/** Activation names accepted in a spec (Keras names). */
export const ACTIVATIONS = ['linear', 'relu', 'elu', 'selu', 'leaky_relu', 'tanh', 'sigmoid', 'softmax', 'swish', 'silu'] as const;
export type ActivationName = (typeof ACTIVATIONS)[number];

/** Keras' negative slope of the `leaky_relu` activation function. */
export const LEAKY_RELU_SLOPE = 0.2;

/** Upper bounds that keep a model buildable in a browser tab. */
export const LIMITS = { units: 100_000, filters: 100_000, dim: 1_000_000, window: 1_000, layerParams: 200_000_000 } as const;

export const init = (class_name: string, config: Cfg = {}) => ({ class_name, config });
export const glorotUniform = () => init('GlorotUniform', { seed: null });
export const zeros = () => init('Zeros');
export const ones = () => init('Ones');

export const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

export function checkPositiveInt(cfg: Cfg, field: string, max: number, report: Report): boolean {
  const v = cfg[field];
  if (!isInt(v) || v < 1) {
    report(field, `${field} must be a positive whole number, got ${describeValue(v)}`);
    return false;
  }
  if (v > max) {
    report(field, `${field} = ${v} is too large (at most ${max.toLocaleString('en-US')})`);
    return false;
  }
  return true;
}

export function checkRate(cfg: Cfg, report: Report): void {
  const v = cfg.rate;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v >= 1) {
    report('rate', `rate must be a number in [0, 1), got ${describeValue(v)}`);
  }
}

export function checkBool(cfg: Cfg, field: string, report: Report): void {
  if (typeof cfg[field] !== 'boolean') report(field, `${field} must be true or false, got ${describeValue(cfg[field])}`);
}

/** epsilon, center and scale, as the normalization layers share them. */
export function checkEpsilonCenterScale(cfg: Cfg, report: Report): void {
  const e = cfg.epsilon;
  if (typeof e !== 'number' || !Number.isFinite(e) || e <= 0) report('epsilon', `epsilon must be a positive number, got ${describeValue(e)}`);
  checkBool(cfg, 'center', report);
  checkBool(cfg, 'scale', report);
}

/** A normalization layer's gamma (with scale) and beta (with center) over `n` features, in Keras' order. */
export function gammaBeta(cfg: Cfg, n: number): VariableInfo[] {
  const variables: VariableInfo[] = [];
  if (cfg.scale) variables.push(variable(cfg, 'gamma', [n], true, 'gamma_initializer'));
  if (cfg.center) variables.push(variable(cfg, 'beta', [n], true, 'beta_initializer'));
  return variables;
}

export function checkPair(cfg: Cfg, field: string, report: Report, max: number = LIMITS.window): boolean {
  const v = cfg[field];
  if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => isInt(x) && x >= 1)) {
    report(field, `${field} must be a positive whole number or a pair of them, got ${describeValue(v)}`);
    return false;
  }
  if (v.some((x) => x > max)) {
    report(field, `${field} ${describeValue(v)} is too large (at most ${max})`);
    return false;
  }
  return true;
}

export function checkPadding(cfg: Cfg, report: Report): void {
  if (cfg.padding !== 'valid' && cfg.padding !== 'same') report('padding', `padding must be 'valid' or 'same', got ${describeValue(cfg.padding)}`);
}

export function checkDataFormat(cfg: Cfg, report: Report): void {
  if (cfg.data_format === 'channels_first') report('data_format', `data_format 'channels_first' is not supported (TF.js CPU/WebGL convolutions are channels_last)`);
  else if (cfg.data_format !== 'channels_last') report('data_format', `data_format must be 'channels_last', got ${describeValue(cfg.data_format)}`);
}

export function checkActivation(value: unknown, field: string, report: Report, inLayer: 'Activation' | 'Dense' | 'Conv2D'): void {
  if (typeof value !== 'string' || !(ACTIVATIONS as readonly string[]).includes(value)) {
    report(field, `unknown activation ${describeValue(value)} (supported: ${ACTIVATIONS.join(', ')})`);
  } else if (value === 'leaky_relu' && inLayer !== 'Activation') {
    report(field, `TF.js has no 'leaky_relu' activation function: use activation 'linear' here and add an Activation('leaky_relu') layer after it`);
  }
}

export function checkInitializers(fields: readonly string[], cfg: Cfg, report: Report): void {
  for (const f of fields) {
    const m = validateInitializer(cfg[f]);
    if (m) report(f, `${f}: ${m}`);
  }
}

/** kernel_regularizer (L1/L2/L1L2) and kernel_constraint (MaxNorm): Keras' names, null for none. */
export function checkKernelPenalties(cfg: Cfg, kernelRank: number, report: Report): void {
  const r = validateRegularizer(cfg.kernel_regularizer);
  if (r) report('kernel_regularizer', `kernel_regularizer: ${r}`);
  const c = canonicalConstraint(cfg.kernel_constraint);
  if (!c.ok) report('kernel_constraint', `kernel_constraint: ${c.message}`);
  else if (c.value && (c.value.config.axis >= kernelRank || c.value.config.axis < -kernelRank)) {
    report('kernel_constraint', `kernel_constraint: axis ${c.value.config.axis} is out of range for the rank-${kernelRank} kernel (use 0..${kernelRank - 1})`);
  }
}

export function checkSeedAndNoise(cfg: Cfg, report: Report): void {
  if (cfg.noise_shape !== null && cfg.noise_shape !== undefined) report('noise_shape', `noise_shape is not supported (must be null), got ${describeValue(cfg.noise_shape)}`);
  if (cfg.seed !== null && cfg.seed !== undefined && !(isInt(cfg.seed) && cfg.seed >= 0))
    report('seed', `seed must be null or a non-negative whole number, got ${describeValue(cfg.seed)}`);
}

/** An axis setting: a whole number, or a list of one as Keras 2 writes BatchNormalization's. */
export function checkSingleAxis(cfg: Cfg, report: Report): void {
  const a = cfg.axis;
  if (!isInt(a) && !(Array.isArray(a) && a.length === 1 && isInt(a[0]))) {
    report('axis', `axis must be a whole number (or a list of one, as Keras 2 writes it), got ${describeValue(a)}`);
  }
}

/** The axis setting as written (Keras 2's list of one unwrapped). */
export const rawAxis = (cfg: Cfg): number => Number(Array.isArray(cfg.axis) ? cfg.axis[0] : (cfg.axis ?? -1));

/** A (possibly negative) axis of a rank-`rank` input, counted from 0 (the batch axis). */
export const normalizedAxis = (cfg: Cfg, rank: number): number => {
  const raw = rawAxis(cfg);
  return raw < 0 ? rank + raw : raw;
};

/** The size of the feature axis a normalization layer works on, or null with the problem reported. */
export function featureAxisSize(cfg: Cfg, input: Shape, report: Report): number | null {
  const raw = rawAxis(cfg);
  const rank = input.length;
  const axis = normalizedAxis(cfg, rank);
  if (axis === 0) {
    report('axis', `axis ${raw} is the batch axis; normalize a feature axis (1..${rank - 1} or -1..-${rank - 1})`);
    return null;
  }
  if (axis < 0 || axis >= rank) {
    report('axis', `axis ${raw} is out of range for input ${formatShape(input)} (use 1..${rank - 1} or -1..-${rank - 1})`);
    return null;
  }
  const n = input[axis];
  if (n === null || n === undefined) {
    report('axis', `axis ${raw} of input ${formatShape(input)} has unknown size`);
    return null;
  }
  return n;
}

// ---------- shape helpers ----------

export function formatShape(shape: Shape | null): string {
  if (!shape) return '?';
  const dims = shape.map((d) => (d === null ? 'None' : String(d)));
  return dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
}

export const product = (xs: readonly number[]) => xs.reduce((a, b) => a * b, 1);

export function variable(cfg: Cfg, suffix: string, shape: number[], trainable: boolean, initializer_field: string): VariableInfo {
  return { name: `${cfg.name}/${suffix}`, shape, trainable: trainable && cfg.trainable !== false, initializer_field };
}

export const identity = (_cfg: Cfg, input: Shape): LayerBuild => ({ output_shape: [...input], variables: [] });

/** Keras' conv_output_length (same for pooling with dilation 1); null stays null. */
export function convOutputLength(input: Dim, window: number, padding: 'valid' | 'same', stride: number, dilation = 1): Dim {
  if (input === null) return null;
  const dilated = window + (window - 1) * (dilation - 1);
  const length = padding === 'same' ? input : input - dilated + 1;
  return Math.floor((length + stride - 1) / stride);
}

export function requireRank(input: Shape, rank: number, what: string, report: Report): boolean {
  if (input.length !== rank) {
    report(undefined, `${what} needs input of rank ${rank} (batch, height, width, channels), got ${formatShape(input)}`);
    return false;
  }
  return true;
}

export function spatialOutput(cfg: Cfg, input: Shape, window: number[], strides: number[], dilation: number[], what: 'kernel_size' | 'pool_size', report: Report): Shape | null {
  const padding = cfg.padding as 'valid' | 'same';
  const out: Dim[] = [];
  for (let i = 0; i < 2; i++) {
    const o = convOutputLength(input[i + 1]!, window[i]!, padding, strides[i]!, dilation[i]!);
    if (o !== null && o < 1) {
      const dilated = dilation.some((d) => d > 1) ? ` (${window.map((k, j) => k + (k - 1) * (dilation[j]! - 1)).join('×')} dilated)` : '';
      report(what, `${what} ${window.join('×')}${dilated} is larger than the ${input[1] ?? '?'}×${input[2] ?? '?'} input with padding 'valid'`);
      return null;
    }
    out.push(o);
  }
  return out;
}

/** Keras' defaults shared by the layers with a kernel and a bias (Dense, Conv2D), in Keras' order. */
export const kernelLayerDefaults = () => ({
  activation: 'linear',
  use_bias: true,
  kernel_initializer: glorotUniform(),
  bias_initializer: zeros(),
  kernel_regularizer: null,
  kernel_constraint: null,
});

/** Keras 2 config fields of a kernel layer the app keeps null (a .h5's model_config writes them). */
export const KERNEL_LAYER_NULLS = ['kernel_regularizer', 'bias_regularizer', 'activity_regularizer', 'kernel_constraint', 'bias_constraint'];

/** A Keras script's keyword arguments: each of `fields` with its value in the config, in order. */
export function pythonArgs(cfg: Cfg, fields: string[]): [string, unknown][] {
  return fields.map((field) => [field, cfg[field]]);
}

/** BatchNormalization's and LayerNormalization's arguments: the axis as one number, then `fields`. */
export function normalizationArgs(cfg: Cfg, fields: string[]): [string, unknown][] {
  return [['axis', rawAxis(cfg)], ...pythonArgs(cfg, fields)];
}
