/**
 * TF.js layers format: `model.json` (topology + weightsManifest) and the binary weights it names.
 * Reads and writes plain Float32Arrays; no TensorFlow.js needed. What this writes loads with
 * `tf.loadLayersModel` and predicts as the model it came from.
 */
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { ModelSpecSchema, fromKerasTopology, specWithDefaults, summarize, toKerasTopology, type ModelSpec } from '../../../model';
import { formatBytes, limit, LIMITS_ENV, overLimit, printable, readFileBounded, readTextBounded } from '../files/bounded-read';
import { ExportError, fileError, fromReadError } from './errors';
import { checkWeights, modelLayers, type NamedWeights } from './weights';

export const TFJS_MODEL_FILE = 'model.json';
export const TFJS_WEIGHTS_FILE = 'weights.bin';
export const LAYERS_MODEL_FORMAT = 'layers-model';

export interface TfjsWeightEntry {
  name: string;
  shape: number[];
  dtype: string;
  group?: string;
  quantization?: { dtype: string; scale?: number; min?: number };
}

export interface TfjsModelJson {
  format: string;
  generatedBy: string;
  convertedBy: string | null;
  modelTopology: unknown;
  weightsManifest: { paths: string[]; weights: TfjsWeightEntry[] }[];
  userDefinedMetadata?: Record<string, unknown>;
}

/**
 * The topology in model.json is TF.js' (initializers rewritten so TF.js samples Keras' variances),
 * which does not import back to the same initializers; the spec itself travels beside it in
 * userDefinedMetadata (TF.js keeps it: `model.getUserDefinedMetadata()`).
 */
export const SPEC_METADATA_KEY = 'layerbenchSpec';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const describe = (v: unknown) => (v === undefined ? 'nothing' : (JSON.stringify(v)?.slice(0, 60) ?? String(v)));

/** The model.json and weights file of a spec and its weights (TF.js spelling of the topology). */
export function tfjsArtifacts(spec: ModelSpec, weights: NamedWeights, weightsFile = TFJS_WEIGHTS_FILE): { modelJson: string; weightsBin: Uint8Array } {
  const variables = checkWeights(spec, weights, 'weights');
  const total = variables.reduce((n, v) => n + weights.get(v.name)!.data.length, 0);
  const bin = new Float32Array(total);
  let offset = 0;
  for (const v of variables) {
    const data = weights.get(v.name)!.data;
    bin.set(data, offset);
    offset += data.length;
  }
  const json: TfjsModelJson = {
    format: LAYERS_MODEL_FORMAT,
    generatedBy: 'Layerbench',
    convertedBy: null,
    // The same topology the app trains with (TF.js spellings, Keras' initializer variances).
    modelTopology: toKerasTopology(spec, { kerasVariance: true }),
    weightsManifest: [{ paths: [weightsFile], weights: variables.map((v) => ({ name: v.name, shape: v.shape, dtype: 'float32' })) }],
    userDefinedMetadata: { [SPEC_METADATA_KEY]: spec },
  };
  return { modelJson: `${JSON.stringify(json)}\n`, weightsBin: new Uint8Array(bin.buffer) };
}

function float16ToFloat32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? Number.NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

const BYTES: Record<string, number> = { float32: 4, uint8: 1, uint16: 2, float16: 2 };

/** Decodes one manifest entry's bytes (float32, or TF.js-converter quantized uint8/uint16/float16). */
function decode(entry: TfjsWeightEntry, bytes: Uint8Array, count: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  const q = entry.quantization;
  if (!q) {
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
  } else if (q.dtype === 'float16') {
    for (let i = 0; i < count; i++) out[i] = float16ToFloat32(view.getUint16(i * 2, true));
  } else {
    const scale = q.scale ?? 1;
    const min = q.min ?? 0;
    for (let i = 0; i < count; i++) out[i] = (q.dtype === 'uint8' ? view.getUint8(i) : view.getUint16(i * 2, true)) * scale + min;
  }
  return out;
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readTextBounded(path, { what: 'model file' });
  } catch (e) {
    throw fromReadError(e);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw fileError('invalid-input', path, `not valid JSON (${printable((e as Error).message)}); the file may be truncated`);
  }
}

