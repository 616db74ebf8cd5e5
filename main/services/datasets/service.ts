/**
 * The datasets commands as the services expose them: the store plus the imports in flight, so
 * `datasets.cancelImport` can reach an import by the id its caller chose.
 */
import type { DatasetImportProgress, ImportSource, SourceScan } from '../../../contract/datasets';
import { scanSource } from './scan';
import { DatasetStore, type ImportRequest, type ImportResult, type StoreOptions } from './store';
import { DomainError } from '../../../contract/wire';

interface RunningImport {
  controller: AbortController;
  /** Set once the import started publishing: too late to cancel, the dataset will exist. */
  publishing: boolean;
  /** Settles (never rejects) when the import has finished, its temp folder removed on failure. */
  settled: Promise<void>;
}

export class DatasetService {
  readonly store: DatasetStore;
  private readonly imports = new Map<string, RunningImport>();
  private disposed = false;

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
    if (this.disposed) throw new DomainError('unsupported', 'Layerbench is shutting down: no new imports');
    if (this.imports.has(request.importId)) throw new DomainError('busy', `An import with id ${request.importId} is already running`);
    const running: RunningImport = { controller: new AbortController(), publishing: false, settled: Promise.resolve() };
    this.imports.set(request.importId, running);
    try {
      const importing = this.store.import(request, running.controller.signal, this.onProgress, () => (running.publishing = true));
      running.settled = importing.then(
        () => {},
        () => {},
      );
      return await importing;
    } finally {
      this.imports.delete(request.importId);
    }
  }

  /**
   * True when an import with that id was running and is now being stopped; false when there is
   * none, it is already being cancelled, or it has started publishing (the dataset will exist).
   */
  cancelImport(importId: string): { cancelled: boolean } {
    const running = this.imports.get(importId);
    if (!running || running.publishing || running.controller.signal.aborted) return { cancelled: false };
    running.controller.abort();
    return { cancelled: true };
  }

  preview(id: string) {
    return this.store.preview(id);
  }

  async delete(id: string): Promise<{ deleted: boolean }> {
    return { deleted: await this.store.delete(id) };
  }

  /**
   * Cancels every import in flight (those publishing finish) and resolves when all have settled,
   * so no `.import-*` temp folder is left when the app quits.
   */
  async dispose(): Promise<void> {
    this.disposed = true;
    const running = [...this.imports.values()];
    for (const r of running) if (!r.publishing) r.controller.abort();
    await Promise.all(running.map((r) => r.settled));
  }
}
