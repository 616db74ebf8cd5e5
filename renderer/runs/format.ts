/** Small formatters shared by the Runs view. */
export function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

export function percent(v: number | null | undefined, digits = 1): string {
  return v === null || v === undefined ? '–' : `${(v * 100).toFixed(digits)}%`;
}

/** "Mar 3, 14:05" this year, with the year otherwise: dense but unambiguous. */
export function created(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const sameYear = d.getFullYear() === new Date().getFullYear();
  return d.toLocaleString('en-US', { month: 'short', day: 'numeric', ...(sameYear ? {} : { year: 'numeric' }), hour: '2-digit', minute: '2-digit', hour12: false });
}

export const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * "85.13% ± 0.31" (percent: two decimals) or "0.4211 ± 0.0123"; the mean alone when the sd is missing
 * or NaN (one seed), "–" without a mean. A no-break space after ±: a narrow column wraps before it.
 */
export function meanSd(mean: number | undefined, sd: number | undefined, asPercent: boolean): string {
  if (mean === undefined || !Number.isFinite(mean)) return '–';
  const [scale, digits, unit] = asPercent ? [100, 2, '%'] : [1, 4, ''];
  const main = `${(mean * scale).toFixed(digits)}${unit}`;
  return sd !== undefined && Number.isFinite(sd) ? `${main} ±\u00a0${(sd * scale).toFixed(digits)}` : main;
}
