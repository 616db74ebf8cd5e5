/**
 * Reads a model from a file the user names: a Layerbench project, a Keras .h5 model (with its
 * weights and training_config), Keras `model.to_json()`, or a TF.js model.json. Any other file is
 * refused with its type named ("this is an ONNX file; ...").
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fromKerasTopology, type ModelSpec } from '../../model';
import { PROJECT_FORMAT, type Project } from '../../contract/projects';
import { DomainError } from '../../contract/wire';
import { readKerasH5, type KerasH5Contents } from '../services/export/h5';
import { MODEL_FILES, notAModelReason, sniffFile } from '../services/files/sniff';
import { parseProject } from '../services/projects/store';

export type ModelFile =
  | { kind: 'project'; spec: ModelSpec; project: Project; path: string }
  | { kind: 'h5'; spec: ModelSpec; h5: KerasH5Contents; path: string }
  | { kind: 'topology'; spec: ModelSpec; json: unknown; path: string };

export async function readModelFile(path: string): Promise<ModelFile> {
  const full = resolve(path);
  let type;
  try {
    type = await sniffFile(full);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DomainError('not-found', `${full}: no such file`);
    if (code === 'EISDIR') throw new DomainError('invalid-input', `${full}: is a folder; expected ${MODEL_FILES}`);
    throw new DomainError('io', `${full}: ${(error as Error).message}`);
  }
  const reason = notAModelReason(type);
  if (reason) throw new DomainError('unsupported', `${full}: ${reason}; expected ${MODEL_FILES}`);
  if (type === 'hdf5') {
    const h5 = await readKerasH5(full);
    return { kind: 'h5', spec: h5.spec, h5, path: full };
  }
  const text = await readFile(full, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new DomainError('invalid-input', `${full}: not valid JSON (${(error as Error).message})`);
  }
  if ((json as { format?: unknown })?.format === PROJECT_FORMAT) {
    const project = parseProject(text, full);
    return { kind: 'project', spec: project.model, project, path: full };
  }
  try {
    return { kind: 'topology', spec: fromKerasTopology(json), json, path: full };
  } catch (error) {
    throw new DomainError('invalid-input', `${full}: ${(error as Error).message}`);
  }
}
