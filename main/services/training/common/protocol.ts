/**
 * Messages between the training host (main thread) and its worker thread. Both directions are
 * validated on receipt: a worker is a boundary like any other.
 */
import { z } from 'zod';
import { ModelInspectionSchema } from '../../../../contract/model';
import { EvaluationSchema } from '../../../../contract/runs';
import {
  BackendReportSchema,
  BatchRecordSchema,
  GpuRunCountersSchema,
  RunFileFaultSchema,
  RunIdSchema,
  StartTrainingSchema,
  StatsRecordSchema,
  TrainingEventSchema,
  type TrainingEvent,
} from '../../../../contract';
import { ApiErrorBodySchema, DomainErrorCodeSchema, serializeError, type DomainErrorCode } from '../../../../contract/wire';
import { CheckedModelSpecSchema } from '../../../../model/layers/spec-schema';

const run = { runId: RunIdSchema };

type ContractEvent = (typeof TrainingEventSchema.options)[number];
/** The contract's own schema of an event the worker sends as the UI gets it. */
function contractEvent<T extends TrainingEvent['type']>(type: T): Extract<ContractEvent, { shape: { type: z.ZodLiteral<T> } }> {
  const schema = TrainingEventSchema.options.find((option) => option.shape.type.value === type);
  if (!schema) throw new Error(`contract/training.ts has no '${type}' event`);
  return schema as Extract<ContractEvent, { shape: { type: z.ZodLiteral<T> } }>;
}

export const ToWorkerSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('train'),
    ...run,
    /** Its spec is checked field by field against its layers' kits (the host has summarized it valid). */
    request: StartTrainingSchema,
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
  /** The host inspects only a spec `summarize()` finds valid. */
  z.object({ type: z.literal('inspect'), requestId: z.number().int(), spec: CheckedModelSpecSchema }),
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
  /** Errors travel as serializeError's bodies (code, name, message): deserializeError on the host's side. */
  z.object({ type: z.literal('fatal'), error: ApiErrorBodySchema }),
  z.object({ type: z.literal('inspection'), requestId: z.number().int(), result: ModelInspectionSchema }),
  z.object({ type: z.literal('inspection-failed'), requestId: z.number().int(), error: ApiErrorBodySchema }),
  z.object({ type: z.literal('evaluation'), requestId: z.number().int(), result: EvaluationSchema }),
  z.object({ type: z.literal('evaluation-failed'), requestId: z.number().int(), error: ApiErrorBodySchema }),
  contractEvent('phase'),
  contractEvent('started'),
  /** Every batch, one message each (the host coalesces them into the contract's 'batches'). */
  z.object({ type: z.literal('batch'), ...run, record: BatchRecordSchema, samples: z.number().int() }),
  /** One statistics record (every K batches; coalesced into the contract's 'stats'). */
  z.object({ type: z.literal('stats'), ...run, record: StatsRecordSchema }),
  contractEvent('epoch'),
  /** On a WebGPU backend, before the run's last message: its steady-state GPU calls per step (run.json's `gpu`). */
  z.object({ type: z.literal('gpu'), ...run, gpu: GpuRunCountersSchema }),
  contractEvent('calibration'),
  contractEvent('callback'),
  contractEvent('paused'),
  contractEvent('resumed'),
  contractEvent('finished').extend(writeFaults),
  contractEvent('stopped').extend(writeFaults),
  contractEvent('failed').extend({
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

/**
 * A run's failure as the protocol and the run's file carry it (FailureSchema's `error`, `code`,
 * `name`): serializeError's body, with its code only when it is a domain code.
 */
export function failureOf(error: unknown, message?: string): { error: string; code?: DomainErrorCode; name?: string } {
  const body = serializeError(error);
  const code = DomainErrorCodeSchema.safeParse(body.code);
  return { error: message ?? body.message, ...(code.success ? { code: code.data } : {}), ...(body.name ? { name: body.name } : {}) };
}
