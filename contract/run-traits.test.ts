/** Runs named by what differs from their siblings, on the real presets (the run store's listing: main/services/runs/store.test.ts). */
import { describe, expect, it } from 'vitest';
import { plainMlp, seedModel1, seedModel2, seluMlp } from '../model/presets';
import { initializer, type ModelSpec } from '../model/spec';
import { differingColumns, differingTraits, displayNames, runTraits, type NameableRun } from './run-traits';
import { defaultTrainingSettings, type TrainingSettings } from './training';

/** The spec with its hidden Dense layers' kernel initializer replaced, and renamed when asked. */
function withInit(spec: ModelSpec, className: string, name = spec.config.name): ModelSpec {
  const copy = structuredClone(spec);
  copy.config.name = name;
  const dense = copy.config.layers.filter((l) => l.class_name === 'Dense');
  for (const layer of dense.slice(0, -1)) layer.config.kernel_initializer = initializer(className);
  return copy;
}

const settings = (extra: Partial<TrainingSettings> = {}): TrainingSettings => ({ ...defaultTrainingSettings, ...extra });
const run = (runId: string, spec: ModelSpec, s = settings(), name = spec.config.name): NameableRun => ({ runId, name, modelName: spec.config.name, traits: runTraits(spec, s) });

describe('runTraits', () => {
  it("reads the hidden layers' initializer and activation, the BN placement and the settings", () => {
    expect(runTraits(seedModel1, settings())).toEqual({
      model: 'bn_after_activation',
      init: 'he_normal',
      activation: 'elu',
      bn: 'BN after',
      units: '300-100-10',
      dataset: 'fashion-mnist',
      normalization: '÷255',
      optimizer: 'SGD',
      lr: 'lr 0.01',
      schedule: 'Constant',
      batch: 'batch 32',
      epochs: '5 epochs',
      samples: '10,000 samples',
      seed: 'seed 42',
    });
    expect(runTraits(seedModel2, settings())).toMatchObject({ init: 'he_normal', activation: 'elu', bn: 'BN before' });
    expect(runTraits(plainMlp, settings({ trainSubset: null }), 'Iris')).toMatchObject({ bn: 'no BN', dataset: 'Iris', samples: 'all samples' });
    expect(runTraits(seluMlp, settings({ normalization: 'standardize' }))).toMatchObject({ init: 'lecun_normal', activation: 'selu', normalization: 'standardized' });
  });
});

describe('names by difference', () => {
  it('two runs of mlp_no_bn that differ by initializer read he_normal and glorot_uniform', () => {
    const runs = [run('a', plainMlp), run('b', withInit(plainMlp, 'GlorotUniform'))];
    expect(differingTraits(runs.map((r) => r.traits!))).toEqual(['init']);
    expect(displayNames(runs)).toEqual(
      new Map([
        ['a', 'he_normal'],
        ['b', 'glorot_uniform'],
      ]),
    );
    expect(differingColumns(runs)).toEqual(['init']);
  });

  it('names by every trait that differs: "he_normal · BN after"', () => {
    const runs = [run('a', withInit(seedModel1, 'HeNormal', 'mlp')), run('b', withInit(seedModel2, 'GlorotUniform', 'mlp'), settings({ learningRate: 0.001 }))];
    expect(displayNames(runs)).toEqual(
      new Map([
        ['a', 'he_normal · BN after · lr 0.01'],
        ['b', 'glorot_uniform · BN before · lr 0.001'],
      ]),
    );
    expect(differingColumns(runs)).toEqual(['init', 'bn', 'lr']);
  });

  it('keeps a name the user gave, a run without siblings, and runs that do not differ', () => {
    const runs = [run('a', plainMlp, settings(), 'my baseline'), run('b', withInit(plainMlp, 'GlorotUniform')), run('c', seedModel1), run('d', seluMlp), run('e', seluMlp)];
    const names = displayNames(runs);
    expect(names.get('a')).toBe('my baseline');
    expect(names.get('b')).toBe('glorot_uniform'); // its sibling a differs by initializer, whatever a is called
    expect(names.get('c')).toBe('bn_after_activation');
    expect([names.get('d'), names.get('e')]).toEqual(['selu_self_normalizing', 'selu_self_normalizing']);
    // Columns over everything shown: the model traits first, at most `max`, never the model's name.
    expect(differingColumns(runs)).toEqual(['init', 'activation', 'bn']);
    expect(differingColumns(runs, 2)).toEqual(['init', 'activation']);
    expect(differingColumns([runs[0]!])).toEqual([]);
  });
});
