/**
 * The fast wasm matmul against the stock wasm kernel it wraps, on the real wasm backend:
 * same products for every transpose combination and batch shape, same Dense gradients, same
 * training losses, no leaked tensors or wasm buffers, and clean install / uninstall.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../data';
import { fastWasmMatMulStats, installFastWasmMatMul, isFastWasmMatMulInstalled, planBatchMatMul, uninstallFastWasmMatMul } from './wasm-matmul';

beforeAll(async () => {
  expect(await tf.setBackend('wasm')).toBe(true);
  await tf.ready();
});

afterEach(() => {
  uninstallFastWasmMatMul(tf);
});

/** max |a − b| / max |b|: the error relative to the result's scale. */
function relativeError(actual: Float32Array | number[], expected: Float32Array | number[]): number {
  expect(actual.length).toBe(expected.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return scale === 0 ? diff : diff / scale;
}

/** Runs f with the stock kernels, then with the fast ones, and returns both results' values and shapes. */
function stockAndFast(f: () => tf.Tensor): { stock: { shape: number[]; values: Float32Array }; fast: { shape: number[]; values: Float32Array } } {
  uninstallFastWasmMatMul(tf);
  const s = f();
  const stock = { shape: s.shape, values: s.dataSync() as Float32Array };
  s.dispose();
  expect(installFastWasmMatMul(tf).installed).toBe(true);
  const r = f();
  const fast = { shape: r.shape, values: r.dataSync() as Float32Array };
  r.dispose();
  uninstallFastWasmMatMul(tf);
  return { stock, fast };
}

const combos: [boolean, boolean][] = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
];

describe('installFastWasmMatMul', () => {
  it('installs on wasm, is idempotent, and uninstall restores the stock kernels', () => {
    const stockBatch = tf.getKernel('BatchMatMul', 'wasm');
    const stockFused = tf.getKernel('_FusedMatMul', 'wasm');
    expect(stockBatch).toBeDefined();
    expect(isFastWasmMatMulInstalled(tf)).toBe(false);

    const first = installFastWasmMatMul(tf);
    expect(first).toEqual({ installed: true, kernels: stockFused ? ['BatchMatMul', '_FusedMatMul'] : ['BatchMatMul'] });
    const wrapped = tf.getKernel('BatchMatMul', 'wasm');
    expect(wrapped).not.toBe(stockBatch);
    expect(wrapped!.setupFunc).toBe(stockBatch!.setupFunc);

    // A second install keeps the same wrapper (no wrapper around the wrapper).
    expect(installFastWasmMatMul(tf).installed).toBe(true);
    expect(tf.getKernel('BatchMatMul', 'wasm')).toBe(wrapped);

    expect(uninstallFastWasmMatMul(tf)).toBe(true);
    expect(tf.getKernel('BatchMatMul', 'wasm')).toBe(stockBatch);
    expect(tf.getKernel('_FusedMatMul', 'wasm')).toBe(stockFused);
    expect(uninstallFastWasmMatMul(tf)).toBe(false);
  });

  it('does nothing, and says why, when the active backend is not wasm', async () => {
    expect(await tf.setBackend('cpu')).toBe(true);
    try {
      const result = installFastWasmMatMul(tf);
      expect(result.installed).toBe(false);
      expect(result.reason).toMatch(/'cpu', not 'wasm'/);
      expect(isFastWasmMatMulInstalled(tf)).toBe(false);
    } finally {
      expect(await tf.setBackend('wasm')).toBe(true);
    }
  });

  it('plans the formulation that moves fewer elements', () => {
    // dx = dy·Wᵀ at batch 32 (dy 32×300, W 784×300): transposing dy and the 32×784 result beats W.
    expect(planBatchMatMul(32 * 300, 784 * 300, 32 * 784, false, true).plan).toBe('swapped');
    // …but not at batch 512.
    expect(planBatchMatMul(512 * 300, 784 * 300, 512 * 784, false, true).plan).toBe('direct');
    // dW = xᵀ·dy: transposing x is always the cheaper.
    expect(planBatchMatMul(32 * 784, 32 * 300, 784 * 300, true, false).plan).toBe('direct');
    // Aᵀ·Bᵀ = (B·A)ᵀ: one transpose of the result.
    expect(planBatchMatMul(100 * 50, 60 * 100, 50 * 60, true, true)).toEqual({ plan: 'swapped', moved: 3000 });
  });
});

