/**
 * Messages between the training host (main thread) and its worker thread. Both directions are
 * validated on receipt: a worker is a boundary like any other.
 */
import { z } from 'zod';
import { ModelInspectionSchema } from '../../../contract/model';
import { ModelSpecSchema } from '../../../model/spec';
import { BackendReportSchema, BatchRecordSchema, EpochRecordSchema, RunIdSchema, StartTrainingSchema } from '../../../contract';

export const ToWorkerSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('train'),
    runId: RunIdSchema,
    request: StartTrainingSchema,
    /** Folder holding the four Fashion-MNIST IDX files, already located or downloaded by the host. */
    datasetDir: z.string(),
  }),
  z.object({ type: z.literal('stop'), runId: RunIdSchema }),
  z.object({ type: z.literal('inspect'), requestId: z.number().int(), spec: ModelSpecSchema }),
]);
export type ToWorker = z.infer<typeof ToWorkerSchema>;

const run = { runId: RunIdSchema };

export const FromWorkerSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready'), report: BackendReportSchema }),
  z.object({ type: z.literal('fatal'), error: z.string() }),
  z.object({ type: z.literal('inspection'), requestId: z.number().int(), result: ModelInspectionSchema }),
  z.object({ type: z.literal('inspection-failed'), requestId: z.number().int(), error: z.string() }),
  z.object({ type: z.literal('phase'), ...run, phase: z.enum(['loading-data', 'building-model', 'training']), detail: z.string().optional() }),
  z.object({
    type: z.literal('started'),
    ...run,
    backend: z.string(),
    epochs: z.number().int(),
    batchesPerEpoch: z.number().int(),
    trainSamples: z.number().int(),
    validationSamples: z.number().int(),
  }),
  z.object({ type: z.literal('batch'), ...run, record: BatchRecordSchema, samples: z.number().int() }),
  z.object({ type: z.literal('epoch'), ...run, record: EpochRecordSchema }),
  z.object({ type: z.literal('finished'), ...run }),
  z.object({ type: z.literal('stopped'), ...run }),
  z.object({ type: z.literal('failed'), ...run, error: z.string() }),
]);
export type FromWorker = z.infer<typeof FromWorkerSchema>;
