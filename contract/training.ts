/** Training commands' payloads and the training event stream. */
import { z } from 'zod';
import { CheckedModelSpecSchema } from '../model/layers/spec-schema';
import { defaultOptimizer, EarlyStoppingSchema, LearningRateScheduleSchema, OptimizerSchema } from '../model/training-config';
import { DatasetIdSchema } from './datasets';
import { DomainErrorCodeSchema, ErrorNameSchema } from './wire';

const finite = z.number().refine(Number.isFinite, 'must be a finite number');

/** tfjs' backends, and 'onnxruntime': the training step in ONNX Runtime (native CPU), tfjs on wasm (or cpu) for the rest. */
export const BACKEND_NAMES = ['tensorflow-gpu', 'webgpu', 'tensorflow', 'onnxruntime', 'wasm', 'cpu'] as const;
export const BackendNameSchema = z.enum(BACKEND_NAMES);
export type BackendName = z.infer<typeof BackendNameSchema>;

/** Defined in `model/` (Keras' vocabulary); re-exported so the API keeps one place to import training settings from. */
export {
  DEFAULT_LEARNING_RATE,
  EarlyStoppingSchema,
  LearningRateScheduleSchema,
  OPTIMIZER_NAMES,
  OptimizerSchema,
  defaultOptimizer,
  type EarlyStopping,
  type LearningRateSchedule,
  type OptimizerName,
  type OptimizerSettings,
} from '../model/training-config';

/** How sample values are scaled before training: ÷255, per feature by the training split's mean and std, or as stored. */
export const NormalizationSchema = z.enum(['scale-255', 'standardize', 'none']);
export type Normalization = z.infer<typeof NormalizationSchema>;

/** Older project files and runs wrote `optimizer: 'sgd'`. */
const optimizerSetting = z.preprocess((value) => (value === 'sgd' ? { class_name: 'SGD', config: {} } : value), OptimizerSchema);

export const TrainingSettingsSchema = z
  .object({
    /** 'fashion-mnist' or an imported dataset's id. */
    dataset: DatasetIdSchema,
    epochs: z.number().int().min(1).max(10_000),
    batchSize: z.number().int().min(1).max(65_536),
    /** The (initial) learning rate: Keras' `learning_rate`, or a schedule's `initial_learning_rate`. */
    learningRate: finite.positive().max(1e9),
    optimizer: optimizerSetting,
    lrSchedule: LearningRateScheduleSchema.default({ class_name: 'Constant', config: {} }),
    earlyStopping: EarlyStoppingSchema.nullable().default(null),
    /** Save the weights of the best epoch (lowest val_loss, or loss without validation) into the run folder. */
    checkpointBest: z.boolean().default(true),
    normalization: NormalizationSchema.default('scale-255'),
    /** Train on the first N samples of the pool (after a seeded shuffle); null trains on all of them. */
    trainSubset: z.number().int().min(1).max(100_000_000).nullable(),
    validationSplit: finite.min(0).max(0.9),
    /**
     * Share of the pool held out (seeded) as the test set, for datasets without their own (Fashion-MNIST
     * has one: ignored). 10% by default, so Evaluate works on imported data.
     */
    testSplit: finite.min(0).max(0.5).default(0.1),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1),
    /** Stream BN / gradient / activation statistics every K batches; null picks K for a few updates a second, at most 1% of the training time. */
    statsEvery: z.number().int().min(1).max(100_000).nullable().default(null),
    /**
     * Up to 16 feature indices whose full BN statistics are streamed (others are summarised); null
     * picks, per BN layer, the 4 features of highest batch variance at the first statistics step (an
     * input BN's features 0–3 are image corners, always black).
     */
    bnFeatures: z.array(z.number().int().min(0).max(1_000_000)).max(16).nullable().default(null),
    /** 'auto' calibrates the available backends on this model and batch size and picks the fastest. */
    backend: z.union([z.literal('auto'), BackendNameSchema]).default('auto'),
  })
  .superRefine(
    (s, ctx) => {
      // Runs even when other fields are invalid (`when`), so the form shows this next to them: values
      // may then be malformed, hence the defensive reads.
      const validationSplit = typeof s.validationSplit === 'number' ? s.validationSplit : null;
      const needsValidation = (monitor: unknown, path: string[]) => {
        if (monitor === 'val_loss' && validationSplit === 0) {
          ctx.addIssue({ code: 'custom', path, message: 'monitors val_loss, which needs a validation split above 0 (or monitor loss)' });
        }
      };
      if (s.earlyStopping) needsValidation(s.earlyStopping.monitor ?? 'val_loss', ['earlyStopping', 'monitor']);
      const schedule = s.lrSchedule as { class_name?: unknown; config?: { monitor?: unknown } } | undefined;
      if (schedule?.class_name === 'ReduceLROnPlateau') needsValidation(schedule.config?.monitor ?? 'val_loss', ['lrSchedule', 'config', 'monitor']);
    },
    { when: (payload) => typeof payload.value === 'object' && payload.value !== null },
  );
