/**
 * Keras / TF.js topology JSON in and out.
 *
 * `toKerasTopology(spec)` writes the topology TF.js builds with
 * `tf.models.modelFromJSON({ modelTopology })` (tfjs-layers 4.22): Keras config vocabulary with the
 * few TF.js spellings it needs (see TFJS_NOTES).
 *
 * `fromKerasTopology(json)` reads Keras 2 `model.to_json()` (leading InputLayer with
 * batch_input_shape), Keras 3 (InputLayer with batch_shape, `module`/`registered_name`, initializers
 * as `{module, class_name, config}`, DTypePolicy dtypes) and TF.js `model.toJSON()` (string or object,
 * bare or wrapped as `{ modelTopology }` like model.json), and returns a spec with Keras' defaults
 * filled in. Unsupported layers or settings and malformed input raise KerasImportError naming the layer
 * and field.
 */
import type { InitializerSpec, LayerSpec, ModelSpec } from './spec';
import { canonicalInitializer, describeValue, toTfjsInitializer, type ExportOptions } from './initializers';
import {
  ACTIVATIONS,
  LAYER_DEFS,
  LEAKY_RELU_SLOPE,
  SUPPORTED_LAYERS,
  TFJS_ACTIVATION_NAMES,
  isSupportedLayer,
  knownLayerFields,
  nextLayerName,
  withDefaults,
  type SupportedLayer,
} from './layers';
import { canonicalConstraint, canonicalRegularizer } from './regularizers';
import { summarize, type ModelSummary, type SummaryError } from './summary';

export type { ExportOptions } from './initializers';

/** The TF.js naming quirks the export handles (tfjs-layers 4.22). */
export const TFJS_NOTES = [
  "Initializers LecunNormal/LecunUniform are registered in TF.js as 'LeCunNormal'/'LeCunUniform'.",
  "VarianceScaling distribution 'truncated_normal' reaches TF.js as 'truncatedNormal', which TF.js samples from a *uniform* distribution; the truncated normal is TF.js' 'normal', so the export writes 'normal'.",
  "VarianceScaling 'untruncated_normal' does not exist in TF.js; the export writes the equivalent RandomNormal(0, √(scale/fan)).",
  "TF.js' truncated-normal initializers (GlorotNormal, HeNormal, LeCunNormal, VarianceScaling 'normal') do not apply Keras' 1/0.8796 correction, so their std is 0.88·σ; toKerasTopology(spec, { kerasVariance: true }) compensates via the scale.",
  "TF.js' Dense/Conv2D default kernel initializer is GlorotNormal (Keras: GlorotUniform), so the export always writes the initializers.",
  "Activation 'silu' is 'swish' in TF.js; TF.js has no 'leaky_relu' activation function: Activation('leaky_relu') is exported as a LeakyReLU layer with alpha 0.2.",
  "TF.js' Reshape does not resolve a -1 in target_shape when the batch size is unknown (always, in a model), so the export writes the resolved size.",
  "TF.js does not know MaxPool2D (Keras' alias); the import maps it to MaxPooling2D.",
] as const;

export interface KerasTopology {
  class_name: 'Sequential';
  config: { name: string; layers: { class_name: string; config: Record<string, unknown> }[] };
  keras_version: string;
  backend: string;
}

/** Thrown by toKerasTopology for a spec summarize() finds invalid. */
export class ModelSpecError extends Error {
  readonly code = 'invalid-input' as const;
  readonly errors: SummaryError[];
  constructor(errors: SummaryError[]) {
    super(
      `the model spec has ${errors.length} error${errors.length === 1 ? '' : 's'}: ` +
        errors.map((e) => (e.layerIndex < 0 ? e.message : `layer ${e.layerIndex} '${e.layerName}'${e.field ? `.${e.field}` : ''}: ${e.message}`)).join('; '),
    );
    this.name = 'ModelSpecError';
    this.errors = errors;
  }

  /** One "path: message" per problem, paths as a request's (`spec.config.layers.0.config.units`): they cross the wire with the code. */
  get issues(): string[] {
    return this.errors.map((e) => `${e.layerIndex < 0 ? 'spec' : `spec.config.layers.${e.layerIndex}.config${e.field ? `.${e.field}` : ''}`}: ${e.message}`);
  }
}

