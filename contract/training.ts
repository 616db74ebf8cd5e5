/** Training commands' payloads and the training event stream. */
import { z } from 'zod';
import { ModelSpecSchema } from '../model/spec';

const finite = z.number().refine(Number.isFinite, 'must be a finite number');

export const TrainingSettingsSchema = z.object({
  dataset: z.literal('fashion-mnist'),
  epochs: z.number().int().min(1).max(10_000),
  batchSize: z.number().int().min(1).max(65_536),
  learningRate: finite.positive().max(1e9),
  optimizer: z.literal('sgd'),
  /** Train on the first N training images (after a seeded shuffle); null trains on all of them. */
  trainSubset: z.number().int().min(1).max(60_000).nullable(),
  validationSplit: finite.min(0).max(0.9),
  seed: z.number().int().min(0).max(2 ** 31 - 1),
});
export type TrainingSettings = z.infer<typeof TrainingSettingsSchema>;

export const defaultTrainingSettings: TrainingSettings = {
  dataset: 'fashion-mnist',
  epochs: 5,
  batchSize: 32,
  learningRate: 0.01,
  optimizer: 'sgd',
  trainSubset: 10_000,
  validationSplit: 0.1,
  seed: 42,
};

export const StartTrainingSchema = z.object({
  spec: ModelSpecSchema,
  settings: TrainingSettingsSchema,
});
export type StartTraining = z.infer<typeof StartTrainingSchema>;

export const RunIdSchema = z.string().regex(/^[A-Za-z0-9._-]{1,80}$/, 'a run id is letters, digits, ".", "_" or "-"');

/** One backend the worker tried, in probe order. */
export const BackendCandidateSchema = z.object({
  name: z.enum(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']),
  package: z.string(),
  status: z.enum(['active', 'skipped', 'not-tried']),
  /** Why a skipped backend was skipped: the caught error's message. */
  reason: z.string().optional(),
});
export const BackendReportSchema = z.object({
  active: z.string(),
  candidates: z.array(BackendCandidateSchema),
});
export type BackendReport = z.infer<typeof BackendReportSchema>;
export type BackendCandidate = z.infer<typeof BackendCandidateSchema>;

export const BatchRecordSchema = z.object({
  epoch: z.number().int().min(0),
  batch: z.number().int().min(0),
  /** Global step, counted from 0 over the whole run. */
  step: z.number().int().min(0),
  loss: z.number(),
  acc: z.number(),
});
export type BatchRecord = z.infer<typeof BatchRecordSchema>;

export const EpochRecordSchema = z.object({
  epoch: z.number().int().min(0),
  loss: z.number(),
  acc: z.number(),
  val_loss: z.number().optional(),
  val_acc: z.number().optional(),
  durationMs: z.number().min(0),
  /** Live tensors at the end of the epoch (`tf.memory().numTensors`): flat across epochs, or a leak. */
  numTensors: z.number().int().optional(),
});
export type EpochRecord = z.infer<typeof EpochRecordSchema>;

const run = { runId: RunIdSchema };

/** What the UI sees of a run. Batches arrive coalesced: one event carries every batch since the last. */
export const TrainingEventSchema = z.discriminatedUnion('type', [
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
  z.object({
    type: z.literal('batches'),
    ...run,
    batches: z.array(BatchRecordSchema).min(1),
    /** Batches completed over the whole run, for the progress bar. */
    completedBatches: z.number().int(),
    totalBatches: z.number().int(),
    samplesPerSec: z.number(),
  }),
  z.object({ type: z.literal('epoch'), ...run, record: EpochRecordSchema }),
  z.object({ type: z.literal('finished'), ...run }),
  z.object({ type: z.literal('stopped'), ...run }),
  z.object({ type: z.literal('failed'), ...run, error: z.string() }),
]);
export type TrainingEvent = z.infer<typeof TrainingEventSchema>;
