/**
 * Text ↔ value for the property panel's inputs. The panel never rejects what the user types: text
 * that is not a number goes into the spec as the string itself (and empty text as null), so the
 * model package reports it at the field ("units must be a positive whole number, got 'abc'") instead
 * of the input silently snapping back. Every stored value is JSON-safe (no NaN or Infinity).
 */
/** The props of a field that edits a Keras `{class_name, config}` object (regularizer, constraint); `key` names the config entry changed. */
export type ObjectFieldProps = { id: string; hint: string; value: unknown; errors?: string[]; onchange: (value: unknown, key?: string) => void };

const NUMBER_RE = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?$/i;

/** A number when the text is a finite number, null when empty, otherwise the trimmed text. */
export function parseNumber(text: string): number | string | null {
  const t = text.trim();
  if (t === '') return null;
  if (NUMBER_RE.test(t)) {
    const n = Number(t);
    if (Number.isFinite(n)) return n;
  }
  return t;
}

/**
 * A list of dimensions: "28, 28", "(28, 28)", "[7, 7, 16]", "3x3", "None, 10". Each entry is a
 * number or null (None); anything else gives back the trimmed text. Empty text gives null.
 */
export function parseList(text: string): (number | null)[] | string | null {
  const t = text.trim();
  if (t === '') return null;
  const inner = t.replace(/^[[(]\s*/, '').replace(/\s*[\])]$/, '');
  const parts = inner.split(/\s*[,×x]\s*|\s+/);
  // A trailing comma is Python's one-tuple "(784,)"; an empty entry anywhere else is a typo.
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  if (parts.some((p) => p === '')) return t;
  const out: (number | null)[] = [];
  for (const p of parts) {
    if (/^(none|null)$/i.test(p)) out.push(null);
    else {
      const n = parseNumber(p);
      if (typeof n !== 'number') return t;
      out.push(n);
    }
  }
  return out;
}

/** kernel_size / strides / pool_size: one number means the same along both axes, as in Keras. */
export function parsePair(text: string): (number | null)[] | string | null {
  const v = parseList(text);
  return Array.isArray(v) && v.length === 1 ? [v[0]!, v[0]!] : v;
}

/** batch_input_shape is edited without its batch dimension: "28, 28" ↔ [null, 28, 28]. */
export function parseInputShape(text: string): (number | null)[] | string | null {
  const v = parseList(text);
  return Array.isArray(v) ? [null, ...v] : v;
}

/** The text an input shows for a stored value of any kind. */
export function formatValue(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.map((d) => (d === null ? 'None' : formatValue(d))).join(', ');
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

export function formatInputShape(v: unknown): string {
  return Array.isArray(v) ? formatValue(v.slice(1)) : formatValue(v);
}

/** Deep equality of JSON-safe values: decides whether an input's text still matches the spec. */
export function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The `config` of a Keras `{class_name, config}` value (a regularizer, a constraint); {} for anything else. */
export function configOf(value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return {};
  const c = (value as { config?: unknown }).config;
  return typeof c === 'object' && c !== null ? (c as Record<string, unknown>) : {};
}
