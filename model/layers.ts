/**
 * The per-layer registry: Keras defaults, validation of every setting, output shape from input
 * shape, and the variables Keras creates (name, shape, trainable) for Flatten, Reshape, Dense,
 * BatchNormalization, Activation, Dropout, AlphaDropout, Conv2D and MaxPooling2D.
 *
 * Shapes include the batch dimension (null when unknown), as Keras prints them.
 * Nothing here throws on bad values: problems come back as issues naming the field.
 * Pure TypeScript: no TF.js import.
 */
import type { LayerSpec, ModelSpec } from './spec';
import { canonicalInitializer, describeValue, validateInitializer } from './initializers';
import { canonicalConstraint, canonicalRegularizer, validateRegularizer } from './regularizers';

export type Dim = number | null;
/** A shape including the batch dimension, e.g. [null, 28, 28]. */
export type Shape = Dim[];

export interface LayerIssue {
  field?: string;
  message: string;
}

export interface VariableInfo {
  /** Keras' variable name, e.g. `dense/kernel`, `batch_normalization/moving_mean`. */
  name: string;
  shape: number[];
  trainable: boolean;
  /** The config field holding its initializer, e.g. `kernel_initializer`. */
  initializer_field: string;
}

export interface LayerBuild {
  output_shape: Shape;
  variables: VariableInfo[];
}

/** Activation names accepted in a spec (Keras names). */
export const ACTIVATIONS = ['linear', 'relu', 'elu', 'selu', 'leaky_relu', 'tanh', 'sigmoid', 'softmax', 'swish', 'silu'] as const;
export type ActivationName = (typeof ACTIVATIONS)[number];

/**
 * Activation names TF.js (tfjs-layers 4.22) registers under another name. TF.js has no `silu` (it is
 * `swish`) and no `leaky_relu` activation function at all: an Activation('leaky_relu') layer is exported
 * as TF.js' LeakyReLU layer with alpha 0.2 (Keras' leaky_relu slope); as the activation of a Dense or
 * Conv2D layer it cannot be exported and is reported as an error.
 */
export const TFJS_ACTIVATION_NAMES: Readonly<Record<string, string>> = { silu: 'swish' };
/** Keras' negative slope of the `leaky_relu` activation function. */
export const LEAKY_RELU_SLOPE = 0.2;

export const SUPPORTED_LAYERS = ['Flatten', 'Reshape', 'Dense', 'BatchNormalization', 'Activation', 'Dropout', 'AlphaDropout', 'Conv2D', 'MaxPooling2D'] as const;
export type SupportedLayer = (typeof SUPPORTED_LAYERS)[number];

/** Upper bounds that keep a model buildable in a browser tab. */
export const LIMITS = { units: 100_000, filters: 100_000, dim: 1_000_000, window: 1_000, layerParams: 200_000_000 } as const;

type Cfg = Record<string, unknown>;
type Report = (field: string | undefined, message: string) => void;

interface LayerDef {
  class_name: SupportedLayer;
  /** Keras' defaults for the layer's own settings (name and trainable are common to all). */
  defaults: () => Cfg;
  /** Settings without a default. */
  required: string[];
  /** Settings the output shape depends on: while one is invalid, no shape is computed. */
  shapeFields: string[];
  /** Fields holding initializers, in Keras' weight order. */
  initializerFields: string[];
  validate: (cfg: Cfg, report: Report) => void;
  /** Output shape and variables; shape-dependent problems are reported and give null. */
  build: (cfg: Cfg, input: Shape, report: Report) => LayerBuild | null;
}

const init = (class_name: string, config: Cfg = {}) => ({ class_name, config });
const glorotUniform = () => init('GlorotUniform', { seed: null });
const zeros = () => init('Zeros');
const ones = () => init('Ones');

// ---------- value checks ----------

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

