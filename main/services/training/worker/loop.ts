/**
 * The training loop (replacing `model.fit`): seeded, pre-shuffled contiguous batches; one SGD step
 * per batch on a layer-by-layer forward pass in training mode (which also updates the
 * BatchNormalization moving statistics); every K batches the step also gathers the statistics
 * stream; validation at each epoch's end in inference mode; pause, resume and stop between batches;
 * a NaN or infinite loss, or a finite one that explodes (divergence.ts' ExplosionWatch), ends the run
 * with a diagnosis; the weights are saved when it ends.
 *
 * One step = one tidy and one read-back. Inside: `optimizer.computeGradients` then `applyGradients`
 * (what `optimizer.minimize(f, true)` does, split so that statistics steps can see the gradients) on
 * the loss from the forward pass (from the logits when the model ends in a softmax, as Keras does),
 * and the read-back of loss, accuracy and (on statistics steps) every statistic, concatenated. Each step also keeps a handle on the weights it started from (no copy: tensors are
 * immutable and an update swaps a variable's buffer), so that when a loss turns NaN the weights of
 * the last step whose loss was finite can be put back and saved.
 *
 * On the onnxruntime and webgpu backends an engine (engines/engine-step.ts over ONNX Runtime's step
 * graph or the fused WebGPU step) holds the variables and runs each step; the tfjs model is brought
 * up to date before anything reads it (checkpoints, the saved weights; and the statistics steps and
 * validation of an engine that does not do them on its own arrays, as ONNX Runtime's does), and the
 * engine keeps the last finite weights itself (the WebGPU one on the GPU). The WebGPU one reads loss
 * back every K steps (and on statistics steps, at pauses, stops and each epoch's end): the K steps'
 * own records then go out in order at the read, as one step at a time would post them.
 */
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import type { RunFileFault, StartTraining, StatsRecord } from '../../../../contract';
import { StatsRecordSchema } from '../../../../contract';
import type { OpenedDataset, SampleSource } from '../../datasets/source';
import { buildModel, inputShapeOf } from './build-model';
import { fileLoadHandler, MODEL_JSON } from './weights-io';
import { faultOf } from '../../runs/faults';
import { divergenceMessage, ExplosionWatch, likelyCauses, type DivergencePoint, type Explosion } from './divergence';
import { score, scoreSource } from './evaluate';
import { accuracy, applyMaxNorm, forwardWithLogits, meanCrossEntropy, planLayers, regularizationLoss, sumScalars, type LayerPlan } from './forward';
import { gpuMemory, type GpuMemory } from './backends';
import type { GpuStepMeter } from './gpu-counters';
import { BestEpoch, clipGradients, createOptimizer, EarlyStopper, Plateau, scheduledLearningRate, setLearningRate } from './optimizers';
import { EpochFeeder, gatherNormalized, normalizationFor, splitRun, type NormalizationState, type RunSplit } from './pipeline';
import { encodeNumber, failureOf, type FromWorker } from '../common/protocol';
import { addGradientStats, addWeightStats, BnFeatureChoice, buildStatsRecord, FusedStatsProbe, probeLayer, StatsCollector } from './stats';
import type { WeightsMetadata } from './weights-io';
import { createFusedStep, type FusedStep } from './fused/fused-step';
import { CheckpointWriter } from './checkpoint';
import { explainTrainingError } from './tf-errors';
import { sharedHandle } from './tfjs-adapter';
import type { TaskData } from '../../../../model/task-check';
import { DomainError, type DomainErrorCode } from '../../../../contract/wire';
import { EngineStep, modelWeights } from './engines/engine-step';
import type { EngineStepResult } from './engines/engine';
import { ORT_STEPS_PER_RUN, OrtStepEngine } from './engines/onnxruntime/engine';
import { requestedExecutionProvider } from './engines/onnxruntime/execution-providers';
import { WebGpuStepEngine } from './engines/webgpu/engine';
import { pinnedReadEvery } from './engines/webgpu/read-cadence';
import { dropoutKeepMasks } from './engines/onnxruntime/dropout-masks';

/** Pause and stop requests, set by the worker's message handler, read by the loop between batches. */
export class RunControl {
  stopRequested = false;
  paused = false;
  private wake: (() => void) | null = null;
  /** The loop said 'paused': it reached a batch boundary and waits there. */
  private announced = false;

  /**
   * `notify` says 'paused' when the loop has stopped between batches (every record of the steps before
   * it already posted: a deferred engine's pending steps are read first), and 'resumed' after such a
   * pause — not when a pause is only asked for, so nothing of the run follows a 'paused'.
   */
  constructor(private readonly notify: (event: 'paused' | 'resumed') => void = () => undefined) {}

  pause(): boolean {
    if (this.paused || this.stopRequested) return false;
    this.paused = true;
    return true;
  }

  resume(): boolean {
    if (!this.paused) return false;
    this.paused = false;
    if (this.announced) {
      this.announced = false;
      this.notify('resumed');
    }
    this.wake?.();
    return true;
  }

  stop(): void {
    this.stopRequested = true;
    this.wake?.();
  }

  /** Resolves once resumed or stopped; says 'paused' as it starts waiting. */
  waitWhilePaused(): Promise<void> {
    if (!this.paused || this.stopRequested) return Promise.resolve();
    if (!this.announced) {
      this.announced = true;
      this.notify('paused');
    }
    return new Promise<void>((resolve) => {
      this.wake = () => {
        this.wake = null;
        resolve();
      };
    });
  }
}

/** Target rate of statistics records when `statsEvery` is null. */
export const AUTO_STATS_PER_SECOND = 4;
/** The most of the training time automatic statistics steps may cost (their extra over a plain step). */
export const AUTO_STATS_COST = 0.01;

/**
 * Decides which steps gather statistics: every `statsEvery` steps, or (auto) every K steps with K
 * chosen from the measured step time (batch to batch, statistics included, pauses excluded) so that
 * about AUTO_STATS_PER_SECOND records are made per second. Always the first step and the last step
 * of every epoch, so each epoch ends with a record that matches the weights it leaves.
 */
