/**
 * The statistics behind repeated seeds (#17): mean, sample sd and Welch's t-test, so a comparison can
 * say whether two arms differ by more than seed noise. Pure and dependency-free: the renderer, the
 * services and the CLI all read the same numbers. Reference values in the tests are scipy's.
 */

export function mean(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  let sum = 0;
  for (const x of xs) sum += x;
  return sum / xs.length;
}

/** Sample variance (n − 1 in the denominator); NaN below two values, where there is no spread to estimate. */
export function sampleVariance(xs: readonly number[]): number {
  if (xs.length < 2) return Number.NaN;
  const m = mean(xs);
  let sum = 0;
  for (const x of xs) sum += (x - m) ** 2;
  return sum / (xs.length - 1);
}

export function sampleSd(xs: readonly number[]): number {
  return Math.sqrt(sampleVariance(xs));
}

// Lanczos approximation (g = 7, n = 9), accurate to ~15 digits for x > 0.
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
  1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0. */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x); // reflection
  const z = x - 1;
  let sum = LANCZOS[0]!;
  for (let i = 1; i < LANCZOS.length; i++) sum += LANCZOS[i]! / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** The continued fraction of I_x(a, b), by the modified Lentz method (Numerical Recipes' betacf). */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const TINY = 1e-300;
  const EPS = 1e-15;
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 500; m++) {
    const m2 = 2 * m;
    // Even step.
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    // Odd step.
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return h;
}

/** The regularized incomplete beta function I_x(a, b), for a, b > 0 and 0 ≤ x ≤ 1. */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (!(a > 0 && b > 0) || !(x >= 0 && x <= 1)) return Number.NaN;
  if (x === 0 || x === 1) return x;
  const logFront = logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x);
  const front = Math.exp(logFront);
  // The fraction converges fast only for x < (a + 1) / (a + b + 2); beyond, use I_x(a, b) = 1 − I_{1−x}(b, a).
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(x, a, b)) / a;
  return 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

/** P(|T| ≥ |t|) for Student's t with `df` degrees of freedom (df need not be whole: Welch's is not). */
export function studentTwoSidedP(t: number, df: number): number {
  if (Number.isNaN(t) || !(df > 0)) return Number.NaN;
  if (!Number.isFinite(t)) return 0;
  return regularizedIncompleteBeta(df / (df + t * t), df / 2, 0.5);
}

export interface WelchResult {
  /** (mean(a) − mean(b)) / standard error of the difference. */
  t: number;
  /** Welch–Satterthwaite degrees of freedom. */
  df: number;
  /** Two-sided p-value. */
  p: number;
}

/** An arm as Welch's test needs it: its mean, sample sd and count (a sweep's results table has just these). */
export interface Moments {
  mean: number;
  sd: number;
  n: number;
}

export function moments(xs: readonly number[]): Moments {
  return { mean: mean(xs), sd: sampleSd(xs), n: xs.length };
}

/**
 * Welch's t-test (unequal variances), as scipy's ttest_ind(a, b, equal_var=False). Null below two
 * values in either arm: one seed has no spread to compare against. Two arms without any spread are
 * the same (p = 1) when their means are equal and certainly different (p = 0) when not.
 */
export function welchTTest(a: readonly number[], b: readonly number[]): WelchResult | null {
  return welchFromMoments(moments(a), moments(b));
}

/** Welch's t-test from each arm's mean, sample sd and count. */
export function welchFromMoments(a: Moments, b: Moments): WelchResult | null {
  if (a.n < 2 || b.n < 2 || !Number.isFinite(a.sd) || !Number.isFinite(b.sd)) return null;
  const va = (a.sd * a.sd) / a.n;
  const vb = (b.sd * b.sd) / b.n;
  const diff = a.mean - b.mean;
  const se2 = va + vb;
  if (se2 === 0) {
    return diff === 0 ? { t: 0, df: Number.NaN, p: 1 } : { t: diff > 0 ? Infinity : -Infinity, df: Number.NaN, p: 0 };
  }
  const t = diff / Math.sqrt(se2);
  const df = (se2 * se2) / ((va * va) / (a.n - 1) + (vb * vb) / (b.n - 1));
  return { t, df, p: studentTwoSidedP(t, df) };
}

/** p as people read it: two significant digits, "< 0.001" below that. */
export function pText(p: number): string {
  if (Number.isNaN(p)) return 'NaN';
  return p < 0.001 ? '< 0.001' : `= ${Number(p.toPrecision(2))}`;
}

export interface SeedNoiseVerdict {
  /** 'noise': not told apart from seed noise; 'difference': told apart; 'unknown': too few seeds to say. */
  kind: 'noise' | 'difference' | 'unknown';
  /** Welch's p, when both arms have two or more values. */
  p: number | null;
  text: string;
}

/**
 * Whether two arms' values (one per seed) differ by more than seed noise: "within seed noise" when
 * Welch's p ≥ 0.05 or their mean ± 1 sd intervals overlap, else "a difference (p = …)".
 */
export function seedNoiseVerdict(a: readonly number[], b: readonly number[], alpha = 0.05): SeedNoiseVerdict {
  // A diverged seed (NaN loss) has no value to compare: it is left out, not counted as noise.
  return verdictFromMoments(moments(a.filter(Number.isFinite)), moments(b.filter(Number.isFinite)), alpha);
}

/** The same verdict from each arm's mean, sample sd and count. */
export function verdictFromMoments(a: Moments, b: Moments, alpha = 0.05): SeedNoiseVerdict {
  const test = welchFromMoments(a, b);
  if (!test) return { kind: 'unknown', p: null, text: 'one seed per arm: no estimate of seed noise (run 2 or more)' };
  const overlap = Math.abs(a.mean - b.mean) <= a.sd + b.sd;
  if (test.p >= alpha || overlap) return { kind: 'noise', p: test.p, text: `within seed noise (p ${pText(test.p)})` };
  return { kind: 'difference', p: test.p, text: `a difference (p ${pText(test.p)})` };
}
