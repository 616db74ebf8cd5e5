import { describe, expect, it } from 'vitest';
import { TRUNCATED_NORMAL_STD_FACTOR, canonicalInitializer, canonicalInitializerName, computeFans, initializerStats, toTfjsInitializer, validateInitializer } from './initializers';
import { initializer } from './spec';

describe('fans', () => {
  it("follow Keras' compute_fans", () => {
    expect(computeFans([784, 300])).toEqual({ fan_in: 784, fan_out: 300, fan_avg: 542 });
    expect(computeFans([3, 3, 16, 32])).toEqual({ fan_in: 144, fan_out: 288, fan_avg: 216 });
    expect(computeFans([5, 2, 3])).toEqual({ fan_in: 10, fan_out: 15, fan_avg: 12.5 });
    expect(computeFans([7])).toEqual({ fan_in: 7, fan_out: 7, fan_avg: 7 });
    expect(computeFans([16], 'tfjs')).toEqual({ fan_in: 4, fan_out: 4, fan_avg: 4 });
  });
});

describe('initializerStats', () => {
  const shape = [784, 300];
  it('σ² per family: Glorot 1/fan_avg, He 2/fan_in, LeCun 1/fan_in', () => {
    expect(initializerStats(initializer('GlorotUniform'), shape).variance).toBeCloseTo(1 / 542, 15);
    expect(initializerStats(initializer('GlorotNormal'), shape).variance).toBeCloseTo(1 / 542, 15);
    expect(initializerStats(initializer('HeNormal'), shape).variance).toBeCloseTo(2 / 784, 15);
    expect(initializerStats(initializer('HeUniform'), shape).variance).toBeCloseTo(2 / 784, 15);
    expect(initializerStats(initializer('LecunNormal'), shape).variance).toBeCloseTo(1 / 784, 15);
    expect(initializerStats(initializer('LecunUniform'), shape).variance).toBeCloseTo(1 / 784, 15);
    for (const [mode, fan] of [
      ['fan_in', 784],
      ['fan_out', 300],
      ['fan_avg', 542],
    ] as const) {
      const s = initializerStats(initializer('VarianceScaling', { scale: 3, mode, distribution: 'uniform' }), shape);
      expect([s.fan, s.variance]).toEqual([fan, 3 / fan]);
    }
  });

  it('uniform limit r = √(3σ²) and std σ', () => {
    const s = initializerStats(initializer('GlorotUniform'), shape);
    expect(s.limit).toBeCloseTo(Math.sqrt(6 / (784 + 300)), 15);
    expect(s.std).toBeCloseTo(Math.sqrt(1 / 542), 15);
    expect(s.keras_std).toBeCloseTo(s.std, 15);
  });

  it('truncated normal: Keras corrects to σ, TF.js samples 0.88·σ unless exported with kerasVariance', () => {
    const s = initializerStats(initializer('HeNormal'), shape);
    expect(s.distribution).toBe('truncated_normal');
    expect(s.limit).toBeNull();
    expect(s.keras_std).toBeCloseTo(Math.sqrt(2 / 784), 15);
    expect(s.std).toBeCloseTo(TRUNCATED_NORMAL_STD_FACTOR * Math.sqrt(2 / 784), 15);
    expect(initializerStats(initializer('HeNormal'), shape, { kerasVariance: true }).std).toBeCloseTo(Math.sqrt(2 / 784), 15);
    const u = initializerStats(initializer('VarianceScaling', { scale: 1, mode: 'fan_in', distribution: 'untruncated_normal' }), shape);
    expect([u.std, u.keras_std]).toEqual([Math.sqrt(1 / 784), Math.sqrt(1 / 784)]);
  });

  it('constants and plain random initializers', () => {
    expect(initializerStats({ class_name: 'Zeros', config: {} }, shape)).toMatchObject({ distribution: 'constant', std: 0, mean: 0 });
    expect(initializerStats({ class_name: 'Ones', config: {} }, shape)).toMatchObject({ std: 0, mean: 1 });
    expect(initializerStats({ class_name: 'RandomUniform', config: { minval: -1, maxval: 1 } }, shape)).toMatchObject({ limit: 1, std: 2 / Math.sqrt(12) });
    expect(initializerStats({ class_name: 'TruncatedNormal', config: { stddev: 1 } }, shape).std).toBeCloseTo(TRUNCATED_NORMAL_STD_FACTOR, 15);
  });
});

describe('names', () => {
  it('accepts Keras, TF.js and snake_case spellings', () => {
    expect(['LecunNormal', 'LeCunNormal', 'lecun_normal', 'leCunNormal'].map(canonicalInitializerName)).toEqual(Array(4).fill('LecunNormal'));
    expect(['he_uniform', 'HeUniform', 'heUniform'].map(canonicalInitializerName)).toEqual(Array(3).fill('HeUniform'));
    expect(canonicalInitializerName('Orthogonal')).toBeNull();
    expect(canonicalInitializer({ class_name: 'VarianceScaling', config: { mode: 'fanOut', distribution: 'untruncatedNormal' } })).toEqual({
      ok: true,
      value: { class_name: 'VarianceScaling', config: { scale: 1, mode: 'fan_out', distribution: 'untruncated_normal', seed: null } },
    });
    // TF.js toJSON() writes the helpers as VarianceScaling; collapseHelpers maps them back.
    expect(canonicalInitializer({ class_name: 'VarianceScaling', config: { scale: 1, mode: 'fan_in', distribution: 'normal', seed: null } }, { collapseHelpers: true })).toEqual({
      ok: true,
      value: { class_name: 'LecunNormal', config: { seed: null } },
    });
  });

  it('exports what TF.js registers', () => {
    expect(toTfjsInitializer(initializer('LecunNormal'), [4, 4]).class_name).toBe('LeCunNormal');
    expect(toTfjsInitializer(initializer('LecunUniform'), [4, 4]).class_name).toBe('LeCunUniform');
    expect(toTfjsInitializer(initializer('VarianceScaling', { distribution: 'truncated_normal' }), [4, 4]).config.distribution).toBe('normal');
  });

  it('validates values', () => {
    expect(validateInitializer(initializer('HeNormal'))).toBeNull();
    expect(validateInitializer({ class_name: 'VarianceScaling', config: { scale: 0 } })).toMatch(/scale/);
    expect(validateInitializer({ class_name: 'VarianceScaling', config: { distribution: 'cauchy' } })).toMatch(/distribution/);
    expect(validateInitializer({ class_name: 'HeNormal', config: { seed: -1 } })).toMatch(/seed/);
    expect(validateInitializer({ class_name: 'Constant', config: { value: Number.NaN } })).toMatch(/value/);
    expect(validateInitializer(42)).toMatch(/expected an initializer/);
  });
});
