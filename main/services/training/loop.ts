/**
 * The training loop (replacing `model.fit`): seeded, pre-shuffled contiguous batches; one SGD step
 * per batch on a layer-by-layer forward pass in training mode (which also updates the
 * BatchNormalization moving statistics); every K batches the step also gathers the statistics
 * stream; validation at each epoch's end in inference mode; pause, resume and stop between batches;
 * a NaN or infinite loss ends the run with a diagnosis; the weights are saved when it ends.
 *
 * One step = one tidy and one read-back. Inside: `optimizer.computeGradients` then `applyGradients`
 * (what `optimizer.minimize(f, true)` does, split so that statistics steps can see the gradients) on
 * the loss from the forward pass (from the logits when the model ends in a softmax, as Keras does),
 * and the read-back of loss, accuracy and (on statistics steps) every statistic, concatenated. Each step also keeps a handle on the weights it started from (no copy: tensors are
 * immutable and an update swaps a variable's buffer), so that when a loss turns NaN the weights of
 * the last step whose loss was finite can be put back and saved.
 */
import type * as TF from '@tensorflow/tfjs';
import type { StartTraining, StatsRecord } from '../../../contract';
import { StatsRecordSchema } from '../../../contract';
import type { FashionMnistData } from '../datasets/fashion-mnist';
import { buildModel, inputShapeOf } from './build-model';
import { fileLoadHandler } from './weights-io';
import { gatherSamples, shuffledIndices, splitIndices, type Split } from './data';
import { divergenceMessage, likelyCauses, type DivergencePoint } from './divergence';
import { score } from './evaluate';
import { accuracy, forwardWithLogits, meanCrossEntropy, planLayers, type LayerPlan } from './forward';
import { encodeNumber, type FromWorker } from './protocol';
import { deriveSeed } from './seeds';
import { addGradientStats, addWeightStats, buildStatsRecord, probeLayer, StatsCollector } from './stats';
import { saveModel, type WeightsMetadata } from './weights-io';

/** Pause and stop requests, set by the worker's message handler, read by the loop between batches. */
export class RunControl {
  stopRequested = false;
  paused = false;
  private wake: (() => void) | null = null;

  pause(): boolean {
    if (this.paused || this.stopRequested) return false;
    this.paused = true;
    return true;
  }

  resume(): boolean {
    if (!this.paused) return false;
    this.paused = false;
    this.wake?.();
    return true;
  }

  stop(): void {
    this.stopRequested = true;
    this.wake?.();
  }

