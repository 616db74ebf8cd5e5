/** Numbers written for people (messages, the CLI, the UI), shared by the worker and the renderer. */

/**
 * `digits` significant digits; thousands separators from 0.0001 up to ten million ("1,000,000", "0.01", "2.3"),
 * powers of ten beyond ("4.74 × 10^36", "1 × 10^-5"); "NaN", "+∞" and "−∞" for the rest.
 */
export function humanNumber(x: number, digits = 3): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '+∞' : '−∞';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e-4 && a < 1e7) return x.toLocaleString('en-US', { maximumSignificantDigits: digits });
  const [mantissa, exponent] = x.toExponential(digits - 1).split('e');
  return `${Number(mantissa)} × 10^${Number(exponent)}`;
}

/** A loss to four decimals, as Keras prints it; an exploding one as "4.74 × 10^36" (toFixed would write 4.7400225759094996e+36). */
export const lossText = (loss: number): string => (Math.abs(loss) < 1e6 ? loss.toFixed(4) : humanNumber(loss));
