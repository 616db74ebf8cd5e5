/** Keras' optimizer mechanics on real TF.js tensors (cpu backend): clipping, rate changes, callbacks. */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultOptimizer, type LearningRateSchedule } from '../../../../contract';
import { BestEpoch, clipGradients, createOptimizer, EarlyStopper, Plateau, scheduledLearningRate, setLearningRate } from './optimizers';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('gradient clipping', () => {
  it('clipnorm scales each gradient to norm ≤ c and leaves smaller ones alone; clipvalue clips elements', async () => {
    const grads = { big: tf.tensor1d([3, 4]), small: tf.tensor1d([0.3, 0.4]) };
    const byNorm = clipGradients(tf, grads, { clipnorm: 1, clipvalue: null });
    expect(Array.from(await byNorm.big!.data())).toEqual([expect.closeTo(0.6, 6), expect.closeTo(0.8, 6)]);
    expect(Array.from(await byNorm.small!.data())).toEqual([expect.closeTo(0.3, 6), expect.closeTo(0.4, 6)]);
    const byValue = clipGradients(tf, grads, { clipnorm: null, clipvalue: 0.35 });
    expect(Array.from(await byValue.big!.data())).toEqual([expect.closeTo(0.35, 6), expect.closeTo(0.35, 6)]);
    expect(clipGradients(tf, grads, { clipnorm: null, clipvalue: null })).toBe(grads);
  });
});

describe('learning rates', () => {
  it('setLearningRate changes the next step of every optimizer', async () => {
    for (const name of ['SGD', 'Adagrad', 'RMSprop', 'Adam', 'Adamax'] as const) {
      const step = async (lr: number | null) => {
        const w = tf.variable(tf.tensor1d([1, -2]), true, `w_${name}_${lr}_${Math.random()}`);
        const optimizer = createOptimizer(tf, defaultOptimizer(name), 0.1);
        if (lr !== null) setLearningRate(optimizer, lr);
        optimizer.applyGradients({ [w.name]: tf.tensor1d([0.5, 0.5]) });
        const moved = Math.abs((await w.data())[0]! - 1);
        optimizer.dispose();
        w.dispose();
        return moved;
      };
      const full = await step(null);
      const tenth = await step(0.01);
      expect(tenth / full, name).toBeCloseTo(0.1, 3);
    }
  });

  it('schedules step as Keras does', () => {
    const exp = { class_name: 'ExponentialDecay', config: { decay_steps: 10, decay_rate: 0.5, staircase: false } } as const;
    expect(scheduledLearningRate(exp, 0.1, 0)).toBe(0.1);
    expect(scheduledLearningRate(exp, 0.1, 5)).toBeCloseTo(0.1 * Math.SQRT1_2, 12);
    expect(scheduledLearningRate({ ...exp, config: { ...exp.config, staircase: true } }, 0.1, 19)).toBeCloseTo(0.05, 12);
    const piecewise: LearningRateSchedule = { class_name: 'PiecewiseConstantDecay', config: { boundaries: [10, 20], values: [1, 0.5, 0.1] } };
    expect([0, 10, 11, 20, 21].map((s) => scheduledLearningRate(piecewise, 9, s))).toEqual([1, 1, 0.5, 0.5, 0.1]);
  });

  it('centered RMSprop follows Keras (sqrt(ms − mg² + ε)) and stays finite on zero gradients', async () => {
    const w = tf.variable(tf.tensor1d([1, 1, 1]), true, `w_centered_${Math.random()}`);
    const optimizer = createOptimizer(tf, { class_name: 'RMSprop', config: { rho: 0.9, momentum: 0, epsilon: 1e-7, centered: true, clipnorm: null, clipvalue: null } }, 0.01);
    const g = [1e-4, 0, 0.5];
    optimizer.applyGradients({ [w.name]: tf.tensor1d(g) });
    const got = Array.from(await w.data());
    // Keras: ms = 0.1g², mg = 0.1g, w −= lr·g / sqrt(ms − mg² + ε).
    const expected = g.map((x) => 1 - (0.01 * x) / Math.sqrt(0.1 * x * x - (0.1 * x) ** 2 + 1e-7));
    got.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5));
    optimizer.dispose();
    w.dispose();
  });

  it('Adagrad refuses an epsilon TF.js cannot honour', () => {
    expect(() => createOptimizer(tf, { class_name: 'Adagrad', config: { initial_accumulator_value: 0.1, epsilon: 1e-3, clipnorm: null, clipvalue: null } }, 0.01)).toThrow(
      /Adagrad's epsilon must be 1e-7 here/,
    );
  });
});

describe('epoch-end callbacks', () => {
  it('ReduceLROnPlateau: patience, min_delta, cooldown and min_lr', () => {
    const plateau = new Plateau({ monitor: 'val_loss', factor: 0.5, patience: 2, min_delta: 0.01, cooldown: 1, min_lr: 0.02 });
    let lr = 0.1;
    const seq = [1.0, 0.995, 0.999, 0.98, 0.99, 0.99, 0.99, 0.99, 0.99];
    const out = seq.map((v) => {
      const r = plateau.onEpochEnd({ loss: 9, val_loss: v }, lr);
      if (r !== null) lr = r;
      return lr;
    });
    // 0.995 and 0.999 are not better by 0.01 → reduce after the 3rd epoch; 0.98 improves; reduce again after 2 waits; min_lr floors the third.
    expect(out).toEqual([0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.02, 0.02]);
    expect(plateau.onEpochEnd({ loss: 1 }, 0.02)).toBeNull();
  });

  it('EarlyStopping stops after `patience` epochs without improvement, never at epoch 0', () => {
    const stopper = new EarlyStopper({ monitor: 'val_loss', patience: 2, min_delta: 0, restore_best_weights: true });
    const verdicts = [0.9, 0.8, 0.85, 0.79, 0.8, 0.81].map((v, epoch) => stopper.onEpochEnd(epoch, { loss: 1, val_loss: v }));
    expect(verdicts).toEqual(['improved', 'improved', 'wait', 'improved', 'wait', 'stop']);
    expect(stopper.bestEpoch).toBe(3);
    expect(new EarlyStopper({ monitor: 'loss', patience: 0, min_delta: 0, restore_best_weights: false }).onEpochEnd(0, { loss: Number.NaN })).toBe('wait');
    // Epochs without a monitored value (no validation samples) do not count towards patience.
    const blind = new EarlyStopper({ monitor: 'val_loss', patience: 1, min_delta: 0, restore_best_weights: false });
    expect([0, 1, 2].map((epoch) => blind.onEpochEnd(epoch, { loss: 1 }))).toEqual(['wait', 'wait', 'wait']);
  });

  it('the checkpoint monitors val_loss with validation, the loss without', () => {
    expect(BestEpoch.for({ validationSplit: 0.1, earlyStopping: null }).monitor).toBe('val_loss');
    expect(BestEpoch.for({ validationSplit: 0, earlyStopping: null }).monitor).toBe('loss');
    const best = BestEpoch.for({ validationSplit: 0, earlyStopping: null });
    expect([3, 2, 2, 1].map((loss, epoch) => best.offer(epoch, { loss }))).toEqual([true, true, false, true]);
  });
});
