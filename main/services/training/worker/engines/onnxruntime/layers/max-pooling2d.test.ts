/**
 * MaxPooling2D's backward nodes against tfjs' MaxPoolGrad ('cpu' backend, where the app trains
 * pooling models) on inputs full of ties: each window's gradient goes to its first maximum in
 * row-major order and overlapping windows add up, for every padding and stride layout Keras allows.
 */
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ModelSpec } from '../../../../../../../model/spec';
import { GraphBuilder, onnxModelProto } from '../../../../../export/onnx';
import { modelLayers } from '../../../../../export/weights';
import { graphContext } from './graph';
import { maxPooling2dLayer } from './max-pooling2d';

const [N, H, W, C] = [2, 7, 6, 3];

/** The layer's forward output and input gradient for `dy`, from a graph of its nodes alone. */
async function ortPool(cfg: Record<string, unknown>, x: Float32Array, dyOf: (outShape: number[]) => Float32Array) {
  const spec: ModelSpec = {
    class_name: 'Sequential',
    config: { name: 'pool', layers: [{ class_name: 'MaxPooling2D', config: { name: 'pool', batch_input_shape: [null, H, W, C], ...cfg } }] },
  };
  const info = modelLayers(spec)[0]!;
  const outShape = [N, ...(info.output_shape.slice(1) as number[])];
  const g = new GraphBuilder();
  for (const name of ['x', 'dy', 'y', 'dx']) g.unique(name);
  const full = { pool_size: [2, 2], strides: null, padding: 'valid', data_format: 'channels_last', ...cfg };
  const out = maxPooling2dLayer.build({ c: graphContext(g), info, cfg: full, vars: {}, input: 'x', needDx: true, last: false, grads: new Map(), next: new Map(), masks: [] });
  const dx = out.back('dy')!;
  g.nodes.push({ op: 'Identity', inputs: [out.y], output: 'y', name: 'y' }, { op: 'Identity', inputs: [dx], output: 'dx', name: 'dx' });
  const bytes = onnxModelProto(g, {
    graphName: 'pool',
    doc: 'MaxPooling2D forward and backward',
    inputs: [
      { name: 'x', dims: [null, H, W, C] },
      { name: 'dy', dims: [null, ...outShape.slice(1)] },
    ],
    outputs: [
      { name: 'y', dims: [null, ...outShape.slice(1)] },
      { name: 'dx', dims: [null, H, W, C] },
    ],
  });
  const session = await ort.InferenceSession.create(bytes);
  try {
    const dy = dyOf(outShape);
    const result = await session.run({ x: new ort.Tensor('float32', x, [N, H, W, C]), dy: new ort.Tensor('float32', dy, outShape) });
    return { y: result.y!.data as Float32Array, dx: result.dx!.data as Float32Array, dy, outShape };
  } finally {
    await session.release();
  }
}

describe("MaxPooling2D's gradient routes ties as tfjs' MaxPoolGrad does", () => {
  beforeAll(async () => {
    expect(await tf.setBackend('cpu')).toBe(true);
  });
  // Values in {0, 1, 2}: most windows hold their maximum more than once.
  let seed = 12345;
  const x = Float32Array.from({ length: N * H * W * C }, () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % 3;
  });
  const cases: [string, Record<string, unknown>][] = [
    ['2×2, strides = pool, valid (Keras default)', {}],
    ['3×3, strides 2, same (overlapping, padded)', { pool_size: [3, 3], strides: [2, 2], padding: 'same' }],
    ['2×2, strides 1, valid (every inner value in four windows)', { pool_size: [2, 2], strides: [1, 1] }],
    ['2×1, strides [1, 2], valid', { pool_size: [2, 1], strides: [1, 2] }],
    ['3×2, strides [2, 3], same', { pool_size: [3, 2], strides: [2, 3], padding: 'same' }],
  ];
  for (const [label, cfg] of cases) {
    it(label, async () => {
      const pool = (cfg.pool_size as [number, number] | undefined) ?? [2, 2];
      const strides = (cfg.strides as [number, number] | undefined) ?? pool;
      const padding = (cfg.padding as 'same' | 'valid' | undefined) ?? 'valid';
      // Distinct upstream values, so that a gradient sent to the wrong tied position shows.
      const actual = await ortPool(cfg, x, (shape) => Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => 1 + i));
      const xt = tf.tensor4d(x, [N, H, W, C]);
      const dyt = tf.tensor(actual.dy, actual.outShape);
      const expectedY = tf.maxPool(xt, pool, strides, padding);
      const expectedDx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(t as tf.Tensor4D, pool, strides, padding), dyt)))(xt);
      expect(expectedY.shape).toEqual(actual.outShape);
      expect(Array.from(actual.y)).toEqual(Array.from(expectedY.dataSync()));
      expect(Array.from(actual.dx)).toEqual(Array.from(expectedDx.dataSync()));
      tf.dispose([xt, dyt, expectedY, expectedDx]);
    });
  }
});
