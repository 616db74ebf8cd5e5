/**
 * `summarize(spec)`: what Keras' `model.summary()` reports (per-layer output shape and parameter
 * counts, totals, trainable / non-trainable), plus every problem found, attributed to its layer and
 * field. Never throws.
 */
import type { InitializerSpec, LayerSpec, ModelSpec } from './spec';
import { buildLayer, formatShape, validateBatchInputShape, validateLayer, withDefaults, type LayerResult, type Shape, type VariableInfo } from './layers';
import { initializerStats, type ExportOptions, type InitializerStats } from './initializers';

export interface LayerSummary {
  name: string;
  class_name: string;
  /** Input shape with the batch dimension (null when it could not be computed). */
  input_shape: (number | null)[] | null;
  output_shape: (number | null)[] | null;
  params: number;
  trainable_params: number;
  non_trainable_params: number;
  /** The variables Keras creates, in Keras' order (e.g. gamma, beta, moving_mean, moving_variance). */
  variables: VariableInfo[];
  /** This layer's problems, or why it has no shape (an earlier layer failed). */
  error?: string;
}

export interface SummaryError {
  /** Index in spec.config.layers; -1 for a problem with the model as a whole. */
  layerIndex: number;
  layerName: string;
  field?: string;
  message: string;
}

export interface ModelSummary {
  name: string;
  layers: LayerSummary[];
  total: number;
  trainable: number;
  non_trainable: number;
  /** Root causes only: layers that merely lost their input shape are not repeated here. */
  errors: SummaryError[];
  valid: boolean;
}

function layerName(layer: unknown, index: number): string {
  const name = (layer as LayerSpec | undefined)?.config?.name;
  return typeof name === 'string' && name !== '' ? name : `layer_${index}`;
}

export function summarize(spec: ModelSpec): ModelSummary {
  const errors: SummaryError[] = [];
  const layers: LayerSummary[] = [];
  const modelName = typeof spec?.config?.name === 'string' ? spec.config.name : 'sequential';
  const list: unknown = spec?.config?.layers;
  if (!Array.isArray(list) || list.length === 0) {
    errors.push({ layerIndex: -1, layerName: '', message: Array.isArray(list) ? 'the model has no layers' : 'config.layers must be a list of layers' });
    return { name: modelName, layers, total: 0, trainable: 0, non_trainable: 0, errors, valid: false };
  }

  const seen = new Map<string, number>();
  let shape: Shape | null = null;
  let brokenAt: { index: number; name: string } | null = null;

  list.forEach((raw, index) => {
    const layer = (raw ?? {}) as LayerSpec;
    const name = layerName(layer, index);
    const class_name = typeof layer.class_name === 'string' ? layer.class_name : String(layer.class_name);
    const push = (message: string, field?: string) => errors.push({ layerIndex: index, layerName: name, ...(field ? { field } : {}), message });
    const messages: string[] = [];

    if (index === 0) {
      const bis = withDefaults(layer).config?.batch_input_shape;
      const problem = validateBatchInputShape(bis);
      if (problem) {
        push(problem, 'batch_input_shape');
        messages.push(problem);
      } else {
        shape = [...(bis as Shape)];
      }
    }
    const cfgName = layer.config?.name;
    if (typeof cfgName === 'string' && seen.has(cfgName)) {
      const m = `name '${cfgName}' is already used by layer ${seen.get(cfgName)}; layer names must be unique`;
      push(m, 'name');
      messages.push(m);
    } else if (typeof cfgName === 'string') {
      seen.set(cfgName, index);
    }

    const input = shape;
    // Without an input shape the layer's own settings are still checked; it just has no shape.
    const result: LayerResult =
      input === null ? { output_shape: null, variables: [], params: 0, trainable_params: 0, non_trainable_params: 0, issues: validateLayer(layer) } : buildLayer(layer, input);
    for (const issue of result.issues) {
      push(issue.message, issue.field);
      messages.push(issue.message);
    }
    if (input === null && brokenAt && index > 0) {
      messages.push(`no input shape: layer ${brokenAt.index} ('${brokenAt.name}') has an error`);
    }

    layers.push({
      name,
      class_name,
      input_shape: input,
      output_shape: result.output_shape,
      params: result.params,
      trainable_params: result.trainable_params,
      non_trainable_params: result.non_trainable_params,
      variables: result.variables,
      ...(messages.length ? { error: messages.join('; ') } : {}),
    });
    if (result.output_shape === null && !brokenAt) brokenAt = { index, name };
    shape = result.output_shape;
  });

  const sum = (f: (l: LayerSummary) => number) => layers.reduce((a, l) => a + f(l), 0);
  const trainable = sum((l) => l.trainable_params);
  const nonTrainable = sum((l) => l.non_trainable_params);
  return { name: modelName, layers, total: trainable + nonTrainable, trainable, non_trainable: nonTrainable, errors, valid: errors.length === 0 };
}

const thousands = (n: number) => n.toLocaleString('en-US');

/** Keras-style text table (Layer (type) / Output Shape / Param #, then the totals). */
export function formatSummaryTable(summary: ModelSummary): string {
  const rows = summary.layers.map((l) => [`${l.name} (${l.class_name})`, l.output_shape ? formatShape(l.output_shape) : l.error ? 'error' : '?', String(l.params)]);
  const head = ['Layer (type)', 'Output Shape', 'Param #'];
  const widths = [0, 1, 2].map((c) => Math.max(head[c].length, ...rows.map((r) => r[c].length)) + 3);
  const width = widths.reduce((a, b) => a + b, 0);
  const line = (cells: string[]) =>
    ' ' +
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join('')
      .trimEnd();
  const out = [`Model: "${summary.name}"`, '_'.repeat(width), line(head), '='.repeat(width)];
  rows.forEach((r, i) => {
    if (i > 0) out.push('');
    out.push(line(r));
  });
  out.push('='.repeat(width));
  out.push(`Total params: ${thousands(summary.total)}`);
  out.push(`Trainable params: ${thousands(summary.trainable)}`);
  out.push(`Non-trainable params: ${thousands(summary.non_trainable)}`);
  out.push('_'.repeat(width));
  if (summary.errors.length) {
    out.push(`${summary.errors.length} error${summary.errors.length === 1 ? '' : 's'}:`);
    for (const e of summary.errors) {
      const where = e.layerIndex < 0 ? 'model' : `layer ${e.layerIndex} '${e.layerName}'${e.field ? ` (${e.field})` : ''}`;
      out.push(`  ${where}: ${e.message}`);
    }
  }
  return out.join('\n');
}

export interface VariableInitReport {
  layerIndex: number;
  layerName: string;
  variable: string;
  shape: number[];
  initializer: InitializerSpec;
  stats: InitializerStats;
}

/**
 * Initializer statistics of every variable of every layer that has a shape: fans (Keras'
 * compute_fans), σ², uniform limit, Keras' std and the std TF.js samples from toKerasTopology(spec, options).
 */
export function initializerReport(spec: ModelSpec, options: ExportOptions = {}, summary: ModelSummary = summarize(spec)): VariableInitReport[] {
  const out: VariableInitReport[] = [];
  summary.layers.forEach((l, index) => {
    const cfg = withDefaults(spec.config.layers[index]).config as Record<string, unknown>;
    for (const v of l.variables) {
      const init = cfg[v.initializer_field] as InitializerSpec;
      try {
        out.push({ layerIndex: index, layerName: l.name, variable: v.name, shape: v.shape, initializer: init, stats: initializerStats(init, v.shape, options) });
      } catch {
        // an invalid initializer is already reported by summarize()
      }
    }
  });
  return out;
}
