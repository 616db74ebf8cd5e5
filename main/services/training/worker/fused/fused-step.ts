/**
 * A fused training step for the common case on the wasm backend: a Sequential stack of Flatten,
 * Reshape, Dense, BatchNormalization and LayerNormalization (last axis; without gamma or beta: γ = 1,
 * β = 0), Activation and (Alpha)Dropout layers ending in a softmax, trained with sparse categorical
 * cross-entropy from the logits. Each layer is a training unit (units/<layer>.ts: its typed config
 * from the spec, what it declines, its forward and backward); this file composes them over the wasm
 * heap, computes the loss and applies the optimizer.
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
import type { TrainingSettings } from '../../../../../contract';
import type { LayerPlan } from '../forward';
import {
  adamState,
  callKernel,
  heapView,
  incrementIterations,
  learningRateOf,
  momentumState,
  tensorFromInfo,
  wasmBackendOf,
  type Info,
  type KernelFunc,
  type OptimizerSlot,
} from '../tfjs-adapter';
import { UNIT_KINDS } from '../units';
import { sizeOf, type Act, type FusedProbe, type GradT, type StepContext, type TrainingUnit, type UnitSite } from '../units/unit';

export type { FusedProbe } from '../units/unit';

type Tf = typeof TF;

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
  { kind: 'sgd' } | { kind: 'momentum'; momentum: number; nesterov: boolean } | { kind: 'adam'; beta1: number; beta2: number; epsilon: number } | { kind: 'tfjs'; name: string };

function variableOf(plan: LayerPlan, suffix: string): TF.Variable | null {
  const w = plan.layer.weights.find((v) => v.originalName.endsWith(`/${suffix}`) || v.originalName === suffix);
  return w ? (w.read() as TF.Variable) : null;
}

/** Composes the layers' training units, or says why the model is outside what the fused step supports. */
function planUnits(plans: LayerPlan[], model: TF.LayersModel): TrainingUnit[] | string {
  const inShape = model.inputs[0]?.shape;
  if (!inShape || inShape.slice(1).some((d) => typeof d !== 'number')) return 'the model input has no fixed shape';
  let shape = inShape.slice(1) as number[];
  const units: TrainingUnit[] = [];
  let trainableBefore = false;
  for (let i = 0; i < plans.length; i++) {
    const plan = plans[i]!;
    if (plan.layer.trainable === false && plan.layer.weights.length > 0) return `layer ${plan.name} is frozen`;
    const kind = UNIT_KINDS.get(plan.className);
    if (!kind) return `layer ${plan.name} is a ${plan.className}`;
    const site: UnitSite = { name: plan.name, className: plan.className, shape, last: i === plans.length - 1, trainableBefore, variable: (suffix) => variableOf(plan, suffix) };
    const config = kind.config(plan.config, plan.className);
    const decline = kind.supports(config, site);
    if (decline) return decline;
    const { unit, shape: next } = kind.create(config, site);
    shape = next;
    if (!unit) continue;
    units.push(unit);
    if (unit.variables.length > 0 || plan.layer.weights.length > 0) trainableBefore = true;
  }
  if (!units[units.length - 1]?.logits) return 'the model does not end in a softmax';
  if (!units.some((u) => u.variables.length > 0)) return 'the model has no trainable layer';
  return units;
}

