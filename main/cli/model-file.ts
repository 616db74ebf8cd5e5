/** Reads a model from a file the user names: a Layerbench project, Keras `model.to_json()`, or a TF.js model.json. */
import { resolve } from 'node:path';
import { fromKerasTopology, type ModelSpec } from '../../model';
import { PROJECT_FORMAT } from '../../contract/projects';
import { printable, readTextBounded } from '../services/files/bounded-read';
import { parseProject } from '../services/projects/store';

export async function readModelFile(path: string): Promise<{ spec: ModelSpec; kind: 'project' | 'topology' }> {
  const full = resolve(path);
  // A regular file within the JSON cap, or an error that names the path and says why not.
  const text = await readTextBounded(full, { what: 'model file' });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${full}: not valid JSON (${printable((error as Error).message)})`);
  }
  if ((json as { format?: unknown })?.format === PROJECT_FORMAT) return { spec: parseProject(text, full).model, kind: 'project' };
  try {
    return { spec: fromKerasTopology(json), kind: 'topology' };
  } catch (error) {
    throw new Error(`${full}: ${(error as Error).message}`);
  }
}