function checkPositiveInt(cfg: Cfg, field: string, max: number, report: Report): boolean {
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

function checkRate(cfg: Cfg, report: Report): void {
  const v = cfg.rate;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v >= 1) {
    report('rate', `rate must be a number in [0, 1), got ${describeValue(v)}`);
  }
}

function checkBool(cfg: Cfg, field: string, report: Report): void {
  if (typeof cfg[field] !== 'boolean') report(field, `${field} must be true or false, got ${describeValue(cfg[field])}`);
}

function checkPair(cfg: Cfg, field: string, report: Report, max: number = LIMITS.window): boolean {
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

function checkPadding(cfg: Cfg, report: Report): void {
  if (cfg.padding !== 'valid' && cfg.padding !== 'same') report('padding', `padding must be 'valid' or 'same', got ${describeValue(cfg.padding)}`);
}

function checkDataFormat(cfg: Cfg, report: Report): void {
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

function checkInitializers(def: LayerDef, cfg: Cfg, report: Report): void {
  for (const f of def.initializerFields) {
    const m = validateInitializer(cfg[f]);
    if (m) report(f, `${f}: ${m}`);
  }
}

/** kernel_regularizer (L1/L2/L1L2) and kernel_constraint (MaxNorm): Keras' names, null for none. */
function checkKernelPenalties(cfg: Cfg, kernelRank: number, report: Report): void {
  const r = validateRegularizer(cfg.kernel_regularizer);
  if (r) report('kernel_regularizer', `kernel_regularizer: ${r}`);
  const c = canonicalConstraint(cfg.kernel_constraint);
  if (!c.ok) report('kernel_constraint', `kernel_constraint: ${c.message}`);
  else if (c.value && (c.value.config.axis >= kernelRank || c.value.config.axis < -kernelRank)) {
    report('kernel_constraint', `kernel_constraint: axis ${c.value.config.axis} is out of range for the rank-${kernelRank} kernel (use 0..${kernelRank - 1})`);
  }
}

function checkSeedAndNoise(cfg: Cfg, report: Report): void {
  if (cfg.noise_shape !== null && cfg.noise_shape !== undefined) report('noise_shape', `noise_shape is not supported (must be null), got ${describeValue(cfg.noise_shape)}`);
  if (cfg.seed !== null && cfg.seed !== undefined && !(isInt(cfg.seed) && cfg.seed >= 0)) report('seed', `seed must be null or a non-negative whole number, got ${describeValue(cfg.seed)}`);
}

// ---------- shape helpers ----------

export function formatShape(shape: Shape | null): string {
  if (!shape) return '?';
  const dims = shape.map((d) => (d === null ? 'None' : String(d)));
  return dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
}

const product = (xs: readonly number[]) => xs.reduce((a, b) => a * b, 1);

function variable(cfg: Cfg, suffix: string, shape: number[], trainable: boolean, initializer_field: string): VariableInfo {
  return { name: `${cfg.name}/${suffix}`, shape, trainable: trainable && cfg.trainable !== false, initializer_field };
}

/** Keras' conv_output_length (same for pooling with dilation 1); null stays null. */
export function convOutputLength(input: Dim, window: number, padding: 'valid' | 'same', stride: number, dilation = 1): Dim {
  if (input === null) return null;
  const dilated = window + (window - 1) * (dilation - 1);
  const length = padding === 'same' ? input : input - dilated + 1;
  return Math.floor((length + stride - 1) / stride);
}

function requireRank(input: Shape, rank: number, what: string, report: Report): boolean {
  if (input.length !== rank) {
    report(undefined, `${what} needs input of rank ${rank} (batch, height, width, channels), got ${formatShape(input)}`);
    return false;
  }
  return true;
}

function spatialOutput(cfg: Cfg, input: Shape, window: number[], strides: number[], dilation: number[], what: 'kernel_size' | 'pool_size', report: Report): Shape | null {
  const padding = cfg.padding as 'valid' | 'same';
  const out: Dim[] = [];
  for (let i = 0; i < 2; i++) {
    const o = convOutputLength(input[i + 1], window[i], padding, strides[i], dilation[i]);
    if (o !== null && o < 1) {
      const dilated = dilation.some((d) => d > 1) ? ` (${window.map((k, j) => k + (k - 1) * (dilation[j] - 1)).join('×')} dilated)` : '';
      report(what, `${what} ${window.join('×')}${dilated} is larger than the ${input[1] ?? '?'}×${input[2] ?? '?'} input with padding 'valid'`);
      return null;
    }
    out.push(o);
  }
  return out;
}

// ---------- the registry ----------

const identity = (_cfg: Cfg, input: Shape): LayerBuild => ({ output_shape: [...input], variables: [] });

/** Keras' defaults shared by the layers with a kernel and a bias (Dense, Conv2D), in Keras' order. */
const kernelLayerDefaults = () => ({
  activation: 'linear',
  use_bias: true,
  kernel_initializer: glorotUniform(),
  bias_initializer: zeros(),
  kernel_regularizer: null,
  kernel_constraint: null,
});

const dropoutDef = (class_name: 'Dropout' | 'AlphaDropout'): LayerDef => ({
  class_name,
  defaults: () => ({ rate: 0.5, noise_shape: null, seed: null }),
  required: ['rate'],
  shapeFields: [],
  initializerFields: [],
  validate: (cfg, report) => {
    checkRate(cfg, report);
    checkSeedAndNoise(cfg, report);
  },
  build: identity,
});

export const LAYER_DEFS: Readonly<Record<SupportedLayer, LayerDef>> = {
  Flatten: {
    class_name: 'Flatten',
    defaults: () => ({ data_format: 'channels_last' }),
    required: [],
    shapeFields: ['data_format'],
    initializerFields: [],
    validate: (cfg, report) => checkDataFormat(cfg, report),
    build: (_cfg, input) => {
      const rest = input.slice(1);
      return { output_shape: [input[0], rest.some((d) => d === null) ? null : product(rest as number[])], variables: [] };
    },
  },
  Reshape: {
    class_name: 'Reshape',
    defaults: () => ({}),
    required: ['target_shape'],
    shapeFields: ['target_shape'],
    initializerFields: [],
    validate: (cfg, report) => {
      const t = cfg.target_shape;
      if (!Array.isArray(t) || t.length === 0 || !t.every((d) => isInt(d) && (d >= 1 || d === -1))) {
        report('target_shape', `target_shape must be a non-empty list of positive whole numbers (one may be -1), got ${describeValue(t)}`);
      } else if (t.filter((d) => d === -1).length > 1) {
        report('target_shape', `target_shape may contain -1 only once, got ${describeValue(t)}`);
      } else if (t.some((d) => d > LIMITS.dim)) {
        report('target_shape', `target_shape ${describeValue(t)} has a dimension larger than ${LIMITS.dim.toLocaleString('en-US')}`);
      }
    },
    build: (cfg, input, report) => {
      const target = cfg.target_shape as number[];
      const rest = input.slice(1);
      if (rest.some((d) => d === null)) {
        return { output_shape: [input[0], ...target.map((d) => (d === -1 ? null : d))], variables: [] };
      }
      const size = product(rest as number[]);
      const known = product(target.filter((d) => d !== -1));
      if (target.includes(-1)) {
        if (size % known !== 0) {
          report('target_shape', `cannot reshape ${formatShape(input)} (${size} values) into ${describeValue(target)}: ${size} is not a multiple of ${known}`);
          return null;
        }
        return { output_shape: [input[0], ...target.map((d) => (d === -1 ? size / known : d))], variables: [] };
      }
      if (known !== size) {
        report('target_shape', `cannot reshape ${formatShape(input)} (${size} values) into ${describeValue(target)} (${known} values)`);
        return null;
      }
      return { output_shape: [input[0], ...target], variables: [] };
    },
  },
  Dense: {
    class_name: 'Dense',
    defaults: () => kernelLayerDefaults(),
    required: ['units'],
    shapeFields: ['units', 'use_bias'],
    initializerFields: ['kernel_initializer', 'bias_initializer'],
    validate: (cfg, report) => {
      checkPositiveInt(cfg, 'units', LIMITS.units, report);
      checkActivation(cfg.activation, 'activation', report, 'Dense');
      checkBool(cfg, 'use_bias', report);
      checkInitializers(LAYER_DEFS.Dense, cfg, report);
      checkKernelPenalties(cfg, 2, report);
    },
    build: (cfg, input, report) => {
      const last = input[input.length - 1];
      if (input.length < 2 || last === null) {
        report(undefined, `Dense needs an input whose last dimension is known, got ${formatShape(input)}`);
        return null;
      }
      const units = cfg.units as number;
      const variables = [variable(cfg, 'kernel', [last, units], true, 'kernel_initializer')];
      if (cfg.use_bias) variables.push(variable(cfg, 'bias', [units], true, 'bias_initializer'));
      return { output_shape: [...input.slice(0, -1), units], variables };
    },
  },
  BatchNormalization: {
    class_name: 'BatchNormalization',
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
    shapeFields: ['axis', 'center', 'scale'],
    initializerFields: ['gamma_initializer', 'beta_initializer', 'moving_mean_initializer', 'moving_variance_initializer'],
    validate: (cfg, report) => {
      const a = cfg.axis;
      if (!isInt(a) && !(Array.isArray(a) && a.length === 1 && isInt(a[0]))) {
        report('axis', `axis must be a whole number (or a list of one, as Keras 2 writes it), got ${describeValue(a)}`);
      }
      const m = cfg.momentum;
      if (typeof m !== 'number' || !Number.isFinite(m) || m < 0 || m > 1) report('momentum', `momentum must be a number in [0, 1], got ${describeValue(m)}`);
      const e = cfg.epsilon;
      if (typeof e !== 'number' || !Number.isFinite(e) || e <= 0) report('epsilon', `epsilon must be a positive number, got ${describeValue(e)}`);
      checkBool(cfg, 'center', report);
      checkBool(cfg, 'scale', report);
      checkInitializers(LAYER_DEFS.BatchNormalization, cfg, report);
    },
    build: (cfg, input, report) => {
      const raw = (Array.isArray(cfg.axis) ? cfg.axis[0] : cfg.axis) as number;
      const rank = input.length;
      const axis = raw < 0 ? rank + raw : raw;
      if (axis === 0) {
        report('axis', `axis ${raw} is the batch axis; normalize a feature axis (1..${rank - 1} or -1..-${rank - 1})`);
        return null;
      }
      if (axis < 0 || axis >= rank) {
        report('axis', `axis ${raw} is out of range for input ${formatShape(input)} (use 1..${rank - 1} or -1..-${rank - 1})`);
        return null;
      }
      const n = input[axis];
      if (n === null) {
        report('axis', `axis ${raw} of input ${formatShape(input)} has unknown size`);
        return null;
      }
      const variables: VariableInfo[] = [];
      if (cfg.scale) variables.push(variable(cfg, 'gamma', [n], true, 'gamma_initializer'));
      if (cfg.center) variables.push(variable(cfg, 'beta', [n], true, 'beta_initializer'));
      variables.push(variable(cfg, 'moving_mean', [n], false, 'moving_mean_initializer'));
      variables.push(variable(cfg, 'moving_variance', [n], false, 'moving_variance_initializer'));
      return { output_shape: [...input], variables };
    },
  },
  Activation: {
    class_name: 'Activation',
    defaults: () => ({}),
    required: ['activation'],
    shapeFields: [],
    initializerFields: [],
    validate: (cfg, report) => checkActivation(cfg.activation, 'activation', report, 'Activation'),
    build: identity,
  },
  Dropout: dropoutDef('Dropout'),
  AlphaDropout: dropoutDef('AlphaDropout'),
  Conv2D: {
    class_name: 'Conv2D',
    defaults: () => ({
      strides: [1, 1],
      padding: 'valid',
      data_format: 'channels_last',
      dilation_rate: [1, 1],
      groups: 1,
      ...kernelLayerDefaults(),
    }),
    required: ['filters', 'kernel_size'],
    shapeFields: ['filters', 'kernel_size', 'strides', 'padding', 'data_format', 'dilation_rate', 'groups', 'use_bias'],
    initializerFields: ['kernel_initializer', 'bias_initializer'],
    validate: (cfg, report) => {
      checkPositiveInt(cfg, 'filters', LIMITS.filters, report);
      checkPair(cfg, 'kernel_size', report);
      const stridesOk = checkPair(cfg, 'strides', report);
      checkPadding(cfg, report);
      checkDataFormat(cfg, report);
      const dilationOk = checkPair(cfg, 'dilation_rate', report);
      if (stridesOk && dilationOk && (cfg.strides as number[]).some((s) => s > 1) && (cfg.dilation_rate as number[]).some((d) => d > 1)) {
        report('dilation_rate', `strides > 1 cannot be combined with dilation_rate > 1 (Keras rejects it)`);
      }
      if (cfg.groups !== 1) report('groups', `groups must be 1 (TF.js has no grouped convolutions), got ${describeValue(cfg.groups)}`);
      checkActivation(cfg.activation, 'activation', report, 'Conv2D');
      checkBool(cfg, 'use_bias', report);
      checkInitializers(LAYER_DEFS.Conv2D, cfg, report);
      checkKernelPenalties(cfg, 4, report);
    },
    build: (cfg, input, report) => {
      if (!requireRank(input, 4, 'Conv2D', report)) return null;
      const channels = input[3];
      if (channels === null) {
        report(undefined, `Conv2D needs a known number of input channels, got ${formatShape(input)}`);
        return null;
      }
      const k = cfg.kernel_size as number[];
      const spatial = spatialOutput(cfg, input, k, cfg.strides as number[], cfg.dilation_rate as number[], 'kernel_size', report);
      if (!spatial) return null;
      const filters = cfg.filters as number;
      const variables = [variable(cfg, 'kernel', [k[0], k[1], channels, filters], true, 'kernel_initializer')];
      if (cfg.use_bias) variables.push(variable(cfg, 'bias', [filters], true, 'bias_initializer'));
      return { output_shape: [input[0], ...spatial, filters], variables };
    },
  },
  MaxPooling2D: {
    class_name: 'MaxPooling2D',
    defaults: () => ({ pool_size: [2, 2], strides: null, padding: 'valid', data_format: 'channels_last' }),
    required: [],
    shapeFields: ['pool_size', 'strides', 'padding', 'data_format'],
    initializerFields: [],
    validate: (cfg, report) => {
      checkPair(cfg, 'pool_size', report);
      if (cfg.strides !== null) checkPair(cfg, 'strides', report);
      checkPadding(cfg, report);
      checkDataFormat(cfg, report);
    },
    build: (cfg, input, report) => {
      if (!requireRank(input, 4, 'MaxPooling2D', report)) return null;
      const pool = cfg.pool_size as number[];
      const strides = (cfg.strides as number[] | null) ?? pool;
      const spatial = spatialOutput(cfg, input, pool, strides, [1, 1], 'pool_size', report);
      if (!spatial) return null;
      return { output_shape: [input[0], ...spatial, input[3]], variables: [] };
    },
  },
};

export function isSupportedLayer(class_name: unknown): class_name is SupportedLayer {
  return typeof class_name === 'string' && (SUPPORTED_LAYERS as readonly string[]).includes(class_name);
}

/** Keras' default config of a layer type (without name), or undefined for unsupported types. */
export function layerDefaults(class_name: string): Cfg | undefined {
  return isSupportedLayer(class_name) ? { trainable: true, ...LAYER_DEFS[class_name].defaults() } : undefined;
}

/** The settings a layer type knows (name, trainable, batch_input_shape, its defaults and required ones). */
export function knownLayerFields(class_name: SupportedLayer): string[] {
  const d = LAYER_DEFS[class_name];
  return ['name', 'trainable', 'batch_input_shape', ...d.required, ...Object.keys(d.defaults())];
}

const PAIR_FIELDS = ['kernel_size', 'strides', 'dilation_rate', 'pool_size'];

/**
 * The layer with Keras' defaults filled in: `trainable: true`, each type's defaults, initializers in
 * canonical Keras form (`lecun_normal` / TF.js `LeCunNormal` → `{class_name: 'LecunNormal', config: {seed: null}}`),
 * and single numbers for kernel_size/strides/dilation_rate/pool_size written as pairs, as Keras'
 * get_config does. Unknown layer types and unrecognised values are left as they are for validation
 * to report. Never throws.
 */
export function withDefaults(layer: LayerSpec): LayerSpec {
  const given: Cfg = layer && typeof layer.config === 'object' && layer.config !== null ? layer.config : ({} as Cfg);
  const defaults = layerDefaults(layer?.class_name);
  if (!defaults) return { class_name: layer?.class_name, config: { ...given } as LayerSpec['config'] };
  const config: Cfg = { name: given.name, ...defaults };
  for (const [k, v] of Object.entries(given)) if (v !== undefined) config[k] = v;
  const def = LAYER_DEFS[layer.class_name as SupportedLayer];
  for (const f of def.initializerFields) {
    const c = canonicalInitializer(config[f]);
    if (c.ok) config[f] = c.value;
  }
  for (const f of PAIR_FIELDS) if (typeof config[f] === 'number') config[f] = [config[f], config[f]];
  if ('kernel_regularizer' in config) {
    const r = canonicalRegularizer(config.kernel_regularizer);
    if (r.ok) config.kernel_regularizer = r.value;
  }
  if ('kernel_constraint' in config) {
    const c = canonicalConstraint(config.kernel_constraint);
    if (c.ok) config.kernel_constraint = c.value;
  }
  return { class_name: layer.class_name, config: config as LayerSpec['config'] };
}

/** The spec with withDefaults applied to every layer. */
export function specWithDefaults(spec: ModelSpec): ModelSpec {
  return { class_name: 'Sequential', config: { name: spec.config.name, layers: spec.config.layers.map(withDefaults) } };
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Validates a layer's settings that do not depend on its input (input-dependent problems come from
 * buildLayer). Works on the layer as given; defaults are filled in first.
 */
export function validateLayer(layer: LayerSpec): LayerIssue[] {
  const issues: LayerIssue[] = [];
  const report: Report = (field, message) => issues.push(field === undefined ? { message } : { field, message });
  if (!isSupportedLayer(layer?.class_name)) {
    const cn = layer?.class_name;
    report(
      'class_name',
      cn === 'InputLayer'
        ? `InputLayer is not a layer of a spec: put its shape in the first layer's batch_input_shape`
        : `unsupported layer type ${describeValue(cn)} (supported: ${SUPPORTED_LAYERS.join(', ')})`,
    );
    return issues;
  }
  const cfg = withDefaults(layer).config as Cfg;
  if (typeof cfg.name !== 'string' || !NAME_RE.test(cfg.name)) {
    report('name', `name must start with a letter or digit and contain only letters, digits, '.', '_' or '-', got ${describeValue(cfg.name)}`);
  }
  if (typeof cfg.trainable !== 'boolean') report('trainable', `trainable must be true or false, got ${describeValue(cfg.trainable)}`);
  LAYER_DEFS[layer.class_name as SupportedLayer].validate(cfg, report);
  return issues;
}

/** Validates a batch_input_shape ([batch, ...dims], batch null or a whole number); null when valid. */
export function validateBatchInputShape(v: unknown): string | null {
  if (v === undefined || v === null) return `the first layer needs batch_input_shape (the input shape, e.g. [null, 28, 28])`;
  if (!Array.isArray(v) || v.length < 2) return `batch_input_shape must be a list [batch, ...dims] with at least one dimension after the batch, got ${describeValue(v)}`;
  const bad = v.findIndex((d) => !(d === null || (isInt(d) && d >= 1 && d <= LIMITS.dim)));
  if (bad >= 0) {
    return `batch_input_shape ${describeValue(v)}: dimension ${bad} must be null or a positive whole number up to ${LIMITS.dim.toLocaleString('en-US')}, got ${describeValue(v[bad])}`;
  }
  return null;
}

export interface LayerResult {
  output_shape: Shape | null;
  variables: VariableInfo[];
  params: number;
  trainable_params: number;
  non_trainable_params: number;
  issues: LayerIssue[];
}

/**
 * Validates a layer and computes its output shape and variables for an input shape (with batch dim).
 * Issues in settings the shape depends on leave output_shape null; others (a bad activation, say)
 * still give the shape and parameter counts.
 */
export function buildLayer(layer: LayerSpec, input: Shape): LayerResult {
  const issues = validateLayer(layer);
  const empty: LayerResult = { output_shape: null, variables: [], params: 0, trainable_params: 0, non_trainable_params: 0, issues };
  if (!isSupportedLayer(layer?.class_name)) return empty;
  const def = LAYER_DEFS[layer.class_name];
  if (issues.some((i) => i.field !== undefined && def.shapeFields.includes(i.field))) return empty;
  const cfg = withDefaults(layer).config as Cfg;
  const report: Report = (field, message) => issues.push(field === undefined ? { message } : { field, message });
  const built = def.build(cfg, input, report);
  if (!built) return empty;
  let trainable = 0;
  let nonTrainable = 0;
  for (const v of built.variables) {
    const n = product(v.shape);
    if (v.trainable) trainable += n;
    else nonTrainable += n;
  }
  const params = trainable + nonTrainable;
  if (params > LIMITS.layerParams) {
    const field = def.required.find((f) => f === 'units' || f === 'filters');
    issues.push({ ...(field ? { field } : {}), message: `${params.toLocaleString('en-US')} parameters is too many for one layer (at most ${LIMITS.layerParams.toLocaleString('en-US')})` });
  }
  return { output_shape: built.output_shape, variables: built.variables, params, trainable_params: trainable, non_trainable_params: nonTrainable, issues };
}

/** Keras' auto-name base of a layer class: `BatchNormalization` → `batch_normalization`, `Conv2D` → `conv2d`. */
export function kerasSnakeCase(class_name: string): string {
  return class_name
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

/**
 * The name Keras would give the next layer of this class in a fresh session that built the spec's
 * layers in order: `dense`, then `dense_1`, `dense_2`, ... (one more than the highest suffix in use).
 */
export function nextLayerName(spec: ModelSpec, class_name: string): string {
  const base = kerasSnakeCase(class_name);
  const used = new Set(spec.config.layers.map((l) => l?.config?.name));
  let highest = -1;
  const re = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:_(\\d+))?$`);
  for (const name of used) {
    const m = typeof name === 'string' ? re.exec(name) : null;
    if (m) highest = Math.max(highest, m[1] === undefined ? 0 : Number(m[1]));
  }
  let candidate = highest < 0 ? base : `${base}_${highest + 1}`;
  for (let n = highest + 2; used.has(candidate); n++) candidate = `${base}_${n}`;
  return candidate;
}