export type TrainingSettings = z.infer<typeof TrainingSettingsSchema>;

export const defaultTrainingSettings: TrainingSettings = {
  dataset: 'fashion-mnist',
  epochs: 5,
  batchSize: 32,
  learningRate: 0.01,
  optimizer: defaultOptimizer('SGD'),
  lrSchedule: { class_name: 'Constant', config: {} },
  earlyStopping: null,
  checkpointBest: true,
  normalization: 'scale-255',
  trainSubset: 10_000,
  validationSplit: 0.1,
  testSplit: 0.1,
  seed: 42,
  statsEvery: null,
  bnFeatures: null,
  backend: 'auto',
};

export const StartTrainingSchema = z.object({
  /** Checked field by field: the editor keeps Start off while its draft has problems. */
  spec: CheckedModelSpecSchema,
  settings: TrainingSettingsSchema,
  /** Fine-tune: start from the saved weights of this run (same architecture) instead of fresh ones. */
  initialWeightsFrom: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,80}$/)
    .nullable()
    .optional(),
});
export type StartTraining = z.infer<typeof StartTrainingSchema>;

export const RunIdSchema = z.string().regex(/^[A-Za-z0-9._-]{1,80}$/, 'a run id is letters, digits, ".", "_" or "-"');

/** One backend the worker tried, in probe order. */
export const BackendCandidateSchema = z.object({
  name: BackendNameSchema,
  package: z.string(),
  /** 'available': loaded and usable but not the default (e.g. webgpu next to wasm; Auto may pick it by calibration). */
  status: z.enum(['active', 'available', 'skipped', 'not-tried']),
  /** Why a skipped backend was skipped: the caught error's message. */
  reason: z.string().optional(),
  /** What a started backend is, when its name does not say (onnxruntime: "ONNX Runtime 1.30.0, native CPU, 1 intra-op thread (1 or 2 by timing from batch 128)"). */
  detail: z.string().optional(),
});
/** The GPU adapter a GPU backend found (WebGPU's GPUAdapterInfo, or CUDA's device for tensorflow-gpu). */
export const GpuAdapterSchema = z.object({
  backend: BackendNameSchema,
  vendor: z.string(),
  architecture: z.string(),
  device: z.string(),
  description: z.string(),
  driver: z.string().optional(),
  /** A CPU implementation of the API (SwiftShader, llvmpipe/lavapipe, WARP): slower than the CPU backends as a rule. */
  software: z.boolean().default(false),
});
export type GpuAdapter = z.infer<typeof GpuAdapterSchema>;
/**
 * What a run's steps asked of the GPU (run.json's `gpu`): steady-state averages per step, after the
 * warm-up steps and without the statistics steps (worker/gpu-counters.ts).
 */
