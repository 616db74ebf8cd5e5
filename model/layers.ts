/**
 * The layer registry's facade: what the rest of the code imports about layers. Each layer type's
 * meaning (Keras defaults, field docs and schema, validation, output shape and variables, export
 * pieces, training support) lives in its kit, `model/layers/<kebab-name>.ts`; this module runs the
 * kits over a spec: defaults filled in, validation, build.
 *
 * Shapes include the batch dimension (null when unknown), as Keras prints them.
 * Nothing here throws on bad values: problems come back as issues naming the field.
 * Pure TypeScript: no TF.js import.
 */
import type { LayerSpec, ModelSpec } from './spec';
import { canonicalInitializer, describeValue } from './initializers';
import { canonicalConstraint, canonicalRegularizer } from './regularizers';
import { ALL_KITS, SUPPORTED_LAYERS, type SupportedLayer } from './layers/all';
import { LIMITS, isInt, product } from './layers/checks';
import type { Cfg, LayerKit, LayerIssue, Report, Shape, VariableInfo } from './layers/kit';

export { ACTIVATIONS, LEAKY_RELU_SLOPE, LIMITS, checkActivation, convOutputLength, formatShape } from './layers/checks';
export type { ActivationName } from './layers/checks';
export type { Dim, LayerBuild, LayerIssue, Shape, VariableInfo } from './layers/kit';
export { SUPPORTED_LAYERS, type SupportedLayer };
export { layerKit, layerKits } from './layers/registry';

/**
 * Activation names TF.js (tfjs-layers 4.22) registers under another name. TF.js has no `silu` (it is
 * `swish`) and no `leaky_relu` activation function at all: an Activation('leaky_relu') layer is exported
 * as TF.js' LeakyReLU layer with alpha 0.2 (Keras' leaky_relu slope); as the activation of a Dense or
 * Conv2D layer it cannot be exported and is reported as an error.
 */
export const TFJS_ACTIVATION_NAMES: Readonly<Record<string, string>> = { silu: 'swish' };

/** The kits by class name. */
export const LAYER_DEFS: Readonly<Record<SupportedLayer, LayerKit>> = Object.fromEntries(ALL_KITS.map((k) => [k.class_name, k as LayerKit])) as Record<SupportedLayer, LayerKit>;

export function isSupportedLayer(class_name: unknown): class_name is SupportedLayer {
  return typeof class_name === 'string' && (SUPPORTED_LAYERS as readonly string[]).includes(class_name);
}

/** Keras' default config of a layer type (without name), or undefined for unsupported types. */
export function layerDefaults(class_name: string): Cfg | undefined {
  return isSupportedLayer(class_name) ? { trainable: true, ...LAYER_DEFS[class_name].defaults() } : undefined;
}

/** The settings a layer type knows (name, trainable, batch_input_shape, its defaults and required ones). */
export function knownLayerFields(class_name: SupportedLayer): string[] {
  return LAYER_DEFS[class_name].knownFields;
}

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
  // By the kit's field kinds: pairs written as one number, regularizers and constraints by name.
  for (const [f, doc] of def.fieldDocs) {
    if (doc.kind === 'pair' && typeof config[f] === 'number') config[f] = [config[f], config[f]];
    const canonical = doc.kind === 'regularizer' ? canonicalRegularizer(config[f]) : doc.kind === 'constraint' ? canonicalConstraint(config[f]) : null;
    if (canonical?.ok) config[f] = canonical.value;
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
    issues.push({
      ...(field ? { field } : {}),
      message: `${params.toLocaleString('en-US')} parameters is too many for one layer (at most ${LIMITS.layerParams.toLocaleString('en-US')})`,
    });
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
