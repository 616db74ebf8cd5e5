/**
 * `layerbench export <run-dir-or-project> --format tfjs|h5|onnx|py --out PATH [--force] [--weights H5]`
 *
 * The source may be
 *   - a run folder (run.json + weights/model.json): its trained weights are exported;
 *   - a Layerbench project file, or a Keras / TF.js topology JSON without weights: the architecture,
 *     with fresh (untrained) weights for tfjs and h5, none needed for py; ONNX needs trained weights;
 *   - a TF.js model.json (or its folder) or a Keras .h5 holding weights: converted with its weights
 *     (an .h5's training_config carries over into h5 and py).
 * --weights names the .h5 the Python script loads by default (py only; it must exist, and the script
 * finds it relative to its own folder).
 * Exit status 0 when written; errors (exit 1) say what is missing or which path failed.
 */
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { defaultTrainingSettings, type TrainingSettings } from '../../contract/training';
import type { ModelSpec } from '../../model';
import { EXPORT_FORMATS, exportRun, importModel, readTfjsModel, type ExportFormat, type ExportRequest, type ImportedModel } from '../services/export';
import { BEST_FALLBACK_NOTE } from '../services/runs/saved-weights';
import { recoverRunFolder } from '../services/runs/store';
import { UsageError, stringFlag, type ParsedArgs } from './args';
import { modelOf, readModelFileContents } from './model-file';

/** The options `parseArgs` needs for this command. */
export const EXPORT_OPTIONS = { format: 'string', out: 'string', force: 'boolean', weights: 'string' } as const;

export const EXPORT_USAGE = `export <run-dir|project> --format tfjs|h5|onnx|py --out PATH [--force] [--weights H5]
                                       export a run's trained model (or a project's architecture)`;

type Source =
  | { kind: 'run'; request: Pick<ExportRequest, 'runDir'> }
  | { kind: 'model'; request: Pick<ExportRequest, 'spec' | 'weights' | 'settings' | 'trainingConfigText'>; note?: string }
  | { kind: 'architecture'; spec: ModelSpec; settings: TrainingSettings | null; what: string };

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** A model with its weights; a Keras .h5's training_config comes along (read, or kept verbatim when unreadable). */
function modelSource(imported: ImportedModel): Source {
  const request: Extract<Source, { kind: 'model' }>['request'] = { spec: imported.spec, weights: imported.weights };
  if (imported.training) request.settings = { ...defaultTrainingSettings, ...imported.training };
  else if (imported.trainingConfigText !== undefined) request.trainingConfigText = imported.trainingConfigText;
  return { kind: 'model', request, ...(imported.trainingIgnored ? { note: imported.trainingIgnored } : {}) };
}

async function resolveSource(path: string): Promise<Source> {
  const full = resolve(path);
  if (await isDir(full)) {
    if (await exists(join(full, 'run.json'))) return { kind: 'run', request: { runDir: full } };
    if (await exists(join(full, 'model.json'))) return modelSource(await importModel(full));
    throw new Error(`${full}: not a run folder (no run.json) nor a TF.js model folder (no model.json)`);
  }
  if (!(await exists(full))) throw new Error(`${full}: no such file or folder`);
  // The file is sniffed, read and parsed once; a TF.js model.json's weights are read beside it.
  const contents = await readModelFileContents(full);
  if (contents.kind === 'h5') return modelSource({ ...contents.h5, format: 'h5' });
  const { json } = contents;
  if (json && typeof json === 'object' && 'weightsManifest' in json) return modelSource({ ...(await readTfjsModel(full, json)), format: 'tfjs' });
  const model = modelOf(contents);
  if (model.kind === 'project') return { kind: 'architecture', spec: model.spec, settings: model.project.training, what: 'a project' };
  return { kind: 'architecture', spec: model.spec, settings: null, what: 'a model topology without weights' };
}

export async function exportCommand(args: ParsedArgs): Promise<number> {
  const [source, ...extra] = args.positionals;
  if (!source || extra.length) throw new UsageError('export takes exactly one run folder or project file');
  const format = stringFlag(args, 'format');
  if (!format) throw new UsageError(`export needs --format (${EXPORT_FORMATS.join(', ')})`);
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format must be one of ${EXPORT_FORMATS.join(', ')}, got "${format}"`);
  const out = stringFlag(args, 'out');
  if (!out) throw new UsageError('export needs --out PATH');
  const weightsH5 = stringFlag(args, 'weights');
  if (weightsH5 !== undefined && format !== 'py') throw new UsageError('--weights only applies to --format py (the .h5 the script loads)');
  const force = args.flags.has('force');
  const common = { format: format as ExportFormat, out, force, ...(weightsH5 ? { weightsH5 } : {}) };

  const src = await resolveSource(source);
  let note = '';
  let result;
  if (src.kind === 'architecture') {
    if (format === 'onnx') {
      throw new Error(
        `${resolve(source)} is ${src.what}: it holds the architecture but no trained weights, and an ONNX export needs trained weights. Export a run folder (<data dir>/runs/<run id>) instead.`,
      );
    }
    result = await exportRun({ ...common, spec: src.spec, ...(src.settings ? { settings: src.settings } : {}), freshWeights: format !== 'py' });
    if (format !== 'py') note = ` (fresh, untrained weights: ${src.what} has no trained weights)`;
  } else {
    if (src.kind === 'run') await recoverRunFolder(resolve(src.request.runDir!));
    result = await exportRun({ ...common, ...src.request });
    if (result.weights === 'run-best') note = ` (from ${BEST_FALLBACK_NOTE})`;
    if (src.kind === 'model' && src.note && (format === 'h5' || format === 'py')) {
      process.stderr.write(`layerbench: note: ${src.note}${format === 'h5' ? ' (kept as it was in the new file)' : ' (the script uses the default optimizer)'}\n`);
    }
  }
  process.stdout.write(`Exported '${result.spec.config.name}' as ${format}${note}:\n${result.files.map((f) => `  ${f}\n`).join('')}`);
  return 0;
}
