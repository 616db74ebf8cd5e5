/**
 * Every TensorFlow.js internal the worker reaches (what is not tfjs' public API): the wasm
 * backend's heap, buffer table and output allocation, the engine's backend registry and
 * TensorInfo → Tensor wrapping, and the optimizers' slot variables and counters. tfjs is pinned to
 * ~4.22 (package.json); tfjs-adapter.test.ts checks each internal here on the installed tfjs and
 * names the one an upgrade changed. Each accessor checks the shape it relies on and throws an
 * error naming the internal, rather than computing with undefined.
 */
import type * as TF from '@tensorflow/tfjs';

type Tf = typeof TF;

/** A backend's TensorInfo for a float32 buffer. */
export interface Info {
  dataId: object;
  shape: number[];
  dtype: 'float32';
}

export type KernelFunc = TF.KernelConfig['kernelFunc'];

/** The parts of tfjs-backend-wasm's BackendWasm the fused step uses. */
export interface WasmBackend {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: 'float32'): Info;
  disposeData(dataId: object, force?: boolean): boolean;
}

/** A tfjs optimizer's slot variable (Momentum's accumulation, Adam's moments). */
export interface OptimizerSlot {
  originalName: string;
  variable: TF.Variable;
}

export class TfjsInternalChanged extends Error {
  constructor(internal: string, found: string) {
    super(`tfjs internal changed: ${internal} (${found}); worker/tfjs-adapter.ts is written for tfjs 4.22`);
    this.name = 'TfjsInternalChanged';
  }
}

const kindOf = (value: unknown): string => (value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value);

function expectKind(owner: unknown, internal: string, key: string, kind: 'function' | 'number' | 'boolean' | 'object'): void {
  const value = (owner as Record<string, unknown> | null | undefined)?.[key];
  if (typeof value !== kind || value === null) throw new TfjsInternalChanged(internal, `expected a ${kind}, found ${kindOf(value)}`);
}

/** The active backend as BackendWasm (BackendWasm.wasm.HEAPU8, .dataIdMap, .makeOutput, .disposeData). */
export function wasmBackendOf(tf: Tf): WasmBackend {
  const backend = tf.engine().backend as unknown as WasmBackend;
  if (!(backend.wasm?.HEAPU8 instanceof Uint8Array)) throw new TfjsInternalChanged('BackendWasm.wasm.HEAPU8', `found ${kindOf(backend.wasm?.HEAPU8)}`);
  expectKind(backend.dataIdMap, 'BackendWasm.dataIdMap.get', 'get', 'function');
  expectKind(backend, 'BackendWasm.makeOutput', 'makeOutput', 'function');
  expectKind(backend, 'BackendWasm.disposeData', 'disposeData', 'function');
  return backend;
}

/** A buffer's byte offset on the wasm heap (BackendWasm.dataIdMap's memoryOffset). */
export function heapOffset(backend: WasmBackend, info: { dataId: object }): number {
  const data = backend.dataIdMap.get(info.dataId);
  if (!data) throw new Error('fused step: a tensor has no wasm buffer');
  if (typeof data.memoryOffset !== 'number') throw new TfjsInternalChanged('BackendWasm.dataIdMap entry .memoryOffset', `found ${kindOf(data.memoryOffset)}`);
  return data.memoryOffset;
}

/** A float32 view on the wasm heap; take it after any allocation (growing the heap detaches older views). */
export function heapView(backend: WasmBackend, info: { dataId: object }, length: number): Float32Array {
  return new Float32Array(backend.wasm.HEAPU8.buffer, heapOffset(backend, info), length);
}

/** A float32 tensor's values as a view on the wasm heap when the active backend is wasm, else null. */
export function wasmValues(tf: Tf, tensor: TF.Tensor): Float32Array | null {
  if (tf.getBackend() !== 'wasm' || tensor.dtype !== 'float32') return null;
  return heapView(wasmBackendOf(tf), tensor, tensor.size);
}

/** Calls a registered kernel directly, outside the engine (no tape, no tensor bookkeeping). */
export function callKernel(fn: KernelFunc, backend: WasmBackend, inputs: Record<string, Info>, attrs: Record<string, unknown> = {}): Info {
  return fn({ inputs: inputs as unknown as TF.NamedTensorInfoMap, backend: backend as unknown as TF.KernelBackend, attrs: attrs as TF.NamedAttrMap }) as Info;
}

/** Wraps a backend buffer made outside the engine as a tensor (Engine.makeTensorFromTensorInfo). */
export function tensorFromInfo(tf: Tf, info: Info, backend: WasmBackend): TF.Tensor {
  const engine = tf.engine();
  expectKind(engine, 'Engine.makeTensorFromTensorInfo', 'makeTensorFromTensorInfo', 'function');
  return engine.makeTensorFromTensorInfo(info, backend as unknown as TF.KernelBackend);
}

