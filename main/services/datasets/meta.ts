/**
 * meta.json of an imported dataset: everything about it except the sample bytes. Versioned, so a
 * newer Layerbench's cache is refused with a clear message instead of being misread.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { DatasetSummarySchema, type DatasetSummary } from '../../../contract/datasets';
import { formatIssues } from '../../../contract/wire';
import { readJsonBounded } from '../files/bounded-read';
import { asDatasetError, DatasetError } from './idx';

export const META_FORMAT_VERSION = 1;
export const META_FILE = 'meta.json';
export const X_FILE = 'x.bin';
export const Y_FILE = 'y.bin';

export const DatasetMetaSchema = z.object({
  formatVersion: z.literal(META_FORMAT_VERSION),
  /** `streamed` is stored as written but recomputed against the reader's memory budget. */
  summary: DatasetSummarySchema,
  classCounts: z.array(z.number().int().min(0)),
  valueRange: z.object({ min: z.number(), max: z.number() }),
});
export type DatasetMeta = z.infer<typeof DatasetMetaSchema>;

export function bytesPerValue(dtype: DatasetSummary['dtype']): 1 | 4 {
  return dtype === 'uint8' ? 1 : 4;
}

export function sampleSizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Reads and checks `<directory>/meta.json`; every problem names that file. */
export async function readMeta(directory: string): Promise<DatasetMeta> {
  const file = join(directory, META_FILE);
  let json: unknown;
  try {
    json = await readJsonBounded(file, { what: 'dataset description' });
  } catch (error) {
    throw asDatasetError(error);
  }
  const version = (json as { formatVersion?: unknown } | null)?.formatVersion;
  if (typeof version === 'number' && version > META_FORMAT_VERSION) {
    throw new DatasetError(file, `written by a newer Layerbench (format version ${version}; this one reads up to ${META_FORMAT_VERSION}): update Layerbench to use this dataset`, {
      code: 'unsupported',
    });
  }
  const checked = checkMeta(json);
  if ('problem' in checked) throw new DatasetError(file, `malformed dataset description: ${checked.problem}`);
  return checked.meta;
}

/** A parsed meta.json checked (schema, class counts): the meta, or what is wrong with it. */
export function checkMeta(json: unknown): { meta: DatasetMeta } | { problem: string } {
  const parsed = DatasetMetaSchema.safeParse(json);
  if (!parsed.success) return { problem: formatIssues(parsed.error).join('; ') };
  const meta = parsed.data;
  if (meta.classCounts.length !== meta.summary.classNames.length) return { problem: `${meta.classCounts.length} class counts for ${meta.summary.classNames.length} classes` };
  return { meta };
}
