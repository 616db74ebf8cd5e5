/**
 * Keras' optimizers, learning-rate schedules, gradient clipping and the epoch-end callbacks
 * (ReduceLROnPlateau, EarlyStopping, best-epoch checkpointing), on TF.js' optimizers.
 *
 * TF.js differences, kept visible: its momentum SGD accumulates v = m·v + g and steps w −= lr·v
 * (Keras: v = m·v − lr·g; w += v), the same while the learning rate is constant; its Adagrad adds
 * the backend's epsilon (1e-7) inside the square root and takes no epsilon setting, so another
 * epsilon is refused rather than silently ignored.
 */
import type * as TF from '@tensorflow/tfjs';
import type { EarlyStopping, LearningRateSchedule, OptimizerSettings, TrainingSettings } from '../../../../contract';
import { writeLearningRate } from './tfjs-adapter';

export function createOptimizer(tf: typeof TF, optimizer: OptimizerSettings, learningRate: number): TF.Optimizer {
  switch (optimizer.class_name) {
    case 'SGD': {
      const { momentum, nesterov } = optimizer.config;
      return momentum > 0 || nesterov ? tf.train.momentum(learningRate, momentum, nesterov) : tf.train.sgd(learningRate);
    }
    case 'Adagrad':
      if (Math.abs(optimizer.config.epsilon - 1e-7) > 1e-12) {
        throw new Error(`Adagrad's epsilon must be 1e-7 here: TF.js' Adagrad uses the backend's epsilon and has no setting for it (got ${optimizer.config.epsilon})`);
      }
      return tf.train.adagrad(learningRate, optimizer.config.initial_accumulator_value);
    case 'RMSprop': {
      const { rho, momentum, epsilon, centered } = optimizer.config;
      // TF.js 4.22's centered update takes sqrt(ms − (mg² + ε)): ε is subtracted, so a zero gradient
      // gives sqrt(−ε) = NaN. Keras takes sqrt(ms − mg² + ε); passing −ε makes TF.js compute exactly that.
      return tf.train.rmsprop(learningRate, rho, momentum, centered ? -epsilon : epsilon, centered);
    }
    case 'Adam': {
      const { beta_1, beta_2, epsilon } = optimizer.config;
      return tf.train.adam(learningRate, beta_1, beta_2, epsilon);
    }
    case 'Adamax': {
      const { beta_1, beta_2, epsilon } = optimizer.config;
      return tf.train.adamax(learningRate, beta_1, beta_2, epsilon, 0);
    }
  }
}

/** Sets a TF.js optimizer's learning rate for the next step (each reads it when it applies gradients). */
export function setLearningRate(optimizer: TF.Optimizer, learningRate: number): void {
  writeLearningRate(optimizer, learningRate);
}

/** Keras' per-step schedules; ReduceLROnPlateau scales the rate at epoch ends (see Plateau). */
export function scheduledLearningRate(schedule: LearningRateSchedule, initial: number, step: number): number {
  switch (schedule.class_name) {
    case 'ExponentialDecay': {
      const { decay_steps, decay_rate, staircase } = schedule.config;
      const p = step / decay_steps;
      return initial * decay_rate ** (staircase ? Math.floor(p) : p);
    }
    case 'PiecewiseConstantDecay': {
      const { boundaries, values } = schedule.config;
      // Keras: values[0] while step <= boundaries[0], values[i] while boundaries[i-1] < step <= boundaries[i].
      let i = 0;
      while (i < boundaries.length && step > boundaries[i]!) i++;
      return values[i]!;
    }
    default:
      return initial;
  }
}

/**
 * Keras' clipnorm (each gradient tensor's L2 norm at most c: g·c/max(‖g‖, c)) or clipvalue (each
 * element into [−c, c]); the settings allow one of them, as Keras 3 does. Call inside a tidy.
 */
export function clipGradients(tf: typeof TF, grads: TF.NamedTensorMap, config: { clipnorm: number | null; clipvalue: number | null }): TF.NamedTensorMap {
  if (config.clipnorm === null && config.clipvalue === null) return grads;
  const clipped: TF.NamedTensorMap = {};
  for (const [name, g] of Object.entries(grads)) {
    let t: TF.Tensor = g;
    if (config.clipnorm !== null) {
      const c = config.clipnorm;
      t = tf.div(tf.mul(t, c), tf.maximum(tf.norm(t), c));
    }
    if (config.clipvalue !== null) t = tf.clipByValue(t, -config.clipvalue, config.clipvalue);
    clipped[name] = t;
  }
  return clipped;
}

/** The value an epoch-end callback watches: val_loss, or the training loss. */
export type Monitored = { loss: number; val_loss?: number };

function monitoredValue(monitor: 'val_loss' | 'loss', logs: Monitored): number | null {
  const v = monitor === 'val_loss' ? logs.val_loss : logs.loss;
  return v !== undefined && Number.isFinite(v) ? v : null;
}

/** Keras' ReduceLROnPlateau (mode 'min'), one call per epoch end; returns the new rate when it reduced it. */
export class Plateau {
  private best = Infinity;
  private wait = 0;
  private cooldownLeft = 0;

  constructor(private readonly config: Extract<LearningRateSchedule, { class_name: 'ReduceLROnPlateau' }>['config']) {}

  onEpochEnd(logs: Monitored, currentRate: number): number | null {
    const current = monitoredValue(this.config.monitor, logs);
    if (current === null) return null;
    if (this.cooldownLeft > 0) {
      this.cooldownLeft--;
      this.wait = 0;
    }
    if (current < this.best - this.config.min_delta) {
      this.best = current;
      this.wait = 0;
      return null;
    }
    if (this.cooldownLeft > 0) return null;
    this.wait++;
    if (this.wait < this.config.patience) return null;
    this.wait = 0;
    this.cooldownLeft = this.config.cooldown;
    if (currentRate <= this.config.min_lr) return null;
    return Math.max(currentRate * this.config.factor, this.config.min_lr);
  }
}

/** Keras' EarlyStopping (mode 'min', no baseline): improvement is current + min_delta < best. */
export class EarlyStopper {
  private best = Infinity;
  private wait = 0;
  bestEpoch: number | null = null;

  constructor(private readonly config: EarlyStopping) {}

  /** 'improved' (a new best), 'wait', or 'stop'. */
  onEpochEnd(epoch: number, logs: Monitored): 'improved' | 'wait' | 'stop' {
    const current = monitoredValue(this.config.monitor, logs);
    // No value to judge (no validation samples this epoch): Keras skips the epoch, and so do we.
    if (current === null) return 'wait';
    this.wait++;
    if (current + this.config.min_delta < this.best) {
      this.best = current;
      this.bestEpoch = epoch;
      this.wait = 0;
      return 'improved';
    }
    return this.wait >= this.config.patience && epoch > 0 ? 'stop' : 'wait';
  }
}

/** The best epoch so far by the checkpoint's monitor (val_loss when there is validation, else loss). */
export class BestEpoch {
  best = Infinity;
  epoch: number | null = null;

  constructor(readonly monitor: 'val_loss' | 'loss') {}

  static for(settings: Pick<TrainingSettings, 'validationSplit' | 'earlyStopping'>): BestEpoch {
    return new BestEpoch(settings.earlyStopping?.monitor ?? (settings.validationSplit > 0 ? 'val_loss' : 'loss'));
  }

  /** Whether this epoch is the best so far (strictly lower). */
  offer(epoch: number, logs: Monitored): boolean {
    const current = monitoredValue(this.monitor, logs);
    if (current === null || !(current < this.best)) return false;
    this.best = current;
    this.epoch = epoch;
    return true;
  }
}