/** The topology TF.js' `tf.models.modelFromJSON({ modelTopology })` builds. Throws ModelSpecError for an invalid spec. */
export function toKerasTopology(spec: ModelSpec, options: ExportOptions = {}, summary: ModelSummary = summarize(spec)): KerasTopology {
  if (!summary.valid) throw new ModelSpecError(summary.errors);
  const layers = spec.config.layers.map((raw, index) => {
    const layer = withDefaults(raw);
    const cls = layer.class_name as SupportedLayer;
    const cfg = layer.config as Record<string, unknown>;
    const info = summary.layers[index];
    const out: Record<string, unknown> = { name: cfg.name, trainable: cfg.trainable };
    if (index === 0) out.batch_input_shape = [...(cfg.batch_input_shape as unknown[])];
    const def = LAYER_DEFS[cls];
    const instead = def.exportAs?.(cfg);
    if (instead) return { class_name: instead.class_name, config: { ...out, ...instead.config } };
    const tfjs = def.tfjsConfig?.(cfg, info) ?? {};
    for (const k of [...def.required, ...Object.keys(def.defaults())]) {
      const v = cfg[k];
      if (def.initializerFields.includes(k)) {
        const variable = info.variables.find((x) => x.initializer_field === k);
        // Initializers of weights the layer does not create (a bias with use_bias false) get a nominal shape.
        out[k] = toTfjsInitializer(cfg[k] as InitializerSpec, variable?.shape ?? [1], options);
      } else if (k === 'activation') {
        out[k] = TFJS_ACTIVATION_NAMES[v as string] ?? v;
      } else if (k in tfjs) {
        out[k] = tfjs[k];
      } else {
        out[k] = structuredCloneJson(v);
      }
    }
    return { class_name: cls, config: out };
  });
  return { class_name: 'Sequential', config: { name: spec.config.name, layers }, keras_version: 'tfjs-layers 4.22.0', backend: 'tensor_flow.js' };
}

function structuredCloneJson<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

// ---------------------------------------------------------------- import

