/**
 * Training settings in and out of Keras' own JSON: the `training_config` Keras writes into an .h5
 * (`loss`, `metrics`, `optimizer_config` with the learning rate or its schedule) and the callbacks
 * (EarlyStopping, ReduceLROnPlateau, ModelCheckpoint) as `{class_name, config}`, which Keras does not
 * store in a model file but `keras.callbacks.deserialize`-style code and the exported script use.
 */
import { describeValue } from './initializers';
import { LearningRateScheduleSchema, OptimizerSchema, type EarlyStopping, type LearningRateSchedule, type OptimizerSettings } from './training-config';
import { kerasObject, pyFloat, type PyFloat, type SerializedKerasObject } from './keras-serialization';

export type KerasObject = { class_name: string; config: Record<string, unknown> };

/** The part of contract's `TrainingSettings` that Keras' `training_config` carries. */
type Settings = { optimizer: OptimizerSettings; learningRate: number; lrSchedule: LearningRateSchedule };
/** The part of the training settings that becomes Keras callbacks. */
type CallbackSettings = { earlyStopping: EarlyStopping | null; lrSchedule: LearningRateSchedule; checkpointBest: boolean; validationSplit: number };

/** Keras' `learning_rate`: the number, or the schedule object for the per-step schedules. */
export function kerasLearningRate(settings: Settings): PyFloat | SerializedKerasObject {
  const schedule = settings.lrSchedule;
  switch (schedule.class_name) {
    case 'ExponentialDecay': {
      const { decay_steps, decay_rate, staircase } = schedule.config;
      return kerasObject('keras.optimizers.schedules', 'ExponentialDecay', {
        initial_learning_rate: pyFloat(settings.learningRate),
        decay_steps,
        decay_rate: pyFloat(decay_rate),
        staircase,
        name: 'ExponentialDecay',
      });
    }
    case 'PiecewiseConstantDecay':
      return kerasObject('keras.optimizers.schedules', 'PiecewiseConstantDecay', {
        boundaries: [...schedule.config.boundaries],
        values: schedule.config.values.map(pyFloat),
        name: 'PiecewiseConstantDecay',
      });
    default:
      return pyFloat(settings.learningRate);
  }
}

/** Keras' optimizer config in Keras 3's form: `{module: 'keras.optimizers', class_name: 'Adam', config: {name, learning_rate, beta_1, …}, registered_name: null}`. */
export function toKerasOptimizer(settings: Settings): SerializedKerasObject {
  const { class_name, config } = settings.optimizer;
  const typed: Record<string, unknown> = {};
  // Every numeric optimizer setting is a Python float in Keras (SGD refuses an int momentum).
  for (const [k, v] of Object.entries(config)) typed[k] = typeof v === 'number' ? pyFloat(v) : v;
  return kerasObject('keras.optimizers', class_name, { name: class_name, learning_rate: kerasLearningRate(settings), ...typed });
}

/** The `training_config` attribute of a Keras .h5 for these settings. */
export function toKerasTrainingConfig(settings: Settings): Record<string, unknown> {
  return {
    loss: 'sparse_categorical_crossentropy',
    metrics: ['accuracy'],
    weighted_metrics: null,
    loss_weights: null,
    optimizer_config: toKerasOptimizer(settings),
  };
}

/** The run's callbacks in Keras' names and configs. */
export function toKerasCallbacks(settings: CallbackSettings): KerasObject[] {
  const callbacks: KerasObject[] = [];
  if (settings.earlyStopping) callbacks.push({ class_name: 'EarlyStopping', config: { ...settings.earlyStopping } });
  if (settings.lrSchedule.class_name === 'ReduceLROnPlateau') callbacks.push({ class_name: 'ReduceLROnPlateau', config: { ...settings.lrSchedule.config } });
  if (settings.checkpointBest) {
    // The app's checkpoint watches what early stopping watches, else val_loss when there is validation.
    const monitor = settings.earlyStopping?.monitor ?? (settings.validationSplit > 0 ? 'val_loss' : 'loss');
    callbacks.push({ class_name: 'ModelCheckpoint', config: { filepath: 'best.weights.h5', monitor, save_best_only: true, save_weights_only: true } });
  }
  return callbacks;
}