export class StatsSchedule {
  /** Smoothed time of a step (all steps), and of a plain step (without statistics). */
  private stepMs: number | null = null;
  private plainMs: number | null = null;
  /** Smoothed cost of a statistics step relative to a plain one (≥ 1); a ratio, so it holds when all steps speed up. */
  private statsRatio = 1;
  private lastStatsStep = -Infinity;

  constructor(private readonly fixed: number | null) {}

  /**
   * K: the number of steps between records (auto: none until a step was timed). Auto aims at
   * AUTO_STATS_PER_SECOND records a second, but never lets statistics steps cost more than
   * AUTO_STATS_COST of the training time: a statistics step costs more than a plain one, and at
   * large batches (slow steps) 4 records a second would be a tenth of all steps.
   */
  get every(): number {
    if (this.fixed !== null) return this.fixed;
    if (this.stepMs === null) return Infinity;
    const byRate = Math.round(1000 / AUTO_STATS_PER_SECOND / this.stepMs);
    const byCost = Math.ceil((this.statsRatio - 1) / AUTO_STATS_COST - 1e-9);
    // Until a plain step was timed the cost of statistics is unknown: leave room for one, or slow
    // steps (statistics steps included) would make every step a statistics step, never learning
    // whether they cost several plain ones.
    return Math.max(this.plainMs === null ? 2 : 1, byRate, byCost);
  }

  due(step: number, lastOfEpoch: boolean): boolean {
    if (step === 0 || lastOfEpoch) return true;
    if (this.fixed !== null) return step % this.fixed === 0;
    return step - this.lastStatsStep >= this.every;
  }

  /** Records a finished step and how long it took. */
  observe(step: number, ms: number, withStats: boolean): void {
    // The first steps are slow (kernels warm up): they only seed the averages, which forget them quickly.
    const ema = (previous: number | null, value: number) => (previous === null ? value : previous * 0.8 + value * 0.2);
    this.stepMs = ema(this.stepMs, ms);
    if (withStats) {
      this.lastStatsStep = step;
      if (this.plainMs !== null && this.plainMs > 0) this.statsRatio = ema(this.statsRatio, Math.max(1, ms / this.plainMs));
    } else {
      this.plainMs = ema(this.plainMs, ms);
    }
  }
}

export interface TrainingJob {
  runId: string;
  request: StartTraining;
  /** Where to save the final weights (TF.js format); null: not saved. */
  weightsDir: string | null;
  /** Where to save the best epoch's weights (settings.checkpointBest); null: not saved. */
  checkpointDir?: string | null;
  /** Fine-tuning: start from the weights saved in this folder. */
  initialWeightsDir?: string | null;
  backend: string;
  control: RunControl;
  /** Where the data comes from, for the 'loading-data' phase's detail. */
  datasetDir: string;
  loadData(): Promise<OpenedDataset>;
  post(message: FromWorker): void;
  /** On a WebGPU backend: counts each step's GPU calls for run.json. */
  gpuMeter?: GpuStepMeter | null;
}

const disposeAll = (tensors: TF.Tensor[]) => {
  for (const t of tensors) t.dispose();
};

/** Lets queued messages (pause, stop, an evaluation) in between batches. */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

interface Model {
  model: TF.LayersModel;
  plans: LayerPlan[];
  optimizer: TF.Optimizer;
  trainable: TF.Variable[];
  /** Every weight, trainable or not (BN's moving statistics), as LayerVariables and as Variables. */
  weights: TF.LayerVariable[];
  variables: TF.Variable[];
  inputShape: number[];
  clip: { clipnorm: number | null; clipvalue: number | null };
  /** The fused step (fused/fused-step.ts) for steps without statistics; null: every step takes trainStep. */
  fused: FusedStep | null;
  /** An engine that holds the variables and runs every step (onnxruntime, webgpu); null: the tfjs path. */
  engine: EngineStep | null;
  /** What trains the steps without statistics, for the 'training' phase's detail. */
  stepKind: string;
  /** Writes the best epoch's checkpoint (settings.checkpointBest with a checkpoint folder). */
  checkpoint: CheckpointWriter | null;
}

/** A step of the epoch whose loss the loop has not seen yet. */
interface PendingStep {
  batch: number;
  step: number;
  n: number;
  stats: StatsRecord | null;
  before: TF.Tensor[];
}

interface StepOutcome {
  loss: number;
  acc: number;
  stats: StatsRecord | null;
  /** Every weight's value before the step (the caller keeps them as the last finite weights, or disposes them). */
  before: TF.Tensor[];
}

/** Whether every value of `tensors` is a finite number: one read-back. */
async function allFinite(tf: typeof TF, tensors: TF.Tensor[]): Promise<boolean> {
  // NaN or ±∞ anywhere makes the sum NaN; finite values give 0.
  const zeroed = (t: TF.Tensor) => tf.sum(tf.mul(t, 0));
  const check = tf.tidy(() => sumScalars(tf, tensors.map(zeroed)));
  try {
    return Number.isFinite((await check.data())[0]!);
  } finally {
    check.dispose();
  }
}

/**
 * One SGD step on `n` samples; one tidy, one read-back. With `engine` (an engine that feeds no
 * statistics probe, synced to the tfjs model) the tidy is the taped pass only, for the statistics,
 * and the update is the engine's step at `engine.lr`; the update sizes are read after it.
 */
