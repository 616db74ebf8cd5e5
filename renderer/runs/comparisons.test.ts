import { describe, expect, it } from 'vitest';
import { activationVariant, comparisons, glorotVariant, seedPlan, seluVariant, splitActivations } from './comparisons';
import { deepPlainMlp, seedModel1 } from '../../model/presets';
import { summarize } from '../../model/summary';
import { SweepGridSchema } from '../../contract/sweeps';

const initializers = (spec: typeof seedModel1) =>
  spec.config.layers.filter((l) => l.class_name === 'Dense').map((l) => (l.config['kernel_initializer'] as { class_name: string }).class_name);

describe('comparisons', () => {
  it('swaps only the hidden Dense layers of seed model 1 to Glorot', () => {
    expect(initializers(glorotVariant(seedModel1))).toEqual(['GlorotUniform', 'GlorotUniform', 'GlorotUniform']);
    expect(initializers(seedModel1)[0]).toBe('HeNormal');
  });

  it('makes the deep plain network self-normalizing: SELU and LeCun normal on the 20 hidden layers, softmax kept', () => {
    const spec = seluVariant(deepPlainMlp);
    const dense = spec.config.layers.filter((l) => l.class_name === 'Dense');
    expect(dense.slice(0, -1).every((l) => l.config['activation'] === 'selu')).toBe(true);
    expect(new Set(initializers(spec).slice(0, -1))).toEqual(new Set(['LecunNormal']));
    expect(dense.at(-1)!.config['activation']).toBe('softmax');
  });

  it('compares He and Glorot on the deep plain network with ReLU (where Glorot lets the gradient vanish), softmax kept', () => {
    const [he, glorot] = comparisons.find((c) => c.id === 'he-vs-glorot')!.variants;
    for (const v of [he!, glorot!]) {
      const dense = v.spec.config.layers.filter((l) => l.class_name === 'Dense');
      expect(dense.slice(0, -1).every((l) => l.config['activation'] === 'relu')).toBe(true);
      expect(dense.at(-1)!.config['activation']).toBe('softmax');
    }
    expect(new Set(initializers(he!.spec).slice(0, -1))).toEqual(new Set(['HeNormal']));
    expect(new Set(initializers(glorot!.spec).slice(0, -1))).toEqual(new Set(['GlorotUniform']));
    expect(activationVariant(deepPlainMlp, 'tanh').config.layers.filter((l) => l.config['activation'] === 'tanh')).toHaveLength(20);
  });

  it('splits activations into their own layers without changing the parameters', () => {
    const split = splitActivations(deepPlainMlp);
    const s = summarize(split);
    expect(s.errors).toEqual([]);
    expect(s.total).toBe(summarize(deepPlainMlp).total);
    expect(split.config.layers.filter((l) => l.class_name === 'Activation').map((l) => l.config['activation'])).toEqual(Array(20).fill('elu'));
    expect(split.config.layers.at(-1)!.config['activation']).toBe('softmax');
  });

  it('builds valid models, two per comparison, and a valid sweep grid with an arm per variant or more', () => {
    expect(comparisons.map((c) => c.id)).toEqual(['he-vs-glorot', 'bn-after-vs-before', 'with-vs-without-bn', 'selu-vs-elu']);
    for (const c of comparisons) {
      expect(c.variants).toHaveLength(2);
      for (const v of c.variants) expect(summarize(v.spec).valid).toBe(true);
      expect(summarize(c.sweep.base).errors).toEqual([]);
      SweepGridSchema.parse(c.sweep.grid);
      const arms = Object.values(c.sweep.grid).reduce((n, values) => n * values.length, 1);
      expect(arms).toBeGreaterThanOrEqual(c.variants.length);
    }
  });
});

describe('seed plan', () => {
  const [he, glorot] = comparisons[0]!.variants;
  it('runs seed by seed, each variant in turn, from the settings seed up', () => {
    expect(seedPlan([he!, glorot!], 3, 42).map((r) => [r.variant.label, r.seed])).toEqual([
      ['He normal init', 42],
      ['Glorot uniform init', 42],
      ['He normal init', 43],
      ['Glorot uniform init', 43],
      ['He normal init', 44],
      ['Glorot uniform init', 44],
    ]);
  });

  it('keeps the seed count within 1–20 and seeds within the settings range', () => {
    expect(seedPlan([he!], 0, 1)).toHaveLength(1);
    expect(seedPlan([he!], Number.NaN, 1)).toHaveLength(1);
    expect(seedPlan([he!], 50, 1)).toHaveLength(20);
    expect(seedPlan([he!], 2, 2 ** 31 - 1).map((r) => r.seed)).toEqual([2 ** 31 - 1, 0]);
  });
});
