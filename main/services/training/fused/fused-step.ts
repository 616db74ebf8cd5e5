/**
 * A fused training step for the common case on the wasm backend: a Sequential stack of Flatten,
 * Dense, BatchNormalization (last axis; without gamma or beta: γ = 1, β = 0), Activation and
 * (Alpha)Dropout layers ending in a softmax, trained with sparse categorical cross-entropy from the
 * logits.
 *
 * The general step (loop.ts' trainStep) records ~150 small tfjs ops per step on the gradient tape;
 * at batch 32 tfjs-core's per-op JavaScript is about half of the step. This step does the same
 * arithmetic with a hand-written forward and backward pass and no tape:
 *
 * - the products (x·W forward; dW = xᵀ·dz and dxᵀ = W·dzᵀ backward) run through the wasm backend's
 *   own BatchMatMul kernel (XNNPACK, plain operands only, the fast form), called directly with the
 *   backend's TensorInfos, outside the engine;
 * - the optimizer update runs through the backend's elementwise kernels (Add, Multiply, RealDiv,
 *   Sqrt, Square: XNNPACK SIMD, ~10× faster than a JavaScript loop over the 235k weights of the
 *   first layer), in the order tfjs' optimizer applies them;
 * - everything else (BN statistics, normalisation and its backward, the moving averages,
 *   activations and their derivatives, dropout masks, softmax cross-entropy and accuracy) runs in
 *   JavaScript loops directly on Float32Array views of the wasm heap. Each activation is written in
 *   both layouts (row-major for the next product, transposed for dW), so no Transpose kernel runs;
 * - every updated variable (weights, BN moving statistics, optimizer slots) gets a NEW buffer that
 *   is assigned to it (never written in place), so handles on a step's starting weights (the loop's
 *   snapshots) keep their values.
 *
 * The optimizer state is the tfjs optimizer's own (SGD; momentum/Nesterov accumulations; Adam's
 * moments and β powers), so the general path (statistics steps) and this one can alternate on one
 * optimizer. RMSprop, Adagrad and Adamax apply this step's gradients through the tfjs optimizer.
 *
 * Results equal the general path's up to float32 summation order (≈1e-6 relative per step).
 */
import type * as TF from '@tensorflow/tfjs';
import type { TrainingSettings } from '../../../../contract';
import type { LayerPlan } from '../forward';
import { deriveSeed } from '../seeds';
import { normalizesLastAxis } from '../../../../model/layers/batch-normalization';

type Tf = typeof TF;
type KernelFunc = TF.KernelConfig['kernelFunc'];

interface Info {
  dataId: object;
  shape: number[];
  dtype: 'float32';
}

/** The parts of tfjs-backend-wasm's BackendWasm this step uses. */
interface WasmBackend {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: 'float32'): Info;
  disposeData(dataId: object, force?: boolean): boolean;
}

type Activation = 'linear' | 'relu' | 'elu' | 'selu' | 'tanh' | 'sigmoid';
const ACTIVATIONS = new Set<string>(['linear', 'relu', 'elu', 'selu', 'tanh', 'sigmoid']);
const SELU_SCALE = 1.0507009873554805;
const SELU_ALPHA = 1.6732632423543772;

/** Growable JS scratch for one unit (the batch size changes at an epoch's last batch). */
class Scratch {
  private buf = new Float32Array(0);
  get(size: number): Float32Array {
    if (this.buf.length < size) this.buf = new Float32Array(size);
    return this.buf;
  }
}

interface DenseUnit {
  kind: 'dense';
  name: string;
  kernel: TF.Variable;
  bias: TF.Variable | null;
  inF: number;
  outF: number;
  activation: Activation;
  /** The last layer, a softmax: its pre-activation is the logits. */
  softmax: boolean;
  /** Whether a trainable layer comes before (else dx is not needed). */
  needDx: boolean;
  derivT: Scratch;
}
interface BnUnit {
  kind: 'bn';
  name: string;
  features: number;
  momentum: number;
  epsilon: number;
  /** Absent when the layer has `scale: false` (γ = 1) or `center: false` (β = 0). */
  gamma: TF.Variable | null;
  beta: TF.Variable | null;
  movingMean: TF.Variable;
  movingVariance: TF.Variable;
  needDx: boolean;
  xhatT: Scratch;
  invStd: Float64Array;
  gradT: Scratch;
}
interface ActUnit {
  kind: 'act';
  name: string;
  features: number;
  activation: Activation;
  /** The last layer, softmax: its input is the logits. */
  softmax: boolean;
  derivT: Scratch;
  gradT: Scratch;
}
interface DropoutUnit {
  kind: 'dropout';
  name: string;
  features: number;
  rate: number;
  alpha: boolean;
  seed: number | null;
  maskT: Scratch;
  gradT: Scratch;
}
type Unit = DenseUnit | BnUnit | ActUnit | DropoutUnit;

