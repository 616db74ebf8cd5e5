/** Builds a tfjs model from a spec: Keras topology JSON, with the few names tfjs spells differently mapped. */
import type * as TF from '@tensorflow/tfjs';
import { toKerasTopology } from '../../../../model/keras-json';
import type { ModelSpec } from '../../../../model/spec';
import type { ModelSummary } from '../../../../model/summary';
import { seedInitializers } from './seeds';

export interface BuildOptions {
  /** Seeds every initializer without a seed of its own from this run seed (reproducible weights). */
  seed?: number;
  /** The spec's summary when the caller has it (a model built once per backend is summarized once). */
  summary?: ModelSummary;
}

export async function buildModel(tf: typeof TF, spec: ModelSpec, options: BuildOptions = {}): Promise<TF.LayersModel> {
  // kerasVariance: tfjs' truncated-normal initializers skip Keras' 0.8796 correction and sample
  // 12% narrow; Layerbench trains with the variances Keras (and the book) use.
  const topology = toKerasTopology(spec, { kerasVariance: true }, options.summary);
  if (options.seed !== undefined) seedInitializers(topology.config.layers, options.seed);
  return tf.models.modelFromJSON({ modelTopology: topology as unknown as TF.io.ModelJSON['modelTopology'] } as Parameters<typeof tf.models.modelFromJSON>[0]);
}

/** The model's input shape without the batch dimension, checked against the dataset's sample shape. */
export function inputShapeOf(spec: ModelSpec, sampleShape: number[]): number[] {
  const first = spec.config.layers[0];
  const declared = first?.config['batch_input_shape'] ?? first?.config['batch_shape'];
  if (!Array.isArray(declared) || declared.length < 2) {
    throw new Error(`The first layer (${first?.config.name ?? 'none'}) has no input shape`);
  }
  const shape = declared.slice(1).map(Number);
  const size = shape.reduce((a, b) => a * b, 1);
  const sampleSize = sampleShape.reduce((a, b) => a * b, 1);
  if (size !== sampleSize) {
    throw new Error(
      `The model's input shape [${shape.join(', ')}] holds ${size} values, but each sample of the dataset has ${sampleSize} ([${sampleShape.join(', ')}]): set the first layer's input shape to ${sampleShape.join(', ')}`,
    );
  }
  return shape;
}

/** Every variable of the built model with summary statistics of its current values. */
export async function inspectModel(tf: typeof TF, spec: ModelSpec) {
  const model = await buildModel(tf, spec);
  try {
    const trainable = new Set(model.trainableWeights.map((w) => w.originalName));
    const layers = [];
    for (const layer of model.layers) {
      const variables = [];
      for (const weight of layer.weights) {
        const values = (await weight.read().data()) as Float32Array;
        let sum = 0;
        let min = Infinity;
        let max = -Infinity;
        for (const v of values) {
          sum += v;
          if (v < min) min = v;
          if (v > max) max = v;
        }
        const mean = values.length ? sum / values.length : 0;
        let sq = 0;
        for (const v of values) sq += (v - mean) * (v - mean);
        variables.push({
          name: weight.originalName,
          shape: weight.shape.map(Number),
          trainable: trainable.has(weight.originalName),
          mean,
          std: values.length ? Math.sqrt(sq / values.length) : 0,
          min: values.length ? min : 0,
          max: values.length ? max : 0,
        });
      }
      layers.push({ name: layer.name, class_name: layer.getClassName(), variables });
    }
    return { layers };
  } finally {
    model.dispose();
  }
}
