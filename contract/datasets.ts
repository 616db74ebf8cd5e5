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
