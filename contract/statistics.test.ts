import { describe, expect, it } from 'vitest';
import { seededRandom } from '../main/services/training/worker/data';
import { mean, moments, regularizedIncompleteBeta, sampleSd, seedNoiseVerdict, studentTwoSidedP, verdictFromMoments, welchFromMoments, welchTTest } from './statistics';

// Reference values: scipy 1.17 (scipy.special.betainc, scipy.stats.t.sf, scipy.stats.ttest_ind(a, b, equal_var=False)).

describe('regularized incomplete beta and Student t', () => {
  it.each([
    [0.3, 2.5, 3.5, 0.29675298929566646],
    [0.9, 10, 0.5, 0.15164090963470994],
    [0.01, 0.5, 0.5, 0.06376856085851985],
    [0.45, 50, 60, 0.4642352914306031],
  ])('I_%s(%s, %s) = %s', (x, a, b, expected) => {
    expect(regularizedIncompleteBeta(x, a, b)).toBeCloseTo(expected, 12);
  });

  it('is 0 and 1 at the ends, NaN outside its domain', () => {
    expect(regularizedIncompleteBeta(0, 2, 3)).toBe(0);
    expect(regularizedIncompleteBeta(1, 2, 3)).toBe(1);
    expect(regularizedIncompleteBeta(1.5, 2, 3)).toBeNaN();
    expect(regularizedIncompleteBeta(0.5, 0, 3)).toBeNaN();
  });

  it.each([
    [2, 3, 0.13932596855884305],
    [1, 1, 0.5],
    [10, 2.5, 0.0044414957673074235],
  ])('two-sided p of t = %s at df = %s is %s', (t, df, expected) => {
    expect(studentTwoSidedP(t, df)).toBeCloseTo(expected, 12);
    expect(studentTwoSidedP(-t, df)).toBeCloseTo(expected, 12);
  });
});

describe("Welch's t-test", () => {
  it.each([
    // Two arms of three seeds, like a chapter comparison's final val accuracy.
    [[0.851, 0.848, 0.853], [0.838, 0.842, 0.836], 5.251139693924156, 3.8585152838427947, 0.006948133512877424],
    [[1, 2, 3, 4, 5], [2, 4, 6, 8, 10, 12], -2.3763541031440183, 6.972255729794934, 0.04928433820673053],
    [[0.85, 0.86, 0.84], [0.851, 0.849, 0.862], -0.5675805238084826, 3.5805177001854687, 0.6039946093518864],
    [
      [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4],
      [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4],
      -2.455356398286006,
      24.988529290231416,
      0.021378001462866992,
    ],
  ])('matches scipy on %j vs %j', (a, b, t, df, p) => {
    const r = welchTTest(a, b)!;
    expect(r.t).toBeCloseTo(t, 10);
    expect(r.df).toBeCloseTo(df, 10);
    expect(r.p).toBeCloseTo(p, 10);
  });

  it('needs two values per arm', () => {
    expect(welchTTest([0.8], [0.7, 0.71])).toBeNull();
    expect(mean([])).toBeNaN();
    expect(sampleSd([0.8])).toBeNaN();
    expect(sampleSd([2, 4, 4, 4, 5, 5, 7, 9])).toBeCloseTo(2.138089935299395, 12);
  });

  it('handles arms without spread', () => {
    expect(welchTTest([0.5, 0.5], [0.5, 0.5])).toMatchObject({ t: 0, p: 1 });
    expect(welchTTest([0.6, 0.6], [0.5, 0.5])).toMatchObject({ t: Infinity, p: 0 });
    // One arm without spread: the other's variance alone, df = its n − 1.
    const r = welchTTest([0.5, 0.5, 0.5], [0.4, 0.45, 0.5])!;
    expect(r.df).toBeCloseTo(2, 12);
    expect(Number.isFinite(r.p)).toBe(true);
  });
});

describe('seed-noise verdict', () => {
  const random = seededRandom(1234);
  const normal = (mu: number, sigma: number) => mu + sigma * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const arm = (mu: number, sigma: number, n: number) => Array.from({ length: n }, () => normal(mu, sigma));

  it('calls arms from one distribution within seed noise about 95% of the time or more', () => {
    const trials = 400;
    let differences = 0;
    for (let i = 0; i < trials; i++) if (seedNoiseVerdict(arm(0.85, 0.005, 3), arm(0.85, 0.005, 3)).kind === 'difference') differences++;
    // Welch's test alone would be wrong ~5% of the time; the interval-overlap rule only makes that rarer.
    expect(differences / trials).toBeLessThanOrEqual(0.07);
  });

  it('tells far-apart arms apart, p shown', () => {
    for (let i = 0; i < 50; i++) {
      const v = seedNoiseVerdict(arm(0.85, 0.005, 3), arm(0.8, 0.005, 3));
      expect(v.kind).toBe('difference');
      expect(v.text).toMatch(/^a difference \(p [=<] [\d.e-]+\)$/);
    }
  });

  it('says within seed noise with the p-value for the close chapter-like case', () => {
    const v = seedNoiseVerdict([0.85, 0.86, 0.84], [0.851, 0.849, 0.862]);
    expect(v).toMatchObject({ kind: 'noise', text: 'within seed noise (p = 0.6)' });
    expect(v.p).toBeCloseTo(0.6039946093518864, 10);
  });

  it('cannot judge one seed, and leaves out diverged seeds', () => {
    expect(seedNoiseVerdict([0.85], [0.8]).kind).toBe('unknown');
    expect(seedNoiseVerdict([0.85, Number.NaN], [0.8, 0.81]).kind).toBe('unknown');
    expect(seedNoiseVerdict([0.7, 0.7], [0.5, 0.5])).toMatchObject({ kind: 'difference', text: 'a difference (p < 0.001)' });
  });
});

describe('verdict from an arm table (mean, sd, n)', () => {
  it('gives what the values themselves give', () => {
    const a = [0.851, 0.848, 0.853];
    const b = [0.838, 0.842, 0.836];
    expect(verdictFromMoments(moments(a), moments(b))).toEqual(seedNoiseVerdict(a, b));
    expect(welchFromMoments({ mean: 0.85, sd: Number.NaN, n: 1 }, moments(b))).toBeNull();
  });
});