function optimizerKind(optimizer: TF.Optimizer, settings: TrainingSettings): OptimizerKind | string {
  const { clipnorm, clipvalue } = settings.optimizer.config;
  if (clipnorm !== null || clipvalue !== null) return 'gradient clipping (clipnorm/clipvalue)';
  // By class name: tfjs' Optimizer overrides instanceof (any object with the three methods is every optimizer).
  const name = optimizer.getClassName();
  if (name === 'Momentum') {
    const o = momentumState(optimizer);
    return { kind: 'momentum', momentum: o.momentum, nesterov: o.useNesterov };
  }
  if (name === 'SGD') return { kind: 'sgd' };
  if (name === 'Adam') {
    const o = adamState(optimizer);
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

  const backend = wasmBackendOf(tf);
  const trainable = model.trainableWeights.map((w) => w.read() as TF.Variable);
  const trainableIndex = new Map(trainable.map((v, i) => [v, i]));
  const unitVariables = units.flatMap((u) => u.variables);
  for (const v of unitVariables) if (!trainableIndex.has(v)) return { unsupported: `variable ${v.name} is not trainable` };
  if (trainableIndex.size !== unitVariables.length) {
    return { unsupported: 'the model has trainable weights outside its Dense and normalization layers' };
  }
  const inputFeatures = sizeOf(model.inputs[0]!.shape.slice(1) as number[]);
  const kernelFunc = matMulConfig.kernelFunc;
  const kernelNamed = (name: string): KernelFunc | string => tf.getKernel(name, 'wasm')?.kernelFunc ?? `the wasm backend has no '${name}' kernel`;
  const found = { add: kernelNamed('Add'), mul: kernelNamed('Multiply'), div: kernelNamed('RealDiv'), sqrt: kernelNamed('Sqrt'), square: kernelNamed('Square') };
  for (const k of Object.values(found)) if (typeof k === 'string') return { unsupported: k };
  const kernels = found as Record<keyof typeof found, KernelFunc>;

  /** A view on the wasm heap; take it after any allocation (growing the heap detaches older views). */
  const view = (info: { dataId: object; shape: readonly number[] }): Float32Array => heapView(backend, info, sizeOf(info.shape));
  const infoOf = (v: TF.Variable): Info => ({ dataId: v.dataId, shape: v.shape, dtype: 'float32' });

  const description = `fused training step (${opt.kind === 'tfjs' ? `${opt.name} through tfjs` : opt.kind === 'momentum' ? (opt.nesterov ? 'SGD Nesterov' : 'SGD momentum') : opt.kind === 'adam' ? 'Adam' : 'SGD'}, ${units.length} layers)`;

  /** The optimizer's slot variables for trainable[i] (created as tfjs would: zeros, non-trainable). */
  const slot = (list: (OptimizerSlot | undefined)[], i: number, suffix: string): TF.Variable => {
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
    const grads = new Array<GradT | null>(trainable.length).fill(null);
    const alloc = (shape: number[]): Info => {
      const t = backend.makeOutput(shape, 'float32');
      temps.push(t);
      return t;
    };
    const keep = (out: Info): Info => {
      temps.push(out);
      return out;
    };
    const matMul = (a: Info, b: Info): Info => keep(callKernel(kernelFunc, backend, { a, b }, { transposeA: false, transposeB: false }));
    const run = (fn: KernelFunc, a: Info, b: Info): Info => keep(callKernel(fn, backend, { a, b }));
    const run1 = (fn: KernelFunc, x: Info): Info => keep(callKernel(fn, backend, { x }));
    const ctx: StepContext = {
      n,
      seed: at.seed,
      step: at.step,
      probe,
      alloc,
      replace(variable) {
        const t = backend.makeOutput(variable.shape.slice(), 'float32');
        fresh.push({ variable, info: t });
        return t;
      },
      view,
      floats: (g) => (g instanceof Float32Array ? g : view(g)),
      variable: infoOf,
      matMul,
      uniform(shape, seed) {
        const uniform = tf.randomUniform(shape, 0, 1, 'float32', seed);
        const draws = uniform.dataSync() as Float32Array;
        uniform.dispose();
        return draws;
      },
      gradient(variable, g) {
        grads[trainableIndex.get(variable)!] = g;
      },
    };
    let committed = false;
    try {
      // ---- input: both layouts
      const x: Act = { row: alloc([n, inputFeatures]), T: alloc([inputFeatures, n]), features: inputFeatures };
      {
        const row = view(x.row);
        const t = view(x.T!);
        row.set(xs.subarray(0, n * inputFeatures));
        const F = inputFeatures;
        for (let i = 0; i < n; i++) {
          const base = i * F;
          for (let j = 0; j < F; j++) t[j * n + i] = row[base + j]!;
        }
      }

      // ---- forward, unit by unit; the last one's output is the logits
      const inputs: Act[] = [];
      let cur = x;
      for (const u of units) {
        inputs.push(cur);
        cur = u.forward(ctx, cur);
      }
      const logits = cur.row;

      // ---- softmax cross-entropy from the logits (+ accuracy), and its gradient in both layouts
      const C = cur.features;
      const dRow = alloc([n, C]);
      const dT = alloc([C, n]);
      let lossSum = 0;
      let correct = 0;
      {
        const z = view(logits);
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

      // ---- backward, unit by unit: gradients flow in the transposed layout [F, n]
      let gT: GradT | null = dT;
      for (let k = units.length - 1; k >= 0; k--) {
        gT = units[k]!.backward(ctx, inputs[k]!, gT, k === units.length - 1 ? dRow : null);
      }

      if (probe) grads.forEach((g, i) => g !== null && probe.gradient(i, g instanceof Float32Array ? g : view(g)));

      // ---- optimizer update (new buffers for every updated variable)
      applyUpdate(grads);

      // ---- commit: every variable gets its new buffer
      for (const { variable, info } of fresh) {
        const t = tensorFromInfo(tf, info, backend);
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
      const lr = learningRateOf(optimizer);
      const iterate = () => incrementIterations(optimizer);
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
        const state = momentumState(optimizer);
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
      const state = adamState(optimizer);
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
