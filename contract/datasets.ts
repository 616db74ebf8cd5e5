/**
 * Datasets: the built-in Fashion-MNIST and the user's own data (IDX files, a CSV with a label
 * column, a folder of images with one sub-folder per class), imported once into a compact binary
 * cache in the app's data folder and opened from there by every run.
 */
import { z } from 'zod';

export const DatasetProgressSchema = z.object({
  dataset: z.string(),
  file: z.string(),
  receivedBytes: z.number().int().min(0),
  totalBytes: z.number().int().min(0).nullable(),
});
export type DatasetProgress = z.infer<typeof DatasetProgressSchema>;

export const DatasetInfoSchema = z.object({
  id: z.literal('fashion-mnist'),
  /** Where the files were found: the app's cache, the system (Debian's package), or not yet present. */
  location: z.enum(['cache', 'system', 'missing']),
  directory: z.string().nullable(),
  trainSamples: z.number().int(),
  testSamples: z.number().int(),
  classNames: z.array(z.string()),
});
export type DatasetInfo = z.infer<typeof DatasetInfoSchema>;

export const FASHION_MNIST_ID = 'fashion-mnist';

/** 'fashion-mnist', or an imported dataset's id (`user-…`): lower-case letters, digits and dashes. */
export const DatasetIdSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,79}$/, 'a dataset id is lower-case letters, digits and "-", at most 80 characters');
export type DatasetId = z.infer<typeof DatasetIdSchema>;

const path = z.string().min(1).max(4096);
const dim = z.number().int().min(1).max(4096);

/** Where imported data comes from. Paths are on the machine the services run on. */
export const ImportSourceSchema = z.discriminatedUnion('kind', [
  /** An IDX pair of the MNIST family: images (ubyte, rank 2 or 3) and labels (ubyte, rank 1); .gz accepted. */
  z.object({ kind: z.literal('idx'), imagesPath: path, labelsPath: path }).strict(),
  /**
   * A CSV file: one sample a row, numeric features, one label column (by header name or 0-based
   * index). The label may be text (class names are then the sorted distinct values) or integers.
   */
  z
    .object({
      kind: z.literal('csv'),
      path,
      labelColumn: z.union([z.string().min(1).max(200), z.number().int().min(0)]),
      /** 'auto' detects a header from the first lines (main/services/datasets/csv.ts detectHeader: column names above numeric columns, or pandas' 0, 1, 2, … names). */
      header: z.enum(['auto', 'yes', 'no']).default('auto'),
      delimiter: z.enum(['auto', ',', ';', '\t']).default('auto'),
      /** Reshape each row's features, e.g. [28, 28]; the product must equal the feature count. */
      reshape: z.array(dim).min(1).max(4).nullable().default(null),
    })
    .strict(),
  /** A folder with one sub-folder per class of PNG or JPEG images, decoded and resized. */
  z
    .object({
      kind: z.literal('image-folder'),
      path,
      width: dim,
      height: dim,
      /** grayscale gives samples of shape [height, width, 1], rgb [height, width, 3]. */
      color: z.enum(['grayscale', 'rgb']).default('grayscale'),
    })
    .strict(),
]);
export type ImportSource = z.infer<typeof ImportSourceSchema>;

/** A file (and line, for CSV) the import could not use, and why. */
export const BadItemSchema = z.object({
  file: z.string(),
  line: z.number().int().min(1).optional(),
  reason: z.string(),
});
export type BadItem = z.infer<typeof BadItemSchema>;

export const DatasetSummarySchema = z.object({
  id: DatasetIdSchema,
  name: z.string().min(1).max(200),
  kind: z.enum(['builtin', 'idx', 'csv', 'image-folder']),
  /** One sample's shape, e.g. [28, 28] or [32, 32, 3]: the model's input shape. */
  sampleShape: z.array(z.number().int().min(1)),
  /** Samples in the pool runs split into train / validation (/ test). */
  count: z.number().int().min(0),
  /** Samples of a separate test set (Fashion-MNIST's 10,000); 0 when the test set is split off the pool. */
  testCount: z.number().int().min(0),
  classNames: z.array(z.string()),
  /** How values are stored: bytes (images) or 32-bit floats (CSV features). */
  dtype: z.enum(['uint8', 'float32']),
  /** Smallest and largest stored value over the pool (absent in caches written before it was listed): what the normalization default and its warnings go by. */
  valueRange: z.object({ min: z.number(), max: z.number() }).optional(),
  /** The features' names from a CSV header (the label column left out), for the preview. */
  featureNames: z.array(z.string()).optional(),
  /** Bytes of sample data on disk. */
  sizeBytes: z.number().int().min(0),
  /** Larger than the memory budget: runs stream it from disk in batches instead of holding it whole. */
  streamed: z.boolean(),
  /** Where it was imported from, for the user. */
  source: z.string(),
  createdAt: z.string(),
  /** Items skipped during import (bad files or rows), when the user chose to skip them. */
  skipped: z.number().int().min(0),
});
export type DatasetSummary = z.infer<typeof DatasetSummarySchema>;

