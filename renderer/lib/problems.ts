/** Turns the model package's errors into the short lines the stack, the fields and Train show. */
import type { ModelSummary, SummaryError } from '../../model';

/**
 * "dense_1.units: must be a positive whole number, got 0" — where, then what. The model package's
 * messages often start with the field's own name ("units must be ..."); it is not repeated.
 */
export function problemText(e: SummaryError): string {
  if (e.layerIndex < 0) return e.message.charAt(0).toUpperCase() + e.message.slice(1);
  if (!e.field) return `${e.layerName}: ${e.message}`;
  let message = e.message;
  if (message.startsWith(`${e.field}: `)) message = message.slice(e.field.length + 2);
  else if (message.startsWith(`${e.field} must `)) message = message.slice(e.field.length + 1);
  return `${e.layerName}.${e.field}: ${message}`;
}

/** What blocks training, or null when the model is valid. */
export function firstProblem(summary: ModelSummary): string | null {
  const first = summary.errors[0];
  return first ? problemText(first) : null;
}

export function layerErrors(summary: ModelSummary, index: number): SummaryError[] {
  return summary.errors.filter((e) => e.layerIndex === index);
}

/** Errors of a layer keyed by field ('' for the layer as a whole). */
export function errorsByField(summary: ModelSummary, index: number): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const e of layerErrors(summary, index)) {
    const key = e.field ?? '';
    map.set(key, [...(map.get(key) ?? []), e.message]);
  }
  return map;
}
