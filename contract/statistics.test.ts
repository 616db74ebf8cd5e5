import { describe, expect, it } from 'vitest';
import { mean, sampleSd } from './statistics';

describe('statistics over seeds', () => {
  it('gives the mean and the n − 1 standard deviation numpy gives (np.std(x, ddof=1))', () => {
    expect(mean([1, 2, 3, 4])).toBe(2.5);
    expect(sampleSd([1, 2, 3, 4])).toBeCloseTo(1.2909944487358056, 15);
    expect(sampleSd([0.81, 0.83])).toBeCloseTo(0.014142135623730963, 15);
    expect(sampleSd([5, 5, 5])).toBe(0);
  });

  it('has no value for too few samples', () => {
    expect(mean([])).toBeNaN();
    expect(sampleSd([0.8])).toBeNaN();
  });
});
