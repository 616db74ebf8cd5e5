/** Pure helpers for the project menu: building a project from the editor state, and file names. */
import { PROJECT_FORMAT, PROJECT_VERSION, type Project, type TrainingSettings } from '../../contract';
import type { ModelSpec } from '../../model/spec';

export function makeProject(spec: ModelSpec, training: TrainingSettings): Project {
  return { format: PROJECT_FORMAT, version: PROJECT_VERSION, model: spec, training };
}

export function baseName(path: string): string {
  return path.split(/[\\/]/).pop() ?? path;
}

export function suggestedPath(dir: string, spec: ModelSpec): string {
  const name = spec.config.name.replace(/[^A-Za-z0-9._-]+/g, '_') || 'untitled';
  const sep = dir.includes('\\') && !dir.includes('/') ? '\\' : '/';
  return `${dir.replace(/[\\/]+$/, '')}${sep}${name}.layerbench.json`;
}

/** Saves text as a file through the browser (a download); Electron shows its save dialog for it. */
export function downloadText(fileName: string, text: string, type = 'application/json'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