describe('fast BatchMatMul', () => {
  it('equals the stock kernel for random shapes, batch dims and all four transpose combinations', () => {
    const random = seededRandom(7);
    const dim = () => 1 + Math.floor(random() * 70);
    // [batch dims of A, batch dims of B]; broadcasting as the stock kernel supports it.
    const batches: [number[], number[]][] = [
      [[], []],
      [[3], [3]],
      [
        [2, 3],
        [2, 3],
      ],
      [[1], [4]],
      [[4], [1]],
      [[], [5]],
      [[2], []],
    ];
    let cases = 0;
    for (const [batchA, batchB] of batches) {
      for (const [transposeA, transposeB] of combos) {
        for (let trial = 0; trial < 3; trial++) {
          const mkn = [dim(), dim(), dim()];
          // One trial in three gets a size-1 dimension, which the stock Transpose treats specially.
          if (trial === 2) mkn[Math.floor(random() * 3)] = 1;
          const [m, k, n] = mkn as [number, number, number];
          const aShape = [...batchA, ...(transposeA ? [k, m] : [m, k])];
          const bShape = [...batchB, ...(transposeB ? [n, k] : [k, n])];
          const seed = Math.floor(random() * 1e6);
          const a = tf.randomNormal(aShape, 0, 1, 'float32', seed);
          const b = tf.randomNormal(bShape, 0, 1, 'float32', seed + 1);
          const { stock, fast } = stockAndFast(() => tf.matMul(a, b, transposeA, transposeB));
          const where = `A ${aShape} B ${bShape} tA=${transposeA} tB=${transposeB}`;
          expect(fast.shape, where).toEqual(stock.shape);
          expect(relativeError(fast.values, stock.values), where).toBeLessThan(1e-4);
          tf.dispose([a, b]);
          cases++;
        }
      }
    }
    expect(cases).toBe(batches.length * 4 * 3);
  });

  it('handles the size-1 and vector-like edge shapes', () => {
    const shapes: [number, number, number][] = [
      [1, 1, 1],
      [1, 5, 1],
      [5, 1, 5],
      [1, 7, 9],
      [9, 7, 1],
      [64, 1, 3],
    ];
    for (const [m, k, n] of shapes) {
      for (const [transposeA, transposeB] of combos) {
        const a = tf.randomUniform(transposeA ? [k, m] : [m, k], -1, 1, 'float32', m * 31 + k);
        const b = tf.randomUniform(transposeB ? [n, k] : [k, n], -1, 1, 'float32', n * 17 + k);
        const { stock, fast } = stockAndFast(() => tf.matMul(a, b, transposeA, transposeB));
        const where = `m=${m} k=${k} n=${n} tA=${transposeA} tB=${transposeB}`;
        expect(fast.shape, where).toEqual(stock.shape);
        expect(relativeError(fast.values, stock.values), where).toBeLessThan(1e-4);
        tf.dispose([a, b]);
      }
    }
  });

  it('raises the stock error for mismatched inner dimensions', () => {
    installFastWasmMatMul(tf);
    const a = tf.ones([3, 4]);
    const b = tf.ones([5, 6]);
    expect(() => tf.matMul(a, b, true, false)).toThrow(/inner shapes/);
    expect(() => tf.matMul(a, b, false, true)).toThrow(/inner shapes/);
    tf.dispose([a, b]);
  });

  it('leaks no tensors and no wasm buffers over 100 calls', () => {
    installFastWasmMatMul(tf);
    const x = tf.randomNormal([32, 784], 0, 1, 'float32', 1);
    const dy = tf.randomNormal([32, 300], 0, 1, 'float32', 2);
    const w = tf.randomNormal([784, 300], 0, 1, 'float32', 3);
    const before = tf.memory();
    for (let i = 0; i < 100; i++) {
      // All four combinations and both plans (dy·Wᵀ at batch 32 takes the swapped one).
      tf.matMul(x, dy, true, false).dispose();
      tf.matMul(dy, w, false, true).dispose();
      tf.matMul(w, x, true, true).dispose();
      tf.matMul(x, w).dispose();
    }
    const after = tf.memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numDataBuffers).toBe(before.numDataBuffers);
    expect(after.numBytes).toBe(before.numBytes);
    tf.dispose([x, dy, w]);
  });
});