/** A problem with imported JSON; `layerIndex` is the index in the source's layers list. */
export class KerasImportError extends Error {
  readonly code = 'invalid-input' as const;
  readonly layerIndex?: number;
  readonly layerName?: string;
  readonly field?: string;
  constructor(message: string, where: { layerIndex?: number; layerName?: string; field?: string } = {}) {
    const prefix =
      where.layerIndex !== undefined
        ? `layers[${where.layerIndex}]${where.layerName ? ` ('${where.layerName}')` : ''}${where.field ? `.${where.field}` : ''}: `
        : where.field
          ? `${where.field}: `
          : '';
    super(prefix + message);
    this.name = 'KerasImportError';
    if (where.layerIndex !== undefined) this.layerIndex = where.layerIndex;
    if (where.layerName !== undefined) this.layerName = where.layerName;
    if (where.field !== undefined) this.field = where.field;
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Other class names Keras and TF.js write for a layer type (MaxPool2D), from the kits. */
const LAYER_ALIASES: Record<string, SupportedLayer> = Object.fromEntries(SUPPORTED_LAYERS.flatMap((cls) => (LAYER_DEFS[cls].importAliases ?? []).map((alias) => [alias, cls])));

/** Settings this app cannot honour on any layer (a kit adds its own): importing one with a value other than null/false is an error. */
const UNSUPPORTED_IF_SET: Record<string, string> = {
  bias_regularizer: 'regularizers other than kernel_regularizer are not supported',
  activity_regularizer: 'regularizers other than kernel_regularizer are not supported',
  beta_regularizer: 'regularizers other than kernel_regularizer are not supported',
  gamma_regularizer: 'regularizers other than kernel_regularizer are not supported',
  bias_constraint: 'constraints other than kernel_constraint are not supported',
  beta_constraint: 'constraints other than kernel_constraint are not supported',
  gamma_constraint: 'constraints other than kernel_constraint are not supported',
  lora_rank: 'LoRA is not supported',
  quantization_config: 'quantized layers are not supported',
};

function parseJson(text: string, field?: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new KerasImportError(`not valid JSON (${(e as Error).message})`, field ? { field } : {});
  }
}

function dtypeName(v: unknown): unknown {
  if (isRecord(v) && isRecord(v.config)) return v.config.name; // Keras 3 DTypePolicy
  return v;
}

function checkDtype(v: unknown, where: { layerIndex: number; layerName: string }): void {
  if (v === undefined || v === null) return;
  const name = dtypeName(v);
  if (name !== 'float32') throw new KerasImportError(`only float32 is supported, got dtype ${describeValue(name)}`, { ...where, field: 'dtype' });
}

function readShape(v: unknown, where: { layerIndex: number; layerName: string; field: string }): (number | null)[] {
  if (!Array.isArray(v) || !v.every((d) => d === null || typeof d === 'number')) {
    throw new KerasImportError(`expected a shape such as [null, 28, 28], got ${describeValue(v)}`, where);
  }
  return [...v];
}

/**
 * A spec from Keras 2 / Keras 3 / TF.js topology JSON (string or object; model.json's
 * `{ modelTopology }` and Keras' `{ model_config }` wrappers accepted). Throws KerasImportError.
 */
export function fromKerasTopology(json: unknown): ModelSpec {
  let root: unknown = typeof json === 'string' ? parseJson(json) : json;
  if (isRecord(root) && 'modelTopology' in root) {
    root = typeof root.modelTopology === 'string' ? parseJson(root.modelTopology, 'modelTopology') : root.modelTopology;
  }
  if (isRecord(root) && 'model_config' in root) {
    root = typeof root.model_config === 'string' ? parseJson(root.model_config, 'model_config') : root.model_config;
  }
  if (!isRecord(root)) throw new KerasImportError(`expected a Keras model topology object, got ${describeValue(root)}`);
  if (root.class_name !== 'Sequential') {
    throw new KerasImportError(
      root.class_name === undefined ? `missing class_name (expected 'Sequential')` : `only Sequential models are supported, got ${describeValue(root.class_name)}`,
      { field: 'class_name' },
    );
  }
  const fromTfjs = typeof root.keras_version === 'string' && root.keras_version.startsWith('tfjs');
  const config = root.config;
  let layerList: unknown;
  let modelName = 'sequential';
  let pendingShape: (number | null)[] | null = null;
  if (Array.isArray(config)) {
    layerList = config; // Keras < 2.2 wrote the layers list as the config
  } else if (isRecord(config)) {
    layerList = config.layers;
    if (config.name !== undefined) {
      if (typeof config.name !== 'string' || config.name === '')
        throw new KerasImportError(`model name must be a non-empty string, got ${describeValue(config.name)}`, { field: 'config.name' });
      modelName = config.name;
    }
    if (Array.isArray(config.build_input_shape)) pendingShape = [...(config.build_input_shape as (number | null)[])];
  } else {
    throw new KerasImportError(`expected an object with a layers list, got ${describeValue(config)}`, { field: 'config' });
  }
  if (isRecord(root.build_config) && Array.isArray(root.build_config.input_shape)) pendingShape ??= [...(root.build_config.input_shape as (number | null)[])];
  if (!Array.isArray(layerList)) throw new KerasImportError(`expected a list of layers, got ${describeValue(layerList)}`, { field: 'config.layers' });

  const spec: ModelSpec = { class_name: 'Sequential', config: { name: modelName, layers: [] } };
  layerList.forEach((entry, layerIndex) => {
    if (!isRecord(entry)) throw new KerasImportError(`expected an object with class_name and config, got ${describeValue(entry)}`, { layerIndex });
    const cfgIn = entry.config ?? {};
    const rawName = isRecord(cfgIn) ? cfgIn.name : undefined;
    const layerName = typeof rawName === 'string' && rawName !== '' ? rawName : undefined;
    const where = { layerIndex, layerName: layerName ?? '' };
    if (typeof entry.class_name !== 'string') throw new KerasImportError(`missing class_name`, { ...where, field: 'class_name' });
    if (!isRecord(cfgIn)) throw new KerasImportError(`config must be an object, got ${describeValue(cfgIn)}`, { ...where, field: 'config' });

    if (entry.class_name === 'InputLayer') {
      if (spec.config.layers.length > 0) throw new KerasImportError(`an InputLayer may only come first`, where);
      checkDtype(cfgIn.dtype, where);
      if (cfgIn.batch_input_shape !== undefined) pendingShape = readShape(cfgIn.batch_input_shape, { ...where, field: 'batch_input_shape' });
      else if (cfgIn.batch_shape !== undefined) pendingShape = readShape(cfgIn.batch_shape, { ...where, field: 'batch_shape' });
      else if (cfgIn.input_shape !== undefined) pendingShape = [null, ...readShape(cfgIn.input_shape, { ...where, field: 'input_shape' })];
      else if (cfgIn.shape !== undefined) pendingShape = [null, ...readShape(cfgIn.shape, { ...where, field: 'shape' })];
      else throw new KerasImportError(`InputLayer needs batch_input_shape (Keras 2) or batch_shape (Keras 3)`, where);
      return;
    }

    const name = layerName ?? nextLayerName(spec, LAYER_ALIASES[entry.class_name] ?? entry.class_name);
    const first = spec.config.layers.length === 0;
    const out: Record<string, unknown> = { name };
    let className: string = LAYER_ALIASES[entry.class_name] ?? entry.class_name;

    if (className === 'LeakyReLU') {
      // TF.js' form of Activation('leaky_relu') (see toKerasTopology); Keras 2 writes alpha, Keras 3 negative_slope.
      const slope = cfgIn.alpha ?? cfgIn.negative_slope ?? 0.3;
      if (typeof slope !== 'number' || Math.abs(slope - LEAKY_RELU_SLOPE) > 1e-6) {
        throw new KerasImportError(`a LeakyReLU layer is supported only with slope ${LEAKY_RELU_SLOPE} (as Activation('leaky_relu')), got ${describeValue(slope)}`, {
          ...where,
          field: cfgIn.negative_slope !== undefined ? 'negative_slope' : 'alpha',
        });
      }
      className = 'Activation';
      out.activation = 'leaky_relu';
    } else if (!isSupportedLayer(className)) {
      throw new KerasImportError(`unsupported layer type '${entry.class_name}' (supported: ${SUPPORTED_LAYERS.join(', ')})`, { ...where, field: 'class_name' });
    }
    const cls = className as SupportedLayer;
    const known = new Set(knownLayerFields(cls));
    const def = LAYER_DEFS[cls];
    const unsupported = { ...UNSUPPORTED_IF_SET, ...def.unsupportedIfSet };

    for (const [k, v] of Object.entries(cfgIn)) {
      const here = { ...where, field: k };
      if (k === 'name' || (className === 'Activation' && out.activation === 'leaky_relu' && (k === 'alpha' || k === 'negative_slope'))) continue;
      if (k === 'dtype') {
        checkDtype(v, where);
      } else if (k === 'batch_input_shape' || k === 'batch_shape') {
        if (first && !pendingShape) pendingShape = readShape(v, here);
      } else if (k === 'input_shape') {
        if (first && !pendingShape) pendingShape = [null, ...readShape(v, here)];
      } else if (k in unsupported) {
        if (v !== null && v !== false && v !== undefined) throw new KerasImportError(`${unsupported[k]} (got ${describeValue(v)})`, here);
      } else if (def.initializerFields.includes(k)) {
        const c = canonicalInitializer(v, { collapseHelpers: fromTfjs });
        if (!c.ok) throw new KerasImportError(c.message, here);
        out[k] = c.value;
      } else if (k === 'kernel_regularizer' && known.has(k)) {
        const r = canonicalRegularizer(v);
        if (!r.ok) throw new KerasImportError(r.message, here);
        out[k] = r.value;
      } else if (k === 'kernel_constraint' && known.has(k)) {
        const c = canonicalConstraint(v);
        if (!c.ok) throw new KerasImportError(c.message, here);
        out[k] = c.value;
      } else if (k === 'activation') {
        const a = v === null ? 'linear' : v;
        if (typeof a !== 'string') throw new KerasImportError(`expected an activation name, got ${describeValue(v)}`, here);
        if (!(ACTIVATIONS as readonly string[]).includes(a)) {
          throw new KerasImportError(`unsupported activation '${a}' (supported: ${ACTIVATIONS.join(', ')})`, here);
        }
        out[k] = a;
      } else if (known.has(k)) {
        out[k] = structuredCloneJson(v);
      }
      // Anything else (module, registered_name, build_config, Keras 3's synchronized, sparse, ...) is dropped.
    }
    if (first && pendingShape) out.batch_input_shape = pendingShape;
    spec.config.layers.push(withDefaults({ class_name: cls, config: out as LayerSpec['config'] }));
  });
  return spec;
}
