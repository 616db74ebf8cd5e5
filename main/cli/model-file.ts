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

export async function readModelFile(path: string): Promise<ModelFile> {
  const full = resolve(path);
  // sniffFile refuses folders, devices, pipes and missing files with a DomainError that names the path.
  const type = await sniffFile(full, 'model file');
  const reason = notAModelReason(type);
  if (reason) throw new DomainError('unsupported', `${full}: ${reason}; expected ${MODEL_FILES}`);
  if (type === 'hdf5') {
    const h5 = await readKerasH5(full);
    return { kind: 'h5', spec: h5.spec, h5, path: full };
  }
  const text = await readTextBounded(full, { what: 'model file' });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new DomainError('invalid-input', `${full}: not valid JSON (${printable((error as Error).message)})`);
  }
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