  /** Resolves once resumed or stopped. */
  waitWhilePaused(): Promise<void> {
    if (!this.paused || this.stopRequested) return Promise.resolve();
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

/**
 * Decides which steps gather statistics: every `statsEvery` steps, or (auto) every K steps with K
 * chosen from the measured step time (batch to batch, statistics included, pauses excluded) so that
 * about AUTO_STATS_PER_SECOND records are made per second. Always the first step and the last step
 * of every epoch, so each epoch ends with a record that matches the weights it leaves.
 */
export class StatsSchedule {
  private stepMs: number | null = null;
  private lastStatsStep = -Infinity;

  constructor(private readonly fixed: number | null) {}

  /** K: the number of steps between records (auto: none until a step was timed). */
  get every(): number {
    if (this.fixed !== null) return this.fixed;
    if (this.stepMs === null) return Infinity;
    return Math.max(1, Math.round(1000 / AUTO_STATS_PER_SECOND / this.stepMs));
  }

  due(step: number, lastOfEpoch: boolean): boolean {
    if (step === 0 || lastOfEpoch) return true;
    if (this.fixed !== null) return step % this.fixed === 0;
    return step - this.lastStatsStep >= this.every;
  }

  /** Records a finished step and how long it took. */
  observe(step: number, ms: number, withStats: boolean): void {
    if (withStats) this.lastStatsStep = step;
    // The first step is slow (kernels warm up): it only seeds the average, which forgets it quickly.
    this.stepMs = this.stepMs === null ? ms : this.stepMs * 0.8 + ms * 0.2;
  }
}

export interface TrainingJob {
  runId: string;
  request: StartTraining;
  /** Where to save the final weights (TF.js format); null: not saved. */
  weightsDir: string | null;
  /** Fine-tuning: start from the weights saved in this folder. */
  initialWeightsDir?: string | null;
  backend: string;
  control: RunControl;
  /** Where the data comes from, for the 'loading-data' phase's detail. */
  datasetDir: string;
  loadData(): Promise<FashionMnistData>;
  post(message: FromWorker): void;
}

const disposeAll = (tensors: TF.Tensor[]) => {
  for (const t of tensors) t.dispose();
};

/** Lets queued messages (pause, stop, an evaluation) in between batches. */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

interface Model {
  model: TF.LayersModel;
  plans: LayerPlan[];
  optimizer: TF.SGDOptimizer;
  trainable: TF.Variable[];
  /** Every weight, trainable or not (BN's moving statistics), as LayerVariables and as Variables. */
  weights: TF.LayerVariable[];
  variables: TF.Variable[];
  inputShape: number[];
}

interface StepOutcome {
  loss: number;
  acc: number;
  stats: StatsRecord | null;
  /** Every weight's value before the step (the caller keeps them as the last finite weights, or disposes them). */
  before: TF.Tensor[];
}

/**
 * A second handle on a variable's current buffer, without copying it: tensors are immutable and
 * assigning a variable swaps its buffer, so the handle keeps the value the variable had (what
 * `Engine.incRef` does for a variable; a wasm `tf.clone` would copy every weight each step).
 */
function snapshotOf(tf: typeof TF, variable: TF.Variable): TF.Tensor {
  const engine = tf.engine();
  const handle = engine.makeTensorFromDataId(variable.dataId, variable.shape, variable.dtype);
  engine.backend.incRef(variable.dataId);
  return handle;
}

/** Whether every value of `tensors` is a finite number: one read-back. */
async function allFinite(tf: typeof TF, tensors: TF.Tensor[]): Promise<boolean> {
  // NaN or ±∞ anywhere makes the sum NaN; finite values give 0.
  const check = tf.tidy(() => tf.addN(tensors.map((t) => tf.sum(tf.mul(t, 0)))));
  try {
    return Number.isFinite((await check.data())[0]!);
  } finally {
    check.dispose();
  }
}

/** One SGD step on `n` samples; one tidy, one read-back. */
async function trainStep(
  tf: typeof TF,
  m: Model,
  xs: Float32Array,
  ys: Int32Array,
  n: number,
  at: { epoch: number; step: number; seed: number; withStats: boolean; bnFeatures: number[] },
): Promise<StepOutcome> {
  const collector = at.withStats ? new StatsCollector(tf) : null;
  let kept: TF.Tensor | null = null;
  let readback: TF.Tensor;
  let before: TF.Tensor[];
  try {
    ({ readback, before } = tf.tidy(() => {
      const before = m.variables.map((v) => snapshotOf(tf, v));
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
        return meanCrossEntropy(tf, probs, yb, logits);
      }, m.trainable);
      if (collector) addGradientStats(tf, collector, m.plans, grads);
      m.optimizer.applyGradients(grads);
      if (collector) addWeightStats(tf, collector, m.plans, new Map(m.variables.map((v, i) => [v.name, before[i]!])));
      const head = tf.stack([value, kept!]);
      return { readback: collector ? tf.concat([head, collector.concat()]) : head, before };
    }));
  } finally {
    (kept as TF.Tensor | null)?.dispose();
    collector?.dispose();
  }
  try {
    const values = (await readback.data()) as Float32Array;
    const loss = values[0]!;
    const acc = values[1]!;
    let stats: StatsRecord | null = null;
    if (Number.isFinite(loss) && collector) {
      const record = buildStatsRecord(m.plans, collector.decode(values, 2), { epoch: at.epoch, step: at.step, bnFeatures: at.bnFeatures });
      // A statistic that overflowed (an ∞ gradient norm on a still-finite step) cannot be sent: skip the record.
      stats = StatsRecordSchema.safeParse(record).success ? record : null;
    }
    return { loss, acc, stats, before };
  } catch (error) {
    for (const t of before) t.dispose();
    throw error;
  } finally {
    readback.dispose();
  }
}

