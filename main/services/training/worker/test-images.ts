/**
 * Shared by the tests (not used by the app): the wasm backend as the worker runs it (fast matmul
 * installed) and the first `count` real Fashion-MNIST training images, scaled to [0, 1].
 */
import type * as TF from '@tensorflow/tfjs';
import { expect } from 'vitest';
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
