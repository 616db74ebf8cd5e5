/**
 * Which backend a run trains on. Settings name one ('wasm', 'webgpu', …) or 'auto'. Auto measures:
 * a few timed training steps of this model at this batch size on random data, on each backend
 * that started and can differentiate the model, and picks the fastest — a GPU step costs tens of
 * milliseconds whatever the batch size, so small batches train faster on the CPU's wasm backend and
 * large ones on the GPU, and only a measurement knows where the crossover is for a given model.
 *
 * A backend that did not start is never measured nor chosen; one that throws while measured is
 * recorded with its error and not chosen; one that lacks a gradient kernel the model needs
 * (./kernel-support: wasm has none for Conv2D or MaxPooling2D) is recorded as such. Each backend
 * is timed through the step its runs train with: onnxruntime's step graph, the fused WebGPU step
 * where it takes the model and optimizer (stock tfjs-webgpu otherwise), tfjs elsewhere.
 */
import type * as TF from '@tensorflow/tfjs';
import type { BackendName, BackendReport, Calibration, OptimizerSettings } from '../../../../contract';
import type { ModelSpec } from '../../../../model/spec';
import { summarize, type ModelSummary } from '../../../../model/summary';
import { tfBackendName, useTfjsBackendFor, usableBackends } from './backends';
import { buildModel } from './build-model';
import { seededRandom } from './data';
import { forwardWithLogits, meanCrossEntropy, planLayers } from './forward';
import { missingGradientKernels, trainingBackendFor } from '../common/kernel-support';
import { OrtStepEngine } from './engines/onnxruntime/engine';
import { requestedExecutionProvider } from './engines/onnxruntime/execution-providers';
import { stepGraphSupport } from './engines/onnxruntime/step-graph';
import { dropoutKeepMasks } from './engines/onnxruntime/dropout-masks';
import { modelWeights } from './engines/engine-step';
import { WebGpuStepEngine } from './engines/webgpu/engine';
import { webGpuStepSupport } from './engines/webgpu/layout';

/** Makes tfjs' active backend the one `name` trains on (a contract name: 'tensorflow-gpu' is tfjs' 'tensorflow', onnxruntime's is wasm). */
export function useBackend(tf: typeof TF, name: BackendName | string): Promise<void> {
  return useTfjsBackendFor(tf, name);
}

/** Plain SGD: what Auto measures when the run's optimizer is not given. */
const SGD: OptimizerSettings = { class_name: 'SGD', config: { momentum: 0, nesterov: false, clipnorm: null, clipvalue: null } };

/**
 * Why `backend` cannot train the model (none: it can). onnxruntime trains what its step graph
 * accepts, and with `orTfjs` also what tfjs on wasm can (the loop then steps in tfjs, saying why).
 */
function cannotTrain(tf: typeof TF, spec: ModelSpec, backend: BackendName, optimizer: OptimizerSettings, orTfjs: boolean): string[] {
  if (backend !== 'onnxruntime') return missingGradientKernels(tf, spec, tfBackendName(backend));
  const declined = stepGraphSupport(spec, optimizer);
  if (declined === null) return [];
  if (!orTfjs) return [declined];
  const missing = missingGradientKernels(tf, spec, tfBackendName(backend));
  return missing.length ? [`its step: ${declined}`, ...missing] : [];
}

export interface CalibrateOptions {
  spec: ModelSpec;
  batchSize: number;
  /** The backends to measure, in preference order (ties go to the earlier one): the available ones. */
  backends: BackendName[];
  /** Timed steps per backend, after the warm-up; samples/s is the batch size over the median step time. */
  steps?: number;
  /** Untimed steps first (shader compilation, buffer pools, wasm memory growth). */
  warmupSteps?: number;
  /** Stop timing a backend once its timed steps took this long (after at least one step). */
  budgetMs?: number;
  /** Seeds the weights and the random batch (the same on every backend). */
  seed?: number;
  /** Called before each backend is measured (for a progress line). */
  onBackend?: (backend: BackendName) => void;
  /** The run's optimizer: whether onnxruntime's step takes it, and what it times (default plain SGD). */
  optimizer?: OptimizerSettings;
}

export const CALIBRATION_STEPS = 5;
export const CALIBRATION_WARMUP_STEPS = 1;
export const CALIBRATION_BUDGET_MS = 2_000;

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error)).split('\n')[0]!;

type Timing = Required<Pick<CalibrateOptions, 'steps' | 'warmupSteps' | 'budgetMs' | 'seed'>>;