async function trainStep(
  tf: typeof TF,
  m: Model,
  xs: Float32Array,
  ys: Int32Array,
  n: number,
  at: { epoch: number; step: number; seed: number; withStats: boolean; bnFeatures: BnFeatureChoice },
  engine?: { step: EngineStep; lr: number },
): Promise<StepOutcome> {
  const collector = at.withStats ? new StatsCollector(tf) : null;
  let kept: TF.Tensor | null = null;
  let readback: TF.Tensor;
  let before: TF.Tensor[];
  try {
    ({ readback, before } = tf.tidy(() => {
      const before = m.variables.map((v) => sharedHandle(tf, v));
      const xb = tf.tensor(xs, [n, ...m.inputShape]);
      const yb = tf.tensor1d(ys, 'int32');
      const { value, grads } = m.optimizer.computeGradients(() => {
        const { output: probs, logits } = forwardWithLogits(tf, m.plans, xb, {
          mode: 'train',
          seed: at.seed,
          step: at.step,
          probe: collector ? (plan, input, output) => probeLayer(tf, collector, plan, input, output) : undefined,
        });
        kept = tf.keep(accuracy(tf, probs, yb));
        const loss = meanCrossEntropy(tf, probs, yb, logits);
        // Keras reports (and minimises) the loss with the regularization penalty added.
        const penalty = regularizationLoss(tf, m.plans);
        return penalty ? tf.add(loss, penalty) : loss;
      }, m.trainable);
      if (collector) addGradientStats(tf, collector, m.plans, grads);
      const head = tf.stack([value, kept!]);
      if (engine) {
        return { readback: collector ? tf.concat([head, collector.concat()]) : head, before };
      }
      m.optimizer.applyGradients(clipGradients(tf, grads, m.clip));
      applyMaxNorm(tf, m.plans);
      if (collector) addWeightStats(tf, collector, m.plans, new Map(m.variables.map((v, i) => [v.name, before[i]!])));
      return { readback: collector ? tf.concat([head, collector.concat()]) : head, before };
    }));
  } finally {
    (kept as TF.Tensor | null)?.dispose();
    collector?.dispose();
  }
  try {
    const values = (await readback.data()) as Float32Array;
    let loss = values[0]!;
    let acc = values[1]!;
    const gathered = collector?.decode(values, 2);
    if (engine) ({ loss, acc } = await engineUpdate(tf, m, engine.step, { xs, ys, n, lr: engine.lr, step: at.step }, gathered, before));
    let stats: StatsRecord | null = null;
    if (Number.isFinite(loss) && gathered) {
      const record = buildStatsRecord(m.plans, gathered, { epoch: at.epoch, step: at.step, bnFeatures: at.bnFeatures });
      // A statistic that overflowed (an ∞ gradient norm on a still-finite step) cannot be sent: skip the record.
      stats = StatsRecordSchema.safeParse(record).success ? record : null;
    }
    if (engine) disposeAll(before.splice(0));
    return { loss, acc, stats, before };
  } catch (error) {
    for (const t of before) t.dispose();
    throw error;
  } finally {
    readback.dispose();
  }
}

/**
 * The engine's update after trainStep's taped pass: the step itself, then (a finite loss) the
 * tfjs model synced and the weight norms and update sizes against `before` added to `gathered`.
 */
async function engineUpdate(
  tf: typeof TF,
  m: Model,
  engine: EngineStep,
  batch: { xs: Float32Array; ys: Int32Array; n: number; lr: number; step: number },
  gathered: Map<string, Float32Array> | undefined,
  before: TF.Tensor[],
): Promise<EngineStepResult> {
  // A statistics step: a deferred engine reads back with it.
  const result = await engine.step(batch.xs, batch.ys, batch.n, batch.lr, batch.step, undefined, { read: true });
  if (!gathered || !Number.isFinite(result.loss)) return result;
  await engine.syncToModel();
  const updated = new StatsCollector(tf);
  const weightStats = tf.tidy(() => {
    addWeightStats(tf, updated, m.plans, new Map(m.variables.map((v, i) => [v.name, before[i]!])));
    return updated.concat();
  });
  try {
    for (const [key, value] of updated.decode((await weightStats.data()) as Float32Array, 0)) gathered.set(key, value);
  } finally {
    weightStats.dispose();
    updated.dispose();
  }
  return result;
}

/**
 * A step through the fused step: the same update as trainStep's (see fused/fused-step.ts), with
 * handles on the weights it started from, as trainStep keeps them. A statistics step is the same
 * step with a probe: the fused step hands its BN batch moments, activations and gradients to it as it
 * computes them, and the record is summed in JavaScript (stats.ts' FusedStatsProbe) — no second,
 * taped pass, and the same update whichever steps the auto schedule picks for statistics.
 */
async function fusedTrainStep(
  tf: typeof TF,
  m: Model,
  fused: FusedStep,
  xs: Float32Array,
  ys: Int32Array,
  n: number,
  at: { epoch: number; step: number; seed: number; withStats: boolean; bnFeatures: BnFeatureChoice },
): Promise<StepOutcome> {
  const before = m.variables.map((v) => sharedHandle(tf, v));
  try {
    if (!at.withStats) {
      const { loss, acc } = await fused.step(xs, ys, n, at);
      return { loss, acc, stats: null, before };
    }
    const probe = new FusedStatsProbe(m.plans, m.trainable);
    const { loss, acc } = fused.stepSync(xs, ys, n, { seed: at.seed, step: at.step }, probe);
    let stats: StatsRecord | null = null;
    if (Number.isFinite(loss)) {
      const values = probe.finish(tf, new Map(m.variables.map((v, i) => [v.name, before[i]!])));
      const record = buildStatsRecord(m.plans, values, { epoch: at.epoch, step: at.step, bnFeatures: at.bnFeatures });
      // A statistic that overflowed (an ∞ gradient norm on a still-finite step) cannot be sent: skip the record.
      stats = StatsRecordSchema.safeParse(record).success ? record : null;
    }
    return { loss, acc, stats, before };
  } catch (error) {
    disposeAll(before);
    throw error;
  }
}

/**
 * A step in the engine (engines/engine-step.ts) at learning rate `lr`. A statistics step is the same
 * step with a probe: the engine hands it the BN batch moments and the activations' and gradients'
 * sums (ONNX Runtime's step graph and the fused WebGPU step reduce them themselves; stats.ts'
 * FusedStatsProbe keeps them), and the weight norms and update
 * sizes come from the engine's arrays before and after the step (ONNX Runtime's), or from the tfjs
 * model synced before and after (an engine whose weights live on a device): the same record as
 * trainStep's, and the same update whichever steps gather statistics. The last finite weights are
 * the engine step's to keep (`before` is empty).
 */
