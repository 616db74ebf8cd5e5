/**
 * Messages between the training host (main thread) and its worker thread. Both directions are
 * validated on receipt: a worker is a boundary like any other.
 */
import { z } from 'zod';
import { ModelInspectionSchema } from '../../../contract/model';
import { EvaluationSchema } from '../../../contract/runs';
import { ModelSpecSchema } from '../../../model/spec';
import { CheckedModelSpecSchema } from '../../../model/layers/spec-schema';
import { BackendReportSchema, CalibrationSchema, BatchRecordSchema, EpochRecordSchema, FailureSchema, RunFileFaultSchema, RunIdSchema, StartTrainingSchema, StatsRecordSchema } from '../../../contract';

const run = { runId: RunIdSchema };

export const ToWorkerSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('train'),
    ...run,
    /** The spec checked field by field against its layers' kits (the host has summarized it valid). */
    request: StartTrainingSchema.extend({ spec: CheckedModelSpecSchema }),
    /** The dataset's folder: Fashion-MNIST's four IDX files (located or downloaded by the host) or an imported dataset's cache. */
    datasetDir: z.string(),
    /** Where the worker saves the weights when the run ends (TF.js layers format); null: not saved. */
    weightsDir: z.string().nullable(),
    /** Where the best epoch's weights go (settings.checkpointBest). */
    checkpointDir: z.string().nullable().optional(),
    /** Fine-tuning: a TF.js weights folder to start from. */
    initialWeightsDir: z.string().nullable().optional(),
  }),
  z.object({ type: z.literal('stop'), ...run }),
  /** Blocks the run before its next batch; answered by 'paused'. */
  z.object({ type: z.literal('pause'), ...run }),
  /** Answered by 'resumed'. */
  z.object({ type: z.literal('resume'), ...run }),
  z.object({ type: z.literal('inspect'), requestId: z.number().int(), spec: ModelSpecSchema }),
  /** Loads a run's saved weights and scores them on the test set. */
  z.object({
    type: z.literal('evaluate'),
    requestId: z.number().int(),
    ...run,
    weightsDir: z.string(),
    datasetDir: z.string(),
    /** The run's split settings: a dataset without its own test set is evaluated on the run's held-out test share. */
    split: z.object({ seed: z.number().int(), testSplit: z.number(), trainSubset: z.number().int().nullable(), validationSplit: z.number() }),
  }),
]);
export type ToWorker = z.infer<typeof ToWorkerSchema>;

/** A number that may be NaN or ±∞, spelled as JSON-safe strings then (zod's numbers are finite). */
const maybeFinite = z.union([z.number(), z.enum(['NaN', 'Infinity', '-Infinity'])]);

/** Set on a run's last message when its weights (weights/, best/) could not be written: the run then fails. */
const writeFaults = { faults: z.array(RunFileFaultSchema).optional() };

export const FromWorkerSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready'), report: BackendReportSchema }),
  z.object({ type: z.literal('fatal'), error: z.string() }),
  z.object({ type: z.literal('inspection'), requestId: z.number().int(), result: ModelInspectionSchema }),
  z.object({ type: z.literal('inspection-failed'), requestId: z.number().int(), error: z.string() }),
  z.object({ type: z.literal('evaluation'), requestId: z.number().int(), result: EvaluationSchema }),
  z.object({ type: z.literal('evaluation-failed'), requestId: z.number().int(), error: z.string() }),
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
  /** Every batch, one message each. */
  z.object({ type: z.literal('batch'), ...run, record: BatchRecordSchema, samples: z.number().int() }),
  /** One statistics record (every K batches). */
  z.object({ type: z.literal('stats'), ...run, record: StatsRecordSchema }),
  z.object({ type: z.literal('epoch'), ...run, record: EpochRecordSchema }),
  z.object({ type: z.literal('calibration'), ...run, calibration: CalibrationSchema }),
  z.object({ type: z.literal('callback'), ...run, callback: z.enum(['early-stopping', 'checkpoint', 'restore-best', 'reduce-lr']), epoch: z.number().int().min(0), detail: z.string() }),
  z.object({ type: z.literal('paused'), ...run }),
  z.object({ type: z.literal('resumed'), ...run }),
  z.object({ type: z.literal('finished'), ...run, ...writeFaults }),
  z.object({ type: z.literal('stopped'), ...run, ...writeFaults }),
  z.object({
    type: z.literal('failed'),
    ...run,
    ...FailureSchema.shape,
    ...writeFaults,
    /** The batch whose loss diverged (not streamed as a batch: its loss is not a finite number); the run's file keeps it. */
    divergedBatch: z.object({ epoch: z.number().int(), batch: z.number().int(), step: z.number().int(), loss: maybeFinite, acc: maybeFinite }).optional(),
  }),
]);
export type FromWorker = z.infer<typeof FromWorkerSchema>;

/** A number as the protocol carries it: NaN and ±∞ as strings. */
export function encodeNumber(x: number): number | 'NaN' | 'Infinity' | '-Infinity' {
  return Number.isFinite(x) ? x : (String(x) as 'NaN' | 'Infinity' | '-Infinity');
}
