/**
 * Keras HDF5 (`model.save('model.h5')` in Keras 2, which Keras 3 still loads), written and read with
 * h5wasm (HDF5 compiled to WebAssembly; loaded on first use).
 *
 * Layout, as Keras 2's `save_model_to_hdf5` writes it:
 *   /                      attrs keras_version, backend, model_config (JSON), training_config (JSON, when known)
 *   /model_weights         attrs keras_version, backend, layer_names (fixed-length byte strings)
 *   /model_weights/<layer> attr weight_names (e.g. `dense/kernel:0`; empty for layers without weights)
 *   /model_weights/<layer>/<layer>/<var>:0   float32 dataset in Keras' shape
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Dataset, Group } from 'h5wasm';
import { LAYER_DEFS, fromKerasTopology, withDefaults, type InitializerSpec, type LayerSpec, type ModelSpec, type SupportedLayer } from '../../../model';
import { pythonJson, serializeConstraint, serializeInitializer, serializeRegularizer } from '../../../model/keras-serialization';
import type { ConstraintSpec, RegularizerSpec } from '../../../model/regularizers';
import { FileReadError } from '../files/bounded-read';
import { sniffFile } from '../files/sniff';
import { ExportError, fileError, fromReadError } from './errors';
import type { TrainingSettings } from '../../../contract/training';
import { fromKerasTrainingConfig, toKerasTrainingConfig } from '../../../model/keras-training';
import { checkDeclaredWeights, checkWeights, modelLayers, type NamedWeights } from './weights';

/** The Keras version the file claims: the last Keras 2 (its HDF5 layout is the one Keras 3 reads as "legacy"). */
export const KERAS_VERSION = '2.15.0';
export const KERAS_BACKEND = 'tensorflow';

/** What training_config records: the run's optimizer, learning rate and schedule. */
export type TrainingInfo = Pick<TrainingSettings, 'optimizer' | 'learningRate' | 'lrSchedule'>;

type H5 = typeof import('h5wasm').default;
let h5Promise: Promise<H5> | null = null;

/** h5wasm, ready, with HDF5's error stack turned into thrown errors instead of printed ones. */
export function loadH5wasm(): Promise<H5> {
  h5Promise ??= (async () => {
    const h5 = (await import('h5wasm/node')).default as H5;
    const module = await h5.ready;
    module.activate_throwing_error_handler();
    return h5;
  })();
  return h5Promise;
}

