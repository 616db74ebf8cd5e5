/**
 * The deep plain preset (20 Dense(100) layers, no BN) trains: a real worker on real Fashion-MNIST
 * images, a small subset so it takes seconds.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { defaultTrainingSettings } from '../../../../contract';
import { deepPlainMlp } from '../../../../model/presets';
import { testHost } from './host-test-support';

const t = testHost(['wasm']);
afterAll(() => t.dispose());

describe('deep plain preset', () => {
  it('learns on 1,280 images in 2 epochs: finite losses, falling, well above chance', async () => {
    const { runId } = await t.host.start({ spec: deepPlainMlp, settings: { ...defaultTrainingSettings, epochs: 2, trainSubset: 1280, validationSplit: 0.2, seed: 3 } });
    expect((await t.ended(runId)).type).toBe('finished');
    const { batches, epochs } = await t.store.get(runId);
    expect(epochs).toHaveLength(2);
    expect(batches.every((b) => Number.isFinite(b.loss))).toBe(true);
    const meanLoss = (bs: typeof batches) => bs.reduce((s, b) => s + b.loss, 0) / bs.length;
    expect(meanLoss(batches.slice(-8))).toBeLessThan(meanLoss(batches.slice(0, 8)));
    // Ten classes: chance is 10%.
    expect(epochs.at(-1)!.val_acc).toBeGreaterThan(0.4);
  }, 120_000);
});