async function engineTrainStep(
  tf: typeof TF,
  m: Model,
  engine: EngineStep,
  xs: Float32Array,
  ys: Int32Array,
  n: number,
  lr: number,
  at: { epoch: number; step: number; seed: number; withStats: boolean; bnFeatures: BnFeatureChoice; keptFor?: number | undefined },
): Promise<StepOutcome> {
  if (!at.withStats) {
    const { loss, acc } = await engine.step(xs, ys, n, lr, at.step, undefined, { keptFor: at.keptFor });
    return { loss, acc, stats: null, before: [] };
  }
  if (!engine.feedsProbe) {
    await engine.syncToModel();
    return trainStep(tf, m, xs, ys, n, at, { step: engine, lr });
  }
  const probe = new FusedStatsProbe(m.plans, m.trainable);
  // A statistics step reads back at once (a deferred engine's too): its record needs the step's own values.
  const stepWithProbe = () => engine.step(xs, ys, n, lr, at.step, probe.engineProbe(m.model.trainableWeights.map((w) => w.originalName)), { read: true, keptFor: at.keptFor });
  const record = (values: Map<string, ArrayLike<number>>) => {
    const built = buildStatsRecord(m.plans, values, { epoch: at.epoch, step: at.step, bnFeatures: at.bnFeatures });
    // A statistic that overflowed (an ∞ gradient norm on a still-finite step) cannot be sent: skip the record.
    return StatsRecordSchema.safeParse(built).success ? built : null;
  };
  // An engine that hands out its arrays without copying (ONNX Runtime's): the weight norms and update
  // sizes from those, before and after the step, and the tfjs model is left alone.
  // The loop ran any queued steps before this one: `before` is what this step starts from.
  const before = engine.weightsView();
  if (before) {
    const { loss, acc } = await stepWithProbe();
    if (!Number.isFinite(loss)) return { loss, acc, stats: null, before: [] };
    const after = engine.weightsView()!;
    const values = probe.finishWith(
      (w) => after.get(w.originalName)!.data,
      (w) => before.get(w.originalName)?.data,
    );
    return { loss, acc, stats: record(values), before: [] };
  }
  await engine.syncToModel();
  const handles = m.variables.map((v) => sharedHandle(tf, v));
  try {
    const { loss, acc } = await stepWithProbe();
    if (!Number.isFinite(loss)) return { loss, acc, stats: null, before: [] };
    await engine.syncToModel();
    const values = probe.finish(tf, new Map(m.variables.map((v, i) => [v.name, handles[i]!])));
    return { loss, acc, stats: record(values), before: [] };
  } finally {
    disposeAll(handles);
  }
}

/**
 * The weights the last step with a finite loss started from (handles, see tfjs-adapter.ts' sharedHandle): a NaN loss
 * means the weights that produced it may already hold NaN or ∞; then these are put back.
 */
class LastFinite {
  private weights: TF.Tensor[] | null = null;

  /** A step's loss was finite: the weights it started from become the last finite ones. */
  accept(before: TF.Tensor[]): void {
    this.clear();
    this.weights = before;
  }

  /**
   * Writes the last finite weights back: `before` (the diverging step's own starting weights) when
   * they are all finite numbers or no step was finite yet, else those of the step before. Releases
   * both; returns which was used.
   */
  restore(weights: TF.LayerVariable[], before: TF.Tensor[], beforeIsFinite: boolean): 'before' | 'previous' {
    const usePrevious = !beforeIsFinite && this.weights !== null;
    const source = usePrevious ? this.weights! : before;
    weights.forEach((w, i) => w.write(source[i]!));
    disposeAll(before);
    this.clear();
    return usePrevious ? 'previous' : 'before';
  }

  clear(): void {
    if (this.weights) disposeAll(this.weights);
    this.weights = null;
  }
}

interface Progress {
  epoch: number;
  /** Updates the model's weights have had. */
  stepsDone: number;
  /** The run diverged and the last finite weights were written back. */
  restoredLastFinite: boolean;
  /** Early stopping wrote the weights of this (best) epoch back. */
  restoredBest: number | null;
  normalization: NormalizationState | null;
}

type Ending =
  | { type: 'finished' }
  | { type: 'stopped' }
  | {
      type: 'failed';
      error: string;
      /** The error's domain code ('io': a checkpoint could not be written, see faults) and class. */
      code?: DomainErrorCode;
      name?: string;
      faults?: RunFileFault[];
      divergence?: { step: number; epoch: number; lastFiniteLoss: number | null; likelyCauses: string[] };
      divergedBatch?: Extract<FromWorker, { type: 'failed' }>['divergedBatch'];
    };

