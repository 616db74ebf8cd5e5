import { describe, expect, it } from 'vitest';
import { comparisons, glorotVariant } from './comparisons';
import { seedModel1 } from '../../model/presets';
import { summarize } from '../../model/summary';

describe('comparisons', () => {
  it('swaps only the hidden Dense layers of seed model 1 to Glorot', () => {
    const spec = glorotVariant(seedModel1);
    const dense = spec.config.layers.filter((l) => l.class_name === 'Dense');
    expect(dense.map((l) => (l.config['kernel_initializer'] as { class_name: string }).class_name)).toEqual(['GlorotUniform', 'GlorotUniform', 'GlorotUniform']);
    const original = seedModel1.config.layers.filter((l) => l.class_name === 'Dense');
    expect((original[0]!.config['kernel_initializer'] as { class_name: string }).class_name).toBe('HeNormal');
  });

  it('builds valid models, two per comparison', () => {
    for (const c of comparisons) {
      expect(c.variants).toHaveLength(2);
      for (const v of c.variants) expect(summarize(v.spec).valid).toBe(true);
    }
  });
});
