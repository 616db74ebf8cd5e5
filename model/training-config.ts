/**
 * The optimizer, its learning-rate schedule and early stopping in Keras' vocabulary: the part of the
 * training settings that a Keras model file carries (`training_config`) or Keras code names. It sits in
 * `model/` so that `model/` (the lower layer) reads it without importing `contract/`.
 */
import { z } from 'zod';

const finite = z.number().refine(Number.isFinite, 'must be a finite number');
const nonNegative = finite.min(0);
const clip = finite.positive().nullable().default(null);

/** Keras 3 refuses an optimizer with both: one clipping rule at a time. */
const oneClip = (c: { clipnorm: number | null; clipvalue: number | null }) => c.clipnorm === null || c.clipvalue === null;
const oneClipMessage = { message: 'set clipnorm or clipvalue, not both (as Keras)', path: ['clipvalue'] };

/**
 * The optimizer in Keras' vocabulary (`class_name` + snake_case `config`, Keras' defaults), less
 * `learning_rate`, which is the settings' `learningRate` and its schedule. `clipnorm` clips each
 * gradient tensor's L2 norm, `clipvalue` each element, as Keras does.
 */
export const OptimizerSchema = z.discriminatedUnion('class_name', [
  z.object({
    class_name: z.literal('SGD'),
    config: z
      .object({ momentum: finite.min(0).max(1).default(0), nesterov: z.boolean().default(false), clipnorm: clip, clipvalue: clip })
      .strict()
      .refine(oneClip, oneClipMessage),
  }),
  z.object({
    class_name: z.literal('Adagrad'),
    config: z
      .object({
        initial_accumulator_value: nonNegative.default(0.1),
        // TF.js' Adagrad adds the backend's epsilon (1e-7) and has no setting for it.
        epsilon: finite.refine((e) => Math.abs(e - 1e-7) < 1e-12, "must be 1e-7: TF.js' Adagrad has no epsilon setting").default(1e-7),
        clipnorm: clip,
        clipvalue: clip,
      })
      .strict()
      .refine(oneClip, oneClipMessage),
  }),
  z.object({
    class_name: z.literal('RMSprop'),
    config: z
      .object({
        rho: finite.min(0).max(1).default(0.9),
        momentum: finite.min(0).max(1).default(0),
        epsilon: finite.positive().default(1e-7),
        centered: z.boolean().default(false),
        clipnorm: clip,
        clipvalue: clip,
      })
      .strict()
      .refine(oneClip, oneClipMessage),
  }),
  ...(['Adam', 'Adamax'] as const).map((name) =>
    z.object({
      class_name: z.literal(name),
      // Adam and Adamax take the same settings (Adamax's second moment is an infinity norm).
      config: z
        .object({
          beta_1: finite.min(0).max(1).default(0.9),
          beta_2: finite.min(0).max(1).default(0.999),
          epsilon: finite.positive().default(1e-7),
          clipnorm: clip,
          clipvalue: clip,
        })
        .strict()
        .refine(oneClip, oneClipMessage),
    }),
  ),
]);
export type OptimizerSettings = z.infer<typeof OptimizerSchema>;
export type OptimizerName = OptimizerSettings['class_name'];
export const OPTIMIZER_NAMES: OptimizerName[] = ['SGD', 'Adagrad', 'RMSprop', 'Adam', 'Adamax'];

/** Keras' default learning rate for each optimizer. */
export const DEFAULT_LEARNING_RATE: Record<OptimizerName, number> = { SGD: 0.01, Adagrad: 0.001, RMSprop: 0.001, Adam: 0.001, Adamax: 0.001 };

/** An optimizer with Keras' defaults. */
export function defaultOptimizer(name: OptimizerName): OptimizerSettings {
  return OptimizerSchema.parse({ class_name: name, config: {} });
}

/**
 * The learning rate over training, in Keras' names: the schedules step per batch
 * (`ExponentialDecay`: lr·rate^(step/decay_steps), floored with `staircase`; `PiecewiseConstantDecay`:
 * `values[i]` until step `boundaries[i]`); `ReduceLROnPlateau` is Keras' callback (per epoch, on a
 * monitored metric that stops improving).
 */
export const LearningRateScheduleSchema = z.discriminatedUnion('class_name', [
  z.object({ class_name: z.literal('Constant'), config: z.object({}).strict().default({}) }),
  z.object({
    class_name: z.literal('ExponentialDecay'),
    config: z.object({ decay_steps: z.number().int().min(1), decay_rate: finite.positive(), staircase: z.boolean().default(false) }).strict(),
  }),
  z.object({
    class_name: z.literal('PiecewiseConstantDecay'),
    config: z
      .object({ boundaries: z.array(z.number().int().min(0)).min(1).max(100), values: z.array(finite.positive()).min(2).max(101) })
      .strict()
      .refine((c) => c.values.length === c.boundaries.length + 1, { message: 'values needs one more entry than boundaries', path: ['values'] })
      .refine((c) => c.boundaries.every((b, i) => i === 0 || b > c.boundaries[i - 1]!), { message: 'boundaries must increase', path: ['boundaries'] }),
  }),
  z.object({
    class_name: z.literal('ReduceLROnPlateau'),
    config: z
      .object({
        monitor: z.enum(['val_loss', 'loss']).default('val_loss'),
        factor: finite.gt(0).lt(1).default(0.1),
        patience: z.number().int().min(0).max(10_000).default(10),
        min_delta: nonNegative.default(1e-4),
        cooldown: z.number().int().min(0).max(10_000).default(0),
        min_lr: nonNegative.default(0),
      })
      .strict(),
  }),
]);
export type LearningRateSchedule = z.infer<typeof LearningRateScheduleSchema>;

/** Keras' EarlyStopping callback. */
export const EarlyStoppingSchema = z
  .object({
    monitor: z.enum(['val_loss', 'loss']).default('val_loss'),
    patience: z.number().int().min(0).max(10_000).default(5),
    min_delta: nonNegative.default(0),
    restore_best_weights: z.boolean().default(true),
  })
  .strict();
export type EarlyStopping = z.infer<typeof EarlyStoppingSchema>;
