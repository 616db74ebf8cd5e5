/**
 * Sweep files (JSON or YAML, in the spirit of W&B sweeps):
 *   {"project": "base.layerbench.json", "seeds": 2, "metric": "val_accuracy",
 *    "grid": {"training.learningRate": [0.01, 0.05], "layers[Dense].kernel_initializer": ["he_normal", "glorot_uniform"]}}
 * `project` is a project file, relative to the sweep file. Every problem is reported at its place: the
 * file (and line, for YAML syntax), the key, the value.
 */
import { basename, dirname, extname, resolve } from 'node:path';
import { parse as parseYaml, YAMLError } from 'yaml';
import { SweepFileSchema, type SweepFile } from '../../../contract/sweeps';
import type { Project } from '../../../contract/projects';
import { DomainError } from '../../../contract/wire';
import { describeValue } from '../../../model/initializers';
import { FileReadError, printable, readTextBounded } from '../files/bounded-read';
import { ProjectFileError, parseProject } from '../projects/store';
import { expandSweep, type ExpandedSweep } from './expand';

/** Far above any hand-written grid. */
const MAX_SWEEP_FILE_BYTES = 1024 * 1024;
const MAX_PROJECT_BYTES = 32 * 1024 * 1024;

export class SweepFileError extends DomainError {
  constructor(path: string, message: string, code: DomainError['code'] = 'invalid-input') {
    super(code, `${path}: ${message}`);
    this.name = 'SweepFileError';
  }
}

export interface LoadedSweep {
  path: string;
  file: SweepFile;
  /** The sweep's name: the file's `name`, or the file's name without its extension. */
  name: string;
  projectPath: string;
  project: Project;
}

/** Parses a sweep file's text (YAML for .yaml/.yml, JSON otherwise). */
export function parseSweepFile(text: string, path: string): SweepFile {
  const yaml = /\.ya?ml$/i.test(path);
  let raw: unknown;
  try {
    // Unique keys (a second "grid" must not silently win), and few aliases (no billion laughs).
    raw = yaml ? parseYaml(text, { uniqueKeys: true, maxAliasCount: 100, prettyErrors: true }) : JSON.parse(text);
  } catch (error) {
    const message = error instanceof YAMLError ? error.message.split('\n')[0]! : (error as Error).message;
    throw new SweepFileError(path, `not valid ${yaml ? 'YAML' : 'JSON'} (${printable(message)})`);
  }
  const parsed = SweepFileSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const key = issue.path.length ? issue.path.map(String).join('.') : '(the file)';
      const value = valueAt(raw, issue.path);
      return `${key}: ${issue.message}${value === undefined || issue.path.length === 0 ? '' : ` (got ${printable(describeValue(value), 80)})`}`;
    });
    throw new SweepFileError(path, `invalid sweep file: ${problems.join('; ')}`);
  }
  return parsed.data;
}

/** Reads a sweep file and its project. */
export async function readSweepFile(rawPath: string): Promise<LoadedSweep> {
  const path = resolve(rawPath);
  const file = parseSweepFile(await readBounded(path, MAX_SWEEP_FILE_BYTES, 'sweep file'), path);
  const projectPath = resolve(dirname(path), file.project);
  let project: Project;
  try {
    project = parseProject(await readBounded(projectPath, MAX_PROJECT_BYTES, 'project file'), projectPath);
  } catch (error) {
    if (error instanceof ProjectFileError || error instanceof FileReadError) throw new SweepFileError(path, `project: ${error.message}`, error.code);
    throw error;
  }
  return { path, file, name: file.name ?? basename(path, extname(path)), projectPath, project };
}

/** The sweep's jobs from a loaded file: grid errors name the sweep file. */
export function expandSweepFile(loaded: LoadedSweep, sweepId: string): ExpandedSweep {
  try {
    return expandSweep({ sweepId, base: { spec: loaded.project.model, settings: loaded.project.training }, grid: loaded.file.grid, seeds: loaded.file.seeds });
  } catch (error) {
    if (error instanceof DomainError) throw new SweepFileError(loaded.path, error.message, error.code);
    throw error;
  }
}

async function readBounded(path: string, maxBytes: number, what: string): Promise<string> {
  try {
    return await readTextBounded(path, { maxBytes, what });
  } catch (error) {
    if (error instanceof FileReadError) throw error;
    throw new SweepFileError(path, (error as Error).message, 'io');
  }
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}