export const GpuRunCountersSchema = z.object({
  adapter: GpuAdapterSchema,
  software: z.boolean(),
  /** The steps averaged. */
  steps: z.number().int().min(1),
  /** The first steps left out (shader compilation, buffer pools). */
  warmupSteps: z.number().int().min(0),
  /** The averaged steps also gathered the dashboard's statistics (every step did); otherwise those steps are left out. */
  statisticsSteps: z.boolean().optional(),
  dispatchesPerStep: z.number().min(0),
  submitsPerStep: z.number().min(0),
  buffersCreatedPerStep: z.number().min(0),
  bindGroupsPerStep: z.number().min(0).optional(),
  writeBuffersPerStep: z.number().min(0).optional(),
  /** GPUBuffer.mapAsync calls: results read back. */
  readbacksPerStep: z.number().min(0).optional(),
  /** Host milliseconds per step: the step's wall time less its waits for the GPU (recording and submitting work). */
  hostMsPerStep: z.number().min(0),
});
export type GpuRunCounters = z.infer<typeof GpuRunCountersSchema>;
export const BackendReportSchema = z.object({
  active: z.string(),
  candidates: z.array(BackendCandidateSchema),
  adapter: GpuAdapterSchema.nullable().optional(),
});
export type BackendReport = z.infer<typeof BackendReportSchema>;
/** Auto's measurement before a run: a few timed steps of this model and batch size on each available backend. */
export const CalibrationSchema = z.object({
  results: z.array(z.object({ backend: BackendNameSchema, samplesPerSec: z.number().min(0).nullable(), error: z.string().optional() })),
  chosen: BackendNameSchema,
  steps: z.number().int().min(1),
});
export type Calibration = z.infer<typeof CalibrationSchema>;
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
  /** GPU memory at the end of the epoch, on a GPU backend (webgpu's numBytesInGPU / numBytesAllocatedInGPU). */
  gpuMemory: z.object({ inUseBytes: z.number().int().min(0), allocatedBytes: z.number().int().min(0).optional() }).optional(),
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

/** A file of a run that could not be written (a full disk, an I/O error, no permission). */
export const RunFileFaultSchema = z.object({
  /** Relative to the run folder: "metrics.jsonl", "stats.jsonl", "run.json", "weights/", "best/". */
  file: z.string(),
  /** missing: not on disk; incomplete: on disk, but without what the failed write carried. */
  state: z.enum(['missing', 'incomplete']),
  /** The error code of the failed write: ENOSPC, EIO, EACCES, … */
  errno: z.string(),
});
export type RunFileFault = z.infer<typeof RunFileFaultSchema>;

/** Why a run failed, with what a learner needs to fix it. */
export const FailureSchema = z.object({
  error: z.string(),
  /**
   * The failure's domain code, as a command's error would carry it: 'io' when some of the run's files
   * could not be written (listed in `files`) or the data could not be read, 'invalid-input' for data
   * or weights that do not fit, ...; absent for an unexpected error.
   */
  code: DomainErrorCodeSchema.optional(),
  /** The class of the error the run failed with, as thrown in the worker or the host. */
  name: ErrorNameSchema.optional(),
  files: z.array(RunFileFaultSchema).optional(),
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
    /** What trains the steps ("ONNX Runtime 1.30.0 (CPU, 1 thread): …", "general training step (no fused step: …)"). */
    step: z.string().optional(),
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
  z.object({ type: z.literal('calibration'), ...run, calibration: CalibrationSchema }),
  /** Early stopping ended the run, or the best epoch's weights were checkpointed / restored. */
  z.object({
    type: z.literal('callback'),
    ...run,
    callback: z.enum(['early-stopping', 'checkpoint', 'restore-best', 'reduce-lr']),
    epoch: z.number().int().min(0),
    detail: z.string(),
  }),
  /** Coalesced like batches: every stats record since the last event. */
  z.object({ type: z.literal('stats'), ...run, records: z.array(StatsRecordSchema).min(1) }),
  z.object({ type: z.literal('paused'), ...run }),
  z.object({ type: z.literal('resumed'), ...run }),
  z.object({ type: z.literal('finished'), ...run }),
  z.object({ type: z.literal('stopped'), ...run }),
  z.object({ type: z.literal('failed'), ...run, ...FailureSchema.shape }),
]);
export type TrainingEvent = z.infer<typeof TrainingEventSchema>;
