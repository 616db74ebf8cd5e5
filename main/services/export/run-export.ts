/** The app's "Export model" for a run: the export writers behind the runs.exportModel command. */
import { isAbsolute } from 'node:path';
import { ExportError, exportRun, type ExportFormat } from './index';

export async function exportRunModel(
  runDir: string,
  request: { format: ExportFormat; path: string; overwrite: boolean },
): Promise<{ exported: true; files: string[]; weightsFrom?: 'weights' | 'best' } | { exported: false; reason: 'exists'; path: string }> {
  if (!isAbsolute(request.path)) throw new Error(`${request.path}: give the full path to export to`);
  try {
    const result = await exportRun({ runDir, format: request.format, out: request.path, force: request.overwrite });
    // An interrupted run has only its best epoch's checkpoint: exported, and said so.
    return { exported: true, files: result.files, ...(result.weights === 'run-best' ? { weightsFrom: 'best' as const } : {}) };
  } catch (error) {
    if (error instanceof ExportError && error.code === 'exists') return { exported: false, reason: 'exists', path: request.path };
    throw error;
  }
}
