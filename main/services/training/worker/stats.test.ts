/** The statistics stream's arithmetic, the stats schedule, and seeds, without a worker. */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultOptimizer } from '../../../../contract';
import { seedModel1 } from '../../../../model/presets';
import { toKerasTopology } from '../../../../model/keras-json';
import { likelyCauses, divergenceMessage } from './divergence';
import { RunControl, StatsSchedule } from './loop';
import { deriveSeed, seedInitializers } from './seeds';
import { binned, BnFeatureChoice, SATURATION_RULES, summarize, topVarianceFeatures } from './stats';

beforeAll(async () => {
  tf.env().set('IS_TEST', true); // no "install tfjs-node" banner
  await tf.setBackend('cpu');
});

describe('summarize and binned', () => {
  it('gives mean, extremes and linearly interpolated percentiles (numpy default)', () => {
    const values = Array.from({ length: 101 }, (_, i) => 100 - i);
    expect(summarize(values)).toEqual({ mean: 50, min: 0, max: 100, p5: 5, p50: 50, p95: 95 });
    expect(summarize([1, 2])).toEqual({ mean: 1.5, min: 1, max: 2, p5: 1.05, p50: 1.5, p95: 1.95 });
    expect(summarize(new Float32Array([3]))).toEqual({ mean: 3, min: 3, max: 3, p5: 3, p50: 3, p95: 3 });
  });

  it('averages long vectors into at most 128 contiguous bins', () => {
    expect(binned([1, 2, 3])).toEqual([1, 2, 3]);
    const long = Array.from({ length: 300 }, (_, i) => i);
    const bins = binned(long);
    expect(bins).toHaveLength(128);
    // 300 values in 128 bins of 2 or 3 (the last: 297, 298, 299): every value lands in exactly one bin.
    expect(bins[0]).toBe(0.5);
    expect(bins[127]).toBe(298);
    expect(binned(Array.from({ length: 256 }, (_, i) => i))[5]).toBe(10.5);
  });
});

describe('BN features streamed in full', () => {
  it("picks the highest variances in index order, and keeps a layer's first pick", () => {
    expect(topVarianceFeatures([0, 5, 0, 9, 1, 5, 7], 3)).toEqual([1, 3, 6]); // 5 twice: the lower index
    const choice = new BnFeatureChoice(null);
    expect(choice.indices('bn', 6, [0, 0, 3, 0, 2, 1])).toEqual([0, 2, 4, 5]);
    expect(choice.indices('bn', 6, [9, 9, 9, 9, 0, 0])).toEqual([0, 2, 4, 5]);
    expect(new BnFeatureChoice([7, 1, 1, 99]).indices('bn', 10, [])).toEqual([7, 1]);
  });
});

describe('saturation rules', () => {
  const measure = (activation: string, pre: number[]) =>
    tf.tidy(() => {
      const z = tf.tensor2d([pre]);
      const y = activation === 'softmax' ? tf.softmax(z) : (tf.layers.activation({ activation: activation as 'relu' }).apply(z) as tf.Tensor);
      return SATURATION_RULES[activation]!.measure(tf, y).dataSync()[0];
    });

  it('counts the pre-activations in the flat regions from the outputs', () => {
    expect(measure('sigmoid', [-3, -2, 0, 2, 2.6, 4])).toBeCloseTo(3 / 6, 6);
    expect(measure('tanh', [-3, -2.4, 0, 2.4, 2.6, 10])).toBeCloseTo(3 / 6, 6);
    expect(measure('relu', [-1, 0, 0.5, 3])).toBeCloseTo(2 / 4, 6);
    expect(measure('elu', [-4, -2.6, -2.4, 0, 1])).toBeCloseTo(2 / 5, 6);
    expect(measure('selu', [-4, -2.6, -2.4, 0, 1])).toBeCloseTo(2 / 5, 6);
    // softmax: per sample, top probability above 0.99.
    expect(measure('softmax', [10, 0, 0])).toBe(1);
    expect(measure('softmax', [1, 0, 0])).toBe(0);
  });

  it("as thresholds (a device's form of the rule) count what the rules count, at the float32 edges too", () => {
    const f32 = Math.fround;
    for (const [activation, rule] of Object.entries(SATURATION_RULES)) {
      const { below, above, atMost, perSample } = rule.edges;
      const edges = [below, above, atMost].filter((e): e is number => e !== undefined);
      // Each edge, the float32 values beside it, and a spread of outputs.
      const y = Float32Array.from([...edges.flatMap((e) => [e, f32(e * (1 + 2 ** -20)), f32(e * (1 - 2 ** -20)), -e]), ...Array.from({ length: 24 }, (_, i) => Math.sin(i) * 2)]);
      const features = perSample ? 2 : 1;
      const n = y.length / features;
      const counts = (v: number) => (below !== undefined && v < below) || (above !== undefined && v > above) || (atMost !== undefined && v <= atMost);
      let hits = 0;
      for (let i = 0; i < n; i++) {
        const row = y.subarray(i * features, (i + 1) * features);
        if (perSample) hits += counts(Math.max(...row)) ? 1 : 0;
        else hits += row.filter(counts).length;
      }
      expect(hits / n, activation).toBe(rule.share(y, n, features));
    }
  });
});

