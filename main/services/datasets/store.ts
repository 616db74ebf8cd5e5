/**
 * The imported datasets under `<dataDir>/datasets/<id>/` (meta.json, x.bin, y.bin), with the
 * built-in Fashion-MNIST listed first: list, import, preview, delete, and the folder a run opens.
 */
import { randomBytes } from 'node:crypto';
import { readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DatasetIdSchema,
  FASHION_MNIST_ID,
  type BadItem,
  type DatasetImportProgress,
  type DatasetPreview,
  type DatasetSummary,
  type ImportSource,
} from '../../../contract/datasets';
import { fashionMnistSummary } from './builtin';
import { ImportContext } from './context';
import { DatasetError, ImportCancelledError } from './errors';
import { describeFashionMnist } from './fashion-mnist';
import { importCsv } from './import-csv';
import { importIdx } from './import-idx';
import { importImageFolder } from './import-images';
import { META_FORMAT_VERSION, readMeta, type DatasetMeta } from './meta';
import { isStreamed, memoryBudgetBytes, openDatasetDir } from './open';
import { TEMP_PREFIX, SampleWriter } from './writer';
import { DomainError } from '../../../contract/wire';

export const USER_PREFIX = 'user-';
const DELETING_PREFIX = '.deleting-';
/** Temp folders older than this are leftovers of a crash, not an import in progress. */
const STALE_TEMP_MS = 24 * 3600 * 1000;
const PREVIEW_SAMPLES = 32;
const PREVIEW_VALUES = 64;

export interface ImportRequest {
  importId: string;
  name: string;
  source: ImportSource;
  skipBad: boolean;
}

export interface ImportResult {
  dataset: DatasetSummary;
  skippedItems: BadItem[];
}

export interface DatasetListing {
  /** Fashion-MNIST first, then imported datasets, newest first. */
  datasets: DatasetSummary[];
  /** Dataset folders whose meta.json could not be used, each with the reason. */
  unreadable: { id: string; message: string }[];
}

export interface StoreOptions {
  /** Where Fashion-MNIST may be found besides the cache (tests pass []). */
  fashionMnistSystemDirs?: readonly string[];
  memoryBudgetBytes?: number;
}

/** `user-<slug>-<6 hex>`: readable in a file manager, unique without a lookup. */
export function newDatasetId(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '') // accents off: "Ü" → "U"
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/, '');
  return DatasetIdSchema.parse(`${USER_PREFIX}${slug || 'dataset'}-${randomBytes(3).toString('hex')}`);
}

/** The longest dataset name, as the contract's import request allows. */
export const MAX_DATASET_NAME = 200;

/** A dataset name trimmed, as the import request's schema does; an error when empty or too long. */
export function checkDatasetName(name: string): string {
  const trimmed = name.trim();
  if (!trimmed) throw new DomainError('invalid-input', 'A dataset name is needed (it was empty)');
  if (trimmed.length > MAX_DATASET_NAME) throw new DomainError('limit', `A dataset name is at most ${MAX_DATASET_NAME} characters (this one has ${trimmed.length})`);
  return trimmed;
}

function sourceLabel(source: ImportSource): string {
  return source.kind === 'idx' ? source.imagesPath : source.path;
}

function describeSource(source: ImportSource): string {
  return source.kind === 'idx' ? `${source.imagesPath} + ${source.labelsPath}` : source.path;
}

export class DatasetStore {
  readonly root: string;
  /** Fashion-MNIST's preview by folder: it never changes, and computing it decompresses 55 MB. */
  private builtinPreview: { directory: string; preview: Promise<DatasetPreview> } | null = null;

  constructor(
    readonly dataDir: string,
    private readonly options: StoreOptions = {},
  ) {
    this.root = join(dataDir, 'datasets');
  }

  private get budget(): number {
    return memoryBudgetBytes(this.options.memoryBudgetBytes);
  }

  /** The folder of an imported dataset; refuses ids that are not imported ones. */
  dirOf(id: string): string {
    if (!DatasetIdSchema.safeParse(id).success || !id.startsWith(USER_PREFIX)) throw new DomainError('not-found', `Unknown dataset "${id}"`);
    return join(this.root, id);
  }

  /** The folder a run opens with openDatasetDir: Fashion-MNIST's files or an imported dataset's cache. */
  async resolveDir(id: string): Promise<string> {
    if (id === FASHION_MNIST_ID) {
      const info = await describeFashionMnist({ dataDir: this.dataDir, systemDirs: this.options.fashionMnistSystemDirs });
      if (!info.directory)
        throw new DatasetError(FASHION_MNIST_ID, "not downloaded yet: start a run on it to download it, or install Debian's dataset-fashion-mnist", { code: 'not-found' });
      return info.directory;
    }
    const dir = this.dirOf(id);
    await this.readMetaOf(id);
    return dir;
  }

