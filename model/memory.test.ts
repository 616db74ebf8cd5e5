import { describe, expect, it } from 'vitest';
import { defaultOptimizer, OptimizerSchema } from './training-config';
import { BACKWARD_FACTOR, estimateTrainingMemory, optimizerSlots } from './memory';
import { seedModel1 } from './presets';
import { summarize } from './summary';

describe('estimateTrainingMemory', () => {
  it('counts one or two optimizer slots per trainable weight, as Keras keeps them', () => {
    expect(optimizerSlots(defaultOptimizer('SGD'))).toBe(0);
    expect(optimizerSlots(OptimizerSchema.parse({ class_name: 'SGD', config: { momentum: 0.9 } }))).toBe(1);
    expect(optimizerSlots(defaultOptimizer('Adagrad'))).toBe(1);
    expect(optimizerSlots(defaultOptimizer('RMSprop'))).toBe(1);
    expect(optimizerSlots(OptimizerSchema.parse({ class_name: 'RMSprop', config: { momentum: 0.9, centered: true } }))).toBe(3);
    expect(optimizerSlots(defaultOptimizer('Adam'))).toBe(2);
    expect(optimizerSlots(defaultOptimizer('Adamax'))).toBe(2);
  });

  it('adds weights, gradients, optimizer slots and the batch activations kept for the backward pass', () => {
    const summary = summarize(seedModel1);
    const estimate = estimateTrainingMemory(summary, { batchSize: 32, optimizer: defaultOptimizer('Adam') });
    // Keras' summary of seed model 1: 271,346 parameters, 268,978 of them trainable.
    expect(estimate.params).toBe(271_346);
    expect(estimate.weightBytes).toBe(271_346 * 4);
    expect(estimate.gradientBytes).toBe(268_978 * 4);
    expect(estimate.optimizerBytes).toBe(268_978 * 2 * 4);
    // Input 28×28, then Flatten 784, BN 784, Dense 300, BN 300, Dense 100, BN 100, Dense 10 per sample.
    const perSample = 784 + 784 + 784 + 300 + 300 + 100 + 100 + 10;
    expect(estimate.activationBytes).toBe(perSample * 32 * 4 * BACKWARD_FACTOR);
    expect(estimate.totalBytes).toBe(estimate.weightBytes + estimate.gradientBytes + estimate.optimizerBytes + estimate.activationBytes);
    // Building alone: weights and one forward batch, no gradients or slots.
    const built = estimateTrainingMemory(summary, { batchSize: 1 });
    expect(built).toMatchObject({ gradientBytes: 0, optimizerBytes: 0, activationBytes: perSample * 4 });
  });
});