/** An activation between layers, in both layouts on the wasm heap: row-major [n, F] and transposed [F, n]. */
interface Act {
  row: Info;
  T: Info;
  features: number;
}

/**
 * What a statistics step reads from inside a fused step (loop.ts): each callback gets a view or a
 * scratch array that is only valid during the call (read it at once), by layer name.
 */
export interface FusedProbe {
  /** A BatchNormalization layer's batch mean and (biased) variance per feature, as its forward pass used them. */
  bn(layer: string, mean: Float64Array, variance: Float64Array): void;
  /** A layer's activation output, row-major [n, features] (the softmax output: its probabilities). */
  activation(layer: string, y: Float32Array, n: number, features: number): void;
  /** The gradient of trainable variable `index` (the model's trainableWeights order), before the update. */
  gradient(index: number, g: Float32Array): void;
}

export interface FusedStep {
  /** What the step covers, e.g. "fused training step (SGD, 7 layers)". */
  readonly description: string;
  /**
   * One training step on `n` samples (`xs` row-major [n, …inputShape], `ys` class indices): the same
   * update as the general path's step, statistics excluded. Returns the batch loss and accuracy.
   */
  step(xs: Float32Array, ys: Int32Array, n: number, at: { seed: number; step: number }): Promise<{ loss: number; acc: number }>;
  /** `step`, synchronously (e.g. inside the caller's tidy; tensors it makes are its own and disposed). */
  stepSync(xs: Float32Array, ys: Int32Array, n: number, at: { seed: number; step: number }, probe?: FusedProbe): { loss: number; acc: number };
  dispose(): void;
}

export type FusedStepResult = FusedStep | { unsupported: string };

type OptimizerKind =
  | { kind: 'sgd' }
  | { kind: 'momentum'; momentum: number; nesterov: boolean }
  | { kind: 'adam'; beta1: number; beta2: number; epsilon: number }
  | { kind: 'tfjs'; name: string };

interface SlotHolder {
  originalName: string;
  variable: TF.Variable;
}

function weightOf(plan: LayerPlan, suffix: string): TF.Variable | null {
  const w = plan.layer.weights.find((v) => v.originalName.endsWith(`/${suffix}`) || v.originalName === suffix);
  return w ? (w.read() as TF.Variable) : null;
}

function sizeOf(shape: readonly number[]): number {
  let s = 1;
  for (const d of shape) s *= d;
  return s;
}

