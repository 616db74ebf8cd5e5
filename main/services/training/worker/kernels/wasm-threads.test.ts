/**
 * The threaded SIMD wasm build under Node (kernels/wasm-threads.ts), on the real backend: it
 * starts with 2 XNNPACK threads, computes what tfjs' reference `cpu` backend computes (products,
 * Dense gradients, a few SGD steps of a BN/Dense model), and its pool ends on dispose. This file
 * owns its process's 'wasm' backend (vitest runs each test file in its own worker).
 */
import * as tf from '@tensorflow/tfjs';
import * as wasmBackend from '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installFastWasmMatMul } from './wasm-matmul';
import { disposeThreadedWasm, registerThreadedWasm, threadedWasmThreads } from './wasm-threads';

function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return diff / (scale || 1);
}

/** Runs `f` on a backend and returns plain arrays (the tensors are disposed). */
async function on(backend: string, f: () => tf.Tensor[]): Promise<Float32Array[]> {
  expect(await tf.setBackend(backend)).toBe(true);
  return tf.tidy(f).map((t) => {
    const data = t.dataSync() as Float32Array;
    t.dispose();
    return data;
  });
}

function inputs(seed: number, shapes: number[][]): tf.Tensor[] {
  return shapes.map((shape, i) => tf.randomNormal(shape, 0, 1, 'float32', seed + i));
}

describe('threaded SIMD wasm under Node', () => {
  beforeAll(async () => {
    const result = registerThreadedWasm(tf, wasmBackend, { threads: 2 });
    expect(result).toEqual({ registered: true, threads: 2 });
    expect(await tf.setBackend('wasm')).toBe(true);
    expect(installFastWasmMatMul(tf).installed).toBe(true);
  });
  afterAll(() => disposeThreadedWasm(tf));

  it('runs with 2 XNNPACK threads', () => {
    expect(threadedWasmThreads(wasmBackend)).toBe(2);
    const module = (tf.engine().findBackend('wasm') as unknown as { wasm: { PThread: { runningWorkers: unknown[] } } }).wasm;
    expect(module.PThread.runningWorkers.length).toBe(1);
  });

  it('computes products and Dense gradients as the cpu backend does', async () => {
    const shapes = [
      [32, 784, 300],
      [256, 300, 100],
      [7, 13, 5],
    ];
    for (const [m, k, n] of shapes) {
      const f = () => {
        const [x, w, dy] = inputs(m! + k! + n!, [
          [m!, k!],
          [k!, n!],
          [m!, n!],
        ]);
        const y = tf.matMul(x!, w!);
        const dw = tf.matMul(x!, dy!, true, false);
        const dx = tf.matMul(dy!, w!, false, true);
        return [y, dw, dx];
      };
      const expected = await on('cpu', f);
      const actual = await on('wasm', f);
      for (let i = 0; i < expected.length; i++) expect(relativeError(actual[i]!, expected[i]!)).toBeLessThan(1e-4);
    }
  });

  it('trains a BN/Dense model to the same losses as the cpu backend', async () => {
    const losses = async (backend: string): Promise<number[]> => {
      expect(await tf.setBackend(backend)).toBe(true);
      const model = tf.sequential({
        layers: [
          tf.layers.dense({ inputShape: [20], units: 16, activation: 'elu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
          tf.layers.batchNormalization(),
          tf.layers.dense({ units: 4, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
        ],
      });
      model.compile({ optimizer: tf.train.sgd(0.05), loss: 'sparseCategoricalCrossentropy' });
      const x = tf.randomNormal([64, 20], 0, 1, 'float32', 3);
      const y = tf.tensor1d(
        Array.from({ length: 64 }, (_, i) => i % 4),
        'float32',
      );
      const out: number[] = [];
      for (let step = 0; step < 10; step++) out.push(Number(await model.trainOnBatch(x, y)));
      tf.dispose([x, y]);
      model.dispose();
      return out;
    };
    const expected = await losses('cpu');
    const actual = await losses('wasm');
    for (let i = 0; i < expected.length; i++) expect(Math.abs(actual[i]! - expected[i]!)).toBeLessThan(1e-4);
  });

  it('ends its pool on dispose', async () => {
    expect(await tf.setBackend('wasm')).toBe(true);
    const module = (tf.engine().findBackend('wasm') as unknown as { wasm: { PThread: { runningWorkers: unknown[]; unusedWorkers: unknown[] } } }).wasm;
    disposeThreadedWasm(tf);
    expect(module.PThread.runningWorkers.length).toBe(0);
    expect(threadedWasmThreads(wasmBackend)).toBeNull();
  });
});