describe('StatsSchedule', () => {
  it('with a fixed K: every K steps, the first step and each epoch end', () => {
    const s = new StatsSchedule(5);
    const due = Array.from({ length: 13 }, (_, step) => s.due(step, step === 12));
    expect(due.map((d, i) => (d ? i : -1)).filter((i) => i >= 0)).toEqual([0, 5, 10, 12]);
  });

  it('auto: about 4 records a second from the measured step time, at least every step', () => {
    const s = new StatsSchedule(null);
    expect(s.due(0, false)).toBe(true);
    s.observe(0, 25, true);
    expect(s.every).toBe(10);
    expect(s.due(9, false)).toBe(false);
    expect(s.due(10, false)).toBe(true);
    s.observe(10, 25, true);
    expect(s.due(19, false)).toBe(false);
    // Slow steps (statistics steps included) bring K down to 1, and fast ones back up.
    for (let step = 11; step < 40; step++) s.observe(step, 900, s.due(step, false));
    expect(s.every).toBe(1);
    for (let step = 40; step < 100; step++) s.observe(step, 5, s.due(step, false));
    expect(s.every).toBe(50);
  });

  it('auto: slow steps from the start still time a plain step, then bound what statistics cost', () => {
    // Statistics steps of 400 ms from step 0 (4 records a second would be every step); plain steps of 100 ms.
    const s = new StatsSchedule(null);
    const taken: number[] = [];
    for (let step = 0; step < 40; step++) {
      const withStats = s.due(step, false);
      if (withStats) taken.push(step);
      s.observe(step, withStats ? 400 : 100, withStats);
    }
    expect(taken.slice(0, 2)).toEqual([0, 2]);
    expect(taken.length).toBeLessThanOrEqual(3);
    // One statistics step at 4× a plain one moves the smoothed ratio from 1 to 1.6: K = 60.
    expect(s.every).toBe(60);
  });

  it('auto: statistics steps cost at most 1% of the training time', () => {
    // Plain steps of 25 ms (4 records a second would be every 10th step); statistics steps of 50 ms:
    // 25 ms extra each, so at most one every 100 steps.
    const s = new StatsSchedule(null);
    for (let i = 0; i < 30; i++) s.observe(i, 25, false);
    for (let i = 30; i < 60; i++) s.observe(i, 50, true);
    s.observe(60, 25, false); // the smoothed step time back at the plain steps'
    for (let i = 61; i < 80; i++) s.observe(i, 25, false);
    expect(s.every).toBe(100);
    // Statistics as cheap as plain steps: the rate rules again.
    for (let i = 80; i < 120; i++) s.observe(i, 25, true);
    for (let i = 120; i < 140; i++) s.observe(i, 25, false);
    expect(s.every).toBe(10);
  });
});

