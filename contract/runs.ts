/**
 * Runs: every training run is a folder in the workspace (spec, settings, seed, backend, metrics as
 * JSON lines, statistics streams, final weights, status). These commands list and read them.
 */
import { z } from 'zod';
import { CheckedModelSpecSchema } from '../model/layers/spec-schema';
import { BatchRecordSchema, EpochRecordSchema, FailureSchema, GpuRunCountersSchema, RunIdSchema, StatsRecordSchema, TrainingSettingsSchema } from './training';

export const RunStatusSchema = z.enum(['running', 'paused', 'finished', 'stopped', 'failed', 'interrupted']);
export type RunStatus = z.infer<typeof RunStatusSchema>;

export const RunSummarySchema = z.object({
  runId: RunIdSchema,
  /** A user-given name; defaults to the model's name. */
  name: z.string().min(1).max(200),
  status: RunStatusSchema,
  createdAt: z.string(),
  endedAt: z.string().nullable(),
  durationMs: z.number().min(0),
  backend: z.string(),
  /** What trained its steps (the worker's step description, e.g. the ONNX Runtime step or why there was none). */
  step: z.string().optional(),
  modelName: z.string(),
  epochsDone: z.number().int().min(0),
  batchesDone: z.number().int().min(0),
  bestValAcc: z.number().nullable(),
  failure: FailureSchema.nullable(),
  /**
   * What tells the run apart (contract/run-traits.ts: initializer, activation, BN placement, settings),
   * from its spec and settings; `runs.list` fills it in, run.json does not keep it.
   */
  traits: z.record(z.string(), z.string()).optional(),
  /** A run a sweep agent trained on another machine: that agent's host name and backend. */
  agent: z.object({ host: z.string().min(1).max(255), backend: z.string().max(64) }).optional(),
});
export type RunSummary = z.infer<typeof RunSummarySchema>;

/** An epoch-end callback's action, as recorded in the run (early stopping, checkpoint, learning-rate change). */
export const CallbackRecordSchema = z.object({
  callback: z.enum(['early-stopping', 'checkpoint', 'restore-best', 'reduce-lr']),
  epoch: z.number().int().min(0),
  detail: z.string(),
});
export type CallbackRecord = z.infer<typeof CallbackRecordSchema>;

export const RunDetailSchema = z.object({
  summary: RunSummarySchema,
  spec: CheckedModelSpecSchema,
  settings: TrainingSettingsSchema,
  /** Every batch, from the run's metrics file (the UI decimates what it draws). */
  batches: z.array(BatchRecordSchema),
  epochs: z.array(EpochRecordSchema),
  callbacks: z.array(CallbackRecordSchema).default([]),
  /** The statistics stream, thinned to at most ~2,000 records for the UI (the file keeps all). */
  stats: z.array(StatsRecordSchema),
  /** Whether final (or last checkpointed) weights exist in TF.js format. */
  hasWeights: z.boolean(),
  /** Whether the best epoch's checkpoint exists (`best/` in the run folder). */
  hasBestCheckpoint: z.boolean().default(false),
  directory: z.string(),
  /** On a WebGPU backend: the GPU calls and host time of a step (run.json's `gpu`). */
  gpu: GpuRunCountersSchema.optional(),
});
export type RunDetail = z.infer<typeof RunDetailSchema>;

export const EvaluationSchema = z.object({
  runId: RunIdSchema,
  /** The weights evaluated: the final ones, or the best epoch's checkpoint when the run saved none (interrupted). */
  weightsFrom: z.enum(['weights', 'best']).default('weights'),
  samples: z.number().int(),
  /** Inference mode: BatchNormalization uses its moving statistics. */
  inference: z.object({ loss: z.number(), acc: z.number() }),
  /** Training mode: BatchNormalization uses each batch's own statistics. */
  training: z.object({ loss: z.number(), acc: z.number() }),
  classNames: z.array(z.string()),
  /** confusion[true][predicted], inference mode. */
  confusion: z.array(z.array(z.number().int())),
  /**
   * A few test samples with their labels. Image-shaped samples carry `pixels` (base64 bytes 0..255,
   * `shape` [height, width, channels]; Fashion-MNIST: 28×28×1); others have no pixels.
   */
  examples: z.array(
    z.object({
      index: z.number().int(),
      label: z.number().int(),
      predicted: z.number().int(),
      confidence: z.number(),
      pixels: z.string(),
      shape: z.array(z.number().int()).default([28, 28, 1]),
    }),
  ),
});
export type Evaluation = z.infer<typeof EvaluationSchema>;

const runRef = z.object({ runId: RunIdSchema }).strict();

export const runCommands = {
  'training.pause': { request: runRef, response: z.object({ paused: z.boolean() }) },
  'training.resume': { request: runRef, response: z.object({ resumed: z.boolean() }) },
  'runs.list': { request: z.object({}).strict(), response: z.object({ runs: z.array(RunSummarySchema) }) },
  'runs.get': { request: runRef, response: RunDetailSchema },
  'runs.rename': { request: z.object({ runId: RunIdSchema, name: z.string().trim().min(1).max(200) }).strict(), response: RunSummarySchema },
  'runs.delete': { request: runRef, response: z.object({ deleted: z.boolean() }) },
  'runs.evaluate': { request: runRef, response: EvaluationSchema },
  'runs.exportCsv': { request: runRef, response: z.object({ fileName: z.string(), csv: z.string() }) },
  /** Imports a TF.js model.json (+ weights) or a Keras .h5 as a run holding its weights: evaluate, export or fine-tune it. */
  'runs.import': {
    request: z.object({ path: z.string().min(1).max(4096) }).strict(),
    response: z.object({ run: RunSummarySchema, spec: CheckedModelSpecSchema }),
  },
  /** Writes the run's trained model where the services run. Without `overwrite`, an existing file is kept and the UI asks. */
  'runs.exportModel': {
    request: z.object({ runId: RunIdSchema, format: z.enum(['tfjs', 'h5', 'onnx', 'py']), path: z.string().min(1).max(4096), overwrite: z.boolean() }).strict(),
    response: z.discriminatedUnion('exported', [
      /** weightsFrom 'best': the run had no final weights; its best epoch's checkpoint was exported. */
      z.object({ exported: z.literal(true), files: z.array(z.string()), weightsFrom: z.enum(['weights', 'best']).optional() }),
      z.object({ exported: z.literal(false), reason: z.literal('exists'), path: z.string() }),
    ]),
  },
} as const;
