/**
 * Keras objects in Keras 3's serialized form, as `keras.saving.serialize_keras_object` writes a
 * built-in: `{module, class_name, config, registered_name: null}` (serialization_lib.py,
 * `serialize_with_public_class`: the module is the public API path, e.g. `keras.optimizers.schedules`).
 * Keras 3 needs `module` wherever it deserializes without a lookup table: an optimizer's
 * `learning_rate` schedule (`BaseOptimizer.from_config` calls `deserialize_keras_object` directly),
 * so `{class_name: 'ExponentialDecay', config}` alone fails to load. Keras 2.13+ writes the same form.
 *
 * Python's json reads `0` as int and `0.0` as float, and Keras 3 checks some types (`SGD(momentum=0)`
 * raises "`momentum` must be a float"; a plain `learning_rate` must be a float), so Keras' float
 * fields are marked with `PyFloat` and written with a decimal point by `pythonJson` and the script's
 * literals. JSON.stringify still writes them as plain numbers.
 */
import type { InitializerSpec } from './spec';
import type { ConstraintSpec, RegularizerSpec } from './regularizers';

/** A number Python must read as a float. */
export class PyFloat {
  constructor(readonly value: number) {}
  toJSON(): number {
    return this.value;
  }
}

export const pyFloat = (value: number): PyFloat => new PyFloat(value);

/** Python's repr of a float: always with a decimal point or an exponent. */
export function pyFloatText(value: number): string {
  if (!Number.isFinite(value)) return Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity';
  const text = String(value);
  return /[.eE]/.test(text) ? text : `${text}.0`;
}

export type KerasModule = 'keras.optimizers' | 'keras.optimizers.schedules' | 'keras.initializers' | 'keras.regularizers' | 'keras.constraints';

export interface SerializedKerasObject {
  module: KerasModule;
  class_name: string;
  config: Record<string, unknown>;
  registered_name: null;
}

/** A built-in Keras object as Keras 3 serializes it (registered_name is null for built-ins). */
export function kerasObject(module: KerasModule, class_name: string, config: Record<string, unknown>): SerializedKerasObject {
  return { module, class_name, config, registered_name: null };
}

/** Initializer config fields that are Python floats in Keras (the others: seed, mode, distribution). */
const INITIALIZER_FLOATS = new Set(['scale', 'mean', 'stddev', 'minval', 'maxval', 'value']);

/** A spec's (canonical) initializer in Keras 3's form; Keras 3 spells VarianceScaling's truncated normal only 'truncated_normal'. */
export function serializeInitializer(init: InitializerSpec): SerializedKerasObject {
  const config: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(init.config)) config[k] = INITIALIZER_FLOATS.has(k) && typeof v === 'number' ? pyFloat(v) : v;
  if (init.class_name === 'VarianceScaling' && config.distribution === 'normal') config.distribution = 'truncated_normal';
  return kerasObject('keras.initializers', init.class_name, config);
}

export function serializeRegularizer(r: RegularizerSpec | null): SerializedKerasObject | null {
  return r ? kerasObject('keras.regularizers', 'L1L2', { l1: pyFloat(r.config.l1), l2: pyFloat(r.config.l2) }) : null;
}

export function serializeConstraint(c: ConstraintSpec | null): SerializedKerasObject | null {
  return c ? kerasObject('keras.constraints', 'MaxNorm', { max_value: pyFloat(c.config.max_value), axis: c.config.axis }) : null;
}

/**
 * JSON as Python's json.dumps writes it: PyFloat values with a decimal point, non-ASCII escaped
 * (so it fits an ASCII byte string, as Keras stores model_config and training_config in an .h5).
 */
export function pythonJson(value: unknown): string {
  const write = (v: unknown): string => {
    if (v instanceof PyFloat) return pyFloatText(v.value);
    if (Array.isArray(v)) return `[${v.map((x) => write(x === undefined ? null : x)).join(',')}]`;
    if (v !== null && typeof v === 'object') {
      const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
      return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${write(x)}`).join(',')}}`;
    }
    return JSON.stringify(v) ?? 'null';
  };
  return write(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