describe('RunControl', () => {
  it('blocks while paused and lets a stop through', async () => {
    const control = new RunControl();
    expect(control.pause()).toBe(true);
    expect(control.pause()).toBe(false);
    let released = false;
    const waiting = control.waitWhilePaused().then(() => (released = true));
    await Promise.resolve();
    expect(released).toBe(false);
    control.stop();
    await waiting;
    expect(released).toBe(true);
    expect(control.resume()).toBe(true);
    expect(control.pause()).toBe(false);
  });

  it("says 'paused' when the loop starts waiting, not when a pause is asked for, and 'resumed' only after that", async () => {
    const said: string[] = [];
    const control = new RunControl((event) => said.push(event));
    // Asked and taken back before the loop reached a batch boundary: nothing to say.
    control.pause();
    expect(said).toEqual([]);
    control.resume();
    expect(said).toEqual([]);
    control.pause();
    const waiting = control.waitWhilePaused();
    expect(said).toEqual(['paused']);
    control.resume();
    await waiting;
    expect(said).toEqual(['paused', 'resumed']);
  });
});

describe('seeds', () => {
  it('derives distinct, stable seeds per purpose', () => {
    expect(deriveSeed(42, 'init', 'dense', 'kernel_initializer')).toBe(deriveSeed(42, 'init', 'dense', 'kernel_initializer'));
    const seeds = new Set([deriveSeed(42, 'epoch', 0), deriveSeed(42, 'epoch', 1), deriveSeed(43, 'epoch', 0), deriveSeed(42, 'init', 'dense', 'kernel_initializer')]);
    expect(seeds.size).toBe(4);
    for (const seed of seeds) expect(seed).toBeLessThan(2 ** 31);
  });

  it('seeds every seeded initializer of the topology, keeping a seed the spec set', () => {
    const spec = structuredClone(seedModel1);
    (spec.config.layers[4]!.config['kernel_initializer'] as { config: Record<string, unknown> }).config['seed'] = 5;
    const topology = toKerasTopology(spec, { kerasVariance: true });
    expect(seedInitializers(topology.config.layers, 42)).toBe(2);
    const kernels = topology.config.layers.filter((l) => l.class_name === 'Dense').map((l) => (l.config['kernel_initializer'] as { config: { seed: number } }).config.seed);
    expect(kernels[1]).toBe(5);
    expect(new Set(kernels).size).toBe(3);
    // Zeros and Ones have no seed.
    expect((topology.config.layers[2]!.config['bias_initializer'] as { config: Record<string, unknown> }).config).not.toHaveProperty('seed');
  });
});

describe('likely causes of a divergence', () => {
  const point = { step: 3, epoch: 0, batch: 3, loss: NaN, lastFiniteLoss: 2.5e22, what: 'loss' as const };

  it('puts a high learning rate first and names a missing BatchNormalization', () => {
    const plain = structuredClone(seedModel1);
    plain.config.layers = plain.config.layers.filter((l) => l.class_name !== 'BatchNormalization');
    const causes = likelyCauses(plain, { learningRate: 5, optimizer: defaultOptimizer('SGD'), batchSize: 32 }, point);
    expect(causes[0]).toMatch(/^Learning rate too high: 5 /);
    expect(causes.some((c) => c.startsWith('No BatchNormalization'))).toBe(true);
    expect(divergenceMessage(point)).toMatch(
      /^Training diverged: the loss became NaN at epoch 1, batch 4 \(step 3\), last finite loss 2\.5 × 10\^22\. The run was stopped; its last finite weights were kept\.$/,
    );
  });

  it('flags an initializer far above the scale its activation needs', () => {
    const wide = structuredClone(seedModel1);
    wide.config.layers[2]!.config['kernel_initializer'] = { class_name: 'RandomNormal', config: { mean: 0, stddev: 1, seed: null } };
    const causes = likelyCauses(wide, { learningRate: 0.01, optimizer: defaultOptimizer('SGD'), batchSize: 32 }, { ...point, step: 0 });
    expect(causes[0]).toMatch(/^Initializer scale: dense's kernel starts at σ ≈ 1 .*He scale.*elu/);
    expect(causes.some((c) => c.startsWith('No BatchNormalization'))).toBe(false);
  });
});
