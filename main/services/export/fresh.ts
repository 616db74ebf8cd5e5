/**
 * Fresh (initialised, untrained) weights for a spec: the model is built in TensorFlow.js exactly as
 * the app builds it for training, and its initial values are read out. TensorFlow.js is imported
 * only when this runs, on its pure-JS 'cpu' backend unless a backend is already active.
 */
import type * as TF from '@tensorflow/tfjs';
import type { ModelSpec } from '../../../model';
import { buildModel } from '../training/worker/build-model';
import type { NamedWeights } from './weights';

/** Runs `f` with tfjs' one-time Node hint ("install tfjs-node", printed on the cpu backend's first tensor) filtered out. */
async function withoutNodeHint<T>(f: () => Promise<T>): Promise<T> {
  const { warn } = console;
  console.warn = (...args: unknown[]) => {
    if (!args.some((a) => typeof a === 'string' && a.includes('running TensorFlow.js in Node.js'))) warn(...args);
  };
  try {
    return await f();
  } finally {
    console.warn = warn;
  }
}

export async function freshWeights(spec: ModelSpec): Promise<NamedWeights> {
  const tf: typeof TF = await import('@tensorflow/tfjs');
  return withoutNodeHint(async () => {
    await tf.ready();
    const model = await buildModel(tf, spec);
    try {
      const weights: NamedWeights = new Map();
      for (const w of model.weights) {
        weights.set(w.originalName, { shape: w.shape.map(Number), data: new Float32Array((await w.read().data()) as Float32Array) });
      }
      return weights;
    } finally {
      model.dispose();
    }
  });
}
