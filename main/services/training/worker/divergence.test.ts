/**
 * Divergence: the advice moves towards the usual learning rates and never above the failed one,
 * numbers read as people write them, and an exploding but finite loss is watched for
 * (host/divergence-runs.test.ts has real runs).
 */
import { describe, expect, it } from 'vitest';
import { humanNumber } from '../../../../contract/numbers';
import { EXPLOSION_STEPS, ExplosionWatch, suggestedLearningRate } from './divergence';

describe('numbers for people', () => {
  it('writes rates and losses without float noise', () => {
    expect(humanNumber(1e6)).toBe('1,000,000');
    expect(humanNumber(0.01)).toBe('0.01');
    expect(humanNumber(0.0005)).toBe('0.0005');
    expect(humanNumber(2.302585)).toBe('2.3');
    expect(humanNumber(4.7400225759094996e36)).toBe('4.74 × 10^36');
    expect(humanNumber(1.7e22, 2)).toBe('1.7 × 10^22');
    expect(humanNumber(3e-7)).toBe('3 × 10^-7');
    expect([NaN, Infinity, -Infinity].map((x) => humanNumber(x))).toEqual(['NaN', '+∞', '−∞']);
  });
});

describe('the suggested learning rate', () => {
  it('is the usual starting rate after a rate above it, a tenth of the rate otherwise: never above the failed one', () => {
    expect(suggestedLearningRate('SGD', 1e6)).toBe(0.01);
    expect(suggestedLearningRate('SGD', 1e4)).toBe(0.01);
    expect(suggestedLearningRate('SGD', 0.05)).toBe(0.01);
    expect(suggestedLearningRate('SGD', 0.01)).toBe(0.001);
    expect(suggestedLearningRate('Adam', 1e6)).toBe(0.001);
    expect(suggestedLearningRate('RMSprop', 0.003)).toBe(0.001);
    expect(suggestedLearningRate('Adam', 0.001)).toBe(0.0001);
    for (const lr of [1e-5, 3e-4, 0.0096, 0.02, 0.5, 7, 1e3]) for (const o of ['SGD', 'Adam']) expect(suggestedLearningRate(o, lr)).toBeLessThan(lr);
  });
});

describe('ExplosionWatch', () => {
  it(`flags a loss that stays far above its start for ${EXPLOSION_STEPS} steps, from the first of them; a spike that comes back is not one`, () => {
    const watch = new ExplosionWatch(10);
    expect(watch.observe(0, 2.3)).toBeNull();
    expect(watch.bound).toBeCloseTo(2.3 + 10 * Math.log(10), 10);
    // A spike of a few steps that comes back down.
    for (let s = 1; s < EXPLOSION_STEPS; s++) expect(watch.observe(s, 40)).toBeNull();
    expect(watch.observe(EXPLOSION_STEPS, 2)).toBeNull();
    expect(watch.current()).toBeNull();
    const first = EXPLOSION_STEPS + 1;
    for (let s = first; s < first + EXPLOSION_STEPS - 1; s++) expect(watch.observe(s, 1e22)).toBeNull();
    expect(watch.current()).toMatchObject({ step: first, steps: EXPLOSION_STEPS - 1 });
    expect(watch.observe(first + EXPLOSION_STEPS - 1, 3e22)).toEqual({ step: first, startLoss: 2.3, bound: watch.bound, steps: EXPLOSION_STEPS, loss: 3e22 });
  });
});