/** Trains one run to its end and posts everything; never throws. */
export async function runTraining(tf: typeof TF, job: TrainingJob): Promise<void> {
  const { runId, request, post } = job;
  const { spec, settings } = request;
  let m: Model | null = null;
  // A model built but not yet handed to `m` (fine-tuning weights that do not fit, an optimizer refused): disposed below.
  let unowned: TF.LayersModel | null = null;
  const progress: Progress = { epoch: 0, stepsDone: 0, restoredLastFinite: false, restoredBest: null, normalization: null };
  let ending: Ending;
  let data: TaskData | null = null;
  try {
    post({ type: 'phase', runId, phase: 'loading-data', detail: job.datasetDir });
    // The worker owns the dataset's lifetime (it keeps recent ones open for the next run).
    const dataset = await job.loadData();
    const source = dataset.pool;
    data = { name: 'the dataset', sampleShape: source.sampleShape, classCount: source.classNames.length };

    post({ type: 'phase', runId, phase: 'building-model' });
    const inputShape = inputShapeOf(spec, source.sampleShape);
    const model = await buildModel(tf, spec, { seed: settings.seed });
    unowned = model;
    if (job.initialWeightsDir) await loadInitialWeights(tf, model, job.initialWeightsDir);
    const built: Model = {
      model,
      plans: planLayers(model, spec),
      optimizer: createOptimizer(tf, settings.optimizer, scheduledLearningRate(settings.lrSchedule, settings.learningRate, 0)),
      trainable: model.trainableWeights.map((w) => w.read() as TF.Variable),
      weights: model.weights,
      variables: model.weights.map((w) => w.read() as TF.Variable),
      inputShape,
      clip: { clipnorm: settings.optimizer.config.clipnorm, clipvalue: settings.optimizer.config.clipvalue },
      fused: null,
      engine: null,
      stepKind: '',
      checkpoint: settings.checkpointBest && job.checkpointDir ? new CheckpointWriter(tf, model) : null,
    };
    m = built;
    unowned = null;
    const engine = job.backend === 'onnxruntime' ? await ortEngineStep(tf, built, request) : job.backend === 'webgpu' ? await webGpuEngineStep(tf, built, request) : null;
    if (engine && !('unsupported' in engine)) {
      built.engine = engine;
      built.stepKind = engine.description;
    } else {
      const fused = createFusedStep(tf, built.plans, model, settings, built.optimizer);
      if ('unsupported' in fused) built.stepKind = `general training step (no fused step: ${fused.unsupported})`;
      else {
        built.fused = fused;
        built.stepKind = fused.description;
      }
      // The backend was asked for: say why its step does not run, and what does instead.
      const declined = job.backend === 'webgpu' ? 'no fused WebGPU step' : 'no ONNX Runtime step';
      if (engine) built.stepKind = `${built.fused ? built.stepKind : 'general training step'} (${declined}: ${engine.unsupported})`;
    }
    checkClassCount(model, source);
    built.checkpoint?.prepare();
    ending = await trainLoop(tf, job, built, dataset, progress);
  } catch (error) {
    // TF.js' shape errors name no layer: they are told in the model's terms; the code and class go along.
    const message = explainTrainingError(error instanceof Error ? error.message : String(error), spec, data);
    ending = { type: 'failed', ...failureOf(error, message), ...(error instanceof RunFilesError ? { faults: [error.fault] } : {}) };
  }

  const faults: RunFileFault[] = ending.type === 'failed' ? (ending.faults ?? []) : [];
  if (m && job.weightsDir && progress.stepsDone > 0) {
    await m.engine?.syncToModel();
    const kind = progress.restoredLastFinite ? 'last-finite' : progress.restoredBest !== null ? 'restored-best' : 'final';
    const metadata = weightsMetadata(job, progress, { status: ending.type, kind, epoch: progress.epoch, bestEpoch: progress.restoredBest });
    try {
      // Through the checkpoint writer (the same files as saveModel, without `model.save`, which
      // seemed to slow the steps after it, see checkpoint.ts): this worker trains the next run too.
      await (m.checkpoint ?? new CheckpointWriter(tf, m.model)).save(job.weightsDir, metadata);
    } catch (error) {
      faults.push(weightsFault(error, job.weightsDir));
    }
  }
  if (m) {
    await m.engine?.dispose().catch(() => undefined);
    m.fused?.dispose();
    m.optimizer.dispose();
    m.model.dispose();
  }
  (unowned as TF.LayersModel | null)?.dispose();
  const gpu = job.gpuMeter?.record();
  if (gpu) post({ type: 'gpu', runId, gpu });
  const extra = faults.length ? { faults } : {};
  if (ending.type === 'failed') {
    const { error, code, name, divergence, divergedBatch } = ending;
    post({
      type: 'failed',
      runId,
      error,
      ...(code ? { code } : {}),
      ...(name ? { name } : {}),
      ...(divergence ? { divergence } : {}),
      ...(divergedBatch ? { divergedBatch } : {}),
      ...extra,
    });
  } else {
    post({ type: ending.type, runId, ...extra });
  }
}

/**
 * ONNX Runtime's step for the run (onnxruntime backend), starting from the model's weights, with
 * the run's dropout masks; or why it cannot train this model and optimizer.
 */
async function ortEngineStep(tf: typeof TF, m: Model, request: StartTraining): Promise<EngineStep | { unsupported: string }> {
  const { spec, settings } = request;
  let engine: OrtStepEngine | { unsupported: string };
  try {
    engine = await OrtStepEngine.createPreferring(spec, settings.optimizer, modelWeights(m.weights), requestedExecutionProvider(), {
      batchSize: settings.batchSize,
      stepsPerRun: ORT_STEPS_PER_RUN,
    });
  } catch (error) {
    // A library that ran in the probe but refuses this graph: the run trains on tfjs rather than fail.
    return { unsupported: `ONNX Runtime could not load the step (${error instanceof Error ? error.message.split('\n')[0] : String(error)})` };
  }
  if (!(engine instanceof OrtStepEngine)) return engine;
  return new EngineStep(tf, engine, m.weights, (n, step) => dropoutKeepMasks(tf, engine.graph.masks, n, { seed: settings.seed, step }));
}

/**
 * The fused WebGPU step for the run (webgpu backend), on the device tfjs' webgpu backend holds (the
 * GPU counters and the tfjs model's validation share it), starting from the model's weights, with
 * the run's dropout masks; or why it cannot train this model and optimizer.
 */
async function webGpuEngineStep(tf: typeof TF, m: Model, request: StartTraining): Promise<EngineStep | { unsupported: string }> {
  const { spec, settings } = request;
  const device = (tf.backend() as unknown as { device?: GPUDevice }).device;
  if (!device) return { unsupported: "tfjs' webgpu backend holds no GPU device" };
  // Loss is read back every K steps, K from the step time (or pinned by LAYERBENCH_WEBGPU_READ_EVERY).
  const readEvery = pinnedReadEvery() ?? 'auto';
  const engine = await WebGpuStepEngine.create(device, spec, settings.optimizer, modelWeights(m.weights), { capacity: settings.batchSize, readEvery });
  if (!(engine instanceof WebGpuStepEngine)) return engine;
  return new EngineStep(tf, engine, m.weights, (n, step) => dropoutKeepMasks(tf, engine.masks, n, { seed: settings.seed, step }));
}