/** A random batch for the model (seeded: the same on every backend). */
function randomBatch(model: TF.LayersModel, batchSize: number, seed: number): { xs: Float32Array; ys: Int32Array; inputShape: number[] } {
  const inputShape = model.inputs[0]!.shape.slice(1).map((d) => {
    if (d == null) throw new Error('the model has an input dimension of unknown size');
    return d;
  });
  const outputShape = model.outputs[0]!.shape;
  const classes = Math.max(1, Number(outputShape[outputShape.length - 1] ?? 1));
  const random = seededRandom(seed);
  const xs = new Float32Array(batchSize * inputShape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < xs.length; i++) xs[i] = random();
  const ys = new Int32Array(batchSize);
  for (let i = 0; i < ys.length; i++) ys[i] = Math.floor(random() * classes) % classes;
  return { xs, ys, inputShape };
}

/** Samples per second of `step`'s median time (of `steps`, after the warm-up); `batchSize`: the samples one call trains. */
async function timeSteps(step: (index: number) => Promise<void>, batchSize: number, o: Timing): Promise<number> {
  let index = 0;
  for (let i = 0; i < o.warmupSteps; i++) await step(index++);
  // The median step, not the mean: a few steps are a short sample, and one garbage collection or
  // a busy machine would otherwise decide the choice.
  const durations: number[] = [];
  const start = performance.now();
  while (durations.length < o.steps) {
    const before = performance.now();
    await step(index++);
    durations.push(performance.now() - before);
    if (performance.now() - start >= o.budgetMs) break;
  }
  durations.sort((a, b) => a - b);
  const mid = durations.length >> 1;
  const medianMs = durations.length % 2 ? durations[mid]! : (durations[mid - 1]! + durations[mid]!) / 2;
  return batchSize / (Math.max(medianMs, 1e-6) / 1000);
}

/** Samples per second of ONNX Runtime's step of the model (with the run's optimizer), masks drawn as the loop draws them. */
async function measureOrt(tf: typeof TF, spec: ModelSpec, batchSize: number, optimizer: OptimizerSettings, o: Timing): Promise<number> {
  const model = await buildModel(tf, spec, { seed: o.seed });
  let engine: OrtStepEngine | null = null;
  try {
    const { xs, ys } = randomBatch(model, batchSize, o.seed);
    // One step a run, each timed like every other backend's steps (the label says how many steps were
    // timed); the loop's ORT_STEPS_PER_RUN steps a run are faster still (bench/README.md).
    const created = await OrtStepEngine.createPreferring(spec, optimizer, modelWeights(model.weights), requestedExecutionProvider(), { batchSize });
    if (!(created instanceof OrtStepEngine)) throw new Error(`its step ${created.unsupported}`);
    engine = created;
    const ort = created;
    return await timeSteps(
      async (index) => {
        await ort.step(xs, ys, batchSize, 0.01, dropoutKeepMasks(tf, ort.graph.masks, batchSize, { seed: o.seed, step: index }));
      },
      batchSize,
      o,
    );
  } finally {
    await engine?.dispose();
    model.dispose();
  }
}

/**
 * Steps per timed call of the fused WebGPU step, the last one reading the loss back: the loop reads
 * every K steps too (read-cadence.ts), so the waits are timed as a run pays them.
 */
export const FUSED_WEBGPU_STEPS_PER_TIMING = 4;

/** Samples per second of the fused WebGPU step of the model (the run's optimizer) on tfjs-webgpu's device, or null when it declines them. */
async function measureFusedWebGpu(tf: typeof TF, spec: ModelSpec, batchSize: number, optimizer: OptimizerSettings, o: Timing): Promise<number | null> {
  const device = (tf.backend() as unknown as { device?: GPUDevice }).device;
  if (!device || webGpuStepSupport(spec, optimizer) !== null) return null;
  const model = await buildModel(tf, spec, { seed: o.seed });
  let engine: WebGpuStepEngine | null = null;
  try {
    const { xs, ys } = randomBatch(model, batchSize, o.seed);
    const group = FUSED_WEBGPU_STEPS_PER_TIMING;
    const created = await WebGpuStepEngine.create(device, spec, optimizer, modelWeights(model.weights), { capacity: batchSize, readEvery: group });
    if (!(created instanceof WebGpuStepEngine)) return null;
    engine = created;
    const fused = created;
    return await timeSteps(
      async (index) => {
        for (let k = 0; k < group; k++) {
          const step = index * group + k;
          await fused.step(xs, ys, batchSize, 0.01, dropoutKeepMasks(tf, fused.masks, batchSize, { seed: o.seed, step }));
        }
      },
      batchSize * group,
      o,
    );
  } finally {
    await engine?.dispose();
    model.dispose();
  }
}

