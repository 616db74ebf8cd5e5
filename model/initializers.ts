/**
 * Weight initializers: their Keras names and configs, their TF.js spellings, fan computation and
 * the statistics of the values they sample (σ², uniform limit, the std the samples really have).
 *
 * Keras vocabulary is canonical in a spec (`LecunNormal`, `distribution: 'truncated_normal'`);
 * TF.js spellings (`LeCunNormal`, `truncatedNormal`, `fanIn`) and snake_case identifiers
 * (`he_normal`) are accepted on the way in and mapped on the way out.
 *
 * Pure TypeScript: no TF.js import.
 */
import type { InitializerSpec } from './spec';

/** Std of a standard normal truncated at ±2σ, the way Keras and TF.js truncate. */
export const TRUNCATED_NORMAL_STD_FACTOR = 0.87962566103423978;

export const FAN_MODES = ['fan_in', 'fan_out', 'fan_avg'] as const;
export type FanMode = (typeof FAN_MODES)[number];

/** Keras' VarianceScaling distributions ('normal' is Keras' legacy alias of 'truncated_normal'). */
export const DISTRIBUTIONS = ['truncated_normal', 'untruncated_normal', 'uniform', 'normal'] as const;
export type Distribution = (typeof DISTRIBUTIONS)[number];

interface VarianceScalingParams {
  scale: number;
  mode: FanMode;
  distribution: Distribution;
}

interface InitializerDef {
  /** Keras class name (canonical). */
  name: string;
  /** Class name TF.js registers (tf.serialization) for it. */
  tfjs: string;
  /** Keras' default config. */
  defaults: () => Record<string, unknown>;
  /** The VarianceScaling settings of the Glorot/He/LeCun helpers. */
  vs?: VarianceScalingParams;
}

const seedOnly = () => ({ seed: null });
const DEFS: InitializerDef[] = [
  { name: 'GlorotUniform', tfjs: 'GlorotUniform', defaults: seedOnly, vs: { scale: 1, mode: 'fan_avg', distribution: 'uniform' } },
  { name: 'GlorotNormal', tfjs: 'GlorotNormal', defaults: seedOnly, vs: { scale: 1, mode: 'fan_avg', distribution: 'truncated_normal' } },
  { name: 'HeNormal', tfjs: 'HeNormal', defaults: seedOnly, vs: { scale: 2, mode: 'fan_in', distribution: 'truncated_normal' } },
  { name: 'HeUniform', tfjs: 'HeUniform', defaults: seedOnly, vs: { scale: 2, mode: 'fan_in', distribution: 'uniform' } },
  { name: 'LecunNormal', tfjs: 'LeCunNormal', defaults: seedOnly, vs: { scale: 1, mode: 'fan_in', distribution: 'truncated_normal' } },
  { name: 'LecunUniform', tfjs: 'LeCunUniform', defaults: seedOnly, vs: { scale: 1, mode: 'fan_in', distribution: 'uniform' } },
  {
    name: 'VarianceScaling',
    tfjs: 'VarianceScaling',
    defaults: () => ({ scale: 1, mode: 'fan_in', distribution: 'truncated_normal', seed: null }),
  },
  { name: 'Zeros', tfjs: 'Zeros', defaults: () => ({}) },
  { name: 'Ones', tfjs: 'Ones', defaults: () => ({}) },
  { name: 'Constant', tfjs: 'Constant', defaults: () => ({ value: 0 }) },
  { name: 'RandomNormal', tfjs: 'RandomNormal', defaults: () => ({ mean: 0, stddev: 0.05, seed: null }) },
  { name: 'RandomUniform', tfjs: 'RandomUniform', defaults: () => ({ minval: -0.05, maxval: 0.05, seed: null }) },
  { name: 'TruncatedNormal', tfjs: 'TruncatedNormal', defaults: () => ({ mean: 0, stddev: 0.05, seed: null }) },
];