describe('fast _FusedMatMul', () => {
  // Outside a gradient tape, tf.fused.matMul runs the _FusedMatMul kernel itself.
  const fused = (a: tf.Tensor, b: tf.Tensor, transposeA: boolean, transposeB: boolean, bias: tf.Tensor | undefined, activation: 'linear' | 'relu' | 'elu') =>
    tf.fused.matMul({ a, b, transposeA, transposeB, bias, activation });
  /** The same product unfused: stock BatchMatMul, Add and the activation. */
  const reference = (a: tf.Tensor, b: tf.Tensor, transposeA: boolean, transposeB: boolean, bias: tf.Tensor | undefined, activation: 'linear' | 'relu' | 'elu') =>
    tf.tidy(() => {
      const product = tf.matMul(a, b, transposeA, transposeB);
      const biased = bias ? tf.add(product, bias) : product;
      return activation === 'relu' ? tf.relu(biased) : activation === 'elu' ? tf.elu(biased) : biased;
    });

  it('equals the unfused product with bias and activation for all four transpose combinations', () => {
    if (!tf.getKernel('_FusedMatMul', 'wasm')) return;
    const random = seededRandom(11);
    for (const withBias of [false, true]) {
      for (const activation of ['linear', 'relu', 'elu'] as const) {
        for (const [transposeA, transposeB] of combos) {
          const [m, k, n] = [1 + Math.floor(random() * 40), 1 + Math.floor(random() * 40), 1 + Math.floor(random() * 40)];
          const a = tf.randomNormal(transposeA ? [k, m] : [m, k], 0, 1, 'float32', m);
          const b = tf.randomNormal(transposeB ? [n, k] : [k, n], 0, 1, 'float32', n);
          const bias = withBias ? tf.randomNormal([n], 0, 1, 'float32', k) : undefined;
          uninstallFastWasmMatMul(tf);
          const expected = reference(a, b, transposeA, transposeB, bias, activation);
          const stock = fused(a, b, transposeA, transposeB, bias, activation);
          installFastWasmMatMul(tf);
          const before = tf.memory();
          const fast = fused(a, b, transposeA, transposeB, bias, activation);
          // One new tensor (the result) and one new buffer: the temporaries are gone.
          expect(tf.memory().numTensors).toBe(before.numTensors + 1);
          expect(tf.memory().numDataBuffers).toBe(before.numDataBuffers + 1);
          const where = `bias=${withBias} ${activation} m=${m} k=${k} n=${n} tA=${transposeA} tB=${transposeB}`;
          expect(fast.shape, where).toEqual(expected.shape);
          expect(relativeError(fast.dataSync() as Float32Array, expected.dataSync() as Float32Array), where).toBeLessThan(1e-4);
          // Where the stock fused kernel is right (no transpose, or no bias) the two agree too. With a
          // transpose flag and a bias, tfjs-backend-wasm 4.22's own _FusedMatMul returns wrong values.
          if (!withBias || (!transposeA && !transposeB)) {
            expect(relativeError(fast.dataSync() as Float32Array, stock.dataSync() as Float32Array), where).toBeLessThan(1e-4);
          }
          tf.dispose([a, b, ...(bias ? [bias] : []), expected, stock, fast]);
        }
      }
    }
  });
});

