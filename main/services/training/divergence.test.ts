/**
 * Divergence: the advice moves towards the usual learning rates and never above the failed one,
 * numbers read as people write them, and an exploding but finite loss (Adam or RMSprop at 1e6)
 * ends the run as a NaN does — while healthy runs are never flagged. Real runs through the host's
 * worker on real Fashion-MNIST (Géron's BN MLP, wasm).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { defaultOptimizer, defaultTrainingSettings, type OptimizerName, type TrainingSettings } from '../../../contract';
import { humanNumber } from '../../../contract/numbers';
import { seedModel1 } from '../../../model/presets';
import { EXPLOSION_STEPS, ExplosionWatch, suggestedLearningRate } from './divergence';
import { testHost } from './host-test-support';

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

describe('runs that diverge, and runs that do not (real training, Fashion-MNIST, wasm)', () => {
  const { host, store, ended, dispose } = testHost(['wasm']);
  afterAll(dispose);

  async function train(optimizer: OptimizerName, learningRate: number, settings: Partial<TrainingSettings> = {}) {
    const { runId } = await host.start({
      spec: seedModel1,
      settings: { ...defaultTrainingSettings, optimizer: defaultOptimizer(optimizer), learningRate, epochs: 1, batchSize: 32, trainSubset: 640, validationSplit: 0, seed: 3, ...settings },
    });
    return { end: await ended(runId), detail: await store.get(runId) };
  }

  const diverging: [OptimizerName, number][] = [
    ['SGD', 1e6],
    ['SGD', 1e4],
    ['Adam', 1e6],
    ['RMSprop', 1e6],
  ];
  for (const [optimizer, lr] of diverging) {
    it(`${optimizer} at ${humanNumber(lr)}: failed with the diagnosis, advice once, a usual rate no higher than the failed one`, async () => {
      const { end, detail } = await train(optimizer, lr);
      expect(end.type).toBe('failed');
      if (end.type !== 'failed') return;
      expect(end.error).toMatch(/^Training diverged: the loss (became|exploded)/);
      expect(detail.summary.status).toBe('failed');
      expect(detail.summary.failure).toEqual({ error: end.error, divergence: end.divergence });
      const causes = end.divergence!.likelyCauses;
      expect(causes[0]).toMatch(new RegExp(`^Learning rate too high: ${humanNumber(lr)} is far above`));
      // The advice: one rate, in Géron's usual range for this model, not above the failed rate.
      const advised = [...causes.join(' ').matchAll(/try (\d[\d,]*(?:\.\d+)?)/g)].map((m) => Number(m[1]!.replace(/,/g, '')));
      expect(advised).toHaveLength(1);
      expect(advised[0]).toBeGreaterThanOrEqual(1e-3);
      expect(advised[0]).toBeLessThanOrEqual(5e-2);
      expect(advised[0]).toBeLessThanOrEqual(lr);
      // Said once: the message says what happened, the causes travel beside it.
      expect(end.error).not.toMatch(/try /);
      // No raw float noise (4.7400225759094996e+36) anywhere.
      for (const text of [end.error, ...causes]) expect(text).not.toMatch(/\d\.\d{5,}e[+-]?\d/);
      // Stopped early: the diverging step is at most a few steps past the first explosion.
      expect(end.divergence!.step).toBeLessThan(20);
      expect(detail.batches.length).toBeLessThan(20);
      // The weights it stopped with are saved, as for a NaN.
      expect(detail.hasWeights).toBe(true);
    });
  }

  const healthy: [OptimizerName, number][] = [
    ['SGD', 0.01],
    ['Adam', 0.001],
  ];
  for (const [optimizer, lr] of healthy) {
    it(`${optimizer} at ${lr} is not flagged (2,000 images, 63 steps)`, async () => {
      const { end, detail } = await train(optimizer, lr, { trainSubset: 2000 });
      expect(end).toEqual({ type: 'finished', runId: detail.summary.runId });
      expect(detail.summary.status).toBe('finished');
      expect(detail.batches).toHaveLength(63);
      expect(detail.summary.failure ?? null).toBeNull();
    });
  }
});
