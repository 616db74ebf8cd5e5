/**
 * The datasets commands as the services expose them: the store plus the imports in flight, so
 * `datasets.cancelImport` can reach an import by the id its caller chose.
 */
import type { DatasetImportProgress, ImportSource, SourceScan } from '../../../contract/datasets';
import { scanSource } from './scan';
import { DatasetStore, type ImportRequest, type ImportResult, type StoreOptions } from './store';

export class DatasetService {
  readonly store: DatasetStore;
  private readonly imports = new Map<string, AbortController>();

  constructor(
    dataDir: string,
    private readonly onProgress: (progress: DatasetImportProgress) => void,
    options: StoreOptions = {},
  ) {
    this.store = new DatasetStore(dataDir, options);
  }

  list() {
    return this.store.list();
  }

  scan(source: ImportSource): Promise<SourceScan> {
    return scanSource(source);
  }

  async import(request: ImportRequest): Promise<ImportResult> {
    if (this.imports.has(request.importId)) throw new Error(`An import with id ${request.importId} is already running`);
    const controller = new AbortController();
    this.imports.set(request.importId, controller);
    try {
      return await this.store.import(request, controller.signal, this.onProgress);
    } finally {
      this.imports.delete(request.importId);
    }
  }

  /** True when an import with that id was running and is now being stopped. */
  cancelImport(importId: string): { cancelled: boolean } {
    const controller = this.imports.get(importId);
    if (!controller || controller.signal.aborted) return { cancelled: false };
    controller.abort();
    return { cancelled: true };
  }

  preview(id: string) {
    return this.store.preview(id);
  }

  async delete(id: string): Promise<{ deleted: boolean }> {
    return { deleted: await this.store.delete(id) };
  }

  /** Cancels every import in flight; each cleans up its own temp folder. */
  dispose(): void {
    for (const controller of this.imports.values()) controller.abort();
  }
}
