/**
 * Issue #14: what the exports write must deserialize in Keras 3. Every optimizer, learning-rate
 * schedule, initializer, regularizer and constraint the app offers is written as the .h5 writes it
 * (training_config, model_config) and as the Python script writes it, then parsed the way Keras 3
 * parses it by keras-deserialization-mirror.py — Keras 3's deserialization decisions (module lookup,
 * class_name resolution, required keys, constructor signatures and type checks), copied from its
 * source with the lines cited. The old forms fail there as they fail in Keras, so the mirror can fail.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DISTRIBUTIONS, FAN_MODES, INITIALIZER_NAMES, fromKerasTopology, specWithDefaults, type InitializerSpec, type ModelSpec } from '../../../model';
import { defaultOptimizer, defaultTrainingSettings, OPTIMIZER_NAMES, type TrainingSettings } from '../../../contract/training';
import { pythonJson } from '../../../model/keras-serialization';
import { toKerasTrainingConfig } from '../../../model/keras-training';
import { kerasModelConfig } from './h5';
import { kerasScript } from './python';
import { python3 } from './test-support';

const MIRROR = join(import.meta.dirname, 'keras-deserialization-mirror.py');

interface Case {
  label: string;
  kind: 'training_config' | 'model_config' | 'script' | 'optimizer' | 'initializer' | 'regularizer' | 'constraint';
  text: string;
}
type Result = { label: string; ok: true; objects: string[] } | { label: string; ok: false; error: string };

function keras3(cases: Case[]): Result[] {
  const r = spawnSync('python3', [MIRROR], { input: JSON.stringify(cases), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as Result[];
}

const failures = (results: Result[]) => results.filter((r) => !r.ok);

const SCHEDULES: TrainingSettings['lrSchedule'][] = [
  { class_name: 'Constant', config: {} },
  { class_name: 'ExponentialDecay', config: { decay_steps: 100, decay_rate: 0.5, staircase: true } },
  { class_name: 'PiecewiseConstantDecay', config: { boundaries: [100, 200], values: [1, 0.5, 0.1] } },
  { class_name: 'ReduceLROnPlateau', config: { monitor: 'val_loss', factor: 0.5, patience: 2, min_delta: 0, cooldown: 0, min_lr: 0 } },
];

/** Every optimizer with Keras' defaults (integers where JSON would write them: momentum 0, learning rate 1) × every schedule, with and without clipping. */
function everyTraining(): TrainingSettings[] {
  const out: TrainingSettings[] = [];
  for (const name of OPTIMIZER_NAMES) {
    for (const lrSchedule of SCHEDULES) {
      for (const clip of [{}, { clipnorm: 1 }, { clipvalue: 2 }]) {
        const optimizer = { class_name: name, config: { ...defaultOptimizer(name).config, ...clip } } as TrainingSettings['optimizer'];
        out.push({
          ...defaultTrainingSettings,
          optimizer,
          learningRate: 1,
          lrSchedule,
          earlyStopping: lrSchedule.class_name === 'Constant' ? { monitor: 'val_loss', patience: 3, min_delta: 0, restore_best_weights: true } : null,
        });
      }
    }
  }
  return out;
}

/** A model using every initializer (and every VarianceScaling mode and distribution), every regularizer form and MaxNorm, in Dense, Conv2D and BatchNormalization. */
function everyObjectModel(): ModelSpec {
  const inits: InitializerSpec[] = INITIALIZER_NAMES.map((class_name) => ({ class_name, config: {} }));
  for (const mode of FAN_MODES) for (const distribution of DISTRIBUTIONS) inits.push({ class_name: 'VarianceScaling', config: { scale: 2, mode, distribution, seed: 7 } });
  inits.push({ class_name: 'Constant', config: { value: 1 } }, { class_name: 'RandomUniform', config: { minval: -1, maxval: 1, seed: 3 } });
  const regularizers = [
    null,
    { class_name: 'L1L2', config: { l1: 0, l2: 0.01 } },
    { class_name: 'L1L2', config: { l1: 1, l2: 0 } },
    { class_name: 'L1L2', config: { l1: 0.001, l2: 0.01 } },
  ];
  const constraints = [null, { class_name: 'MaxNorm', config: { max_value: 2, axis: 0 } }, { class_name: 'MaxNorm', config: { max_value: 1.5, axis: 1 } }];
  return {
    class_name: 'Sequential',
    config: {
      name: 'every_object',
      layers: [
        {
          class_name: 'Conv2D',
          config: {
            name: 'conv',
            filters: 2,
            kernel_size: [3, 3],
            batch_input_shape: [null, 6, 6, 1],
            kernel_initializer: inits[0],
            kernel_regularizer: regularizers[3],
            kernel_constraint: { class_name: 'MaxNorm', config: { max_value: 3, axis: 3 } },
          },
        },
        {
          class_name: 'BatchNormalization',
          config: { name: 'bn', beta_initializer: inits[1], gamma_initializer: inits[2], moving_mean_initializer: inits[3], moving_variance_initializer: inits[4] },
        },
        { class_name: 'Flatten', config: { name: 'flatten' } },
        ...inits.map((init, i) => ({
          class_name: 'Dense',
          config: {
            name: `dense_${i}`,
            units: 3,
            kernel_initializer: init,
            bias_initializer: inits[(i + 5) % inits.length],
            kernel_regularizer: regularizers[i % 4],
            kernel_constraint: constraints[i % 3],
          },
        })),
      ],
    },
  };
}