/** The output layer must have one unit per class: a mismatch is named before any step runs. */
function checkClassCount(model: TF.LayersModel, source: SampleSource): void {
  const units = model.outputs[0]!.shape[model.outputs[0]!.shape.length - 1];
  const classes = source.classNames.length;
  if (typeof units === 'number' && units < classes) {
    throw new DomainError(
      'invalid-input',
      `The model's last layer has ${units} outputs, but the dataset has ${classes} classes (${source.classNames.slice(0, 5).join(', ')}${classes > 5 ? ', …' : ''}): give the last Dense layer ${classes} units`,
    );
  }
}

interface Layout {
  split: RunSplit;
  feeder: EpochFeeder;
  batchesPerEpoch: number;
  source: SampleSource;
  normalization: NormalizationState;
  /** The validation samples normalized in memory, or null to read them from the source each epoch. */
  validation: { x: Float32Array; y: Int32Array } | null;
}

async function trainLoop(tf: typeof TF, job: TrainingJob, m: Model, dataset: OpenedDataset, progress: Progress): Promise<Ending> {
  const { runId, post } = job;
  const { settings } = job.request;
  const source = dataset.pool;
  const split = splitRun(source.count, settings, dataset.test !== null);
  const normalization = await normalizationFor(settings.normalization, source, split.train);
  progress.normalization = normalization;
  // An engine that reads batches after their step gets them from a ring it can hold without copying.
  const feeder = new EpochFeeder(source, split.train, normalization, settings.batchSize, settings.seed, { heldBatches: m.engine?.heldBatches ?? 0 });
  // A streamed dataset's validation share is scored chunk by chunk from disk each epoch; others are held normalized.
  const validation = source.streamed ? null : await gatherNormalized(source, split.validation, normalization);
  const batchesPerEpoch = feeder.batchesPerEpoch;

  post({
    type: 'started',
    runId,
    backend: job.backend,
    step: m.stepKind,
    epochs: settings.epochs,
    batchesPerEpoch,
    trainSamples: split.train.length,
    validationSamples: split.validation.length,
  });
  post({ type: 'phase', runId, phase: 'training', detail: m.stepKind });

  const guard = new LastFinite();
  const best = new BestSnapshot(tf);
  try {
    return await epochs(tf, job, m, progress, guard, best, { split, feeder, batchesPerEpoch, source, normalization, validation });
  } finally {
    guard.clear();
    best.clear();
  }
}

/** The best epoch's weights, held as handles (no copy, see tfjs-adapter.ts' sharedHandle) for early stopping's restore. */
class BestSnapshot {
  private weights: TF.Tensor[] | null = null;
  epoch: number | null = null;

  constructor(private readonly tf: typeof TF) {}

  take(epoch: number, variables: TF.Variable[]): void {
    this.clear();
    this.weights = variables.map((v) => sharedHandle(this.tf, v));
    this.epoch = epoch;
  }

  restore(weights: TF.LayerVariable[]): boolean {
    if (!this.weights) return false;
    weights.forEach((w, i) => w.write(this.weights![i]!));
    return true;
  }

  clear(): void {
    if (this.weights) disposeAll(this.weights);
    this.weights = null;
  }
}