/** Keras class names of the supported initializers. */
export const INITIALIZER_NAMES: readonly string[] = DEFS.map((d) => d.name);

const key = (s: string) => s.toLowerCase().replace(/_/g, '');
const BY_KEY = new Map<string, InitializerDef>(DEFS.map((d) => [key(d.name), d]));
BY_KEY.set('zero', BY_KEY.get('zeros')!);
BY_KEY.set('one', BY_KEY.get('ones')!);

/**
 * Keras class name for any accepted spelling: `LecunNormal`, TF.js `LeCunNormal`, `lecun_normal`,
 * `leCunNormal`. Null when not supported.
 */
export function canonicalInitializerName(name: string): string | null {
  return BY_KEY.get(key(name))?.name ?? null;
}

function def(name: string): InitializerDef | undefined {
  return BY_KEY.get(key(name));
}

/** Keyed by key(): accepts Keras 'fan_in' and TF.js 'fanIn'; 'truncated_normal' and 'truncatedNormal'. */
const MODE_ALIASES: Record<string, FanMode> = { fanin: 'fan_in', fanout: 'fan_out', fanavg: 'fan_avg' };
const DIST_ALIASES: Record<string, Distribution> = {
  truncatednormal: 'truncated_normal',
  untruncatednormal: 'untruncated_normal',
  uniform: 'uniform',
  normal: 'normal',
};

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export type CanonicalResult = { ok: true; value: InitializerSpec } | { ok: false; message: string };

/**
 * Canonical Keras form of an initializer given as a Keras 2 / Keras 3 / TF.js dict
 * (`{class_name, config}`, optionally with `module`/`registered_name`) or as a string identifier.
 * Missing config keys get Keras' defaults; camelCase mode/distribution values become snake_case.
 * With `collapseHelpers`, a VarianceScaling whose settings equal a Glorot/He/LeCun helper becomes that
 * helper (TF.js `toJSON()` writes every helper as VarianceScaling; TF.js' 'normal' is the helpers'
 * truncated normal).
 */
export function canonicalInitializer(value: unknown, options: { collapseHelpers?: boolean } = {}): CanonicalResult {
  let className: string;
  let given: Record<string, unknown> = {};
  if (typeof value === 'string') {
    className = value;
  } else if (isRecord(value) && typeof value.class_name === 'string') {
    className = value.class_name;
    if (value.config !== undefined && value.config !== null) {
      if (!isRecord(value.config)) return { ok: false, message: `initializer '${className}' has a config that is not an object` };
      given = value.config;
    }
  } else {
    return { ok: false, message: `expected an initializer such as {"class_name": "HeNormal", "config": {}}, got ${describeValue(value)}` };
  }
  const d = def(className);
  if (!d) {
    return { ok: false, message: `unknown initializer '${className}' (supported: ${INITIALIZER_NAMES.join(', ')})` };
  }
  const defaults = d.defaults();
  const config: Record<string, unknown> = { ...defaults };
  for (const k of Object.keys(defaults)) if (given[k] !== undefined) config[k] = given[k];
  if (d.name === 'VarianceScaling') {
    if (typeof config.mode === 'string') config.mode = MODE_ALIASES[key(config.mode)] ?? config.mode;
    if (typeof config.distribution === 'string') config.distribution = DIST_ALIASES[key(config.distribution)] ?? config.distribution;
    if (options.collapseHelpers) {
      const helper = DEFS.find(
        (h) =>
          h.vs &&
          h.vs.scale === config.scale &&
          h.vs.mode === config.mode &&
          (h.vs.distribution === config.distribution || (h.vs.distribution === 'truncated_normal' && config.distribution === 'normal')),
      );
      if (helper) return { ok: true, value: { class_name: helper.name, config: { seed: config.seed ?? null } } };
    }
  }
  return { ok: true, value: { class_name: d.name, config } };
}