describe.skipIf(!python3())("Keras 3's deserialization of what Layerbench writes", () => {
  it('the .h5 training_config of every optimizer and schedule compiles as load_model(compile=True) compiles it', () => {
    const cases = everyTraining().map((s, i): Case => ({
      label: `${i} ${s.optimizer.class_name} ${s.lrSchedule.class_name}`,
      kind: 'training_config',
      text: pythonJson(toKerasTrainingConfig(s)),
    }));
    const results = keras3(cases);
    expect(failures(results)).toEqual([]);
    const exponential = results.find((r) => r.label.endsWith('SGD ExponentialDecay')) as Extract<Result, { ok: true }>;
    expect(exponential.objects[0]).toMatch(
      /^keras\.optimizers\.SGD\(.*learning_rate=keras\.optimizers\.schedules\.ExponentialDecay\(initial_learning_rate=1\.0, decay_steps=100, decay_rate=0\.5, staircase=True/,
    );
    const piecewise = results.find((r) => r.label.endsWith('Adam PiecewiseConstantDecay')) as Extract<Result, { ok: true }>;
    expect(piecewise.objects[0]).toMatch(/PiecewiseConstantDecay\(boundaries=\[100, 200\], values=\[1\.0, 0\.5, 0\.1\]/);
  });

  it("every initializer, regularizer and constraint in the .h5 model_config builds through Keras' get()", () => {
    const text = pythonJson(kerasModelConfig(everyObjectModel()));
    const [result] = keras3([{ label: 'model_config', kind: 'model_config', text }]);
    expect(result).toMatchObject({ ok: true });
    const objects = (result as Extract<Result, { ok: true }>).objects;
    expect(objects.filter((o) => o.includes('kernel_initializer=keras.initializers.')).length).toBe(INITIALIZER_NAMES.length + FAN_MODES.length * DISTRIBUTIONS.length + 3);
    expect(objects).toContain('dense_3.kernel_regularizer=keras.regularizers.L1L2(l1=0.001, l2=0.01)');
    expect(objects).toContain('dense_1.kernel_constraint=keras.constraints.MaxNorm(max_value=2.0, axis=0)');
    expect(objects).toContain('dense_0.kernel_regularizer=None');
    // Keras 3 spells the truncated normal 'truncated_normal'; the spec's legacy 'normal' is written so.
    expect(text).not.toMatch(/"distribution":"normal"/);
    // And Layerbench reads its own output back to the same model.
    const legacyNormal = JSON.stringify(specWithDefaults(everyObjectModel())).replace(/"distribution":"normal"/g, '"distribution":"truncated_normal"');
    expect(fromKerasTopology(text)).toEqual(JSON.parse(legacyNormal));
  });

  it('the Python script: its optimizer deserializes, its callbacks and every initializer, regularizer and constraint call construct', () => {
    const spec = everyObjectModel();
    const cases = everyTraining().map((settings, i): Case => ({ label: `${i}`, kind: 'script', text: kerasScript(spec, { settings }) }));
    const results = keras3(cases);
    expect(failures(results)).toEqual([]);
    const first = (results[0] as Extract<Result, { ok: true }>).objects;
    expect(first.some((o) => o.startsWith('keras.regularizers.L1L2(l1=0.001, l2=0.01)'))).toBe(true);
    expect(first.some((o) => o.startsWith('keras.constraints.MaxNorm(max_value=3.0, axis=3)'))).toBe(true);
    expect(first.some((o) => o.startsWith('keras.callbacks.EarlyStopping('))).toBe(true);
    expect(first.some((o) => o.startsWith("keras.callbacks.ModelCheckpoint(filepath='best.weights.h5'"))).toBe(true);
  });

  it('the forms written before fail there as they fail in Keras 3 (a schedule without module, an int momentum)', () => {
    const oldSchedule = { class_name: 'ExponentialDecay', config: { initial_learning_rate: 0.1, decay_steps: 10, decay_rate: 0.9, staircase: false, name: 'ExponentialDecay' } };
    const results = keras3([
      {
        label: 'schedule',
        kind: 'training_config',
        text: JSON.stringify({ loss: 'sparse_categorical_crossentropy', optimizer_config: { class_name: 'Adam', config: { learning_rate: oldSchedule } } }),
      },
      { label: 'momentum', kind: 'optimizer', text: JSON.stringify({ class_name: 'SGD', config: { name: 'SGD', learning_rate: 0.01, momentum: 0, nesterov: false } }) },
      { label: 'lr', kind: 'optimizer', text: JSON.stringify({ class_name: 'Adam', config: { learning_rate: 1 } }) },
      { label: 'module null', kind: 'initializer', text: JSON.stringify({ module: null, class_name: 'HeNormal', config: {} }) },
    ]);
    expect(results.map((r) => (r.ok ? 'ok' : r.error))).toEqual([
      expect.stringMatching(/^TypeError: Could not locate class 'ExponentialDecay'/),
      'ValueError: `momentum` must be a float between [0, 1].',
      expect.stringMatching(/^ValueError: Argument `learning_rate` should be float/),
      expect.stringMatching(/^TypeError: Cannot deserialize object of type `HeNormal`/),
    ]);
    // Keras 2's form of what Keras 3 still reads through a module table (initializers, optimizers) passes.
    const keras2 = keras3([{ label: 'init', kind: 'initializer', text: JSON.stringify({ class_name: 'HeNormal', config: { seed: null } }) }]);
    expect(keras2[0]).toMatchObject({ ok: true, objects: ['keras.initializers.HeNormal(seed=None)'] });
  });
});