async function epochs(tf: typeof TF, job: TrainingJob, m: Model, progress: Progress, guard: LastFinite, best: BestSnapshot, layout: Layout): Promise<Ending> {
  const { runId, request, post, control } = job;
  const { settings } = request;
  const { split, feeder, batchesPerEpoch } = layout;
  const validationSamples = split.validation.length;
  const schedule = new StatsSchedule(settings.statsEvery);
  const bnFeatures = new BnFeatureChoice(settings.bnFeatures);
  const plateau = settings.lrSchedule.class_name === 'ReduceLROnPlateau' ? new Plateau(settings.lrSchedule.config) : null;
  const stopper = settings.earlyStopping ? new EarlyStopper(settings.earlyStopping) : null;
  const bestEpoch = BestEpoch.for(settings);
  // The rate ReduceLROnPlateau scales; the per-step schedules derive theirs from the step.
  let plateauRate = settings.learningRate;
  let learningRate = settings.learningRate;
  let lastFiniteLoss: number | null = null;
  const explosions = new ExplosionWatch(outputClasses(m.model));
  let step = 0;
  for (let epoch = 0; epoch < settings.epochs; epoch++) {
    progress.epoch = epoch;
    const epochStart = performance.now();
    let pausedMs = 0;
    let lossSum = 0;
    let accSum = 0;
    let seen = 0;
    let batch = 0;
    /** Steps run whose loss is not known yet (an engine that reads back every K steps), oldest first. */
    const pending: PendingStep[] = [];
    /** Each step once its loss is known, in order: the run ends at the first non-finite or exploding one, else its records go out. */
    const settle = async (done: PendingStep & EngineStepResult): Promise<Ending | null> => {
      // The loss is what a learner sees diverge: a NaN or infinite loss ends the run.
      if (!Number.isFinite(done.loss)) {
        const used = m.engine ? await m.engine.restoreLastFinite(done.step) : guard.restore(m.weights, done.before, await allFinite(tf, done.before));
        progress.restoredLastFinite = true;
        progress.stepsDone = used === 'before' ? done.step : done.step - 1;
        const point: DivergencePoint = { step: done.step, epoch, batch: done.batch, loss: done.loss, lastFiniteLoss, what: 'loss' };
        return diverged(request, point, { epoch, batch: done.batch, step: done.step, loss: encodeNumber(done.loss), acc: encodeNumber(done.acc) });
      }
      guard.accept(done.before);
      progress.stepsDone++;
      lastFiniteLoss = done.loss;
      lossSum += done.loss * done.n;
      accSum += done.acc * done.n;
      seen += done.n;
      post({ type: 'batch', runId, samples: done.n, record: { epoch, batch: done.batch, step: done.step, loss: done.loss, acc: done.acc } });
      if (done.stats) post({ type: 'stats', runId, record: done.stats });
      // A finite loss far above where it started, step after step, ends the run as a NaN does (with the weights that step left).
      const explosion = explosions.observe(done.step, done.loss);
      if (!explosion) return null;
      await m.engine?.rewindAfter(done.step);
      return diverged(request, explosionPoint(explosion, batchesPerEpoch));
    };
    const settleKnown = async (known: EngineStepResult[]): Promise<Ending | null> => {
      for (const result of known) {
        const ended = await settle({ ...pending.shift()!, ...result });
        if (ended) return ended;
      }
      return null;
    };
    // Pending steps are read before a pause, a stop or the epoch's end: their records go out first.
    const flush = async (): Promise<Ending | null> => {
      if (!m.engine || pending.length === 0) return null;
      await m.engine.flush();
      return settleKnown(m.engine.settled());
    };
    for await (const { x, y, n, keptFor } of feeder.batches(epoch)) {
      if (control.paused || control.stopRequested) {
        const ended = await flush();
        if (ended) return ended;
      }
      if (control.paused) {
        const t = performance.now();
        await control.waitWhilePaused();
        pausedMs += performance.now() - t;
      }
      if (control.stopRequested) return { type: 'stopped' };

      const withStats = schedule.due(step, batch === batchesPerEpoch - 1);
      // Steps an engine has queued run before a statistics step, outside its timing, so that the
      // schedule weighs one statistics step against one plain step (those few steps' time goes uncounted).
      if (withStats && m.engine && m.engine.queued > 0) await m.engine.flush();
      const t0 = performance.now();
      const rate = plateau ? plateauRate : scheduledLearningRate(settings.lrSchedule, settings.learningRate, step);
      if (rate !== learningRate) {
        setLearningRate(m.optimizer, rate);
        learningRate = rate;
      }
      // Every step takes the engine or the fused step when there is one (statistics steps too).
      const at = { epoch, step, seed: settings.seed, withStats, bnFeatures, keptFor };
      job.gpuMeter?.begin();
      const outcome = m.engine
        ? await engineTrainStep(tf, m, m.engine, x, y, n, rate, at)
        : m.fused
          ? await fusedTrainStep(tf, m, m.fused, x, y, n, at)
          : await trainStep(tf, m, x, y, n, at);
      job.gpuMeter?.end(withStats);
      pending.push({ batch, step, n, stats: outcome.stats, before: outcome.before });
      const ended = await settleKnown(m.engine ? m.engine.settled() : [outcome]);
      if (ended) return ended;
      step++;
      batch++;
      await yieldToEventLoop();
      schedule.observe(step - 1, performance.now() - t0, withStats);
    }

    const ended = await flush();
    if (ended) return ended;
    // Validation, statistics of the epoch's end, checkpoints and early stopping read the tfjs model.
    await m.engine?.syncToModel();
    // NaN weights nearly always make the next loss NaN; an epoch's end checks that none slipped through
    // (in an engine's own arrays where it hands them out: no tfjs pass).
    if (!(m.engine?.weightsAllFinite() ?? (await allFinite(tf, m.variables)))) {
      return diverged(request, { step: step - 1, epoch, batch: batchesPerEpoch - 1, loss: lastFiniteLoss ?? NaN, lastFiniteLoss, what: 'weights' });
    }

    let validation: { val_loss?: number; val_acc?: number } = {};
    if (validationSamples > 0) {
      // An engine that scores its own weights (ONNX Runtime's inference graph) does; else the tfjs model.
      const scorer = m.engine?.scorer ?? undefined;
      const options = { mode: 'inference', chunk: 500, scorer } as const;
      const scored = layout.validation
        ? await (scorer?.(layout.validation.x, layout.validation.y, validationSamples) ??
            score(tf, m.plans, layout.validation.x, layout.validation.y, validationSamples, m.inputShape, options))
        : await scoreSource(tf, m.plans, layout.source, split.validation, layout.normalization, m.inputShape, options);
      const penalty = await regularizationValue(tf, m.plans);
      if (Number.isFinite(scored.loss)) validation = { val_loss: scored.loss + penalty, val_acc: scored.acc };
    }
    const logs = { loss: lossSum / seen, ...validation };
    post({
      type: 'epoch',
      runId,
      record: {
        epoch,
        ...logs,
        acc: accSum / seen,
        durationMs: Math.max(0, performance.now() - epochStart - pausedMs),
        learningRate,
        numTensors: tf.memory().numTensors,
        ...gpuMemoryField(tf),
      },
    });

    // Epoch-end callbacks, in Keras' order: checkpoint, early stopping, then the plateau's rate.
    const verdict = stopper?.onEpochEnd(epoch, logs);
    const improved = stopper ? verdict === 'improved' : bestEpoch.offer(epoch, logs);
    if (improved) {
      if (settings.earlyStopping?.restore_best_weights) best.take(epoch, m.variables);
      if (settings.checkpointBest && job.checkpointDir) await saveCheckpoint(tf, job, m, progress, epoch);
    }
    if (verdict === 'stop') {
      const restore = settings.earlyStopping!.restore_best_weights && best.epoch !== null && best.restore(m.weights);
      if (restore) {
        progress.restoredBest = best.epoch;
        m.engine?.syncFromModel();
      }
      const monitor = settings.earlyStopping!.monitor;
      post({
        type: 'callback',
        runId,
        callback: 'early-stopping',
        epoch,
        detail: `Early stopping after epoch ${epoch + 1}: ${monitor} has not improved for ${settings.earlyStopping!.patience} epoch${settings.earlyStopping!.patience === 1 ? '' : 's'}${
          restore ? `; the weights of epoch ${best.epoch! + 1} (the best) were restored` : ''
        }`,
      });
      return { type: 'finished' };
    }
    if (plateau) {
      const reduced = plateau.onEpochEnd(logs, plateauRate);
      if (reduced !== null) {
        post({ type: 'callback', runId, callback: 'reduce-lr', epoch, detail: `ReduceLROnPlateau after epoch ${epoch + 1}: learning rate ${plateauRate} → ${reduced}` });
        plateauRate = reduced;
      }
    }
  }
  // A run that ends inside a streak (too short for EXPLOSION_STEPS) must not read "finished" with an exploded loss either.
  const exploding = explosions.current();
  if (exploding) return diverged(request, explosionPoint(exploding, batchesPerEpoch));
  // Keras 3 restores the best epoch's weights when training ends, stopped early or not.
  if (settings.earlyStopping?.restore_best_weights && best.epoch !== null && best.epoch !== settings.epochs - 1 && best.restore(m.weights)) {
    progress.restoredBest = best.epoch;
    m.engine?.syncFromModel();
    post({
      type: 'callback',
      runId,
      callback: 'restore-best',
      epoch: settings.epochs - 1,
      detail: `Training ended; the weights of epoch ${best.epoch + 1} (the best by ${settings.earlyStopping.monitor}) were restored`,
    });
  }
  return { type: 'finished' };
}