/** Validates a weightsManifest, naming the offending field. */
function readManifest(path: string, raw: unknown): TfjsModelJson['weightsManifest'] {
  if (raw === undefined) throw fileError('invalid-input', path, 'missing (a layers model.json lists its weight files here)', 'weightsManifest');
  if (!Array.isArray(raw)) throw fileError('invalid-input', path, `expected a list, got ${describe(raw)}`, 'weightsManifest');
  return raw.map((group, g) => {
    const at = `weightsManifest[${g}]`;
    if (!isRecord(group)) throw fileError('invalid-input', path, `expected an object with paths and weights, got ${describe(group)}`, at);
    if (!Array.isArray(group.paths) || !group.paths.every((p) => typeof p === 'string' && p !== '')) {
      throw fileError('invalid-input', path, `expected a list of file names, got ${describe(group.paths)}`, `${at}.paths`);
    }
    if (!Array.isArray(group.weights)) throw fileError('invalid-input', path, `expected a list of weights, got ${describe(group.weights)}`, `${at}.weights`);
    const weights = group.weights.map((w, i) => {
      const wat = `${at}.weights[${i}]`;
      if (!isRecord(w)) throw fileError('invalid-input', path, `expected {name, shape, dtype}, got ${describe(w)}`, wat);
      if (typeof w.name !== 'string' || w.name === '') throw fileError('invalid-input', path, `expected a weight name, got ${describe(w.name)}`, `${wat}.name`);
      if (!Array.isArray(w.shape) || !w.shape.every((d) => Number.isInteger(d) && d >= 0)) {
        throw fileError('invalid-input', path, `weight '${w.name}': expected a shape such as [784, 300], got ${describe(w.shape)}`, `${wat}.shape`);
      }
      const q = w.quantization;
      if (q !== undefined && !(isRecord(q) && typeof q.dtype === 'string' && ['uint8', 'uint16', 'float16'].includes(q.dtype))) {
        throw fileError('unsupported', path, `weight '${w.name}': unsupported quantization ${describe(q)} (supported: uint8, uint16, float16)`, `${wat}.quantization`);
      }
      if (w.dtype !== 'float32') {
        throw fileError('unsupported', path, `weight '${w.name}': only float32 weights are supported, got dtype ${describe(w.dtype)}`, `${wat}.dtype`);
      }
      return w as unknown as TfjsWeightEntry;
    });
    return { paths: group.paths as string[], weights };
  });
}

/**
 * Reads a TF.js layers model.json and its weight files: the parsed JSON and the weights as
 * Float32Arrays (optimizer weights, if saved with the model, are skipped). Errors name the file and field.
 */
