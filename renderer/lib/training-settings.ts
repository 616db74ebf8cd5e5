/**
 * Helpers for the training settings form: the contract's schema problems keyed by field path (so
 * each shows at its field), starting values for each learning-rate schedule, and number lists.
 */
import {
  DEFAULT_LEARNING_RATE,
  EarlyStoppingSchema,
  TrainingSettingsSchema,
  defaultOptimizer,
  type LearningRateSchedule,
  type OptimizerName,
  type TrainingSettings,
} from '../../contract';

export type Issues = Map<string, string[]>;

/** Zod's wording made short: an emptied number field is "empty", not "received null". */
function friendly(message: string): string {
  if (/received null/.test(message)) return 'needs a value';
  if (/expected number, received (string|NaN)/.test(message)) return 'must be a number';
  if (/expected int/.test(message)) return 'must be a whole number';
  const small = /Too small: expected number to be >(=?)(\S+)/.exec(message);
  if (small) return `must be ${small[1] ? 'at least' : 'above'} ${small[2]}`;
  const big = /Too big: expected number to be <(=?)(\S+)/.exec(message);
  if (big) return `must be ${big[1] ? 'at most' : 'below'} ${big[2]}`;
  return message;
}

/** The schema's problems with these settings, keyed by dotted path ("optimizer.config.beta_1"). */
export function settingsIssues(settings: unknown): Issues {
  const parsed = TrainingSettingsSchema.safeParse(settings);
  const map: Issues = new Map();
  if (parsed.success) return map;
  for (const issue of parsed.error.issues) {
    // A list's entry reports at the list ("boundaries.1" → "boundaries").
    const path = issue.path.filter((p) => typeof p === 'string').join('.');
    map.set(path, [...(map.get(path) ?? []), friendly(issue.message)]);
  }
  return map;
}

/** Starting values when a schedule is picked: Keras has no defaults for the decays' own settings. */
export function defaultSchedule(name: LearningRateSchedule['class_name'], learningRate: number): LearningRateSchedule {
  switch (name) {
    case 'Constant':
      return { class_name: 'Constant', config: {} };
    case 'ExponentialDecay':
      return { class_name: 'ExponentialDecay', config: { decay_steps: 1000, decay_rate: 0.96, staircase: false } };
    case 'PiecewiseConstantDecay':
      return { class_name: 'PiecewiseConstantDecay', config: { boundaries: [1000, 2000], values: [learningRate, learningRate / 10, learningRate / 100].map(tidy) } };
    case 'ReduceLROnPlateau':
      return { class_name: 'ReduceLROnPlateau', config: { monitor: 'val_loss', factor: 0.1, patience: 10, min_delta: 1e-4, cooldown: 0, min_lr: 0 } };
  }
}

const tidy = (v: number) => Number(v.toPrecision(6));

export const SCHEDULE_NAMES: LearningRateSchedule['class_name'][] = ['Constant', 'ExponentialDecay', 'PiecewiseConstantDecay', 'ReduceLROnPlateau'];

/** Switching optimizer: Keras' defaults for the new one; gradient clipping is kept. */
export function switchOptimizer(current: TrainingSettings['optimizer'], name: OptimizerName): TrainingSettings['optimizer'] {
  const next = defaultOptimizer(name);
  (next.config as Record<string, unknown>).clipnorm = current.config.clipnorm ?? null;
  (next.config as Record<string, unknown>).clipvalue = current.config.clipvalue ?? null;
  return next;
}

export const keraslr = (name: OptimizerName) => DEFAULT_LEARNING_RATE[name];

export function defaultEarlyStopping(validationSplit: number): NonNullable<TrainingSettings['earlyStopping']> {
  return EarlyStoppingSchema.parse({ monitor: validationSplit > 0 ? 'val_loss' : 'loss' });
}

/** "1000, 2000" → [1000, 2000]; an error message for anything that is not a list of numbers. */
export function parseNumberList(text: string): number[] | { error: string } {
  const parts = text.split(/[\s,;]+/).filter(Boolean);
  if (!parts.length) return { error: 'needs at least one number' };
  const values: number[] = [];
  for (const part of parts) {
    const v = Number(part);
    if (!Number.isFinite(v)) return { error: `"${part}" is not a number` };
    values.push(v);
  }
  return values;
}

/** The optimizer's own settings: [key, kind, hint] in Keras' order (clipping is shown for all). */
export const OPTIMIZER_FIELDS: Record<OptimizerName, [string, 'number' | 'bool', string][]> = {
  SGD: [
    ['momentum', 'number', 'Momentum (0 = plain SGD; 0.9 is typical)'],
    ['nesterov', 'bool', 'Nesterov accelerated gradient: look ahead along the momentum'],
  ],
  Adagrad: [
    ['initial_accumulator_value', 'number', 'Starting value of the per-parameter sum of squared gradients'],
    ['epsilon', 'number', 'Added to the denominator to avoid dividing by zero'],
  ],
  RMSprop: [
    ['rho', 'number', 'Decay of the moving average of squared gradients'],
    ['momentum', 'number', 'Momentum'],
    ['epsilon', 'number', 'Added to the denominator to avoid dividing by zero'],
    ['centered', 'bool', 'Normalise by the estimated variance of the gradient (centered RMSprop)'],
  ],
  Adam: [
    ['beta_1', 'number', 'Decay of the first-moment (mean) estimate'],
    ['beta_2', 'number', 'Decay of the second-moment (uncentered variance) estimate'],
    ['epsilon', 'number', 'Added to the denominator to avoid dividing by zero'],
  ],
  Adamax: [
    ['beta_1', 'number', 'Decay of the first-moment estimate'],
    ['beta_2', 'number', 'Decay of the exponentially weighted infinity norm'],
    ['epsilon', 'number', 'Added to the denominator to avoid dividing by zero'],
  ],
};