/** Samples per second of the model's median SGD step (of `steps`, after the warm-up) on the active backend. */
async function measure(tf: typeof TF, spec: ModelSpec, batchSize: number, o: Timing & { summary: ModelSummary }): Promise<number> {
  const model = await buildModel(tf, spec, { seed: o.seed, summary: o.summary });
  const optimizer = tf.train.sgd(0.01);
  try {
    const plans = planLayers(model, spec);
    const trainable = model.trainableWeights.map((w) => w.read() as TF.Variable);
    const { xs, ys, inputShape } = randomBatch(model, batchSize, o.seed);

    // As the training loop's step: upload the batch, forward in training mode, gradients, SGD
    // update, read the loss back.
    const step = async (index: number) => {
      const loss = tf.tidy(() => {
        const xb = tf.tensor(xs, [batchSize, ...inputShape]);
        const yb = tf.tensor1d(ys, 'int32');
        const { value, grads } = optimizer.computeGradients(() => {
          const { output, logits } = forwardWithLogits(tf, plans, xb, { mode: 'train', seed: o.seed, step: index });
          return meanCrossEntropy(tf, output, yb, logits);
        }, trainable);
        optimizer.applyGradients(grads);
        return value;
      });
      try {
        await loss.data();
      } finally {
        loss.dispose();
      }
    };
    return await timeSteps(step, batchSize, o);
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}

/**
 * Times a few training steps of `spec` at `batchSize` on each of `backends` and picks the fastest.
 * tf's active backend is the same afterwards. Throws when no backend could train the model.
 */
export async function calibrate(tf: typeof TF, options: CalibrateOptions): Promise<Calibration> {
  const o = {
    steps: Math.max(1, Math.floor(options.steps ?? CALIBRATION_STEPS)),
    warmupSteps: Math.max(0, Math.floor(options.warmupSteps ?? CALIBRATION_WARMUP_STEPS)),
    budgetMs: options.budgetMs ?? CALIBRATION_BUDGET_MS,
    seed: options.seed ?? 0,
    summary: summarize(options.spec),
  };
  const previous = tf.getBackend();
  const results: Calibration['results'] = [];
  try {
    const optimizer = options.optimizer ?? SGD;
    for (const backend of [...new Set(options.backends)]) {
      const missing = cannotTrain(tf, options.spec, backend, optimizer, false);
      if (missing.length > 0) {
        results.push({ backend, samplesPerSec: null, error: `cannot train this model: ${missing.join('; ')}` });
        continue;
      }
      options.onBackend?.(backend);
      try {
        await useBackend(tf, backend);
        const fused = backend === 'webgpu' ? await measureFusedWebGpu(tf, options.spec, options.batchSize, optimizer, o) : null;
        const samplesPerSec =
          fused ?? (backend === 'onnxruntime' ? await measureOrt(tf, options.spec, options.batchSize, optimizer, o) : await measure(tf, options.spec, options.batchSize, o));
        results.push({ backend, samplesPerSec });
      } catch (error) {
        results.push({ backend, samplesPerSec: null, error: messageOf(error) });
      }
    }
  } finally {
    if (tf.getBackend() !== previous) await tf.setBackend(previous);
  }
  let chosen: Calibration['results'][number] | null = null;
  for (const result of results) {
    if (result.samplesPerSec !== null && (!chosen || result.samplesPerSec > chosen.samplesPerSec!)) chosen = result;
  }
  if (!chosen) {
    throw new Error(`No backend could train this model: ${results.map((r) => `${r.backend}: ${r.error}`).join('; ') || 'none to measure'}`);
  }
  return { results, chosen: chosen.backend, steps: o.steps };
}

/** Whether `name` runs on a software adapter: the CPU behind a GPU API (SwiftShader, llvmpipe, WARP). */
export function onSoftwareAdapter(report: BackendReport, name: BackendName): boolean {
  return report.adapter?.backend === name && report.adapter.software === true;
}

/**
 * Backends on software adapters last: calibration gives ties to the earlier backend, so Auto picks a
 * software adapter over a CPU backend only when it measured faster.
 */
export function softwareLast(report: BackendReport, names: BackendName[]): BackendName[] {
  return [...names.filter((name) => !onSoftwareAdapter(report, name)), ...names.filter((name) => onSoftwareAdapter(report, name))];
}

/** The settings ask for a backend that did not start. */
export class BackendUnavailableError extends Error {
  override name = 'BackendUnavailableError';
  readonly code = 'unsupported' as const;
}

export interface BackendChoice {
  /** The backend to train on. */
  backend: BackendName;
  /** Why it is not the active (default) backend, for the UI; absent when it is. */
  reason?: string;
  /** Present when Auto measured two or more backends: post it as a 'calibration' event. */
  calibration?: Calibration;
}

export interface ChooseOptions extends Pick<CalibrateOptions, 'steps' | 'warmupSteps' | 'budgetMs' | 'seed' | 'onBackend' | 'optimizer'> {
  report: BackendReport;
  spec: ModelSpec;
  batchSize: number;
  /** TrainingSettings.backend. */
  requested: 'auto' | BackendName;
}

const fmt = (n: number | null) => (n === null ? '—' : Math.round(n).toLocaleString('en-US'));

/**
 * The backend a run trains on (does not switch to it: `useBackend`). A named backend is used if it
 * started and can train the model, and refused with the reason otherwise. Auto takes the backends
 * that started and can train the model — less tfjs' pure-JS cpu reference backend when another can,
 * as it is never the faster one — and calibrates when that leaves two or more.
 */
export async function chooseBackend(tf: typeof TF, options: ChooseOptions): Promise<BackendChoice> {
  const { report, spec, requested } = options;
  const usable = usableBackends(report);
  const active = report.active as BackendName;

  if (requested !== 'auto') {
    const candidate = report.candidates.find((c) => c.name === requested);
    if (!usable.includes(requested)) {
      const why =
        candidate?.status === 'skipped'
          ? `it was skipped when the training worker started: ${candidate.reason ?? 'no reason recorded'}`
          : candidate?.status === 'not-tried'
            ? `it was not tried${candidate.reason ? ` (${candidate.reason})` : ''}`
            : 'it is not among the backends this worker probes';
      throw new BackendUnavailableError(`The ${requested} backend is not available: ${why}. Choose Auto or one of: ${usable.join(', ')}.`);
    }
    const missing = cannotTrain(tf, spec, requested, options.optimizer ?? SGD, true);
    if (missing.length > 0) {
      throw new Error(`The ${requested} backend cannot train this model (${missing.join('; ')}): choose Auto or cpu.`);
    }
    return requested === active ? { backend: requested } : { backend: requested, reason: `Training on ${requested}, as the settings ask (the default is ${active})` };
  }

  // onnxruntime only where its step takes the model: elsewhere it would be wasm under another name.
  let capable = softwareLast(
    report,
    usable.filter((name) => cannotTrain(tf, spec, name, options.optimizer ?? SGD, false).length === 0),
  );
  // cpu goes only when a backend that really is faster remains: a software adapter may not be.
  if (capable.some((name) => name !== 'cpu' && !onSoftwareAdapter(report, name))) capable = capable.filter((name) => name !== 'cpu');
  if (capable.length === 0) {
    // None that started can differentiate the model (wasm alone, a Conv2D model): tfjs' cpu can.
    const fallback = trainingBackendFor(tf, spec, tfBackendName(active));
    return { backend: fallback.backend as BackendName, ...(fallback.reason ? { reason: fallback.reason } : {}) };
  }
  if (capable.length === 1) {
    const only = capable[0]!;
    if (only === active) return { backend: only };
    const kernel = trainingBackendFor(tf, spec, tfBackendName(active));
    return { backend: only, reason: kernel.reason?.replace(/training on cpu instead$/, `training on ${only} instead`) ?? `Training on ${only}` };
  }
  const calibration = await calibrate(tf, { ...options, backends: capable });
  const chosen = calibration.results.find((r) => r.backend === calibration.chosen)!;
  const others = calibration.results.filter((r) => r !== chosen).map((r) => `${r.backend} ${r.samplesPerSec === null ? `failed: ${r.error}` : fmt(r.samplesPerSec)}`);
  const reason = `Auto: ${calibration.chosen} trains this model fastest at batch ${options.batchSize} (${fmt(chosen.samplesPerSec)} samples/s; ${others.join(', ')})`;
  return { backend: calibration.chosen, calibration, reason };
}