export const DatasetPreviewSchema = z.object({
  summary: DatasetSummarySchema,
  /** Samples per class, in class order. */
  classCounts: z.array(z.number().int().min(0)),
  /** Smallest and largest stored value over the whole pool. */
  valueRange: z.object({ min: z.number(), max: z.number() }),
  /**
   * Up to 32 samples, a few per class. Image-shaped samples ([h, w] or [h, w, 1|3]) come as
   * `pixels`: base64 of h×w×channels bytes scaled to 0..255; others as their first 64 `values`.
   */
  samples: z.array(
    z.object({
      index: z.number().int().min(0),
      label: z.number().int().min(0),
      pixels: z.string().optional(),
      values: z.array(z.number()).optional(),
    }),
  ),
});
export type DatasetPreview = z.infer<typeof DatasetPreviewSchema>;

/** A look at a source before importing it: what the import form needs to offer (CSV columns, class folders). */
export const SourceScanSchema = z.object({
  kind: z.enum(['idx', 'csv', 'image-folder']),
  /** CSV: the columns (header names, or `column 0…` without a header), whether a header was detected, the first rows. */
  columns: z.array(z.string()).optional(),
  headerDetected: z.boolean().optional(),
  rows: z.array(z.array(z.string())).max(10).optional(),
  delimiter: z.string().optional(),
  /** CSV: the label column the form starts with (main/services/datasets/csv.ts guessLabelColumn). */
  suggestedLabelColumn: z.number().int().min(0).optional(),
  /** CSV: a square image shape worth offering for the features (e.g. [28, 28] for 784 pixel columns); absent for tabular data. */
  suggestedReshape: z.array(z.number().int().min(1)).optional(),
  /** Image folder: the class sub-folders and how many images each holds. */
  classes: z.array(z.object({ name: z.string(), files: z.number().int() })).optional(),
  /** IDX: the images' shape (without the count) and the count. */
  sampleShape: z.array(z.number().int()).optional(),
  count: z.number().int().optional(),
});
export type SourceScan = z.infer<typeof SourceScanSchema>;

export const ImportIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);

export const DatasetImportProgressSchema = z.object({
  importId: ImportIdSchema,
  phase: z.enum(['scanning', 'reading', 'writing', 'done']),
  /** Items (rows, images) processed so far, and the total when known. */
  done: z.number().int().min(0),
  total: z.number().int().min(0).nullable(),
  skipped: z.number().int().min(0),
});
export type DatasetImportProgress = z.infer<typeof DatasetImportProgressSchema>;

const datasetRef = z.object({ id: DatasetIdSchema }).strict();

export const datasetCommands = {
  'datasets.info': { request: z.object({ id: z.literal('fashion-mnist') }).strict(), response: DatasetInfoSchema },
  /** Fashion-MNIST first, then the imported datasets, newest first. */
  'datasets.list': {
    request: z.object({}).strict(),
    response: z.object({
      datasets: z.array(DatasetSummarySchema),
      /** Imported datasets whose files cannot be used (malformed meta.json, written by a newer version), with why. */
      unreadable: z.array(z.object({ id: z.string(), message: z.string() })).default([]),
    }),
  },
  'datasets.scan': { request: z.object({ source: ImportSourceSchema }).strict(), response: SourceScanSchema },
  /**
   * Imports a source into the cache. Progress comes as 'datasets.importProgress' events with the
   * caller's `importId`; `datasets.cancelImport` with the same id cancels it (nothing is left behind).
   * Without `skipBad` the first bad item fails the import with an error naming the file and line.
   */
  'datasets.import': {
    request: z.object({ importId: ImportIdSchema, name: z.string().trim().min(1).max(200), source: ImportSourceSchema, skipBad: z.boolean() }).strict(),
    response: z.object({ dataset: DatasetSummarySchema, skippedItems: z.array(BadItemSchema).max(100) }),
  },
  'datasets.cancelImport': { request: z.object({ importId: ImportIdSchema }).strict(), response: z.object({ cancelled: z.boolean() }) },
  'datasets.preview': { request: datasetRef, response: DatasetPreviewSchema },
  'datasets.delete': { request: datasetRef, response: z.object({ deleted: z.boolean() }) },
} as const;
