/**
 * Reads a model from a file the user names: a Layerbench project, a Keras .h5 model (with its
 * weights and training_config), Keras `model.to_json()`, or a TF.js model.json. Any other file is
 * refused with its type named ("this is an ONNX file; ..."); anything that is not a regular file,
 * or is over the size cap, is refused before it is read.
 */
import { resolve } from 'node:path';
import { fromKerasTopology, type ModelSpec } from '../../model';
import { PROJECT_FORMAT, type Project } from '../../contract/projects';
import { DomainError } from '../../contract/wire';
import { readKerasH5, type KerasH5Contents } from '../services/export/h5';
import { printable, readTextBounded } from '../services/files/bounded-read';
import { MODEL_FILES, notAModelReason, sniffFile } from '../services/files/sniff';
import { parseProject } from '../services/projects/store';

export type ModelFile =
  | { kind: 'project'; spec: ModelSpec; project: Project; path: string }
  | { kind: 'h5'; spec: ModelSpec; h5: KerasH5Contents; path: string }
  | { kind: 'topology'; spec: ModelSpec; json: unknown; path: string };

/** A model file read once: a Keras .h5's contents, or a JSON file's text and value. */
export type ModelFileContents = { kind: 'h5'; h5: KerasH5Contents; path: string } | { kind: 'json'; text: string; json: unknown; path: string };

/** Sniffs and reads a model file (once), refusing any other type of file with its type named. */
export async function readModelFileContents(path: string): Promise<ModelFileContents> {
  const full = resolve(path);
  // sniffFile refuses folders, devices, pipes and missing files with a DomainError that names the path.
  const type = await sniffFile(full, 'model file');
  const reason = notAModelReason(type);
  if (reason) throw new DomainError('unsupported', `${full}: ${reason}; expected ${MODEL_FILES}`);
  if (type === 'hdf5') return { kind: 'h5', h5: await readKerasH5(full), path: full };
  const text = await readTextBounded(full, { what: 'model file' });
  try {
    return { kind: 'json', text, json: JSON.parse(text), path: full };
  } catch (error) {
    throw new DomainError('invalid-input', `${full}: not valid JSON (${printable((error as Error).message)})`);
  }
}

export async function readModelFile(path: string): Promise<ModelFile> {
  return modelOf(await readModelFileContents(path));
}

/** The model in a file's contents: a project's, an .h5's, or a Keras / TF.js topology's. */
export function modelOf(contents: ModelFileContents): ModelFile {
  if (contents.kind === 'h5') return { kind: 'h5', spec: contents.h5.spec, h5: contents.h5, path: contents.path };
  const { text, json, path: full } = contents;
  if ((json as { format?: unknown })?.format === PROJECT_FORMAT) {
    const project = parseProject(text, full);
    return { kind: 'project', spec: project.model, project, path: full };
  }
  try {
    return { kind: 'topology', spec: fromKerasTopology(json), json, path: full };
  } catch (error) {
    throw new DomainError('invalid-input', `${full}: ${printable((error as Error).message)}`);
  }
}