/**
 * A second handle on a variable's current buffer, without copying it: tensors are immutable and
 * assigning a variable swaps its buffer, so the handle keeps the value the variable had (what
 * `Engine.incRef` does for a variable; a wasm `tf.clone` would copy every weight each step).
 */
export function sharedHandle(tf: Tf, variable: TF.Variable): TF.Tensor {
  const engine = tf.engine();
  expectKind(engine, 'Engine.makeTensorFromDataId', 'makeTensorFromDataId', 'function');
  expectKind(engine.backend, 'KernelBackend.incRef', 'incRef', 'function');
  const handle = engine.makeTensorFromDataId(variable.dataId, variable.shape, variable.dtype);
  engine.backend.incRef(variable.dataId);
  return handle;
}

/** The engine's initialised backends by name (Engine.registry). */
export function initialisedBackends(tf: Tf): Record<string, unknown> {
  const engine = tf.engine() as unknown as { registry?: unknown };
  expectKind(engine, 'Engine.registry', 'registry', 'object');
  return engine.registry as Record<string, unknown>;
}

/** An optimizer's learning rate (Optimizer.learningRate of SGD, Momentum, Adam). */
export function learningRateOf(optimizer: TF.Optimizer): number {
  expectKind(optimizer, `${optimizer.getClassName()}.learningRate`, 'learningRate', 'number');
  return (optimizer as unknown as { learningRate: number }).learningRate;
}

/** Sets the rate the next step reads: SGD and Momentum cache −lr as a kept scalar (their setLearningRate replaces it); the others read the field. */
export function writeLearningRate(optimizer: TF.Optimizer, learningRate: number): void {
  const o = optimizer as unknown as { setLearningRate?: (lr: number) => void; learningRate: number };
  expectKind(optimizer, `${optimizer.getClassName()}.learningRate`, 'learningRate', 'number');
  if (typeof o.setLearningRate === 'function') o.setLearningRate(learningRate);
  else o.learningRate = learningRate;
}

/** Counts a step as tfjs' applyGradients does (Optimizer.incrementIterations). */
export function incrementIterations(optimizer: TF.Optimizer): void {
  expectKind(optimizer, 'Optimizer.incrementIterations', 'incrementIterations', 'function');
  (optimizer as unknown as { incrementIterations(): void }).incrementIterations();
}

function slotsOf(optimizer: TF.Optimizer, key: string): (OptimizerSlot | undefined)[] {
  const list = (optimizer as unknown as Record<string, unknown>)[key];
  if (!Array.isArray(list)) throw new TfjsInternalChanged(`${optimizer.getClassName()}.${key}`, `expected an array of {originalName, variable}, found ${kindOf(list)}`);
  return list as (OptimizerSlot | undefined)[];
}

/** MomentumOptimizer's settings and accumulations (created lazily, one per trainable variable). */
export function momentumState(optimizer: TF.Optimizer): { momentum: number; useNesterov: boolean; accumulations: (OptimizerSlot | undefined)[] } {
  expectKind(optimizer, 'MomentumOptimizer.momentum', 'momentum', 'number');
  expectKind(optimizer, 'MomentumOptimizer.useNesterov', 'useNesterov', 'boolean');
  const o = optimizer as unknown as { momentum: number; useNesterov: boolean };
  return { momentum: o.momentum, useNesterov: o.useNesterov, accumulations: slotsOf(optimizer, 'accumulations') };
}

export interface AdamState {
  beta1: number;
  beta2: number;
  epsilon: number;
  accumulatedFirstMoment: (OptimizerSlot | undefined)[];
  accumulatedSecondMoment: (OptimizerSlot | undefined)[];
  /** β₁ᵗ and β₂ᵗ, as scalar variables. */
  accBeta1: TF.Variable;
  accBeta2: TF.Variable;
}

/** AdamOptimizer's settings, moments and β powers. */
export function adamState(optimizer: TF.Optimizer): AdamState {
  for (const key of ['beta1', 'beta2', 'epsilon']) expectKind(optimizer, `AdamOptimizer.${key}`, key, 'number');
  for (const key of ['accBeta1', 'accBeta2']) expectKind(optimizer, `AdamOptimizer.${key}`, key, 'object');
  const o = optimizer as unknown as AdamState;
  return {
    beta1: o.beta1,
    beta2: o.beta2,
    epsilon: o.epsilon,
    accumulatedFirstMoment: slotsOf(optimizer, 'accumulatedFirstMoment'),
    accumulatedSecondMoment: slotsOf(optimizer, 'accumulatedSecondMoment'),
    accBeta1: o.accBeta1,
    accBeta2: o.accBeta2,
  };
}
