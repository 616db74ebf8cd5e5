/**
 * Model export and import (issue #5). Electron-free; the format writers work on plain Float32Arrays
 * read from TF.js weight files, so exporting needs no TensorFlow.js (only fresh weights for a bare
 * spec build a model in TF.js, loaded on demand).
 *
 *   exportRun({ runDir | spec [+ weightsDir | weights | freshWeights], format, out, force })
 *     tfjs → <out>/model.json + <out>/weights.bin (out is a folder; or <out>.json + <stem>.weights.bin)
 *     h5   → Keras HDF5 model file        onnx → ONNX model (opset 13)        py → Keras Python script
 *   importModel(path)  TF.js model.json (+ weights) or Keras .h5 → { spec, weights }
 *
 * Writes are atomic (temp files, then renames); an existing output is replaced only with `force`;
 * failures name the path and leave no partial file.
 */
import { stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import { ModelSpecError, ModelSpecSchema, type ModelSpec } from '../../../model';
import { TrainingSettingsSchema, type TrainingSettings } from '../../../contract/training';
import { formatIssues } from '../../../contract/wire';
import { checkTargets, writeOutputs, type OutputFile } from './atomic';
import { FileReadError, printable, readTextBounded } from '../files/bounded-read';
import { ExportError, fileError, fromReadError } from './errors';
import { freshWeights } from './fresh';
import { checkedHdf5Signature, kerasH5Bytes, readKerasH5 } from './h5';
import { notAModelReason, sniffFile, type FileType } from '../files/sniff';
import { onnxModelBytes } from './onnx';
import { kerasScript } from './python';
import { TFJS_MODEL_FILE, TFJS_WEIGHTS_FILE, readTfjsModel, readTfjsWeights, tfjsArtifacts } from './tfjs';
import { checkWeights, type NamedWeights } from './weights';
import { findSavedWeights, type SavedWeights } from '../runs/saved-weights';
import type { NormalizationState } from '../training/worker/pipeline';

export { ExportError } from './errors';
export type { ExportErrorCode } from './errors';
export type { NamedWeights, WeightValue } from './weights';
export { kerasModelConfig, readKerasH5 } from './h5';
export { onnxModelBytes, ONNX_INPUT, ONNX_OUTPUT, ONNX_OPSET } from './onnx';
export { kerasScript } from './python';
export { readTfjsModel, tfjsArtifacts } from './tfjs';

export const EXPORT_FORMATS = ['tfjs', 'h5', 'onnx', 'py'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Where a run keeps its final weights, relative to the run folder. */
export const RUN_WEIGHTS = join('weights', TFJS_MODEL_FILE);

export interface ExportRequest {
  /** A run folder: run.json (spec, settings) and weights/model.json + weights.bin. */
  runDir?: string;
  /** A spec to export instead of a run's. */
  spec?: ModelSpec;
  /** With `spec`: a folder holding model.json + weights.bin (or the model.json itself). */
  weightsDir?: string;
  /** With `spec`: the weights themselves. */
  weights?: NamedWeights;
  /** With `spec` and no weights: initialise fresh weights as training would (tfjs, h5; py needs none). */
  freshWeights?: boolean;
  /** Training settings for h5's training_config and the script (a run's own are used otherwise). */
  settings?: TrainingSettings;
  format: ExportFormat;
  out: string;
  force?: boolean;
  /** py: the .h5 the script loads by default (must exist; the script finds it relative to its own folder). */
  weightsH5?: string;
  /** h5: another .h5's training_config to keep verbatim when `settings` are not given (one Layerbench could not read). */
  trainingConfigText?: string;
}

export interface ExportResult {
  format: ExportFormat;
  /** Absolute paths of the files written. */
  files: string[];
  spec: ModelSpec;
  /** Where the weights came from ('run-best': the run's best-epoch checkpoint, as it saved no final weights). */
  weights: 'run' | 'run-best' | 'weights-dir' | 'given' | 'fresh' | 'none';
}

export interface RunFolder {
  spec: ModelSpec;
  settings: TrainingSettings | null;
  /** weights/model.json, else best/model.json (weightsFrom says which), or null when the run has saved no weights. */
  weightsModelJson: string | null;
  weightsFrom: SavedWeights['from'] | null;
}

/** The input normalization a run recorded with its weights (model.json's userDefinedMetadata), if readable. */
async function recordedNormalization(modelJson: string): Promise<NormalizationState | undefined> {
  try {
    const json = JSON.parse(await readTextBounded(modelJson, { what: 'model.json' })) as { userDefinedMetadata?: { layerbench?: { normalization?: NormalizationState } } };
    const n = json.userDefinedMetadata?.layerbench?.normalization;
    if (n?.kind === 'standardize' && Array.isArray(n.mean) && Array.isArray(n.std)) return n;
    return n?.kind === 'scale-255' || n?.kind === 'none' ? n : undefined;
  } catch {
    return undefined; // the settings' kind is used instead
  }
}

/** The py export's --weights: an existing HDF5 file, written relative to the script's folder. */
async function scriptWeightsPath(weightsH5: string, scriptPath: string): Promise<string> {
  const full = resolve(weightsH5);
  const isHdf5 = await checkedHdf5Signature(full, 'no such weights file (--weights names the Keras .h5 the script loads)');
  if (!isHdf5) throw fileError('invalid-input', full, 'not an HDF5 file: --weights names a Keras .h5 (model.save or an h5 export)');
  return relative(dirname(scriptPath), full);
}

/** Reads a run folder's run.json (spec, settings) and finds its weights. */
export async function readRunFolder(runDir: string): Promise<RunFolder> {
  const dir = resolve(runDir);
  const runJson = join(dir, 'run.json');
  let text: string;
  try {
    text = await readTextBounded(runJson, { what: 'run description (run.json)' });
  } catch (e) {
    if ((e as FileReadError).code === 'not-found') throw new ExportError('not-found', `${dir}: not a run folder (no run.json)`, dir);
    throw fromReadError(e);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw fileError('invalid-input', runJson, `not valid JSON (${printable((e as Error).message)})`);
  }
  const spec = ModelSpecSchema.safeParse((json as { spec?: unknown })?.spec);
  if (!spec.success) throw fileError('invalid-input', runJson, `no valid model spec (${formatIssues(spec.error).join('; ')})`, 'spec');
  const settings = TrainingSettingsSchema.safeParse((json as { settings?: unknown })?.settings);
  const saved = findSavedWeights(dir);
  return { spec: spec.data, settings: settings.success ? settings.data : null, weightsModelJson: saved && join(saved.dir, TFJS_MODEL_FILE), weightsFrom: saved?.from ?? null };
}

/** model.json inside a folder, or the path itself when it names a file. */
async function modelJsonIn(path: string): Promise<string> {
  const full = resolve(path);
  try {
    if ((await stat(full)).isDirectory()) return join(full, TFJS_MODEL_FILE);
  } catch {
    // reported when it is read
  }
  return full;
}

/** The files a format writes for `out`. */
export function outputPaths(format: ExportFormat, out: string): string[] {
  const full = resolve(out);
  if (format !== 'tfjs') return [full];
  if (extname(full).toLowerCase() === '.json') {
    const stem = basename(full, extname(full));
    return [join(dirname(full), `${stem}.${TFJS_WEIGHTS_FILE}`), full];
  }
  return [join(full, TFJS_WEIGHTS_FILE), join(full, TFJS_MODEL_FILE)];
}

/** Exports a run (or a spec and its weights) in one format. See ExportRequest. Throws ExportError. */
export async function exportRun(request: ExportRequest): Promise<ExportResult> {
  try {
    return await exportOnce(request);
  } catch (e) {
    // An invalid spec (a run.json edited by hand, a spec mid-edit) is reported like any other problem.
    if (e instanceof ModelSpecError) {
      const where = request.runDir !== undefined ? `${join(resolve(request.runDir), 'run.json')}: ` : '';
      throw new ExportError('invalid-input', `${where}${e.message}`, request.runDir);
    }
    throw e;
  }
}

async function exportOnce(request: ExportRequest): Promise<ExportResult> {
  const { format } = request;
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
    throw new ExportError('unsupported', `unknown export format '${String(format)}' (supported: ${EXPORT_FORMATS.join(', ')})`);
  }
  const paths = outputPaths(format, request.out);
  // Refuse an existing output before the (possibly slow) work; writeOutputs checks again, atomically.
  await checkTargets(paths, request.force === true);

  let spec: ModelSpec;
  let settings: TrainingSettings | null = request.settings ?? null;
  let weights: NamedWeights | null = null;
  let source: ExportResult['weights'] = 'none';
  let normalization: NormalizationState | undefined;
  const needsWeights = format !== 'py';
  const weightsPath = format === 'py' && request.weightsH5 !== undefined ? await scriptWeightsPath(request.weightsH5, paths[0]!) : undefined;

  if (request.runDir !== undefined) {
    const run = await readRunFolder(request.runDir);
    spec = run.spec;
    settings ??= run.settings;
    if (format === 'py' && run.weightsModelJson) normalization = await recordedNormalization(run.weightsModelJson);
    if (needsWeights) {
      if (!run.weightsModelJson) {
        throw new ExportError(
          'not-found',
          `${resolve(request.runDir)} has no saved weights (${RUN_WEIGHTS} is missing, and there is no best-epoch checkpoint): the run may still be training, or it ended before saving them`,
          resolve(request.runDir),
        );
      }
      weights = (await readTfjsWeights(run.weightsModelJson)).weights;
      checkWeights(spec, weights, run.weightsModelJson);
      source = run.weightsFrom === 'best' ? 'run-best' : 'run';
    }
  } else if (request.spec !== undefined) {
    spec = request.spec;
    if (request.weights) {
      weights = request.weights;
      checkWeights(spec, weights, 'weights');
      source = 'given';
    } else if (request.weightsDir !== undefined) {
      const modelJson = await modelJsonIn(request.weightsDir);
      weights = (await readTfjsWeights(modelJson)).weights;
      checkWeights(spec, weights, modelJson);
      source = 'weights-dir';
    } else if (needsWeights) {
      if (format === 'onnx') {
        throw new ExportError('not-found', `ONNX export needs trained weights: export a run folder, or give the spec's weights (weightsDir)`);
      }
      if (!request.freshWeights) {
        throw new ExportError('not-found', `the ${format} export needs weights: give a run folder, weightsDir, or ask for fresh (untrained) weights`);
      }
      weights = await freshWeights(spec);
      source = 'fresh';
    }
  } else {
    throw new ExportError('invalid-input', 'nothing to export: give runDir, or spec (with weightsDir, weights or freshWeights)');
  }

  const files: OutputFile[] = [];
  const training = settings ? { optimizer: settings.optimizer, learningRate: settings.learningRate, lrSchedule: settings.lrSchedule } : undefined;
  switch (format) {
    case 'tfjs': {
      const { modelJson, weightsBin } = tfjsArtifacts(spec, weights!, basename(paths[0]!));
      files.push({ path: paths[0]!, data: weightsBin }, { path: paths[1]!, data: modelJson });
      break;
    }
    case 'h5': {
      let bytes: Uint8Array;
      try {
        bytes = await kerasH5Bytes(spec, weights!, training ? { training } : request.trainingConfigText !== undefined ? { trainingConfigText: request.trainingConfigText } : {});
      } catch (e) {
        if (e instanceof ExportError && e.code !== 'io') throw e;
        // The file is built in the temp folder first; say so when that is what failed (a full /tmp, say).
        const reason = e instanceof Error ? e.message : String(e);
        throw new ExportError('io', `Cannot write ${paths[0]}: building the HDF5 file in ${tmpdir()} failed (${reason})`, paths[0]);
      }
      files.push({ path: paths[0]!, data: bytes });
      break;
    }
    case 'onnx':
      files.push({ path: paths[0]!, data: onnxModelBytes(spec, weights!) });
      break;
    case 'py':
      files.push({
        path: paths[0]!,
        data: kerasScript(spec, {
          ...(settings ? { settings } : {}),
          ...(weightsPath !== undefined ? { weightsPath } : {}),
          ...(normalization ? { normalization } : {}),
          fileName: basename(paths[0]!),
        }),
      });
      break;
  }
  await writeOutputs(files, { force: request.force === true });
  return { format, files: files.map((f) => f.path), spec, weights: source };
}

export interface ImportedModel {
  spec: ModelSpec;
  weights: NamedWeights;
  format: 'tfjs' | 'h5';
  /** A Keras .h5's training_config: optimizer, learning rate and schedule. */
  training?: Pick<TrainingSettings, 'optimizer' | 'learningRate' | 'lrSchedule'>;
  /** A Keras .h5's training_config that Layerbench could not use, as the file holds it, and why. */
  trainingConfigText?: string;
  trainingIgnored?: string;
}

/**
 * Reads a TF.js layers model (model.json and its weight files, or their folder) or a Keras .h5 model
 * file. Malformed files and unsupported layers give an ExportError naming the file and the layer or field.
 */
export async function importModel(path: string): Promise<ImportedModel> {
  const full = await modelJsonIn(path);
  let type: FileType;
  try {
    type = await sniffFile(full);
  } catch (e) {
    throw fromReadError(e);
  }
  const ext = extname(full).toLowerCase();
  if (type === 'hdf5' || ext === '.h5' || ext === '.hdf5') return { ...(await readKerasH5(full)), format: 'h5' };
  if (type === 'keras-archive') {
    throw fileError('unsupported', full, `Keras 3 .keras archives are not supported: save the model with model.save('model.h5') and import that`);
  }
  const reason = notAModelReason(type);
  if (reason) throw fileError('unsupported', full, `${reason}; expected a TF.js model.json or a Keras .h5`);
  return { ...(await readTfjsModel(full)), format: 'tfjs' };
}
