/**
 * Shared by the tests (not used by the app): the wasm backend as the worker runs it (fast matmul
 * installed) and the first `count` real Fashion-MNIST training images, scaled to [0, 1].
 */
import type * as TF from '@tensorflow/tfjs';
import { beforeAll, expect } from 'vitest';
import { loadFashionMnist } from '../../datasets/fashion-mnist';
import { installFastWasmMatMul } from './kernels/wasm-matmul';

export async function wasmWithFashionImages(tf: typeof TF, count: number): Promise<{ xs: Float32Array; ys: Int32Array }> {
  expect(await tf.setBackend('wasm')).toBe(true);
  await tf.ready();
  expect(installFastWasmMatMul(tf).installed).toBe(true);
  const data = await loadFashionMnist('/usr/share/datasets/fashion-mnist', 'train');
  const xs = new Float32Array(count * 784);
  for (let i = 0; i < xs.length; i++) xs[i] = data.images[i]! / 255;
  return { xs, ys: Int32Array.from(data.labels.subarray(0, count)) };
}

/** Step `step`'s batch of `n` images (and their labels) out of the images loaded before a suite's tests. */
export interface FashionBatches {
  x(step: number, n?: number): Float32Array;
  y(step: number, n?: number): Int32Array;
}

/** Sets up the wasm backend and loads `steps` batches of `batch` real images in the calling suite's beforeAll. */
export function useFashionBatches(tf: typeof TF, batch: number, steps: number): FashionBatches {
  let xs: Float32Array = new Float32Array(0);
  let ys: Int32Array = new Int32Array(0);
  beforeAll(async () => {
    ({ xs, ys } = await wasmWithFashionImages(tf, batch * steps));
  });
  return {
    x: (step, n = batch) => xs.subarray(step * n * 784, (step + 1) * n * 784),
    y: (step, n = batch) => ys.subarray(step * n, (step + 1) * n),
  };
}
