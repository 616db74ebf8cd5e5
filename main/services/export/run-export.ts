/** The app's "Export model" for a run: the export writers behind the runs.exportModel command. */
import { isAbsolute } from 'node:path';
import { ExportError, exportRun, type ExportFormat } from './index';

export async function exportRunModel(
  runDir: string,
  request: { format: ExportFormat; path: string; overwrite: boolean },
): Promise<{ exported: true; files: string[] } | { exported: false; reason: 'exists'; path: string }> {
  if (!isAbsolute(request.path)) throw new Error(`${request.path}: give the full path to export to`);
  try {
    const result = await exportRun({ runDir, format: request.format, out: request.path, force: request.overwrite });
    return { exported: true, files: result.files };
  } catch (error) {
    if (error instanceof ExportError && error.code === 'exists') return { exported: false, reason: 'exists', path: request.path };
    throw error;
  }
}