/** A readable rendering of a value for messages (NaN and undefined survive). */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  // An emptied field in the builder is stored as null.
  if (v === null) return 'an empty value';
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : String(v);
  if (typeof v === 'string') return `'${v}'`;
  try {
    return JSON.stringify(v, (_k, x) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : x));
  } catch {
    return String(v);
  }
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Checks an initializer's values; returns a message or null. Accepts any spelling canonicalInitializer accepts. */
export function validateInitializer(value: unknown): string | null {
  const c = canonicalInitializer(value);
  if (!c.ok) return c.message;
  const { class_name, config } = c.value;
  if ('seed' in config && config.seed !== null && !(Number.isInteger(config.seed) && (config.seed as number) >= 0)) {
    return `${class_name} seed must be null or a non-negative integer, got ${describeValue(config.seed)}`;
  }
  switch (class_name) {
    case 'VarianceScaling':
      if (!finite(config.scale) || config.scale <= 0) return `VarianceScaling scale must be a positive number, got ${describeValue(config.scale)}`;
      if (!(FAN_MODES as readonly unknown[]).includes(config.mode)) return `VarianceScaling mode must be one of ${FAN_MODES.join(', ')}, got ${describeValue(config.mode)}`;
      if (!(DISTRIBUTIONS as readonly unknown[]).includes(config.distribution)) {
        return `VarianceScaling distribution must be one of ${DISTRIBUTIONS.join(', ')}, got ${describeValue(config.distribution)}`;
      }
      return null;
    case 'Constant':
      return finite(config.value) ? null : `Constant value must be a finite number, got ${describeValue(config.value)}`;
    case 'RandomNormal':
    case 'TruncatedNormal':
      if (!finite(config.mean)) return `${class_name} mean must be a finite number, got ${describeValue(config.mean)}`;
      if (!finite(config.stddev) || config.stddev < 0) return `${class_name} stddev must be a non-negative number, got ${describeValue(config.stddev)}`;
      return null;
    case 'RandomUniform':
      if (!finite(config.minval) || !finite(config.maxval) || config.minval > config.maxval) {
        return `RandomUniform needs finite minval <= maxval, got ${describeValue(config.minval)} and ${describeValue(config.maxval)}`;
      }
      return null;
    default:
      return null;
  }
}

/** Settings of a VarianceScaling-family initializer (the helpers included), or null for the others. */
export function varianceScalingParams(init: InitializerSpec): VarianceScalingParams | null {
  const d = def(init.class_name);
  if (!d) return null;
  if (d.vs) return d.vs;
  if (d.name !== 'VarianceScaling') return null;
  const c = canonicalInitializer(init);
  if (!c.ok) return null;
  return { scale: c.value.config.scale as number, mode: c.value.config.mode as FanMode, distribution: c.value.config.distribution as Distribution };
}

export interface Fans {
  fan_in: number;
  fan_out: number;
  fan_avg: number;
}

/**
 * Fans of a weight shape. 'keras' is Keras' `compute_fans` (Dense kernel [in, out]: fan_in = in,
 * fan_out = out; Conv2D kernel [kh, kw, in_c, out_c]: receptive field kh·kw times the channels;
 * 1-D: fan_in = fan_out = n). 'tfjs' is tfjs-layers' `computeFans`, which differs only for shapes of
 * rank 0, 1 or > 5 (√n for both).
 */
export function computeFans(shape: readonly number[], flavour: 'keras' | 'tfjs' = 'keras'): Fans {
  let fanIn: number;
  let fanOut: number;
  const rank = shape.length;
  if (rank === 2) {
    fanIn = shape[0];
    fanOut = shape[1];
  } else if (rank >= 3 && (flavour === 'keras' || rank <= 5)) {
    const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
    fanIn = shape[rank - 2] * receptive;
    fanOut = shape[rank - 1] * receptive;
  } else if (flavour === 'keras') {
    fanIn = fanOut = rank === 1 ? shape[0] : 1;
  } else {
    fanIn = fanOut = Math.sqrt(shape.reduce((a, b) => a * b, 1));
  }
  return { fan_in: fanIn, fan_out: fanOut, fan_avg: (fanIn + fanOut) / 2 };
}