describe('training with the fast kernels', () => {
  function tinyModel(): tf.Sequential {
    const model = tf.sequential({
      layers: [
        tf.layers.batchNormalization({ inputShape: [24], momentum: 0.99, epsilon: 1e-3 }),
        tf.layers.dense({ units: 16, activation: 'elu', kernelInitializer: tf.initializers.heNormal({ seed: 1 }) }),
        tf.layers.batchNormalization({ momentum: 0.99, epsilon: 1e-3 }),
        tf.layers.dense({ units: 5, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
      ],
    });
    return model;
  }

  it('gives a Dense layer the same gradients as the stock kernels', () => {
    const model = tinyModel();
    const x = tf.randomNormal([32, 24], 0, 1, 'float32', 5);
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1], 'int32'), 5);
    const grads = () => {
      const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar);
      const out = Object.fromEntries(Object.entries(grads).map(([name, g]) => [name, g.dataSync() as Float32Array]));
      tf.dispose([value, ...Object.values(grads)]);
      return out;
    };
    uninstallFastWasmMatMul(tf);
    const stock = grads();
    installFastWasmMatMul(tf);
    const fast = grads();
    expect(fastWasmMatMulStats(tf)!['BatchMatMul']!.direct).toBeGreaterThan(0);
    const names = Object.keys(stock);
    // Both Dense kernels and biases plus the BN gammas and betas.
    expect(names.length).toBe(8);
    expect(Object.keys(fast)).toEqual(names);
    for (const name of names) expect(relativeError(fast[name]!, stock[name]!), name).toBeLessThan(1e-4);
    tf.dispose([x, y]);
    model.dispose();
  });

  it('trains a tiny model to the same 20 losses from the same initial weights, without leaking', async () => {
    const model = tinyModel();
    model.compile({ optimizer: tf.train.sgd(0.05), loss: 'sparseCategoricalCrossentropy' });
    const initial = model.getWeights().map((w) => w.clone());
    const xs = Array.from({ length: 20 }, (_, i) => tf.randomNormal([32, 24], 0, 1, 'float32', 100 + i));
    // Learnable labels: the arg-max of a fixed linear map of the inputs.
    const teacher = tf.randomNormal([24, 5], 0, 1, 'float32', 99);
    const ys = xs.map((x) => tf.tidy(() => tf.argMax(tf.matMul(x, teacher), 1).toFloat()));

    const train = async (): Promise<number[]> => {
      model.setWeights(initial);
      const losses: number[] = [];
      for (let step = 0; step < 20; step++) losses.push((await model.trainOnBatch(xs[step]!, ys[step]!)) as number);
      return losses;
    };
    uninstallFastWasmMatMul(tf);
    const stock = await train();
    installFastWasmMatMul(tf);
    const tensorsBefore = tf.memory().numTensors;
    const buffersBefore = tf.memory().numDataBuffers;
    const fast = await train();
    // The backward pass really went through the override.
    const stats = fastWasmMatMulStats(tf)!['BatchMatMul']!;
    expect(stats.direct + stats.swapped).toBeGreaterThanOrEqual(20 * 3);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect(tf.memory().numDataBuffers).toBe(buffersBefore);

    expect(stock[19]).toBeLessThan(stock[0]!);
    for (let i = 0; i < 20; i++) expect(Math.abs(fast[i]! - stock[i]!), `step ${i}: ${fast[i]} vs ${stock[i]}`).toBeLessThan(1e-5);
    tf.dispose([...initial, ...xs, ...ys, teacher]);
    model.dispose();
  });
});
