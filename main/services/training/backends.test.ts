/** The real probe on this machine: no native TensorFlow here, so it must fall back to wasm and say why. */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { defaultLoaders, probeBackends } from './backends';

describe('probeBackends', () => {
  it('skips the native backends with the reason and activates wasm', async () => {
    const report = await probeBackends(tf);
    expect(report.candidates.map((c) => c.name)).toEqual(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']);
    const [gpu, native, wasm, cpu] = report.candidates;
    expect(gpu).toMatchObject({ status: 'skipped', package: '@tensorflow/tfjs-node-gpu' });
    expect(gpu!.reason).toMatch(/tfjs-node-gpu|CUDA|native addon/i);
    expect(native).toMatchObject({ status: 'skipped', package: '@tensorflow/tfjs-node' });
    expect(native!.reason).toMatch(/tfjs-node|native addon/i);
    expect(wasm).toMatchObject({ status: 'active' });
    expect(cpu).toMatchObject({ status: 'not-tried' });
    expect(report.active).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    // The active backend really computes.
    expect(Array.from(await tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]])).data())).toEqual([11]);
  });

  it('reports every failure when nothing can start', async () => {
    const failing = defaultLoaders().slice(0, 2);
    await expect(probeBackends(tf, failing)).rejects.toThrow(/No TensorFlow.js backend could start: tensorflow-gpu: .+; tensorflow: .+/);
  });
});