/** Plans the units, or says why the model is outside what the fused step supports. */
function planUnits(plans: LayerPlan[], model: TF.LayersModel): Unit[] | string {
  const inShape = model.inputs[0]?.shape;
  if (!inShape || inShape.slice(1).some((d) => typeof d !== 'number')) return 'the model input has no fixed shape';
  let shape = inShape.slice(1) as number[];
  const units: Unit[] = [];
  let trainableBefore = false;
  const last = plans.length - 1;
  for (let i = 0; i < plans.length; i++) {
    const plan = plans[i]!;
    const config = plan.layer.getConfig() as Record<string, unknown>;
    if (plan.layer.trainable === false && plan.layer.weights.length > 0) return `layer ${plan.name} is frozen`;
    if (plan.regularizer) return `layer ${plan.name} has a kernel regularizer`;
    if (plan.maxNorm) return `layer ${plan.name} has a max-norm constraint`;
    if (plan.className === 'Flatten') {
      shape = [sizeOf(shape)];
      continue;
    }
    if (shape.length !== 1) return `layer ${plan.name} (${plan.className}) gets a rank-${shape.length + 1} input`;
    const features = shape[0]!;
    const activation = plan.activation ?? 'linear';
    const isSoftmax = activation === 'softmax';
    if (isSoftmax && i !== last) return `layer ${plan.name}: softmax before the last layer`;
    if (!isSoftmax && !ACTIVATIONS.has(activation)) return `layer ${plan.name}: activation ${activation}`;
    switch (plan.className) {
      case 'Dense': {
        const kernel = weightOf(plan, 'kernel');
        if (!kernel || kernel.shape.length !== 2 || kernel.shape[0] !== features) return `layer ${plan.name}: unexpected kernel`;
        const bias = config['useBias'] === false ? null : weightOf(plan, 'bias');
        const outF = kernel.shape[1]!;
        units.push({
          kind: 'dense',
          name: plan.name,
          kernel,
          bias,
          inF: features,
          outF,
          activation: isSoftmax ? 'linear' : (activation as Activation),
          softmax: isSoftmax,
          needDx: trainableBefore,
          derivT: new Scratch(),
        });
        trainableBefore = true;
        shape = [outF];
        break;
      }
      case 'BatchNormalization': {
        const bn = plan.bn!;
        if (!normalizesLastAxis({ axis: bn.axis }, 2)) return `layer ${plan.name}: BatchNormalization on axis ${bn.axis}`;
        units.push({
          kind: 'bn',
          name: plan.name,
          features,
          momentum: bn.momentum,
          epsilon: bn.epsilon,
          gamma: bn.gamma ? (bn.gamma.read() as TF.Variable) : null,
          beta: bn.beta ? (bn.beta.read() as TF.Variable) : null,
          movingMean: bn.movingMean.read() as TF.Variable,
          movingVariance: bn.movingVariance.read() as TF.Variable,
          needDx: trainableBefore,
          xhatT: new Scratch(),
          invStd: new Float64Array(features),
          gradT: new Scratch(),
        });
        trainableBefore = true;
        break;
      }
      case 'Activation':
        units.push({ kind: 'act', name: plan.name, features, activation: isSoftmax ? 'linear' : (activation as Activation), softmax: isSoftmax, derivT: new Scratch(), gradT: new Scratch() });
        break;
      case 'Dropout':
      case 'AlphaDropout': {
        const d = plan.dropout!;
        if (d.noiseShape) return `layer ${plan.name}: dropout with a noise shape`;
        if (d.rate > 0 && d.rate < 1) {
          units.push({ kind: 'dropout', name: plan.name, features, rate: d.rate, alpha: d.kind === 'AlphaDropout', seed: d.seed, maskT: new Scratch(), gradT: new Scratch() });
        }
        break;
      }
      default:
        return `layer ${plan.name} is a ${plan.className}`;
    }
  }
  const tail = units[units.length - 1];
  if (!tail || !((tail.kind === 'dense' || tail.kind === 'act') && tail.softmax)) return 'the model does not end in a softmax';
  if (!units.some((u) => u.kind === 'dense')) return 'the model has no Dense layer';
  return units;
}

function optimizerKind(optimizer: TF.Optimizer, settings: TrainingSettings): OptimizerKind | string {
  const { clipnorm, clipvalue } = settings.optimizer.config;
  if (clipnorm !== null || clipvalue !== null) return 'gradient clipping (clipnorm/clipvalue)';
  // By class name: tfjs' Optimizer overrides instanceof (any object with the three methods is every optimizer).
  const name = optimizer.getClassName();
  if (name === 'Momentum') {
    const o = optimizer as unknown as { momentum: number; useNesterov: boolean };
    return { kind: 'momentum', momentum: o.momentum, nesterov: o.useNesterov };
  }
  if (name === 'SGD') return { kind: 'sgd' };
  if (name === 'Adam') {
    const o = optimizer as unknown as { beta1: number; beta2: number; epsilon: number };
    return { kind: 'adam', beta1: o.beta1, beta2: o.beta2, epsilon: o.epsilon };
  }
  return { kind: 'tfjs', name: optimizer.getClassName() };
}

/**
 * Builds the fused step for this model, optimizer and settings, or returns why it does not apply
 * (the caller then uses the general step). Build it after the model and the optimizer.
 */
