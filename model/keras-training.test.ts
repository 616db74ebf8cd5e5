import { describe, expect, it } from 'vitest';
import { defaultOptimizer, defaultTrainingSettings, TrainingSettingsSchema, type TrainingSettings } from '../contract/training';
import { fromKerasTrainingConfig, toKerasCallbacks, toKerasTrainingConfig } from './keras-training';
import { pythonJson } from './keras-serialization';

const settings = (patch: Partial<TrainingSettings>): TrainingSettings => ({ ...defaultTrainingSettings, ...patch });

describe('training settings ↔ Keras training_config', () => {
  it("writes Keras 3's optimizer_config (module, registered_name) with its defaults, floats as floats, and the schedule as learning_rate", () => {
    const s = settings({
      optimizer: defaultOptimizer('Adam'),
      learningRate: 0.003,
      lrSchedule: { class_name: 'ExponentialDecay', config: { decay_steps: 100, decay_rate: 0.5, staircase: true } },
    });
    const config = toKerasTrainingConfig(s);
    expect(JSON.parse(JSON.stringify(config))).toEqual({
      loss: 'sparse_categorical_crossentropy',
      metrics: ['accuracy'],
      weighted_metrics: null,
      loss_weights: null,
      optimizer_config: {
        module: 'keras.optimizers',
        class_name: 'Adam',
        config: {
          name: 'Adam',
          learning_rate: {
            module: 'keras.optimizers.schedules',
            class_name: 'ExponentialDecay',
            config: { initial_learning_rate: 0.003, decay_steps: 100, decay_rate: 0.5, staircase: true, name: 'ExponentialDecay' },
            registered_name: null,
          },
          beta_1: 0.9,
          beta_2: 0.999,
          epsilon: 1e-7,
          clipnorm: null,
          clipvalue: null,
        },
        registered_name: null,
      },
    });
    // Python's json must read floats as floats (Keras 3's SGD refuses an int momentum); decay_steps stays an int.
    const sgd = pythonJson(
      toKerasTrainingConfig(settings({ learningRate: 1, lrSchedule: { class_name: 'ExponentialDecay', config: { decay_steps: 10, decay_rate: 1, staircase: false } } })),
    );
    expect(sgd).toContain('"initial_learning_rate":1.0,"decay_steps":10,"decay_rate":1.0');
    expect(sgd).toContain('"momentum":0.0');
  });

  it('round-trips every optimizer and schedule', () => {
    const schedules: TrainingSettings['lrSchedule'][] = [
      { class_name: 'Constant', config: {} },
      { class_name: 'ExponentialDecay', config: { decay_steps: 10, decay_rate: 0.9, staircase: false } },
      { class_name: 'PiecewiseConstantDecay', config: { boundaries: [100, 200], values: [0.01, 0.005, 0.001] } },
    ];
    for (const name of ['SGD', 'Adagrad', 'RMSprop', 'Adam', 'Adamax'] as const) {
      for (const lrSchedule of schedules) {
        const learningRate = lrSchedule.class_name === 'PiecewiseConstantDecay' ? 0.01 : 0.02;
        const optimizer = { ...defaultOptimizer(name), config: { ...defaultOptimizer(name).config, clipnorm: 1 } } as TrainingSettings['optimizer'];
        const s = settings({ optimizer, learningRate, lrSchedule });
        const back = fromKerasTrainingConfig(JSON.stringify(toKerasTrainingConfig(s)));
        expect(back).toEqual({ optimizer, learningRate, lrSchedule });
      }
    }
  });

  it('reads what Keras writes (tf.keras 2.x SGD with momentum and decay) and refuses what it cannot honour, naming the field', () => {
    const keras2 = { class_name: 'SGD', config: { name: 'SGD', learning_rate: 0.01, decay: 0.0, momentum: 0.9, nesterov: true, is_legacy_optimizer: false } };
    expect(fromKerasTrainingConfig({ optimizer_config: keras2 })).toEqual({
      optimizer: { class_name: 'SGD', config: { momentum: 0.9, nesterov: true, clipnorm: null, clipvalue: null } },
      learningRate: 0.01,
      lrSchedule: { class_name: 'Constant', config: {} },
    });
    expect(() => fromKerasTrainingConfig({ class_name: 'Adam', config: { learning_rate: 0.001, amsgrad: true } })).toThrow(
      /optimizer_config\.config\.amsgrad: AMSGrad is not supported/,
    );
    expect(() => fromKerasTrainingConfig({ class_name: 'SGD', config: { learning_rate: 0.01, decay: 1e-4 } })).toThrow(
      /optimizer_config\.config\.decay: time-based decay is not supported/,
    );
    expect(() => fromKerasTrainingConfig({ class_name: 'Adam', config: { learning_rate: 0.01, use_ema: true } })).toThrow(/use_ema/);
    expect(() => fromKerasTrainingConfig({ class_name: 'Nadam', config: {} })).toThrow(/optimizer_config\.class_name: unsupported optimizer 'Nadam'/);
    expect(() => fromKerasTrainingConfig({ class_name: 'SGD', config: { momentum: 2 } })).toThrow(/optimizer_config\.config\.momentum/);
    expect(() =>
      fromKerasTrainingConfig({ class_name: 'SGD', config: { learning_rate: { class_name: 'PiecewiseConstantDecay', config: { boundaries: [10, 20], values: [0.1, 0.05] } } } }),
    ).toThrow(/learning_rate\.config\.values: values needs one more entry than boundaries/);
  });

  it("names the run's callbacks in Keras' vocabulary", () => {
    const s = settings({
      earlyStopping: { monitor: 'val_loss', patience: 3, min_delta: 0, restore_best_weights: true },
      lrSchedule: { class_name: 'ReduceLROnPlateau', config: { monitor: 'val_loss', factor: 0.5, patience: 2, min_delta: 1e-4, cooldown: 0, min_lr: 0 } },
    });
    expect(toKerasCallbacks(s).map((c) => c.class_name)).toEqual(['EarlyStopping', 'ReduceLROnPlateau', 'ModelCheckpoint']);
  });

  it('accepts older settings (optimizer "sgd") and refuses a val_loss monitor without validation, at the field', () => {
    const legacy = { ...defaultTrainingSettings, optimizer: 'sgd' } as unknown;
    expect(TrainingSettingsSchema.parse(legacy).optimizer).toEqual(defaultOptimizer('SGD'));
    const result = TrainingSettingsSchema.safeParse({
      ...defaultTrainingSettings,
      validationSplit: 0,
      earlyStopping: { monitor: 'val_loss', patience: 2, min_delta: 0, restore_best_weights: true },
    });
    expect(result.success).toBe(false);
    expect(result.error!.issues[0]).toMatchObject({ path: ['earlyStopping', 'monitor'], message: expect.stringMatching(/needs a validation split/) });
  });
});

describe('settings validation', () => {
  it('names the val_loss monitor without validation even when another field is wrong too', () => {
    const result = TrainingSettingsSchema.safeParse({
      ...defaultTrainingSettings,
      epochs: 0,
      validationSplit: 0,
      earlyStopping: { monitor: 'val_loss', patience: 2, min_delta: 0, restore_best_weights: true },
    });
    expect(result.success).toBe(false);
    expect(result.error!.issues.map((i) => i.path.join('.')).sort()).toEqual(['earlyStopping.monitor', 'epochs']);
  });
});
