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
  /** Stream BN / gradient / activation statistics every K batches; null picks K for a few updates a second. */
  statsEvery: z.number().int().min(1).max(100_000).nullable().default(null),
  /** Up to 16 feature indices whose full BN statistics are streamed (others are summarised). */
  bnFeatures: z.array(z.number().int().min(0).max(1_000_000)).max(16).default([0, 1, 2, 3]),
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
  statsEvery: null,
  bnFeatures: [0, 1, 2, 3],
};

export const StartTrainingSchema = z.object({
  spec: ModelSpecSchema,
  settings: TrainingSettingsSchema,
  /** Fine-tune: start from the saved weights of this run (same architecture) instead of fresh ones. */
  initialWeightsFrom: z.string().regex(/^[A-Za-z0-9._-]{1,80}$/).nullable().optional(),
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
  learningRate: z.number().optional(),
  /** Live tensors at the end of the epoch (`tf.memory().numTensors`): flat across epochs, or a leak. */
  numTensors: z.number().int().optional(),
});
export type EpochRecord = z.infer<typeof EpochRecordSchema>;

/** Distribution of a vector over its features. */
export const VectorSummarySchema = z.object({
  mean: z.number(),
  min: z.number(),
  max: z.number(),
  p5: z.number(),
  p50: z.number(),
  p95: z.number(),
});
export type VectorSummary = z.infer<typeof VectorSummarySchema>;

/** One BatchNormalization layer at one step: its moving statistics and the batch's own. */
export const BnStatsSchema = z.object({
  layer: z.string(),
  features: z.number().int(),
  momentum: z.number(),
  moving_mean: VectorSummarySchema,
  moving_variance: VectorSummarySchema,
  batch_mean: VectorSummarySchema,
  batch_variance: VectorSummarySchema,
  /** Full values for the user-chosen features (indices into the feature axis). */
  chosen: z.object({
    indices: z.array(z.number().int()),
    moving_mean: z.array(z.number()),
    moving_variance: z.array(z.number()),
    batch_mean: z.array(z.number()),
    batch_variance: z.array(z.number()),
  }),
  /** Every feature's moving mean, averaged into at most 128 bins, for the heatmap. */
  moving_mean_bins: z.array(z.number()).max(128),
});
export type BnStats = z.infer<typeof BnStatsSchema>;

/** One layer with weights at one step: gradient flow and what its activations look like. */
export const LayerStatsSchema = z.object({
  layer: z.string(),
  grad_norm: z.number().optional(),
  weight_norm: z.number().optional(),
  /** ‖Δw‖ / ‖w‖ for this step's update. */
  update_ratio: z.number().optional(),
  activation: z.string().optional(),
  act_mean: z.number().optional(),
  act_std: z.number().optional(),
  /** Share of units in the activation's flat regions (|x|>2.5 for sigmoid/tanh, ≤0 for ReLU, …). */
  saturation: z.number().optional(),
});
export type LayerStats = z.infer<typeof LayerStatsSchema>;

export const StatsRecordSchema = z.object({
  epoch: z.number().int().min(0),
  step: z.number().int().min(0),
  bn: z.array(BnStatsSchema),
  layers: z.array(LayerStatsSchema),
});
export type StatsRecord = z.infer<typeof StatsRecordSchema>;

/** Why a run failed, with what a learner needs to fix it. */
export const FailureSchema = z.object({
  error: z.string(),
  /** Set when the loss became NaN or infinite. */
  divergence: z
    .object({
      step: z.number().int(),
      epoch: z.number().int(),
      lastFiniteLoss: z.number().nullable(),
      likelyCauses: z.array(z.string()),
    })
    .optional(),
});

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
  /** Coalesced like batches: every stats record since the last event. */
  z.object({ type: z.literal('stats'), ...run, records: z.array(StatsRecordSchema).min(1) }),
  z.object({ type: z.literal('paused'), ...run }),
  z.object({ type: z.literal('resumed'), ...run }),
  z.object({ type: z.literal('finished'), ...run }),
  z.object({ type: z.literal('stopped'), ...run }),
  z.object({ type: z.literal('failed'), ...run, ...FailureSchema.shape }),
]);
export type TrainingEvent = z.infer<typeof TrainingEventSchema>;
