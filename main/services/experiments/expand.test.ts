/** Grid expansion: arms, names, ids, seeds, values in Keras' vocabulary, and bn_position on Géron's seed models. */
import { describe, expect, it } from 'vitest';
import { defaultTrainingSettings } from '../../../contract';
import { plainMlp, seedModel1, seedModel2 } from '../../../model/presets';
import { summarize } from '../../../model/summary';
import { withBnPosition } from './bn-position';
import { definitionHash, expandSweep } from './expand';

const base = { spec: seedModel1, settings: defaultTrainingSettings };
const grid = { 'training.learningRate': [0.01, 0.05], 'layers[Dense].kernel_initializer': ['he_normal', 'glorot_uniform'] };

describe('grid expansion', () => {
  it('makes the cartesian product × seeds, each job with the arm applied and seed i = base seed + i', () => {
    const { arms, jobs } = expandSweep({ sweepId: 'sweep-a', base, grid, seeds: 3 });
    expect(arms).toHaveLength(4);
    expect(jobs).toHaveLength(12);
    const job = jobs.find((j) => j.name === 'lr=0.05 · kernel_initializer=glorot_uniform · seed 44')!;
    expect(job.settings).toMatchObject({ learningRate: 0.05, seed: 44 });
    expect(job.armId).toBe(arms[3]!.armId);
    // Every Dense gets the initializer, in the spec's canonical Keras form.
    const dense = job.spec.config.layers.filter((l) => l.class_name === 'Dense');
    expect(dense).toHaveLength(3);
    for (const layer of dense) expect(layer.config.kernel_initializer).toEqual({ class_name: 'GlorotUniform', config: { seed: null } });
    expect(jobs.filter((j) => j.armId === arms[0]!.armId).map((j) => j.settings.seed)).toEqual([42, 43, 44]);
    // The base is untouched.
    expect(seedModel1.config.layers[2]!.config.kernel_initializer).toEqual({ class_name: 'HeNormal', config: { seed: null } });
  });

  it('gives stable arm ids and definition hashes, independent of the sweep id', () => {
    const first = expandSweep({ sweepId: 'sweep-a', base, grid, seeds: 2 });
    const again = expandSweep({ sweepId: 'sweep-b', base, grid, seeds: 2 });
    expect(again.arms.map((a) => a.armId)).toEqual(first.arms.map((a) => a.armId));
    expect(new Set(first.arms.map((a) => a.armId)).size).toBe(4);
    expect(definitionHash(again.jobs)).toBe(definitionHash(first.jobs));
    const other = expandSweep({ sweepId: 'sweep-a', base, grid: { ...grid, 'training.learningRate': [0.01, 0.02] }, seeds: 2 });
    expect(definitionHash(other.jobs)).not.toBe(definitionHash(first.jobs));
  });

  it('applies a layer selected by index or name, and an optimizer by name with Keras defaults', () => {
    const { jobs } = expandSweep({ sweepId: 's', base, grid: { 'layers[4].units': [50], 'layers[dense].activation': ['selu'], 'training.optimizer': ['adam'] }, seeds: 1 });
    const layers = jobs[0]!.spec.config.layers;
    expect(layers[4]!.config).toMatchObject({ name: 'dense_1', units: 50 });
    expect(layers[2]!.config).toMatchObject({ name: 'dense', activation: 'selu' });
    expect(jobs[0]!.settings.optimizer).toMatchObject({ class_name: 'Adam', config: { beta_1: 0.9 } });
    expect(jobs[0]!.name).toBe('units=50 · activation=selu · optimizer=adam · seed 42');
  });

  it('refuses a value twice in one key and an arm whose model cannot be built', () => {
    expect(() => expandSweep({ sweepId: 's', base, grid: { 'training.batchSize': [32, 32] }, seeds: 1 })).toThrow(/grid key "training\.batchSize": lists 32 twice/);
    expect(() => expandSweep({ sweepId: 's', base, grid: { 'layers[Dense].units': [7] }, seeds: 1 })).toThrow(
      /grid point "units=7": the model cannot be trained: dense_2 \(layer 6\): 7 units, but Fashion-MNIST has 10 classes/,
    );
  });

  it('with an empty grid runs the base with N seeds', () => {
    const { arms, jobs } = expandSweep({ sweepId: 's', base, grid: {}, seeds: 3 });
    expect(arms).toEqual([{ armId: expect.stringMatching(/^arm-/), name: '', settings: {} }]);
    expect(jobs.map((j) => j.name)).toEqual(['seed 42', 'seed 43', 'seed 44']);
  });
});

describe('bn_position', () => {
  it('turns seed model 1 (BN after) into seed model 2 (BN before) and back', () => {
    expect(withBnPosition(seedModel1, 'before').config.layers).toEqual(seedModel2.config.layers);
    expect(withBnPosition(seedModel2, 'after').config.layers).toEqual(seedModel1.config.layers);
    // Already in place: unchanged.
    expect(withBnPosition(seedModel1, 'after').config.layers).toEqual(seedModel1.config.layers);
    expect(withBnPosition(seedModel2, 'before').config.layers).toEqual(seedModel2.config.layers);
    expect(summarize(withBnPosition(seedModel1, 'before')).total).toBe(summarize(seedModel2).total);
  });

  it("'none' removes every BatchNormalization; kernel layers keep (or get back) their activation and bias", () => {
    for (const seed of [seedModel1, seedModel2]) {
      const layers = withBnPosition(seed, 'none').config.layers;
      expect(layers.map((l) => l.class_name)).toEqual(['Flatten', 'Dense', 'Dense', 'Dense']);
      expect(layers.slice(1, 3).map((l) => [l.config.activation, l.config.use_bias])).toEqual([
        ['elu', true],
        ['elu', true],
      ]);
    }
  });

  it('is applied after the layer fields it moves, and names arms by it', () => {
    const { arms, jobs } = expandSweep({ sweepId: 's', base, grid: { bn_position: ['before', 'after'], 'layers[dense].activation': ['selu'] }, seeds: 1 });
    expect(arms.map((a) => a.name)).toEqual(['bn_position=before · activation=selu', 'bn_position=after · activation=selu']);
    const before = jobs[0]!.spec.config.layers;
    expect(before.map((l) => l.class_name)).toEqual(seedModel2.config.layers.map((l) => l.class_name));
    expect(before[4]!.config).toMatchObject({ name: 'activation', activation: 'selu' });
    expect(before[2]!.config).toMatchObject({ activation: 'linear', use_bias: false });
    expect(jobs[1]!.spec.config.layers[2]!.config).toMatchObject({ activation: 'selu', use_bias: true });
  });

  it('refuses a stack without BatchNormalization, or with none next to an activation', () => {
    expect(() => expandSweep({ sweepId: 's', base: { ...base, spec: plainMlp }, grid: { bn_position: ['before'] }, seeds: 1 })).toThrow(
      /grid key "bn_position": the model mlp_no_bn has no BatchNormalization layer/,
    );
    const inputBnOnly = { ...plainMlp, config: { ...plainMlp.config, layers: [plainMlp.config.layers[0]!, seedModel1.config.layers[1]!, ...plainMlp.config.layers.slice(1)] } };
    expect(() => withBnPosition(inputBnOnly, 'after')).toThrow(/no BatchNormalization layer of mlp_no_bn follows a Dense or Conv2D layer/);
    expect(() => expandSweep({ sweepId: 's', base, grid: { bn_position: ['middle'] }, seeds: 1 })).toThrow(/'middle' is not a BN position; use before, after or none/);
  });
});