export function createFusedStep(tf: Tf, plans: LayerPlan[], model: TF.LayersModel, settings: TrainingSettings, optimizer: TF.Optimizer): FusedStepResult {
  if (tf.getBackend() !== 'wasm') return { unsupported: `the backend is ${tf.getBackend()}, not wasm` };
  const matMulConfig = tf.getKernel('BatchMatMul', 'wasm');
  if (!matMulConfig) return { unsupported: "the wasm backend has no 'BatchMatMul' kernel" };
  const planned = planUnits(plans, model);
  if (typeof planned === 'string') return { unsupported: planned };
  const units = planned;
  const kind = optimizerKind(optimizer, settings);
  if (typeof kind === 'string') return { unsupported: kind };
  const opt: OptimizerKind = kind;

  const backend = tf.engine().backend as unknown as WasmBackend;
  const engine = tf.engine();
  const trainable = model.trainableWeights.map((w) => w.read() as TF.Variable);
  const trainableIndex = new Map(trainable.map((v, i) => [v, i]));
  const unitVariables = units.flatMap((u) => (u.kind === 'dense' ? [u.kernel, u.bias] : u.kind === 'bn' ? [u.gamma, u.beta] : [])).filter((v): v is TF.Variable => v !== null);
  for (const v of unitVariables) if (!trainableIndex.has(v)) return { unsupported: `variable ${v.name} is not trainable` };
  if (trainableIndex.size !== unitVariables.length) {
    return { unsupported: 'the model has trainable weights outside its Dense and BatchNormalization layers' };
  }
  const inputFeatures = sizeOf(model.inputs[0]!.shape.slice(1) as number[]);
  const kernelFunc = matMulConfig.kernelFunc;
  const kernelNamed = (name: string): KernelFunc | string => tf.getKernel(name, 'wasm')?.kernelFunc ?? `the wasm backend has no '${name}' kernel`;
  const found = { add: kernelNamed('Add'), mul: kernelNamed('Multiply'), div: kernelNamed('RealDiv'), sqrt: kernelNamed('Sqrt'), square: kernelNamed('Square') };
  for (const k of Object.values(found)) if (typeof k === 'string') return { unsupported: k };
  const kernels = found as Record<keyof typeof found, KernelFunc>;

  const offsetOf = (info: { dataId: object }): number => {
    const data = backend.dataIdMap.get(info.dataId);
    if (!data) throw new Error('fused step: a tensor has no wasm buffer');
    return data.memoryOffset;
  };
  /** A view on the wasm heap; take it after any allocation (growing the heap detaches older views). */
  const view = (info: { dataId: object; shape: readonly number[] }): Float32Array => new Float32Array(backend.wasm.HEAPU8.buffer, offsetOf(info), sizeOf(info.shape));
  const infoOf = (v: TF.Variable): Info => ({ dataId: v.dataId, shape: v.shape, dtype: 'float32' });

  const description = `fused training step (${opt.kind === 'tfjs' ? `${opt.name} through tfjs` : opt.kind === 'momentum' ? (opt.nesterov ? 'SGD Nesterov' : 'SGD momentum') : opt.kind === 'adam' ? 'Adam' : 'SGD'}, ${units.length} layers)`;

  /** The optimizer's slot variables for trainable[i] (created as tfjs would: zeros, non-trainable). */
  const slot = (list: (SlotHolder | undefined)[], i: number, suffix: string): TF.Variable => {
    let holder = list[i];
    if (!holder) {
      const v = trainable[i]!;
      holder = { originalName: `${v.name}/${suffix}`, variable: tf.tidy(() => tf.zerosLike(v).variable(false)) };
      list[i] = holder;
    }
    return holder.variable;
  };

  function step(xs: Float32Array, ys: Int32Array, n: number, at: { seed: number; step: number }, probe?: FusedProbe): { loss: number; acc: number } {
    const temps: Info[] = [];
    /** New variable values: assigned when the step completes, freed if it throws. */
    const fresh: { variable: TF.Variable; info: Info }[] = [];
    const alloc = (shape: number[]): Info => {
      const t = backend.makeOutput(shape, 'float32');
      temps.push(t);
      return t;
    };
    const allocFor = (variable: TF.Variable): Info => {
      const t = backend.makeOutput(variable.shape.slice(), 'float32');
      fresh.push({ variable, info: t });
      return t;
    };
    const matMul = (a: Info, b: Info): Info => {
      const out = kernelFunc({ inputs: { a, b } as unknown as TF.NamedTensorInfoMap, backend: backend as unknown as TF.KernelBackend, attrs: { transposeA: false, transposeB: false } }) as Info;
      temps.push(out);
      return out;
    };
    const run = (fn: KernelFunc, a: Info, b: Info): Info => {
      const out = fn({ inputs: { a, b } as unknown as TF.NamedTensorInfoMap, backend: backend as unknown as TF.KernelBackend, attrs: {} }) as Info;
      temps.push(out);
      return out;
    };
    const run1 = (fn: KernelFunc, x: Info): Info => {
      const out = fn({ inputs: { x } as unknown as TF.NamedTensorInfoMap, backend: backend as unknown as TF.KernelBackend, attrs: {} }) as Info;
      temps.push(out);
      return out;
    };
    let committed = false;
    try {
      // ---- input: both layouts
      const x: Act = { row: alloc([n, inputFeatures]), T: alloc([inputFeatures, n]), features: inputFeatures };
      {
        const row = view(x.row);
        const t = view(x.T);
        row.set(xs.subarray(0, n * inputFeatures));
        const F = inputFeatures;
        for (let i = 0; i < n; i++) {
          const base = i * F;
          for (let j = 0; j < F; j++) t[j * n + i] = row[base + j]!;
        }
      }

      // ---- forward
      const inputs: Act[] = [];
      let cur = x;
      let logits: Info | null = null;
      for (const u of units) {
        inputs.push(cur);
        switch (u.kind) {
          case 'dense': {
            const z = matMul(cur.row, infoOf(u.kernel));
            if (u.softmax) {
              if (u.bias) {
                const zv = view(z);
                const b = view(infoOf(u.bias));
                const C = u.outF;
                for (let i = 0; i < n; i++) for (let j = 0; j < C; j++) zv[i * C + j] = zv[i * C + j]! + b[j]!;
              }
              logits = z;
              break;
            }
            const yT = alloc([u.outF, n]);
            const zv = view(z);
            const yt = view(yT);
            const b = u.bias ? view(infoOf(u.bias)) : null;
            activate(u.activation, zv, yt, u.derivT.get(n * u.outF), n, u.outF, b);
            if (probe && u.activation !== 'linear') probe.activation(u.name, zv, n, u.outF);
            cur = { row: z, T: yT, features: u.outF };
            break;
          }
          case 'bn': {
            const F = u.features;
            const outRow = alloc([n, F]);
            const outT = alloc([F, n]);
            const mm = allocFor(u.movingMean);
            const mv = allocFor(u.movingVariance);
            const xT = view(cur.T);
            const yr = view(outRow);
            const yt = view(outT);
            const gamma = u.gamma ? view(infoOf(u.gamma)) : null;
            const beta = u.beta ? view(infoOf(u.beta)) : null;
            const oldMean = view(infoOf(u.movingMean));
            const oldVar = view(infoOf(u.movingVariance));
            const newMean = view(mm);
            const newVar = view(mv);
            const xhatT = u.xhatT.get(n * F);
            const decay = 1 - u.momentum;
            const batchMean = probe ? new Float64Array(F) : null;
            const batchVariance = probe ? new Float64Array(F) : null;
            for (let j = 0; j < F; j++) {
              const base = j * n;
              let sum = 0;
              for (let i = 0; i < n; i++) sum += xT[base + i]!;
              const mean = sum / n;
              let sq = 0;
              for (let i = 0; i < n; i++) {
                const d = xT[base + i]! - mean;
                sq += d * d;
              }
              const variance = sq / n;
              if (batchMean) {
                batchMean[j] = mean;
                batchVariance![j] = variance;
              }
              const inv = 1 / Math.sqrt(variance + u.epsilon);
              u.invStd[j] = inv;
              const g = gamma ? gamma[j]! : 1;
              const bb = beta ? beta[j]! : 0;
              for (let i = 0; i < n; i++) {
                const xh = (xT[base + i]! - mean) * inv;
                xhatT[base + i] = xh;
                const y = g * xh + bb;
                yt[base + i] = y;
                yr[i * F + j] = y;
              }
              // Keras / tfjs-layers: moving ← moving − (moving − batch)·(1 − momentum); biased batch variance.
              newMean[j] = oldMean[j]! - (oldMean[j]! - mean) * decay;
              newVar[j] = oldVar[j]! - (oldVar[j]! - variance) * decay;
            }
            if (batchMean) probe!.bn(u.name, batchMean, batchVariance!);
            cur = { row: outRow, T: outT, features: F };
            break;
          }
          case 'act': {
            if (u.softmax) {
              logits = cur.row;
              break;
            }
            const F = u.features;
            const outRow = alloc([n, F]);
            const outT = alloc([F, n]);
            const xr = view(cur.row);
            const yr = view(outRow);
            yr.set(xr);
            activate(u.activation, yr, view(outT), u.derivT.get(n * F), n, F, null);
            if (probe && u.activation !== 'linear') probe.activation(u.name, yr, n, F);
            cur = { row: outRow, T: outT, features: F };
            break;
          }
          case 'dropout': {
            const F = u.features;
            // The same mask as forward.ts' seededDropout / seededAlphaDropout: tf.randomUniform with the derived seed.
            const seed = deriveSeed(u.seed ?? at.seed ?? 0, 'dropout', u.name, at.step);
            const uniform = tf.randomUniform([n, F], 0, 1, 'float32', seed);
            const draws = uniform.dataSync() as Float32Array;
            uniform.dispose();
            const outRow = alloc([n, F]);
            const outT = alloc([F, n]);
            const xr = view(cur.row);
            const yr = view(outRow);
            const yt = view(outT);
            const maskT = u.maskT.get(n * F);
            const rate = u.rate;
            if (u.alpha) {
              const alphaP = -SELU_ALPHA * SELU_SCALE;
              const a = ((1 - rate) * (1 + rate * alphaP ** 2)) ** -0.5;
              const b = -a * alphaP * rate;
              for (let i = 0; i < n; i++) {
                for (let j = 0; j < F; j++) {
                  const k = i * F + j;
                  const keep = draws[k]! >= rate;
                  const y = (keep ? xr[k]! : alphaP) * a + b;
                  yr[k] = y;
                  yt[j * n + i] = y;
                  maskT[j * n + i] = keep ? a : 0;
                }
              }
            } else {
              const scale = Math.fround(1 / Math.fround(1 - rate));
              for (let i = 0; i < n; i++) {
                for (let j = 0; j < F; j++) {
                  const k = i * F + j;
                  const m = draws[k]! >= rate ? scale : 0;
                  const y = xr[k]! * m;
                  yr[k] = y;
                  yt[j * n + i] = y;
                  maskT[j * n + i] = m;
                }
              }
            }
            cur = { row: outRow, T: outT, features: F };
            break;
          }
        }
      }

      // ---- softmax cross-entropy from the logits (+ accuracy), and its gradient in both layouts
      const C = logitsFeatures(units);
      const dRow = alloc([n, C]);
      const dT = alloc([C, n]);
      let lossSum = 0;
      let correct = 0;
      {
        const z = view(logits!);
        const gr = view(dRow);
        const gt = view(dT);
        const probs = new Float64Array(C);
        const softmaxOut = probe ? new Float32Array(n * C) : null;
        for (let i = 0; i < n; i++) {
          const base = i * C;
          let max = -Infinity;
          let arg = 0;
          for (let c = 0; c < C; c++) {
            const v = z[base + c]!;
            if (v > max) {
              max = v;
              arg = c;
            }
          }
          let sum = 0;
          for (let c = 0; c < C; c++) {
            const e = Math.exp(z[base + c]! - max);
            probs[c] = e;
            sum += e;
          }
          const label = ys[i]!;
          lossSum += max + Math.log(sum) - z[base + label]!;
          // NaN logits: max stays −∞ and the loss is NaN, as on the general path.
          if (arg === label && max !== -Infinity) correct++;
          if (softmaxOut) for (let c = 0; c < C; c++) softmaxOut[base + c] = probs[c]! / sum;
          for (let c = 0; c < C; c++) {
            const g = (probs[c]! / sum - (c === label ? 1 : 0)) / n;
            gr[base + c] = g;
            gt[c * n + i] = g;
          }
        }
        if (softmaxOut) probe!.activation(units[units.length - 1]!.name, softmaxOut, n, C);
      }
      const loss = Math.fround(lossSum / n);
      const acc = Math.fround(correct / n);

      // ---- backward: gradients flow in the transposed layout [F, n]
      const grads = new Array<Info | Float32Array | null>(trainable.length).fill(null);
      let gT: Info | Float32Array | null = null;
      let softmaxGrad = true;
      for (let k = units.length - 1; k >= 0; k--) {
        const u = units[k]!;
        const inp = inputs[k]!;
        switch (u.kind) {
          case 'dense': {
            const F = u.outF;
            let dz: Info;
            let dzT: Info;
            if (softmaxGrad) {
              dz = dRow;
              dzT = dT;
            } else {
              dz = alloc([n, F]);
              dzT = alloc([F, n]);
              const g = gT instanceof Float32Array ? gT : view(gT!);
              const d = u.derivT.get(n * F);
              const zr = view(dz);
              const zt = view(dzT);
              for (let j = 0; j < F; j++) {
                const base = j * n;
                for (let i = 0; i < n; i++) {
                  const v = g[base + i]! * d[base + i]!;
                  zt[base + i] = v;
                  zr[i * F + j] = v;
                }
              }
            }
            if (u.bias) {
              const db = new Float32Array(F);
              const zt = view(dzT);
              for (let j = 0; j < F; j++) {
                let s = 0;
                for (let i = 0; i < n; i++) s += zt[j * n + i]!;
                db[j] = s;
              }
              grads[trainableIndex.get(u.bias)!] = db;
            }
            grads[trainableIndex.get(u.kernel)!] = matMul(inp.T, dz);
            gT = u.needDx ? matMul(infoOf(u.kernel), dzT) : null;
            break;
          }
          case 'bn': {
            const F = u.features;
            const g = gT instanceof Float32Array ? gT : view(gT!);
            const xhatT = u.xhatT.get(n * F);
            const gamma = u.gamma ? view(infoOf(u.gamma)) : null;
            const dGamma = new Float32Array(F);
            const dBeta = new Float32Array(F);
            const dx = u.needDx ? u.gradT.get(n * F) : null;
            for (let j = 0; j < F; j++) {
              const base = j * n;
              let sdy = 0;
              let sdyx = 0;
              for (let i = 0; i < n; i++) {
                sdy += g[base + i]!;
                sdyx += g[base + i]! * xhatT[base + i]!;
              }
              dGamma[j] = sdyx;
              dBeta[j] = sdy;
              if (dx) {
                const scale = ((gamma ? gamma[j]! : 1) * u.invStd[j]!) / n;
                for (let i = 0; i < n; i++) dx[base + i] = scale * (n * g[base + i]! - sdy - xhatT[base + i]! * sdyx);
              }
            }
            if (u.gamma) grads[trainableIndex.get(u.gamma)!] = dGamma;
            if (u.beta) grads[trainableIndex.get(u.beta)!] = dBeta;
            gT = dx;
            break;
          }
          case 'act':
          case 'dropout': {
            if (u.kind === 'act' && u.softmax) {
              // The logits' gradient is the softmax cross-entropy's; it continues below as gT.
              gT = dT;
              break;
            }
            if (gT === null) break;
            const F = u.features;
            const g = gT instanceof Float32Array ? gT : view(gT);
            const d = u.kind === 'act' ? u.derivT.get(n * F) : u.maskT.get(n * F);
            const out = u.gradT.get(n * F);
            for (let k2 = 0; k2 < n * F; k2++) out[k2] = g[k2]! * d[k2]!;
            gT = out;
            break;
          }
        }
        softmaxGrad = false;
      }

      if (probe) grads.forEach((g, i) => g !== null && probe.gradient(i, g instanceof Float32Array ? g : view(g)));

      // ---- optimizer update (new buffers for every updated variable)
      applyUpdate(grads);

      // ---- commit: every variable gets its new buffer
      for (const { variable, info } of fresh) {
        const t = engine.makeTensorFromTensorInfo(info, backend as unknown as TF.KernelBackend);
        variable.assign(t);
        t.dispose();
      }
      committed = true;
      return { loss, acc };
    } finally {
      for (const t of temps) backend.disposeData(t.dataId);
      if (!committed) for (const { info } of fresh) backend.disposeData(info.dataId);
    }

    /**
     * The optimizer's update through the wasm backend's own elementwise kernels (XNNPACK, SIMD), in
     * the order tfjs' optimizer applies them, so a step's update equals tfjs' for the same gradients.
     * Every kernel output is a new buffer; the last one of each variable becomes its new value.
     */
    function applyUpdate(grads: (Info | Float32Array | null)[]): void {
      const lr = (optimizer as unknown as { learningRate: number }).learningRate;
      const iterate = () => (optimizer as unknown as { incrementIterations(): void }).incrementIterations();
      if (opt.kind === 'tfjs') {
        const named: TF.NamedTensorMap = {};
        grads.forEach((g, i) => {
          if (g) named[trainable[i]!.name] = tf.tensor((g instanceof Float32Array ? g : view(g)).slice(), trainable[i]!.shape);
        });
        try {
          optimizer.applyGradients(named);
        } finally {
          tf.dispose(Object.values(named));
        }
        return;
      }
      const upload = (values: Float32Array, shape: number[]): Info => {
        const t = alloc(shape);
        view(t).set(values);
        return t;
      };
      const scalar = (value: number): Info => upload(Float32Array.of(value), []);
      const g = grads.map((gr, i) => (gr === null ? null : gr instanceof Float32Array ? upload(gr, trainable[i]!.shape.slice()) : gr));
      const add = (a: Info, b: Info) => run(kernels.add, a, b);
      const mul = (a: Info, b: Info) => run(kernels.mul, a, b);
      const div = (a: Info, b: Info) => run(kernels.div, a, b);
      /** The kernel output `info` becomes `variable`'s new value when the step commits. */
      const becomes = (variable: TF.Variable, info: Info) => {
        temps.splice(temps.lastIndexOf(info), 1);
        fresh.push({ variable, info });
      };
      if (opt.kind === 'sgd') {
        // tfjs SGD: value + c·g, c = −lr.
        const c = scalar(-lr);
        trainable.forEach((v, i) => {
          if (g[i]) becomes(v, add(mul(c, g[i]!), infoOf(v)));
        });
        iterate();
        return;
      }
      if (opt.kind === 'momentum') {
        const state = optimizer as unknown as { accumulations: (SlotHolder | undefined)[] };
        const c = scalar(-lr);
        const m = scalar(opt.momentum);
        trainable.forEach((v, i) => {
          if (!g[i]) return;
          const accumulation = slot(state.accumulations, i, 'momentum');
          const next = add(mul(m, infoOf(accumulation)), g[i]!);
          const value = opt.nesterov ? add(mul(c, add(g[i]!, mul(next, m))), infoOf(v)) : add(mul(c, next), infoOf(v));
          becomes(accumulation, next);
          becomes(v, value);
        });
        iterate();
        return;
      }
      // Adam, as tfjs' AdamOptimizer.applyGradients.
      const state = optimizer as unknown as { accumulatedFirstMoment: (SlotHolder | undefined)[]; accumulatedSecondMoment: (SlotHolder | undefined)[]; accBeta1: TF.Variable; accBeta2: TF.Variable };
      const accBeta1 = view(infoOf(state.accBeta1))[0]!;
      const accBeta2 = view(infoOf(state.accBeta2))[0]!;
      const oneMinusAccBeta1 = scalar(1 - accBeta1);
      const oneMinusAccBeta2 = scalar(1 - accBeta2);
      const beta1 = scalar(opt.beta1);
      const beta2 = scalar(opt.beta2);
      const oneMinusBeta1 = scalar(1 - opt.beta1);
      const oneMinusBeta2 = scalar(1 - opt.beta2);
      const epsilon = scalar(opt.epsilon);
      const c = scalar(-lr);
      trainable.forEach((v, i) => {
        if (!g[i]) return;
        const first = slot(state.accumulatedFirstMoment, i, 'm');
        const second = slot(state.accumulatedSecondMoment, i, 'v');
        const m1 = add(mul(infoOf(first), beta1), mul(g[i]!, oneMinusBeta1));
        const m2 = add(mul(infoOf(second), beta2), mul(run1(kernels.square, g[i]!), oneMinusBeta2));
        const corrected1 = div(m1, oneMinusAccBeta1);
        const corrected2 = div(m2, oneMinusAccBeta2);
        becomes(first, m1);
        becomes(second, m2);
        becomes(v, add(mul(div(corrected1, add(run1(kernels.sqrt, corrected2), epsilon)), c), infoOf(v)));
      });
      becomes(state.accBeta1, mul(infoOf(state.accBeta1), beta1));
      becomes(state.accBeta2, mul(infoOf(state.accBeta2), beta2));
      iterate();
    }
  }

  return {
    description,
    step: (xs, ys, n, at) => Promise.resolve().then(() => step(xs, ys, n, at)),
    stepSync: step,
    dispose() {
      // Nothing persistent lives on the wasm heap between steps; JS scratch is garbage-collected.
    },
  };
}

