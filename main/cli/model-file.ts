/** Reads a model from a file the user names: a Layerbench project, Keras `model.to_json()`, or a TF.js model.json. */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fromKerasTopology, type ModelSpec } from '../../model';
import { PROJECT_FORMAT } from '../../contract/projects';
import { parseProject } from '../services/projects/store';

export async function readModelFile(path: string): Promise<{ spec: ModelSpec; kind: 'project' | 'topology' }> {
  const full = resolve(path);
  let text: string;
  try {
    text = await readFile(full, 'utf8');
  } catch (error) {
    throw new Error(`${full}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${full}: not valid JSON (${(error as Error).message})`);
  }
  if ((json as { format?: unknown })?.format === PROJECT_FORMAT) return { spec: parseProject(text, full).model, kind: 'project' };
  try {
    return { spec: fromKerasTopology(json), kind: 'topology' };
  } catch (error) {
    throw new Error(`${full}: ${(error as Error).message}`);
  }
}