  private async readMetaOf(id: string): Promise<DatasetMeta> {
    const dir = this.dirOf(id);
    try {
      const meta = await readMeta(dir);
      if (meta.summary.id !== id) throw new DatasetError(join(dir, 'meta.json'), `describes dataset "${meta.summary.id}", but sits in the folder of "${id}"`);
      return meta;
    } catch (error) {
      if ((error as DatasetError).code === 'not-found') throw new DomainError('not-found', `Unknown dataset "${id}": no such dataset in ${this.root}`, { cause: error });
      throw error;
    }
  }

  private withBudget(summary: DatasetSummary): DatasetSummary {
    return { ...summary, streamed: isStreamed(summary, this.budget) };
  }

  /** The summary as listed: with the value range meta.json keeps beside it. */
  private summaryOf(meta: DatasetMeta): DatasetSummary {
    return this.withBudget({ ...meta.summary, valueRange: meta.valueRange });
  }

  async list(): Promise<DatasetListing> {
    const info = await describeFashionMnist({ dataDir: this.dataDir, systemDirs: this.options.fashionMnistSystemDirs });
    const datasets: DatasetSummary[] = [];
    const unreadable: DatasetListing['unreadable'] = [];
    let names: string[] = [];
    try {
      names = await readdir(this.root);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new DatasetError(this.root, `cannot list datasets: ${(error as Error).message}`, { cause: error, code: 'io' });
    }
    await this.removeLeftovers(names);
    for (const name of names) {
      if (!name.startsWith(USER_PREFIX) || !DatasetIdSchema.safeParse(name).success) continue;
      try {
        datasets.push(this.summaryOf(await this.readMetaOf(name)));
      } catch (error) {
        unreadable.push({ id: name, message: (error as Error).message });
      }
    }
    datasets.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
    return { datasets: [fashionMnistSummary(info.directory), ...datasets], unreadable };
  }

  /** Folders a crash left: stale import temps and half-deleted datasets. */
  private async removeLeftovers(names: string[]): Promise<void> {
    const now = Date.now();
    for (const name of names) {
      const started = name.startsWith(TEMP_PREFIX) ? Number(name.slice(TEMP_PREFIX.length).split('-')[0]) : NaN;
      if (name.startsWith(DELETING_PREFIX) || (Number.isFinite(started) && now - started > STALE_TEMP_MS)) {
        await rm(join(this.root, name), { recursive: true, force: true }).catch(() => {});
      }
    }
  }

  async summary(id: string): Promise<DatasetSummary> {
    if (id === FASHION_MNIST_ID) return (await this.list()).datasets[0];
    return this.summaryOf(await this.readMetaOf(id));
  }

  /**
   * Imports a source. `signal` cancels it up to the moment publishing starts: `onPublishing` is
   * called then (synchronously after the last cancellation check), and from there on the import
   * completes whatever the signal says, so a late cancel must not be reported as having worked.
   * Fails with ImportCancelledError only when the cancellation stopped it; a real failure that lands
   * while a cancel is pending is reported as itself. Either way the temp folder is gone when it settles.
   */
  async import(request: ImportRequest, signal: AbortSignal, onProgress?: (progress: DatasetImportProgress) => void, onPublishing?: () => void): Promise<ImportResult> {
    const { source } = request;
    const name = checkDatasetName(request.name);
    const ctx = new ImportContext(request.importId, request.skipBad, signal, onProgress);
    ctx.progress('scanning', 0, null);
    const writer = await SampleWriter.create(this.root, source.kind === 'csv' ? 'float32' : 'uint8');
    try {
      const importer = source.kind === 'csv' ? importCsv : source.kind === 'idx' ? importIdx : importImageFolder;
      const { sampleShape, featureNames } = (await importer(source as never, ctx, writer)) as { sampleShape: number[]; featureNames?: string[] };
      ctx.check();
      ctx.progress('writing', writer.count, writer.count);
      const samples = await writer.finishSamples();
      const file = sourceLabel(source);
      if (samples.count === 0) {
        const first = ctx.badItems[0];
        throw new DatasetError(
          file,
          ctx.skipped
            ? `no samples: all ${ctx.skipped} items were bad (the first: ${first.file}${first.line ? `, line ${first.line}` : ''}: ${first.reason})`
            : 'no samples: the source holds no data',
        );
      }
      if (samples.classNames.length < 2) {
        throw new DatasetError(file, `a single class ("${samples.classNames[0]}") in ${samples.count} samples: a classifier needs at least two classes`);
      }
      const id = newDatasetId(name);
      const summary: DatasetSummary = {
        id,
        name,
        kind: source.kind,
        sampleShape,
        count: samples.count,
        testCount: 0,
        classNames: samples.classNames,
        dtype: writer.dtype,
        ...(featureNames ? { featureNames } : {}),
        sizeBytes: SampleWriter.sizeBytes(
          samples.count,
          sampleShape.reduce((a, b) => a * b, 1),
          writer.dtype,
        ),
        streamed: false,
        source: describeSource(source),
        createdAt: new Date().toISOString(),
        skipped: ctx.skipped,
      };
      ctx.check();
      onPublishing?.();
      await writer.publish({ formatVersion: META_FORMAT_VERSION, summary, classCounts: samples.classCounts, valueRange: samples.valueRange }, join(this.root, id));
      ctx.done(samples.count);
      return { dataset: this.withBudget({ ...summary, valueRange: samples.valueRange }), skippedItems: ctx.badItems };
    } catch (error) {
      await writer.discard();
      // ctx.check() throws the signal's reason: that, and only that, is a cancellation.
      if (signal.aborted && error === signal.reason) throw new ImportCancelledError(request.importId);
      throw error;
    }
  }