/** Options of the TF.js export (toKerasTopology) that change how initializers are written. */
export interface ExportOptions {
  /**
   * TF.js samples the Glorot/He/LeCun normal initializers (and VarianceScaling 'normal') from a normal
   * truncated at ±2 stddev *without* Keras' 0.8796 correction, so their std is 0.88 × √σ². With
   * `kerasVariance: true` they are exported as VarianceScaling with scale / 0.8796² so that TF.js
   * samples have Keras' std. Default false: names are exported as they are (TF.js' own behaviour).
   */
  kerasVariance?: boolean;
}

export interface InitializerStats {
  class_name: string;
  /** The distribution the values are drawn from in Keras. */
  distribution: 'uniform' | 'truncated_normal' | 'untruncated_normal' | 'constant';
  /** VarianceScaling family only: its scale and mode, and the fan the mode picks (Keras' compute_fans). */
  scale: number | null;
  mode: FanMode | null;
  fans: Fans;
  fan: number | null;
  /** σ²: the variance Keras aims for (Glorot 1/fan_avg, He 2/fan_in, LeCun 1/fan_in, VS scale/fan). */
  variance: number;
  /** Uniform distributions: the limit r of U(−r, r) (VarianceScaling family: r = √(3σ²)). */
  limit: number | null;
  /** Std of the values Keras samples (Keras corrects its truncated normal by 1/0.8796). */
  keras_std: number;
  /** Std of the values TF.js really samples from the exported topology. */
  std: number;
  /** Mean of the sampled values (Ones: 1, Constant: value, RandomNormal: mean; otherwise 0). */
  mean: number;
  /** One line on how TF.js samples it. */
  tfjs_sampling: string;
}

/** What TF.js gets for an initializer of a weight of `shape` (canonical Keras input). */
export function toTfjsInitializer(init: InitializerSpec, shape: readonly number[], options: ExportOptions = {}): InitializerSpec {
  const c = canonicalInitializer(init);
  if (!c.ok) throw new Error(c.message);
  const d = def(c.value.class_name)!;
  const config = c.value.config;
  const vs = varianceScalingParams(c.value);
  if (vs && (d.vs || d.name === 'VarianceScaling')) {
    const seed = (config.seed as number | null | undefined) ?? null;
    const truncated = vs.distribution === 'truncated_normal' || vs.distribution === 'normal';
    if (vs.distribution === 'untruncated_normal') {
      // TF.js has no untruncated VarianceScaling: the exact equivalent is RandomNormal(0, √(scale/fan)).
      const fans = computeFans(shape, 'keras');
      const fan = Math.max(1, fans[vs.mode]);
      return { class_name: 'RandomNormal', config: { mean: 0, stddev: Math.sqrt(vs.scale / fan), seed } };
    }
    if (truncated && options.kerasVariance) {
      return {
        class_name: 'VarianceScaling',
        config: { scale: vs.scale / TRUNCATED_NORMAL_STD_FACTOR ** 2, mode: vs.mode, distribution: 'normal', seed },
      };
    }
    if (d.vs) return { class_name: d.tfjs, config: { seed } };
    // TF.js' 'truncated_normal' (truncatedNormal) silently samples a *uniform* distribution; its
    // 'normal' is the truncated normal.
    return { class_name: 'VarianceScaling', config: { scale: vs.scale, mode: vs.mode, distribution: truncated ? 'normal' : 'uniform', seed } };
  }
  return { class_name: d.tfjs, config: { ...config } };
}

/**
 * Statistics of an initializer applied to a weight of `shape` (e.g. a Dense kernel [784, 300]), in
 * Keras and as TF.js really samples it from toKerasTopology(spec, options).
 */
