/** Builds a tfjs model from a spec. The spec is Keras topology JSON, so tfjs deserialises it as is. */
import type * as TF from '@tensorflow/tfjs';
import type { ModelSpec } from '../../../model/spec';

export async function buildModel(tf: typeof TF, spec: ModelSpec): Promise<TF.LayersModel> {
  // A deep copy: tfjs mutates the config objects it deserialises.
  const topology = JSON.parse(JSON.stringify(spec)) as Parameters<typeof tf.models.modelFromJSON>[0];
  return tf.models.modelFromJSON(topology);
}

/** The model's input shape without the batch dimension, checked against the dataset's samples. */
export function inputShapeOf(spec: ModelSpec, pixelsPerSample: number): number[] {
  const first = spec.config.layers[0];
  const declared = first?.config['batch_input_shape'] ?? first?.config['batch_shape'];
  if (!Array.isArray(declared) || declared.length < 2) {
    throw new Error(`The first layer (${first?.config.name ?? 'none'}) has no input shape`);
  }
  const shape = declared.slice(1).map(Number);
  const size = shape.reduce((a, b) => a * b, 1);
  if (size !== pixelsPerSample) {
    throw new Error(`The model's input shape [${shape.join(', ')}] holds ${size} values, but each Fashion-MNIST image has ${pixelsPerSample} (28×28)`);
  }
  return shape;
}
