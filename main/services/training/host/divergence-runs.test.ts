/**
 * Divergence in real runs: an exploding but finite loss (Adam or RMSprop at 1e6) ends the run as a
 * NaN does — while healthy runs are never flagged. Real runs through the host's worker on real
 * Fashion-MNIST (Géron's BN MLP, wasm).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { defaultOptimizer, defaultTrainingSettings, type OptimizerName, type TrainingSettings } from '../../../../contract';
import { humanNumber } from '../../../../contract/numbers';
import { seedModel1 } from '../../../../model/presets';
import { testHost } from './host-test-support';

describe('runs that diverge, and runs that do not (real training, Fashion-MNIST, wasm)', () => {
  const { host, store, ended, dispose } = testHost(['wasm']);
  afterAll(dispose);

  async function train(optimizer: OptimizerName, learningRate: number, settings: Partial<TrainingSettings> = {}) {
    const { runId } = await host.start({
      spec: seedModel1,
      settings: {
        ...defaultTrainingSettings,
        optimizer: defaultOptimizer(optimizer),
        learningRate,
        epochs: 1,
        batchSize: 32,
        trainSubset: 640,
        validationSplit: 0,
        seed: 3,
        ...settings,
      },
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
