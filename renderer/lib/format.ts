/** Number formatting shared by the summary, the initializer panel and the variables view. */

/** Keras' summary writes parameter counts with thousands separators: 271,346. */
export const thousands = (n: number): string => n.toLocaleString('en-US');

/** Keras 3's readable_memory_size of float32 weights: "1.04 MB", "9.25 KB", "0.00 B". */
export function memorySize(params: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let size = params * 4;
  for (const unit of units) {
    if (size / 1024 < 1) return `${size.toFixed(2)} ${unit}`;
    size /= 1024;
  }
  return `${size.toFixed(2)} PB`;
}

/** Four significant digits, without trailing zeros or exponent noise for ordinary magnitudes. */
export function sig(x: number, digits = 4): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e-4 && a < 1e6) return String(Number(x.toPrecision(digits)));
  return x.toExponential(digits - 1);
}

/** At most 8 characters, for table cells: 0.0505, -0.115, -3.44e-5, 1.23e+3. */
export function compact(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e-3 && a < 1e4) return String(Number(x.toPrecision(3)));
  return x.toExponential(2).replace('e+', 'e');
}

/** Relative difference as a signed percentage: "+0.3%". */
export function relDiff(measured: number, expected: number): string | null {
  if (!Number.isFinite(measured) || !Number.isFinite(expected) || expected === 0) return null;
  const d = ((measured - expected) / expected) * 100;
  return `${d >= 0 ? '+' : '−'}${Math.abs(d).toFixed(1)}%`;
}