export class KerasTrainingImportError extends Error {
  readonly code = 'invalid-input' as const;
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'KerasTrainingImportError';
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Keras 3 and tf.keras spell a few things differently; TF.js optimizers use camelCase. */
const OPTIMIZER_NAMES: Record<string, OptimizerSettings['class_name']> = {
  sgd: 'SGD',
  adagrad: 'Adagrad',
  rmsprop: 'RMSprop',
  adam: 'Adam',
  adamax: 'Adamax',
};

/** Keys Keras writes that change nothing here, or that only carry their default value. */
const IGNORED_OPTIMIZER_KEYS = new Set([
  'name',
  'is_legacy_optimizer',
  'jit_compile',
  'ema_momentum',
  'ema_overwrite_frequency',
  'loss_scale_factor',
  'gradient_accumulation_steps',
]);

/**
 * The optimizer, learning rate and schedule from a Keras `training_config` (object or JSON string;
 * an `optimizer_config` alone is accepted too). Throws KerasTrainingImportError naming the field.
 */
export function fromKerasTrainingConfig(json: unknown): Settings {
  let root: unknown = typeof json === 'string' ? JSON.parse(json) : json;
  if (isRecord(root) && 'optimizer_config' in root) root = root.optimizer_config;
  if (!isRecord(root)) throw new KerasTrainingImportError(`expected an optimizer config object, got ${describeValue(root)}`, 'optimizer_config');
  const rawName = typeof root.class_name === 'string' ? root.class_name.replace(/^.*>/, '') : '';
  const class_name = OPTIMIZER_NAMES[rawName.toLowerCase()];
  if (!class_name)
    throw new KerasTrainingImportError(`unsupported optimizer ${describeValue(root.class_name)} (supported: SGD, Adagrad, RMSprop, Adam, Adamax)`, 'optimizer_config.class_name');
  const given = isRecord(root.config) ? root.config : {};
  const config: Record<string, unknown> = {};
  let learningRate = 0.01;
  let lrSchedule: LearningRateSchedule = { class_name: 'Constant', config: {} };
  for (const [key, value] of Object.entries(given)) {
    const field = `optimizer_config.config.${key}`;
    if (key === 'learning_rate' || key === 'lr') {
      ({ learningRate, lrSchedule } = readLearningRate(value, field));
    } else if (key === 'amsgrad') {
      if (value) throw new KerasTrainingImportError('AMSGrad is not supported (TF.js has no AMSGrad)', field);
    } else if (key === 'global_clipnorm' && value !== null && value !== undefined) {
      throw new KerasTrainingImportError('global_clipnorm is not supported (use clipnorm, which clips each gradient)', field);
    } else if (key === 'weight_decay' || key === 'global_clipnorm') {
      if (key === 'weight_decay' && value !== null && value !== undefined && value !== 0) {
        throw new KerasTrainingImportError('weight_decay is not supported (use an l2 kernel_regularizer)', field);
      }
    } else if (key === 'decay') {
      // Legacy optimizers' time-based decay lr/(1 + decay·step): dropping it would change training.
      if (value !== null && value !== undefined && value !== 0) {
        throw new KerasTrainingImportError('time-based decay is not supported (use an ExponentialDecay or PiecewiseConstantDecay schedule)', field);
      }
    } else if (key === 'use_ema') {
      if (value) throw new KerasTrainingImportError('exponential moving averages of the weights (use_ema) are not supported', field);
    } else if (!IGNORED_OPTIMIZER_KEYS.has(key)) {
      config[key] = value;
    }
  }
  const parsed = OptimizerSchema.safeParse({ class_name, config });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new KerasTrainingImportError(issue.message, ['optimizer_config.config', ...issue.path.slice(1)].join('.'));
  }
  return { optimizer: parsed.data, learningRate, lrSchedule };
}

function readLearningRate(value: unknown, field: string): { learningRate: number; lrSchedule: LearningRateSchedule } {
  const read = readLearningRateUnchecked(value, field);
  const parsed = LearningRateScheduleSchema.safeParse(read.lrSchedule);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new KerasTrainingImportError(issue.message, [field, 'config', ...issue.path.slice(1)].join('.'));
  }
  return { learningRate: read.learningRate, lrSchedule: parsed.data };
}

function readLearningRateUnchecked(value: unknown, field: string): { learningRate: number; lrSchedule: LearningRateSchedule } {
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) return { learningRate: value, lrSchedule: { class_name: 'Constant', config: {} } };
  if (!isRecord(value) || !isRecord(value.config)) throw new KerasTrainingImportError(`expected a positive number or a schedule, got ${describeValue(value)}`, field);
  const c = value.config;
  switch (value.class_name) {
    case 'ExponentialDecay': {
      const lr = c.initial_learning_rate;
      if (typeof lr !== 'number' || !(lr > 0))
        throw new KerasTrainingImportError(`initial_learning_rate must be a positive number, got ${describeValue(lr)}`, `${field}.config.initial_learning_rate`);
      return {
        learningRate: lr,
        lrSchedule: { class_name: 'ExponentialDecay', config: { decay_steps: c.decay_steps as number, decay_rate: c.decay_rate as number, staircase: Boolean(c.staircase) } },
      };
    }
    case 'PiecewiseConstantDecay': {
      const values = c.values as number[];
      if (!Array.isArray(values) || typeof values[0] !== 'number') throw new KerasTrainingImportError(`values must be a list of numbers`, `${field}.config.values`);
      return { learningRate: values[0], lrSchedule: { class_name: 'PiecewiseConstantDecay', config: { boundaries: c.boundaries as number[], values } } };
    }
    default:
      throw new KerasTrainingImportError(
        `unsupported learning-rate schedule ${describeValue(value.class_name)} (supported: ExponentialDecay, PiecewiseConstantDecay)`,
        `${field}.class_name`,
      );
  }
}

/** Keras' EarlyStopping config (other keys ignored; unsupported monitors refused). */
export function fromKerasEarlyStopping(config: Record<string, unknown>): EarlyStopping {
  const monitor = config.monitor ?? 'val_loss';
  if (monitor !== 'val_loss' && monitor !== 'loss')
    throw new KerasTrainingImportError(`only loss and val_loss can be monitored, got ${describeValue(monitor)}`, 'EarlyStopping.monitor');
  return {
    monitor,
    patience: typeof config.patience === 'number' ? config.patience : 0,
    min_delta: typeof config.min_delta === 'number' ? Math.abs(config.min_delta) : 0,
    restore_best_weights: Boolean(config.restore_best_weights),
  };
}