/**
 * The weights the last step with a finite loss started from (handles, see snapshotOf): a NaN loss
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
}

type Ending =
  | { type: 'finished' }
  | { type: 'stopped' }
  | {
      type: 'failed';
      error: string;
      divergence?: { step: number; epoch: number; lastFiniteLoss: number | null; likelyCauses: string[] };
      divergedBatch?: Extract<FromWorker, { type: 'failed' }>['divergedBatch'];
    };

/** Trains one run to its end and posts everything; never throws. */
export async function runTraining(tf: typeof TF, job: TrainingJob): Promise<void> {
  const { runId, request, post } = job;
  const { spec, settings } = request;
  let m: Model | null = null;
  const progress: Progress = { epoch: 0, stepsDone: 0, restoredLastFinite: false };
  let ending: Ending;
  try {
    post({ type: 'phase', runId, phase: 'loading-data', detail: job.datasetDir });
    const data = await job.loadData();
    const pixels = data.rows * data.cols;

    post({ type: 'phase', runId, phase: 'building-model' });
    const inputShape = inputShapeOf(spec, pixels);
    const model = await buildModel(tf, spec, { seed: settings.seed });
    if (job.initialWeightsDir) await loadInitialWeights(tf, model, job.initialWeightsDir);
    const optimizer = tf.train.sgd(settings.learningRate);
    const built: Model = {
      model,
      plans: planLayers(model),
      optimizer,
      trainable: model.trainableWeights.map((w) => w.read() as TF.Variable),
      weights: model.weights,
      variables: model.weights.map((w) => w.read() as TF.Variable),
      inputShape,
    };
    m = built;
    ending = await trainLoop(tf, job, built, data, progress);
  } catch (error) {
    ending = { type: 'failed', error: error instanceof Error ? error.message : String(error) };
  }

  let weightsError: string | undefined;
  if (m && job.weightsDir && progress.stepsDone > 0) {
    const metadata: WeightsMetadata = {
      runId,
      status: ending.type,
      kind: progress.restoredLastFinite ? 'last-finite' : 'final',
      epoch: progress.epoch,
      steps: progress.stepsDone,
      batchSize: settings.batchSize,
      seed: settings.seed,
      backend: job.backend,
      savedAt: new Date().toISOString(),
    };
    try {
      await saveModel(tf, m.model, job.weightsDir, metadata);
    } catch (error) {
      weightsError = `The weights could not be saved: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
  if (m) {
    m.optimizer.dispose();
    m.model.dispose();
  }
  const extra = weightsError ? { weightsError } : {};
  if (ending.type === 'failed') {
    const { error, divergence, divergedBatch } = ending;
    post({ type: 'failed', runId, error, ...(divergence ? { divergence } : {}), ...(divergedBatch ? { divergedBatch } : {}), ...extra });
  } else {
    post({ type: ending.type, runId, ...extra });
  }
}

async function trainLoop(tf: typeof TF, job: TrainingJob, m: Model, data: FashionMnistData, progress: Progress): Promise<Ending> {
  const { runId, post } = job;
  const { settings } = job.request;
  const pixels = data.rows * data.cols;
  const split = splitIndices(data.labels.length, settings);
  const trainSamples = split.train.length;
  const validationSamples = split.validation.length;
  const batchSize = settings.batchSize;
  const batchesPerEpoch = Math.ceil(trainSamples / batchSize);

  // One contiguous buffer per epoch order (reused), batches are subarrays of it.
  const xEpoch = new Float32Array(trainSamples * pixels);
  const yEpoch = new Int32Array(trainSamples);
  const xVal = new Float32Array(validationSamples * pixels);
  const yVal = new Int32Array(validationSamples);
  if (validationSamples > 0) gatherSamples(data.images, data.labels, pixels, split.validation, null, xVal, yVal);

  post({ type: 'started', runId, backend: job.backend, epochs: settings.epochs, batchesPerEpoch, trainSamples, validationSamples });
  post({ type: 'phase', runId, phase: 'training' });

  const guard = new LastFinite();
  try {
    return await epochs(tf, job, m, data, progress, guard, { trainSamples, validationSamples, batchesPerEpoch, split, xEpoch, yEpoch, xVal, yVal });
  } finally {
    guard.clear();
  }
}

interface Layout {
  trainSamples: number;
  validationSamples: number;
  batchesPerEpoch: number;
  split: Split;
  xEpoch: Float32Array;
  yEpoch: Int32Array;
  xVal: Float32Array;
  yVal: Int32Array;
}

async function epochs(tf: typeof TF, job: TrainingJob, m: Model, data: FashionMnistData, progress: Progress, guard: LastFinite, layout: Layout): Promise<Ending> {
  const { runId, request, post, control } = job;
  const { spec, settings } = request;
  const { trainSamples, validationSamples, batchesPerEpoch, split, xEpoch, yEpoch, xVal, yVal } = layout;
  const pixels = data.rows * data.cols;
  const batchSize = settings.batchSize;
  const schedule = new StatsSchedule(settings.statsEvery);
  let lastFiniteLoss: number | null = null;
  let step = 0;
  for (let epoch = 0; epoch < settings.epochs; epoch++) {
    progress.epoch = epoch;
    const order = shuffledIndices(trainSamples, deriveSeed(settings.seed, 'epoch', epoch));
    gatherSamples(data.images, data.labels, pixels, split.train, order, xEpoch, yEpoch);
    const epochStart = performance.now();
    let pausedMs = 0;
    let lossSum = 0;
    let accSum = 0;
    let seen = 0;
    for (let batch = 0; batch < batchesPerEpoch; batch++) {
      if (control.paused) {
        const t = performance.now();
        await control.waitWhilePaused();
        pausedMs += performance.now() - t;
      }
      if (control.stopRequested) return { type: 'stopped' };

      const t0 = performance.now();
      const from = batch * batchSize;
      const n = Math.min(batchSize, trainSamples - from);
      const withStats = schedule.due(step, batch === batchesPerEpoch - 1);
      const outcome = await trainStep(tf, m, xEpoch.subarray(from * pixels, (from + n) * pixels), yEpoch.subarray(from, from + n), n, {
        epoch,
        step,
        seed: settings.seed,
        withStats,
        bnFeatures: settings.bnFeatures,
      });
      // The loss is what a learner sees diverge: a NaN or infinite loss ends the run.
      if (!Number.isFinite(outcome.loss)) {
        const used = guard.restore(m.weights, outcome.before, await allFinite(tf, outcome.before));
        progress.restoredLastFinite = true;
        progress.stepsDone = used === 'before' ? step : step - 1;
        const point: DivergencePoint = { step, epoch, batch, loss: outcome.loss, lastFiniteLoss, what: 'loss' };
        const causes = likelyCauses(spec, settings, point);
        return {
          type: 'failed',
          error: divergenceMessage(point, causes),
          divergence: { step, epoch, lastFiniteLoss, likelyCauses: causes },
          divergedBatch: { epoch, batch, step, loss: encodeNumber(outcome.loss), acc: encodeNumber(outcome.acc) },
        };
      }
      guard.accept(outcome.before);
      progress.stepsDone++;
      lastFiniteLoss = outcome.loss;
      lossSum += outcome.loss * n;
      accSum += outcome.acc * n;
      seen += n;
      post({ type: 'batch', runId, samples: n, record: { epoch, batch, step, loss: outcome.loss, acc: outcome.acc } });
      if (outcome.stats) post({ type: 'stats', runId, record: outcome.stats });
      step++;
      await yieldToEventLoop();
      schedule.observe(step - 1, performance.now() - t0, withStats);
    }

    // NaN weights nearly always make the next loss NaN; an epoch's end checks that none slipped through.
    if (!(await allFinite(tf, m.variables))) {
      const point: DivergencePoint = { step: step - 1, epoch, batch: batchesPerEpoch - 1, loss: lastFiniteLoss ?? NaN, lastFiniteLoss, what: 'weights' };
      const causes = likelyCauses(spec, settings, point);
      return { type: 'failed', error: divergenceMessage(point, causes), divergence: { step: step - 1, epoch, lastFiniteLoss, likelyCauses: causes } };
    }

    let validation: { val_loss?: number; val_acc?: number } = {};
    if (validationSamples > 0) {
      const scored = await score(tf, m.plans, xVal, yVal, validationSamples, m.inputShape, { mode: 'inference', chunk: 500 });
      if (Number.isFinite(scored.loss)) validation = { val_loss: scored.loss, val_acc: scored.acc };
    }
    post({
      type: 'epoch',
      runId,
      record: {
        epoch,
        loss: lossSum / seen,
        acc: accSum / seen,
        ...validation,
        durationMs: Math.max(0, performance.now() - epochStart - pausedMs),
        learningRate: settings.learningRate,
        numTensors: tf.memory().numTensors,
      },
    });
  }
  return { type: 'finished' };
}

/** Fine-tuning: copies saved weights (same architecture, same variable order) into the new model. */
async function loadInitialWeights(tf: typeof TF, model: TF.LayersModel, directory: string): Promise<void> {
  const source = await tf.loadLayersModel(fileLoadHandler(directory));
  try {
    const from = source.weights;
    const to = model.weights;
    if (from.length !== to.length) {
      throw new Error(`The saved weights do not fit this model: ${from.length} variables saved, the model has ${to.length}`);
    }
    to.forEach((variable, i) => {
      const same = variable.shape.length === from[i]!.shape.length && variable.shape.every((d, k) => d === from[i]!.shape[k]);
      if (!same) throw new Error(`The saved weights do not fit this model: ${variable.originalName} is [${variable.shape.join(', ')}], saved [${from[i]!.shape.join(', ')}]`);
    });
    model.setWeights(source.getWeights());
  } finally {
    source.dispose();
  }
}