function logitsFeatures(units: Unit[]): number {
  const tail = units[units.length - 1]!;
  return tail.kind === 'dense' ? tail.outF : (tail as ActUnit).features;
}

/**
 * y = f(z + b) in place on `z` (row-major [n, F]), the transposed copy in `yT`, and f′ (transposed)
 * in `derivT` — each derivative as tfjs' gradient computes it.
 */
function activate(activation: Activation, z: Float32Array, yT: Float32Array, derivT: Float32Array, n: number, F: number, bias: Float32Array | null): void {
  for (let i = 0; i < n; i++) {
    const base = i * F;
    for (let j = 0; j < F; j++) {
      const v = Math.fround(bias ? z[base + j]! + bias[j]! : z[base + j]!);
      let y: number;
      let d: number;
      switch (activation) {
        case 'linear':
          y = v;
          d = 1;
          break;
        case 'relu':
          y = v > 0 ? v : 0;
          d = v > 0 ? 1 : 0;
          break;
        case 'elu':
          // tfjs: y = x ≥ 0 ? x : eˣ − 1; EluGrad: y ≥ 0 ? dy : dy·(y + 1).
          y = v >= 0 ? v : Math.fround(Math.expm1(v));
          d = y >= 0 ? 1 : y + 1;
          break;
        case 'selu':
          // tfjs' SeluGrad: x > 0 ? dy·scale : dy·scale·alpha·eˣ.
          y = v > 0 ? SELU_SCALE * v : SELU_SCALE * SELU_ALPHA * Math.expm1(v);
          d = v > 0 ? SELU_SCALE : SELU_SCALE * SELU_ALPHA * Math.exp(v);
          break;
        case 'tanh':
          y = Math.fround(Math.tanh(v));
          d = 1 - y * y;
          break;
        case 'sigmoid':
          y = Math.fround(1 / (1 + Math.exp(-v)));
          d = y * (1 - y);
          break;
      }
      z[base + j] = y;
      yT[j * n + i] = y;
      derivT[j * n + i] = d;
    }
  }
}