export async function readTfjsWeights(modelJsonPath: string, parsed?: unknown): Promise<{ json: Record<string, unknown>; weights: NamedWeights }> {
  const path = resolve(modelJsonPath);
  const json = parsed ?? (await readJson(path));
  if (!isRecord(json)) throw fileError('invalid-input', path, `expected a TF.js model.json object, got ${describe(json)}`);
  if (json.format !== undefined && json.format !== LAYERS_MODEL_FORMAT) {
    throw fileError('unsupported', path, `only TF.js layers models can be read, this is ${describe(json.format)}`, 'format');
  }
  if (json.modelTopology === undefined || json.modelTopology === null) throw fileError('invalid-input', path, 'missing (the model architecture)', 'modelTopology');
  const manifest = readManifest(path, json.weightsManifest);
  const folder = dirname(path);
  const weights: NamedWeights = new Map();
  // What decoding allocates (float32 per value), from the manifest, before any weight file is read.
  const maxBytes = limit('fileBytes');
  const declared = manifest.reduce((n, group) => n + group.weights.reduce((m, w) => m + w.shape.reduce((a, b) => a * b, 1) * 4, 0), 0);
  if (declared > maxBytes) {
    throw fileError('limit', path, `the manifest declares ${formatBytes(declared)} of weights, ${overLimit({ maxBytes, limitEnv: LIMITS_ENV.fileBytes.name })}`, 'weightsManifest');
  }
  for (const [g, group] of manifest.entries()) {
    const buffers: Uint8Array[] = [];
    for (const [p, name] of group.paths.entries()) {
      const file = resolve(folder, name);
      const rel = relative(folder, file);
      if (isAbsolute(name) || rel.startsWith('..') || isAbsolute(rel)) {
        throw fileError('invalid-input', path, `'${name}' is outside the model's folder`, `weightsManifest[${g}].paths[${p}]`);
      }
      try {
        buffers.push(await readFileBounded(file, { maxBytes, limitEnv: LIMITS_ENV.fileBytes.name, what: 'weights file' }));
      } catch (e) {
        const error = fromReadError(e);
        if (!(error instanceof ExportError)) throw error;
        throw new ExportError(error.code, `${error.message} (named in ${path} weightsManifest[${g}].paths[${p}])`, file);
      }
    }
    const bytes = Buffer.concat(buffers);
    let offset = 0;
    for (const w of group.weights) {
      const count = w.shape.reduce((a, b) => a * b, 1);
      const length = count * BYTES[w.quantization?.dtype ?? 'float32']!;
      if (offset + length > bytes.length) {
        throw fileError(
          'invalid-input',
          path,
          `the weight files (${group.paths.join(', ')}) hold ${bytes.length} bytes, but weight '${w.name}' ends at byte ${offset + length}: the weights file is truncated or belongs to another model`,
          `weightsManifest[${g}]`,
        );
      }
      if (w.group !== 'optimizer') {
        if (weights.has(w.name)) throw fileError('invalid-input', path, `weight '${w.name}' is listed twice`, `weightsManifest[${g}]`);
        weights.set(w.name, { shape: [...w.shape], data: decode(w, bytes.subarray(offset, offset + length), count) });
      }
      offset += length;
    }
    if (offset !== bytes.length) {
      throw fileError(
        'invalid-input',
        path,
        `the weight files (${group.paths.join(', ')}) hold ${bytes.length} bytes, but the manifest describes ${offset}`,
        `weightsManifest[${g}]`,
      );
    }
  }
  return { json, weights };
}

/** Reads a TF.js layers model (model.json + weights) into a spec and its weights; `parsed`: model.json as the caller already read it. */
export async function readTfjsModel(modelJsonPath: string, parsed?: unknown): Promise<{ spec: ModelSpec; weights: NamedWeights }> {
  const path = resolve(modelJsonPath);
  const { json, weights } = await readTfjsWeights(path, parsed);
  let spec: ModelSpec;
  try {
    spec = fromKerasTopology(json);
  } catch (e) {
    throw fileError(e instanceof Error && e.name === 'KerasImportError' ? 'unsupported' : 'invalid-input', path, (e as Error).message, 'modelTopology');
  }
  try {
    modelLayers(spec);
  } catch (e) {
    throw fileError('invalid-input', path, (e as Error).message, 'modelTopology');
  }
  // Layerbench's own spec, when it is there and describes the same layers, keeps the exact initializers.
  const own = ModelSpecSchema.safeParse(isRecord(json.userDefinedMetadata) ? json.userDefinedMetadata[SPEC_METADATA_KEY] : undefined);
  if (own.success && summarize(own.data).valid) {
    const layersOf = (s: ModelSpec) => s.config.layers.map((l) => l.config.name).join('\n');
    if (layersOf(own.data) === layersOf(spec)) spec = specWithDefaults(own.data);
  }
  checkWeights(spec, weights, path);
  return { spec, weights };
}
