/**
 * What the training loop needs from an execution engine that holds the model's variables itself
 * (ONNX Runtime's step graph, the fused WebGPU step): one step per batch, and the variables in and
 * out by Keras name, so the loop can copy them into the tfjs model for statistics, validation,
 * checkpoints and exports, and put back the last finite weights after a NaN step. The tfjs model
 * stays the reference: an engine that cannot train a spec says why (`{ unsupported }`) and the
 * loop falls back to the tfjs path.
 */
import type { NamedWeights } from '../../../export/weights';

export interface EngineStepResult {
  loss: number;
  acc: number;
}

/** What the record needs of one activating layer's output: its mean and biased variance, and its saturation rule's share (stats.ts). */
export interface ActivationMoments {
  mean: number;
  variance: number;
  /** Absent where the activation has no saturation rule. */
  saturation?: number;
}

/**
 * What a statistics step hands out as it computes it, for the dashboard's record (stats.ts'
 * FusedStatsProbe keeps them): the BN layers' batch moments, each activating layer's output moments
 * and saturated share, and each trainable variable's Σ g² before clipping (penalties included), by
 * Keras name, as the engine reduced them (the fused WebGPU step on its device, ONNX Runtime in its
 * graph): the same record as the general path's.
 */
export interface EngineProbe {
  bn(layer: string, mean: Float64Array, variance: Float64Array): void;
  activationMoments(layer: string, moments: ActivationMoments): void;
  gradientSumOfSquares(variable: string, sq: number): void;
}

/** How a step is taken: see TrainingEngine.step. */
export interface StepOptions {
  read?: boolean;
  keptFor?: number;
}

export interface TrainingEngine {
  /** What runs the step, for the badge and run.json ("ONNX Runtime 1.30 (CPU, 1 thread): one graph of 143 nodes per step"). */
  readonly description: string;
  /** The model variables (weights and BN moving statistics) in Keras' order, as copies. */
  getWeights(): NamedWeights;
  /**
   * The model variables without copying, where the engine can hand them out: arrays it never writes
   * into again (ONNX Runtime's step outputs are fresh arrays each step), so that the loop keeps the
   * weights each step started from (for the last-finite restore) at no cost. Absent: getWeights.
   */
  weightsView?(): NamedWeights;
  /**
   * The model variables as they are now, for an engine whose variables live on a device and whose
   * getWeights is as of its last read-back (the fused WebGPU step), or that queues steps (ONNX
   * Runtime's: it runs them first). Absent: getWeights is current.
   */
  readWeights?(): Promise<NamedWeights>;
  /**
   * Engine-side last-finite weights, for an engine whose weights cost a read-back: after
   * `keepLastFinite()` each step keeps the weights it started from on the device (the fused WebGPU
   * step: a buffer copy in the step's own submit), and after a step with a NaN loss
   * `restoreLastFinite(step)` puts back those of that step (its index since keepLastFinite, by
   * default the latest) when they are all finite, or those of the step before. Absent: the loop keeps
   * copies on the host (weightsView, getWeights).
   */
  keepLastFinite?(): void;
  restoreLastFinite?(step?: number): Promise<'before' | 'previous'>;
  /**
   * Deferred read-back (the fused WebGPU step reads loss back every K steps): `step` then returns the
   * last values read, and each step's own loss and accuracy come later, in order, from
   * `takeReadSteps()` (the steps read since the last call); `flush()` reads the pending ones now, and
   * `restoreStepStart(step)` undoes the steps from `step` on (they ran before the loop saw an earlier
   * step end the run). Absent: each step's result is its own.
   */
  takeReadSteps?(): EngineStepResult[];
  flush?(): Promise<void>;
  /** Steps queued and not yet run, for an engine that runs several at once (ONNX Runtime's); absent: none are. */
  queuedSteps?(): number;
  restoreStepStart?(step: number): Promise<void>;
  /** False when `step` does not feed a statistics probe: the loop then takes the statistics from a taped tfjs pass. */
  readonly feedsProbe?: boolean;
  /**
   * Mean loss and accuracy of the model as the engine holds it, in inference mode (BN's moving
   * statistics, dropout off), on `n` samples: validation without the tfjs model. Absent: the loop
   * scores the tfjs model.
   */
  score?(x: Float32Array, y: Int32Array, n: number): Promise<EngineStepResult>;
  /** Replaces every model variable; optimizer slots are kept. */
  setWeights(weights: NamedWeights): void;
  /**
   * One step on `n` samples (`xs` row-major [n, …input shape], `ys` class indices) at learning rate
   * `lr`; `masks`: each dropout layer's keep mask by the engine's input name, from the run's seeded generator.
   * With `probe` (a statistics step) the engine hands it the step's statistics as it computes them;
   * `options.read`: a deferred engine reads back with this step. `options.keptFor`: the caller leaves
   * `xs` and `ys` alone while that many further steps are taken (pipeline.ts' Batch), so an engine
   * that holds no more than that many later batches (`heldBatches`) need not copy them.
   */
  step(xs: Float32Array, ys: Int32Array, n: number, lr: number, masks?: ReadonlyMap<string, Float32Array>, probe?: EngineProbe, options?: StepOptions): Promise<EngineStepResult>;
  /** Batches the engine may still read after their step (ONNX Runtime's queued and recent steps, for its restores). Absent: none. */
  readonly heldBatches?: number;
  dispose(): Promise<void>;
}