/** The most specific line of an HDF5 error stack ("truncated file: eof = 500, ..."). */
function hdf5Reason(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const entries = [...text.matchAll(/#\d+: .*? in \S+\(\): (.*)$/gm)].map((m) => m[1]!.trim());
  return entries.at(-1) ?? (text.split('\n')[0]!.trim() || 'unknown HDF5 error');
}

// ---------------------------------------------------------------- model_config

/** Keras 2 has `swish` everywhere; `silu` is the same function. */
const kerasActivation = (a: unknown) => (a === 'silu' ? 'swish' : a);

function kerasLayer(raw: LayerSpec, index: number): { class_name: string; config: Record<string, unknown> } {
  const layer = withDefaults(raw);
  const cfg = layer.config as Record<string, unknown>;
  const head: Record<string, unknown> = { name: cfg.name, trainable: cfg.trainable, dtype: 'float32' };
  if (index === 0) head.batch_input_shape = cfg.batch_input_shape;
  const kit = LAYER_DEFS[layer.class_name as SupportedLayer];
  const instead = kit.exportAs?.(cfg);
  if (instead) return { class_name: instead.class_name, config: { ...head, ...instead.config } };
  const config: Record<string, unknown> = { ...head };
  const initializerFields: readonly string[] = kit.initializerFields;
  for (const [k, v] of Object.entries(cfg)) {
    if (k in head || k === 'batch_input_shape') continue;
    if (k === 'activation') config[k] = kerasActivation(v);
    else if (initializerFields.includes(k)) config[k] = serializeInitializer(v as InitializerSpec);
    else if (k === 'kernel_regularizer') config[k] = serializeRegularizer(v as RegularizerSpec | null);
    else if (k === 'kernel_constraint') config[k] = serializeConstraint(v as ConstraintSpec | null);
    else config[k] = v;
  }
  for (const k of kit.kerasNulls ?? []) config[k] ??= null;
  return { class_name: layer.class_name, config };
}

/** The spec as Keras 2's `model.get_config()` writes it: an InputLayer first, dtype on every layer. */
export function kerasModelConfig(spec: ModelSpec): { class_name: 'Sequential'; config: { name: string; layers: unknown[] } } {
  const layers = spec.config.layers.map(kerasLayer);
  const first = layers[0]!.config;
  const input = {
    class_name: 'InputLayer',
    config: { batch_input_shape: first.batch_input_shape, dtype: 'float32', sparse: false, ragged: false, name: `${first.name}_input` },
  };
  return { class_name: 'Sequential', config: { name: spec.config.name, layers: [input, ...layers] } };
}

/** Keras' training_config for the run's training (its optimizer, sparse categorical cross-entropy, accuracy). */
export function kerasTrainingConfig(training: TrainingInfo): Record<string, unknown> {
  return toKerasTrainingConfig(training);
}

/** A fixed-length byte-string attribute (what h5py writes for Python `bytes`, as Keras does). */
function bytesAttr(target: Group, name: string, value: string): void {
  if (value.length > 60_000)
    target.create_attribute(name, value); // too big for an object header: variable length
  else target.create_attribute(name, value, null, `S${Math.max(1, value.length)}`);
}

function bytesListAttr(target: Group, name: string, values: string[]): void {
  const width = Math.max(1, ...values.map((v) => v.length));
  target.create_attribute(name, values, [values.length], `S${width}`);
}

/** training: written in Keras 3's form; trainingConfigText: another file's training_config, kept as it was. */
export interface KerasH5Options {
  training?: TrainingInfo;
  trainingConfigText?: string;
}

/** Writes the Keras HDF5 file to `path` (a new file; h5wasm writes it in place). */
export async function writeKerasH5File(path: string, spec: ModelSpec, weights: NamedWeights, options: KerasH5Options = {}): Promise<void> {
  checkWeights(spec, weights, 'weights');
  const layers = modelLayers(spec);
  const h5 = await loadH5wasm();
  let file;
  try {
    file = new h5.File(path, 'w');
  } catch (e) {
    throw new ExportError('io', `Cannot write ${path}: ${hdf5Reason(e)}`, path);
  }
  try {
    bytesAttr(file, 'keras_version', KERAS_VERSION);
    bytesAttr(file, 'backend', KERAS_BACKEND);
    bytesAttr(file, 'model_config', pythonJson(kerasModelConfig(spec)));
    const trainingConfig = options.training ? pythonJson(kerasTrainingConfig(options.training)) : options.trainingConfigText;
    if (trainingConfig !== undefined) bytesAttr(file, 'training_config', trainingConfig);
    const root = file.create_group('model_weights');
    bytesListAttr(
      root,
      'layer_names',
      layers.map((l) => l.name),
    );
    bytesAttr(root, 'backend', KERAS_BACKEND);
    bytesAttr(root, 'keras_version', KERAS_VERSION);
    for (const layer of layers) {
      const group = root.create_group(layer.name);
      bytesListAttr(
        group,
        'weight_names',
        layer.variables.map((v) => `${v.name}:0`),
      );
      if (!layer.variables.length) continue;
      const inner = group.create_group(layer.name);
      for (const v of layer.variables) {
        inner.create_dataset({ name: `${v.short}:0`, data: weights.get(v.name)!.data, shape: v.shape, dtype: '<f' });
      }
    }
  } catch (e) {
    throw e instanceof ExportError ? e : new ExportError('io', `Cannot write ${path}: ${hdf5Reason(e)}`, path);
  } finally {
    file.close();
  }
}

/** The Keras HDF5 file's bytes (built in a private temp folder, so the caller can write them atomically). */
export async function kerasH5Bytes(spec: ModelSpec, weights: NamedWeights, options: KerasH5Options = {}): Promise<Uint8Array> {
  const dir = await mkdtemp(join(tmpdir(), 'layerbench-h5-'));
  try {
    const path = join(dir, 'model.h5');
    await writeKerasH5File(path, spec, weights, options);
    return new Uint8Array(await readFile(path));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- reading

/**
 * Whether the file starts with HDF5's signature (at 0, or after a user block of 512, 1024, ... bytes).
 * Throws bounded-read's FileReadError for what is no regular file, or one over $LAYERBENCH_MAX_FILE_BYTES.
 */
export async function hasHdf5Signature(path: string): Promise<boolean> {
  return (await sniffFile(path, 'model file')) === 'hdf5';
}

/** hasHdf5Signature, with a missing path or a folder reported as an ExportError naming it (`missing`: what to say when there is no such file). */
export async function checkedHdf5Signature(path: string, missing = 'no such file'): Promise<boolean> {
  try {
    return await hasHdf5Signature(path);
  } catch (e) {
    if (e instanceof FileReadError && e.code === 'not-found') throw fileError('not-found', path, missing);
    throw fromReadError(e);
  }
}

function attrText(owner: Group | Dataset, name: string): string | undefined {
  const attr = owner.attrs[name];
  if (!attr) return undefined;
  const v = attr.value;
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
  return undefined;
}

/** A list-of-names attribute, including Keras' chunked form (`layer_names0`, `layer_names1`, ...) for long lists. */
function attrNames(owner: Group, name: string, path: string, where: string): string[] | undefined {
  const read = (n: string): string[] => {
    const v = owner.attrs[n]!.value;
    if (typeof v === 'string') return [v];
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
    if (ArrayBuffer.isView(v) && (v as unknown as ArrayLike<unknown>).length === 0) return []; // h5py's np.asarray([])
    throw fileError('invalid-input', path, `attribute '${n}' is not a list of names`, where);
  };
  const names = Object.keys(owner.attrs);
  if (names.includes(name)) return read(name);
  if (!names.includes(`${name}0`)) return undefined;
  const out: string[] = [];
  for (let i = 0; names.includes(`${name}${i}`); i++) out.push(...read(`${name}${i}`));
  return out;
}

function isGroup(entity: unknown): entity is Group {
  return !!entity && (entity as Group).type === 'Group';
}
function isDataset(entity: unknown): entity is Dataset {
  return !!entity && (entity as Dataset).type === 'Dataset';
}

/**
 * Reads a Keras HDF5 model file (Keras 2 `model.save`, Keras 3 legacy `.h5`, or this module's output)
 * into a spec and its weights. Errors name the file and the layer, attribute or dataset at fault.
 */
export async function readKerasH5(filePath: string): Promise<KerasH5Contents> {
  const path = resolve(filePath);
  const signed = await checkedHdf5Signature(path);
  if (!signed) throw fileError('invalid-input', path, 'not an HDF5 file (no HDF5 signature): expected a Keras .h5 model');
  const h5 = await loadH5wasm();
  let file;
  try {
    file = new h5.File(path, 'r');
  } catch (e) {
    throw fileError('invalid-input', path, `corrupted or truncated HDF5 file (${hdf5Reason(e)})`);
  }
  try {
    return readOpenFile(file, path);
  } catch (e) {
    if (e instanceof ExportError) throw e;
    throw fileError('invalid-input', path, `corrupted HDF5 file (${hdf5Reason(e)})`);
  } finally {
    file.close();
  }
}

export interface KerasH5Contents {
  spec: ModelSpec;
  weights: NamedWeights;
  kerasVersion: string | null;
  /** The optimizer, learning rate and schedule from training_config, when the file has one Layerbench can use. */
  training?: TrainingInfo;
  /** Why training_config was not used (an optimizer TF.js lacks, say); the weights import regardless. */
  trainingIgnored?: string;
  /** The unused training_config as the file holds it, so an .h5 → .h5 conversion keeps it verbatim. */
  trainingConfigText?: string;
}

/** training_config is advisory: an optimizer Layerbench cannot run does not stop the weights from importing. */
function trainingConfigOf(file: Group): Pick<KerasH5Contents, 'training' | 'trainingIgnored' | 'trainingConfigText'> {
  const text = attrText(file, 'training_config');
  if (text === undefined) return {};
  try {
    return { training: fromKerasTrainingConfig(text) };
  } catch (e) {
    return { trainingIgnored: `training_config: ${(e as Error).message}`, trainingConfigText: text };
  }
}

function readOpenFile(file: Group, path: string): KerasH5Contents {
  const config = attrText(file, 'model_config');
  if (config === undefined) {
    const weightsOnly = attrNames(file, 'layer_names', path, '/') !== undefined;
    throw fileError(
      'invalid-input',
      path,
      weightsOnly
        ? 'missing: this file holds weights only (model.save_weights); a model file (model.save) also holds the architecture'
        : 'missing: not a Keras model file (no model_config attribute)',
      'model_config',
    );
  }
  let spec: ModelSpec;
  try {
    spec = fromKerasTopology(config);
  } catch (e) {
    throw fileError(e instanceof Error && e.name === 'KerasImportError' ? 'unsupported' : 'invalid-input', path, (e as Error).message, 'model_config');
  }
  let layers;
  try {
    layers = modelLayers(spec);
  } catch (e) {
    throw fileError('invalid-input', path, (e as Error).message, 'model_config');
  }
  // The weights model_config declares are what reading them allocates: refused before, when too many.
  checkDeclaredWeights(layers, path);

  const weightsRoot = file.get('model_weights');
  const root: Group = isGroup(weightsRoot) ? weightsRoot : file;
  const where = isGroup(weightsRoot) ? 'model_weights' : '/';
  const layerNames = attrNames(root, 'layer_names', path, where);
  if (layerNames === undefined) throw fileError('invalid-input', path, `missing attribute 'layer_names' (the file holds no weights)`, where);

  const weights: NamedWeights = new Map();
  const byName = new Map(layers.map((l) => [l.name, l]));
  for (const name of layerNames) {
    const group = root.get(name);
    const at = `${where === '/' ? '' : `${where}/`}${name}`;
    if (!isGroup(group)) throw fileError('invalid-input', path, `layer_names lists '${name}', but there is no such group`, at);
    const weightNames = attrNames(group, 'weight_names', path, at) ?? [];
    const layer = byName.get(name);
    if (!layer) {
      if (weightNames.length) throw fileError('invalid-input', path, `weights for layer '${name}', which model_config does not have`, at);
      continue;
    }
    if (weightNames.length !== layer.variables.length) {
      throw fileError(
        'invalid-input',
        path,
        `layer '${name}' (${layer.class_name}) has ${layer.variables.length} weights (${layer.variables.map((v) => v.short).join(', ') || 'none'}), the file holds ${weightNames.length}`,
        `${at}.weight_names`,
      );
    }
    // Keras matches a layer's weights by order; the names are checked where they follow its convention.
    layer.variables.forEach((v, i) => {
      const wname = weightNames[i]!;
      const dpath = `${at}/${wname}`;
      const short = wname.replace(/:\d+$/, '').split('/').at(-1);
      if (short !== v.short && !/^\d+$/.test(short ?? '')) {
        throw fileError('invalid-input', path, `weight ${i} of layer '${name}' is '${wname}', expected '${v.short}'`, `${at}.weight_names`);
      }
      const ds = group.get(wname);
      if (!isDataset(ds)) throw fileError('invalid-input', path, `missing dataset for weight '${wname}' of layer '${name}'`, dpath);
      const shape = ds.shape ?? [];
      if (shape.length !== v.shape.length || shape.some((d, j) => d !== v.shape[j])) {
        throw fileError('invalid-input', path, `weight '${v.name}' has shape [${shape.join(', ')}], layer '${name}' needs [${v.shape.join(', ')}]`, dpath);
      }
      const value = ds.value;
      let data: Float32Array;
      if (value instanceof Float32Array) data = value;
      else if (value instanceof Float64Array) data = Float32Array.from(value);
      else throw fileError('unsupported', path, `weight '${v.name}' has dtype ${JSON.stringify(ds.dtype)}, expected float32`, dpath);
      weights.set(v.name, { shape: [...v.shape], data });
    });
  }
  const missing = layers.filter((l) => l.variables.length && !layerNames.includes(l.name));
  if (missing.length) {
    throw fileError('invalid-input', path, `no weights for layer${missing.length > 1 ? 's' : ''} ${missing.map((l) => `'${l.name}'`).join(', ')}`, `${where}.layer_names`);
  }
  return { spec, weights, kerasVersion: attrText(file, 'keras_version') ?? null, ...trainingConfigOf(file) };
}
