/**
 * Every tfjs internal the worker relies on (tfjs-adapter.ts), checked on the installed tfjs with
 * the real wasm backend: each test names the internal, so a tfjs upgrade that moves one fails here
 * by name rather than as a wrong number in a training run.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  adamState,
  callKernel,
  heapView,
  incrementIterations,
  initialisedBackends,
  learningRateOf,
  momentumState,
  sharedHandle,
  tensorFromInfo,
  wasmBackendOf,
  wasmValues,
  writeLearningRate,
} from './tfjs-adapter';

beforeAll(async () => {
  tf.env().set('IS_TEST', true); // no "install tfjs-node" banner
  expect(await tf.setBackend('wasm')).toBe(true);
  await tf.ready();
});
afterAll(() => tf.disposeVariables());

it('the installed tfjs is the pinned 4.22 (package.json ~4.22.0), which tfjs-adapter.ts is written for', () => {
  expect(tf.version['tfjs-core'], 'tfjs-core version').toMatch(/^4\.22\./);
  expect(tf.version['tfjs-layers'], 'tfjs-layers version').toMatch(/^4\.22\./);
});

describe('BackendWasm', () => {
  it('.wasm.HEAPU8 and .dataIdMap.get(dataId).memoryOffset: a tensor read in place on the heap', () => {
    const t = tf.tensor1d([1.5, -2, 3.25]);
    const backend = wasmBackendOf(tf);
    expect(backend.wasm.HEAPU8, 'BackendWasm.wasm.HEAPU8').toBeInstanceOf(Uint8Array);
    expect(Array.from(heapView(backend, t, 3)), 'BackendWasm.dataIdMap memoryOffset').toEqual([1.5, -2, 3.25]);
    expect(Array.from(wasmValues(tf, t)!)).toEqual([1.5, -2, 3.25]);
    t.dispose();
  });

  it('.makeOutput and .disposeData, wrapped by Engine.makeTensorFromTensorInfo', () => {
    const backend = wasmBackendOf(tf);
    const before = tf.memory().numTensors;
    const info = backend.makeOutput([2, 2], 'float32');
    expect(info.shape, 'BackendWasm.makeOutput shape').toEqual([2, 2]);
    heapView(backend, info, 4).set([1, 2, 3, 4]);
    const t = tensorFromInfo(tf, info, backend);
    expect(Array.from(t.dataSync()), 'Engine.makeTensorFromTensorInfo').toEqual([1, 2, 3, 4]);
    t.dispose();
    backend.disposeData(info.dataId);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the kernels the fused step and the fast matmul call directly: BatchMatMul, _FusedMatMul, Transpose, Add, Multiply, RealDiv, Sqrt, Square', () => {
    for (const name of ['BatchMatMul', '_FusedMatMul', 'Transpose', 'Add', 'Multiply', 'RealDiv', 'Sqrt', 'Square']) {
      expect(tf.getKernel(name, 'wasm'), `wasm kernel ${name}`).toBeDefined();
    }
    const backend = wasmBackendOf(tf);
    const a = tf.tensor1d([1, 2]);
    const b = tf.tensor1d([10, 20]);
    const out = callKernel(tf.getKernel('Add', 'wasm')!.kernelFunc, backend, {
      a: { dataId: a.dataId, shape: [2], dtype: 'float32' },
      b: { dataId: b.dataId, shape: [2], dtype: 'float32' },
    });
    expect(Array.from(heapView(backend, out, 2)), 'kernelFunc({inputs, backend, attrs})').toEqual([11, 22]);
    backend.disposeData(out.dataId);
    tf.dispose([a, b]);
  });

  it('fails naming the internal where the backend is not wasm', async () => {
    await tf.setBackend('cpu');
    try {
      expect(() => wasmBackendOf(tf)).toThrow(/tfjs internal changed: BackendWasm\.wasm\.HEAPU8/);
      expect(wasmValues(tf, tf.scalar(1))).toBeNull();
    } finally {
      await tf.setBackend('wasm');
    }
  });
});

describe('Engine', () => {
  it('.registry holds the initialised backends', () => {
    expect(initialisedBackends(tf), 'Engine.registry').toHaveProperty('wasm');
  });

  it('.makeTensorFromDataId + KernelBackend.incRef: a handle keeps the value a variable is reassigned from', () => {
    const v = tf.variable(tf.tensor1d([1, 2]));
    const handle = sharedHandle(tf, v);
    v.assign(tf.tensor1d([5, 6]));
    expect(Array.from(handle.dataSync())).toEqual([1, 2]);
    expect(Array.from(v.dataSync())).toEqual([5, 6]);
    handle.dispose();
    v.dispose();
  });
});

describe('optimizers', () => {
  const step = (optimizer: tf.Optimizer, v: tf.Variable) => optimizer.applyGradients({ [v.name]: tf.onesLike(v) });

  it('SGD: .learningRate and .incrementIterations()', () => {
    const sgd = tf.train.sgd(0.05);
    expect(learningRateOf(sgd), 'SGDOptimizer.learningRate').toBeCloseTo(0.05);
    writeLearningRate(sgd, 0.5);
    expect(learningRateOf(sgd), 'SGDOptimizer.setLearningRate').toBeCloseTo(0.5);
    const v = tf.variable(tf.zeros([1]));
    step(sgd, v);
    expect(v.dataSync()[0], 'SGDOptimizer.setLearningRate: the next step uses the new rate').toBeCloseTo(-0.5);
    v.dispose();
    incrementIterations(sgd);
    expect(sgd.iterations, 'Optimizer.incrementIterations (after one applied step)').toBe(2);
    expect(() => momentumState(sgd)).toThrow(/tfjs internal changed: MomentumOptimizer\.momentum/);
  });

  it('Momentum: .momentum, .useNesterov and .accumulations[i] = {originalName, variable}', () => {
    const v = tf.variable(tf.zeros([3]));
    const optimizer = tf.train.momentum(0.1, 0.9, true);
    step(optimizer, v);
    const state = momentumState(optimizer);
    expect(state).toMatchObject({ momentum: 0.9, useNesterov: true });
    expect(state.accumulations[0]?.originalName, 'MomentumOptimizer.accumulations[0].originalName').toBe(`${v.name}/momentum`);
    expect(Array.from(state.accumulations[0]!.variable.dataSync()), 'MomentumOptimizer.accumulations[0].variable').toEqual([1, 1, 1]);
    v.dispose();
    optimizer.dispose();
  });

  it('Adam: .beta1/.beta2/.epsilon, the moments and the β powers accBeta1/accBeta2', () => {
    const v = tf.variable(tf.zeros([2]));
    const optimizer = tf.train.adam(0.001, 0.9, 0.999, 1e-7);
    step(optimizer, v);
    const state = adamState(optimizer);
    expect(state).toMatchObject({ beta1: 0.9, beta2: 0.999, epsilon: 1e-7 });
    expect(state.accumulatedFirstMoment[0]?.originalName, 'AdamOptimizer.accumulatedFirstMoment[0]').toBe(`${v.name}/m`);
    expect(state.accumulatedSecondMoment[0]?.originalName, 'AdamOptimizer.accumulatedSecondMoment[0]').toBe(`${v.name}/v`);
    expect(state.accBeta1.dataSync()[0], 'AdamOptimizer.accBeta1 = β₁ᵗ').toBeCloseTo(0.81, 6);
    expect(state.accBeta2.dataSync()[0], 'AdamOptimizer.accBeta2 = β₂ᵗ').toBeCloseTo(0.999 ** 2, 6);
    v.dispose();
    optimizer.dispose();
  });
});