/** A run that diverged: failed, with what happened and its likely causes. */
function diverged(request: StartTraining, point: DivergencePoint, divergedBatch?: Extract<Ending, { type: 'failed' }>['divergedBatch']): Ending {
  const causes = likelyCauses(request.spec, request.settings, point);
  const { step, epoch, lastFiniteLoss } = point;
  return { type: 'failed', error: divergenceMessage(point), divergence: { step, epoch, lastFiniteLoss, likelyCauses: causes }, ...(divergedBatch ? { divergedBatch } : {}) };
}

/** The divergence point of an explosion: where its streak began (a run's step k is epoch ⌊k / batches⌋, batch k mod batches). */
function explosionPoint(explosion: Explosion, batchesPerEpoch: number): DivergencePoint {
  const { step, loss } = explosion;
  return { step, epoch: Math.floor(step / batchesPerEpoch), batch: step % batchesPerEpoch, loss, lastFiniteLoss: loss, what: 'explosion', explosion };
}

/** The model's output size: its classes. */
function outputClasses(model: TF.LayersModel): number {
  const shape = model.outputs[0]!.shape;
  return Number(shape[shape.length - 1]);
}

function gpuMemoryField(tf: typeof TF): { gpuMemory?: GpuMemory } {
  const gpu = gpuMemory(tf);
  return gpu ? { gpuMemory: gpu } : {};
}

/** The regularization penalty's current value (0 without regularizers): validation loss includes it, as in Keras. */
async function regularizationValue(tf: typeof TF, plans: LayerPlan[]): Promise<number> {
  if (!plans.some((p) => p.regularizer)) return 0;
  const penalty = tf.tidy(() => regularizationLoss(tf, plans)!);
  try {
    return (await penalty.data())[0]!;
  } finally {
    penalty.dispose();
  }
}

/** What is recorded with saved weights: the run, how far it trained, and how to feed the model (dataset, normalization). */
function weightsMetadata(job: TrainingJob, progress: Progress, what: Pick<WeightsMetadata, 'status' | 'kind' | 'epoch'> & { bestEpoch: number | null }): WeightsMetadata {
  const { settings } = job.request;
  return {
    runId: job.runId,
    status: what.status,
    kind: what.kind,
    ...(what.bestEpoch !== null ? { bestEpoch: what.bestEpoch } : {}),
    epoch: what.epoch,
    steps: progress.stepsDone,
    batchSize: settings.batchSize,
    seed: settings.seed,
    backend: job.backend,
    savedAt: new Date().toISOString(),
    dataset: settings.dataset,
    ...(progress.normalization ? { normalization: progress.normalization } : {}),
  };
}

/** A write of the run's weights failed: the run ends 'failed' (code 'io') rather than carry on without them. */
class RunFilesError extends Error {
  override name = 'RunFilesError';
  readonly code = 'io' as const;
  constructor(
    message: string,
    readonly fault: RunFileFault,
  ) {
    super(message);
  }
}

/** What a failed write into a weights folder (weights/, best/) left: nothing, or an older model.json. */
function weightsFault(error: unknown, directory: string): RunFileFault {
  return faultOf(error, `${basename(directory)}/`, existsSync(join(directory, MODEL_JSON)) ? 'incomplete' : 'missing');
}

/** Saves the best epoch's weights into the run folder (checkpointBest); a failure ends the run (RunFilesError). */
async function saveCheckpoint(tf: typeof TF, job: TrainingJob, m: Model, progress: Progress, epoch: number): Promise<void> {
  const metadata = weightsMetadata(job, progress, { status: 'finished', kind: 'best', epoch, bestEpoch: epoch });
  try {
    await (m.checkpoint ?? new CheckpointWriter(tf, m.model)).save(job.checkpointDir!, metadata);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new RunFilesError(`The best epoch's checkpoint (epoch ${epoch + 1}) could not be saved: ${reason}`, weightsFault(error, job.checkpointDir!));
  }
  job.post({ type: 'callback', runId: job.runId, callback: 'checkpoint', epoch, detail: `Checkpoint: epoch ${epoch + 1} is the best so far; its weights were saved` });
}

/** Fine-tuning: copies saved weights (same architecture, same variable order) into the new model. */
async function loadInitialWeights(tf: typeof TF, model: TF.LayersModel, directory: string): Promise<void> {
  const source = await tf.loadLayersModel(fileLoadHandler(directory));
  try {
    const from = source.weights;
    const to = model.weights;
    if (from.length !== to.length) {
      throw new DomainError('invalid-input', `The saved weights do not fit this model: ${from.length} variables saved, the model has ${to.length}`);
    }
    to.forEach((variable, i) => {
      const same = variable.shape.length === from[i]!.shape.length && variable.shape.every((d, k) => d === from[i]!.shape[k]);
      if (!same)
        throw new DomainError(
          'invalid-input',
          `The saved weights do not fit this model: ${variable.originalName} is [${variable.shape.join(', ')}], saved [${from[i]!.shape.join(', ')}]`,
        );
    });
    model.setWeights(source.getWeights());
  } finally {
    source.dispose();
  }
}
