/**
 * Weights as plain arrays: every writer takes a spec and a map from Keras variable name
 * (`dense/kernel`, `batch_normalization/moving_mean`) to a row-major Float32Array and its shape,
 * so none of them needs TensorFlow.js.
 */
import { summarize, ModelSpecError, type ModelSpec } from '../../../model';
import { formatBytes, limit, LIMITS_ENV, overLimit } from '../files/bounded-read';
import { ExportError, fileError } from './errors';

export interface WeightValue {
  shape: number[];
  data: Float32Array;
}

/** Keras variable name → value. */
export type NamedWeights = Map<string, WeightValue>;

export interface ModelVariable {
  /** Keras' variable name, e.g. `dense/kernel`. */
  name: string;
  /** The part after the layer name, e.g. `kernel`, `moving_mean`. */
  short: string;
  layer: string;
  layerIndex: number;
  shape: number[];
  trainable: boolean;
}

export interface ModelLayerInfo {
  name: string;
  class_name: string;
  input_shape: (number | null)[];
  output_shape: (number | null)[];
  variables: ModelVariable[];
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** The layers of a valid spec with their shapes and variables in Keras' order. Throws ModelSpecError. */
export function modelLayers(spec: ModelSpec): ModelLayerInfo[] {
  const summary = summarize(spec);
  if (!summary.valid) throw new ModelSpecError(summary.errors);
  return summary.layers.map((l, layerIndex) => ({
    name: l.name,
    class_name: l.class_name,
    input_shape: l.input_shape!,
    output_shape: l.output_shape!,
    variables: l.variables.map((v) => ({
      name: v.name,
      short: v.name.slice(l.name.length + 1),
      layer: l.name,
      layerIndex,
      shape: [...v.shape],
      trainable: v.trainable,
    })),
  }));
}

/**
 * Checks that `weights` holds exactly the spec's variables with the spec's shapes; returns the
 * variables in Keras' order. `source` names where the weights came from, for the message.
 */
export function checkWeights(spec: ModelSpec, weights: NamedWeights, source: string): ModelVariable[] {
  const variables = modelLayers(spec).flatMap((l) => l.variables);
  const missing = variables.filter((v) => !weights.has(v.name));
  if (missing.length) {
    throw new ExportError('invalid-input', `${source}: no weights for ${missing.map((v) => `'${v.name}'`).join(', ')} (the weights do not belong to this model)`, source);
  }
  const known = new Set(variables.map((v) => v.name));
  const extra = [...weights.keys()].filter((n) => !known.has(n));
  if (extra.length) {
    throw new ExportError('invalid-input', `${source}: weights ${extra.map((n) => `'${n}'`).join(', ')} belong to no variable of the model`, source);
  }
  for (const v of variables) {
    const w = weights.get(v.name)!;
    if (w.shape.length !== v.shape.length || w.shape.some((d, i) => d !== v.shape[i])) {
      throw new ExportError('invalid-input', `${source}: weight '${v.name}' has shape [${w.shape.join(', ')}], but layer '${v.layer}' needs [${v.shape.join(', ')}]`, source);
    }
    if (w.data.length !== size(v.shape)) {
      throw new ExportError('invalid-input', `${source}: weight '${v.name}' holds ${w.data.length} values, its shape [${v.shape.join(', ')}] needs ${size(v.shape)}`, source);
    }
  }
  return variables;
}

/**
 * Refuses a model whose weights (as float32, what reading them allocates) would exceed
 * $LAYERBENCH_MAX_FILE_BYTES, before any is read: a small file may declare a huge model.
 */
export function checkDeclaredWeights(layers: readonly ModelLayerInfo[], path: string): void {
  const values = layers.reduce((n, l) => n + l.variables.reduce((m, v) => m + v.shape.reduce((a, b) => a * b, 1), 0), 0);
  const maxBytes = limit('fileBytes');
  if (values * 4 > maxBytes) {
    throw fileError(
      'limit',
      path,
      `the model declares ${values.toLocaleString('en-US')} weights (${formatBytes(values * 4)} as float32), ${overLimit({ maxBytes, limitEnv: LIMITS_ENV.fileBytes.name })}`,
    );
  }
}