  async preview(id: string): Promise<DatasetPreview> {
    const dir = await this.resolveDir(id);
    if (id !== FASHION_MNIST_ID) return this.computePreview(id, dir);
    if (this.builtinPreview?.directory !== dir) {
      const preview = this.computePreview(id, dir);
      preview.catch(() => (this.builtinPreview = null));
      this.builtinPreview = { directory: dir, preview };
    }
    return this.builtinPreview.preview;
  }

  private async computePreview(id: string, dir: string): Promise<DatasetPreview> {
    const summary = await this.summary(id);
    // Budget 0: an imported dataset is opened streamed, so a preview reads only its 32 samples.
    const { pool } = await openDatasetDir(dir, { memoryBudgetBytes: id === FASHION_MNIST_ID ? undefined : 0 });
    try {
      let classCounts: number[];
      let valueRange: { min: number; max: number };
      if (id === FASHION_MNIST_ID) {
        classCounts = new Array<number>(pool.classNames.length).fill(0);
        for (const label of pool.labels) classCounts[label]++;
        valueRange = { min: 0, max: 255 }; // uint8 pixels, and the real files use the full range
      } else {
        const meta = await this.readMetaOf(id);
        classCounts = meta.classCounts;
        valueRange = meta.valueRange;
      }
      const indices = pickPreviewSamples(pool.labels, pool.classNames.length);
      const values = new Float32Array(indices.length * pool.sampleSize);
      await pool.read(indices, values);
      const imageLike = isImageShape(summary.sampleShape);
      const samples = Array.from(indices, (index, k) => {
        const sample = values.subarray(k * pool.sampleSize, (k + 1) * pool.sampleSize);
        const label = pool.labels[index];
        return imageLike
          ? { index, label, pixels: Buffer.from(toBytes(sample, summary.dtype, valueRange)).toString('base64') }
          : { index, label, values: Array.from(sample.subarray(0, PREVIEW_VALUES)) };
      });
      return { summary, classCounts, valueRange, samples };
    } finally {
      await pool.close();
    }
  }

  /** Removes a dataset atomically (renamed away first, so list() never sees half of it). */
  async delete(id: string): Promise<boolean> {
    if (id === FASHION_MNIST_ID) throw new DomainError('unsupported', 'Fashion-MNIST is built in and cannot be deleted');
    const dir = this.dirOf(id);
    const doomed = join(this.root, `${DELETING_PREFIX}${id}-${randomBytes(3).toString('hex')}`);
    try {
      await rename(dir, doomed);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw new DatasetError(dir, `cannot delete: ${(error as Error).message}`, { cause: error, code: 'io' });
    }
    await rm(doomed, { recursive: true, force: true });
    return true;
  }
}

/** [h, w] or [h, w, 1 | 3]: shown as a picture. */
export function isImageShape(shape: readonly number[]): boolean {
  return shape.length === 2 || (shape.length === 3 && (shape[2] === 1 || shape[2] === 3));
}

/** A few samples of every class (⌊32 / classes⌋, at least one), in class order, up to 32. */
export function pickPreviewSamples(labels: Int32Array, classes: number): Uint32Array {
  const perClass = Math.max(1, Math.floor(PREVIEW_SAMPLES / classes));
  const picked: number[][] = Array.from({ length: classes }, () => []);
  let total = 0;
  for (let i = 0; i < labels.length && total < perClass * classes; i++) {
    const bucket = picked[labels[i]];
    if (bucket.length < perClass) {
      bucket.push(i);
      total++;
    }
  }
  return Uint32Array.from(picked.flat().slice(0, PREVIEW_SAMPLES));
}

/** Pixel bytes: uint8 values as they are, float values scaled from the dataset's range to 0..255. */
function toBytes(sample: Float32Array, dtype: DatasetSummary['dtype'], range: { min: number; max: number }): Uint8Array {
  if (dtype === 'uint8') return Uint8Array.from(sample);
  const span = range.max - range.min;
  return Uint8Array.from(sample, (v) => (span > 0 ? Math.round(((v - range.min) / span) * 255) : 0));
}