export function initializerStats(init: InitializerSpec, shape: readonly number[], options: ExportOptions = {}): InitializerStats {
  const c = canonicalInitializer(init);
  if (!c.ok) throw new Error(c.message);
  const { class_name, config } = c.value;
  const fans = computeFans(shape, 'keras');
  const base = { class_name, fans, scale: null, mode: null, fan: null, limit: null, mean: 0 } as const;
  const vs = varianceScalingParams(c.value);
  if (vs) {
    const fan = Math.max(1, fans[vs.mode]);
    const variance = vs.scale / fan;
    const sigma = Math.sqrt(variance);
    const distribution = vs.distribution === 'normal' ? 'truncated_normal' : vs.distribution;
    // TF.js computes the fan with its own computeFans (same as Keras for ranks 2–5).
    const tfFan = Math.max(1, computeFans(shape, 'tfjs')[vs.mode]);
    const tfSigma = Math.sqrt(vs.scale / tfFan);
    let std: number;
    let tfjs_sampling: string;
    if (distribution === 'uniform') {
      std = tfSigma;
      tfjs_sampling = `uniform on ±${fmt(Math.sqrt(3) * tfSigma)}`;
    } else if (distribution === 'untruncated_normal') {
      std = sigma;
      tfjs_sampling = `RandomNormal(0, ${fmt(sigma)}) (exported exactly)`;
    } else if (options.kerasVariance) {
      std = tfSigma;
      tfjs_sampling = `truncated normal, stddev ${fmt(tfSigma / TRUNCATED_NORMAL_STD_FACTOR)} (scale corrected by 1/0.8796², as Keras does)`;
    } else {
      std = TRUNCATED_NORMAL_STD_FACTOR * tfSigma;
      tfjs_sampling = `truncated normal, stddev ${fmt(tfSigma)} without Keras' 1/0.8796 correction: std ≈ 0.88·σ`;
    }
    return {
      ...base,
      distribution,
      scale: vs.scale,
      mode: vs.mode,
      fan,
      variance,
      limit: distribution === 'uniform' ? Math.sqrt(3 * variance) : null,
      keras_std: sigma,
      std,
      tfjs_sampling,
    };
  }
  switch (class_name) {
    case 'Zeros':
    case 'Ones':
    case 'Constant': {
      const value = class_name === 'Zeros' ? 0 : class_name === 'Ones' ? 1 : (config.value as number);
      return { ...base, distribution: 'constant', variance: 0, keras_std: 0, std: 0, mean: value, tfjs_sampling: `every value ${value}` };
    }
    case 'RandomNormal': {
      const s = config.stddev as number;
      return { ...base, distribution: 'untruncated_normal', variance: s * s, keras_std: s, std: s, mean: config.mean as number, tfjs_sampling: `normal, stddev ${fmt(s)}` };
    }
    case 'TruncatedNormal': {
      // Neither Keras nor TF.js corrects this one: std = 0.8796 × stddev in both.
      const s = (config.stddev as number) * TRUNCATED_NORMAL_STD_FACTOR;
      return {
        ...base,
        distribution: 'truncated_normal',
        variance: s * s,
        keras_std: s,
        std: s,
        mean: config.mean as number,
        tfjs_sampling: `truncated normal, stddev ${fmt(config.stddev as number)}`,
      };
    }
    case 'RandomUniform': {
      const lo = config.minval as number;
      const hi = config.maxval as number;
      const s = (hi - lo) / Math.sqrt(12);
      return {
        ...base,
        distribution: 'uniform',
        variance: s * s,
        limit: lo === -hi ? hi : null,
        keras_std: s,
        std: s,
        mean: (lo + hi) / 2,
        tfjs_sampling: `uniform on [${lo}, ${hi}]`,
      };
    }
    default:
      throw new Error(`no statistics for initializer '${class_name}'`);
  }
}

function fmt(x: number): string {
  return Number(x.toPrecision(4)).toString();
}
