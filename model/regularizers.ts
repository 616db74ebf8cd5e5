/**
 * Kernel regularizers and constraints in Keras' vocabulary.
 *
 * A spec stores them in one canonical form that Keras 2, Keras 3 and TF.js all deserialize:
 * `{class_name: 'L1L2', config: {l1, l2}}` (Keras' L1 and L2 are L1L2 with one term zero; TF.js
 * registers only L1L2) and `{class_name: 'MaxNorm', config: {max_value, axis}}`. The penalty is
 * Keras': l1·Σ|w| + l2·Σw² (no ½), added to the loss; max-norm rescales, after each update, every
 * slice along `axis` whose L2 norm exceeds max_value (Keras: w·clip(‖w‖, 0, c)/(ε + ‖w‖)).
 * Pure TypeScript: no TF.js import.
 */
import { describeValue } from './initializers';

export interface RegularizerSpec {
  class_name: 'L1L2';
  config: { l1: number; l2: number };
}

export interface ConstraintSpec {
  class_name: 'MaxNorm';
  config: { max_value: number; axis: number };
}

type Canonical<T> = { ok: true; value: T | null } | { ok: false; message: string };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isFiniteNonNegative = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** Keras' defaults when a regularizer is named without a factor (`'l2'`, `L2()`). */
const DEFAULT_FACTOR = 0.01;

/** A regularizer from Keras 2 / Keras 3 / TF.js JSON or a string name, in canonical form; null for none. */
export function canonicalRegularizer(value: unknown): Canonical<RegularizerSpec> {
  if (value === null || value === undefined) return { ok: true, value: null };
  let name: unknown;
  let config: Record<string, unknown> = {};
  if (typeof value === 'string') {
    name = value;
  } else if (isRecord(value)) {
    name = value.class_name ?? value.className;
    if (value.config !== undefined) {
      if (!isRecord(value.config)) return { ok: false, message: `regularizer config must be an object, got ${describeValue(value.config)}` };
      config = value.config;
    }
  } else {
    return { ok: false, message: `expected a regularizer such as {class_name: 'L2', config: {l2: 0.01}}, got ${describeValue(value)}` };
  }
  const key = typeof name === 'string' ? name.toLowerCase().replace(/_/g, '') : '';
  let l1: unknown = 0;
  let l2: unknown = 0;
  switch (key) {
    case 'l1':
      l1 = config.l1 ?? DEFAULT_FACTOR;
      break;
    case 'l2':
      l2 = config.l2 ?? DEFAULT_FACTOR;
      break;
    case 'l1l2':
      l1 = config.l1 ?? 0;
      l2 = config.l2 ?? 0;
      break;
    default:
      return { ok: false, message: `unsupported regularizer ${describeValue(name)} (supported: L1, L2, L1L2)` };
  }
  for (const [field, v] of [
    ['l1', l1],
    ['l2', l2],
  ] as const) {
    if (!isFiniteNonNegative(v)) return { ok: false, message: `${field} must be a non-negative number, got ${describeValue(v)}` };
  }
  return { ok: true, value: { class_name: 'L1L2', config: { l1: l1 as number, l2: l2 as number } } };
}

/** A constraint from Keras / TF.js JSON in canonical form; null for none. Only MaxNorm is supported. */
export function canonicalConstraint(value: unknown): Canonical<ConstraintSpec> {
  if (value === null || value === undefined) return { ok: true, value: null };
  if (!isRecord(value)) return { ok: false, message: `expected a constraint such as {class_name: 'MaxNorm', config: {max_value: 2}}, got ${describeValue(value)}` };
  const name = value.class_name ?? value.className;
  if (name !== 'MaxNorm' && name !== 'max_norm') return { ok: false, message: `unsupported constraint ${describeValue(name)} (supported: MaxNorm)` };
  const config = isRecord(value.config) ? value.config : {};
  const maxValue = config.max_value ?? config.maxValue ?? 2;
  const axis = config.axis ?? 0;
  if (typeof maxValue !== 'number' || !Number.isFinite(maxValue) || maxValue <= 0)
    return { ok: false, message: `max_value must be a positive number, got ${describeValue(maxValue)}` };
  if (typeof axis !== 'number' || !Number.isInteger(axis)) return { ok: false, message: `axis must be a whole number, got ${describeValue(axis)}` };
  return { ok: true, value: { class_name: 'MaxNorm', config: { max_value: maxValue, axis } } };
}

/** Validation for the layer registry: null when the value is a valid regularizer (or null). */
export function validateRegularizer(value: unknown): string | null {
  const c = canonicalRegularizer(value);
  return c.ok ? null : c.message;
}

export function validateConstraint(value: unknown): string | null {
  const c = canonicalConstraint(value);
  return c.ok ? null : c.message;
}

/** A short human form: "L2(0.01)", "L1L2(l1=0.001, l2=0.01)", "MaxNorm(2)". */
export function describeRegularizer(r: RegularizerSpec | null): string {
  if (!r) return 'none';
  const { l1, l2 } = r.config;
  if (l1 === 0 && l2 === 0) return 'none';
  if (l1 === 0) return `L2(${l2})`;
  if (l2 === 0) return `L1(${l1})`;
  return `L1L2(l1=${l1}, l2=${l2})`;
}
