/**
 * What the coordinator (`layerbench sweep --redis`) and the agents (`layerbench agent`) exchange
 * through Redis, besides BullMQ's own job bookkeeping:
 *
 *   queue `layerbench-sweeps` (BullMQ, prefix `layerbench`)  one job per run, data = SweepJob,
 *                                                           jobId = `${sweepId}:${armId}:${seed}`
 *   stream `layerbench:sweep:<sweepId>:records`             the training events of every run of the
 *                                                           sweep, as the agents train (live view, and
 *                                                           an attempt's partial records if its agent dies)
 *   strings `layerbench:upload:<jobId>:<attempt>:<file>:<n>` the finished run folder, in ≤ 8 MiB chunks
 *   job return value                                         the upload's manifest (UploadManifest)
 *
 * Everything read back is checked with these schemas: another Redis client may have written it.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { RunIdSchema } from '../../../../contract';

export const QUEUE_NAME = 'layerbench-sweeps';
export const QUEUE_PREFIX = 'layerbench';
/** The most one Redis value of an upload holds. */
export const MAX_CHUNK_BYTES = 8 * 1024 * 1024;
/** One record stream entry's event JSON, at most (batches and stats arrive coalesced, a few a second). */
export const MAX_RECORD_BYTES = 1024 * 1024;
/** Entries a sweep's record stream keeps at most (the coordinator trims what it has read). */
export const RECORD_STREAM_MAX_LENGTH = 100_000;
/** Uploads the coordinator never fetched (it was stopped) expire after a week. */
export const UPLOAD_TTL_SECONDS = 7 * 24 * 3600;
export const MAX_UPLOAD_FILES = 64;

/** BullMQ allows ':' in a custom id only as exactly two separators, so an arm id's own ':' is escaped. */
export function sweepJobId(job: { sweepId: string; armId: string; seed: number }): string {
  return `${job.sweepId}:${job.armId.replaceAll('%', '%25').replaceAll(':', '%3A')}:${job.seed}`;
}

export function recordStreamKey(sweepId: string): string {
  return `${QUEUE_PREFIX}:sweep:${sweepId}:records`;
}

export function uploadKey(jobId: string, attempt: number): string {
  return `${QUEUE_PREFIX}:upload:${jobId}:${attempt}`;
}

export function chunkKey(upload: string, file: number, chunk: number): string {
  return `${upload}:${file}:${chunk}`;
}

/** A file-system-safe name for a job id (which holds ':' and an arm id's arbitrary characters). */
export function jobFolderName(jobId: string): string {
  return createHash('sha256').update(jobId).digest('hex').slice(0, 24);
}

/** A run folder's files as uploaded: its records, its run.json and its two weight folders, nothing else. */
export const RunFilePathSchema = z.string().regex(/^(run\.json|metrics\.jsonl|stats\.jsonl|(weights|best)\/[A-Za-z0-9_-][A-Za-z0-9._-]{0,99})$/, 'not a run folder file');

export const AgentSchema = z.object({ host: z.string().min(1).max(255), backend: z.string().min(1).max(64) });
export type Agent = z.infer<typeof AgentSchema>;

export const UploadManifestSchema = z
  .object({
    version: z.literal(1),
    runId: RunIdSchema.refine((id) => !id.startsWith('.'), 'a run id does not start with "."'),
    status: z.enum(['finished', 'stopped', 'failed']),
    error: z.string().max(10_000).nullable(),
    attempt: z.number().int().min(1).max(1000),
    agent: AgentSchema,
    files: z
      .array(
        z.object({
          path: RunFilePathSchema,
          bytes: z.number().int().min(0),
          sha256: z.string().regex(/^[0-9a-f]{64}$/),
          chunks: z.number().int().min(0).max(100_000),
        }),
      )
      .min(1)
      .max(MAX_UPLOAD_FILES),
  })
  .strict();
export type UploadManifest = z.infer<typeof UploadManifestSchema>;

/** The fields of one record stream entry (strings, as Redis keeps them). */
export const RecordEntrySchema = z.object({
  job: z.string().min(1).max(400),
  attempt: z.coerce.number().int().min(1).max(1000),
  host: z.string().min(1).max(255),
  backend: z.string().max(64),
  event: z.string().max(MAX_RECORD_BYTES),
});
