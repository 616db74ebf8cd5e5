/**
 * The training loop's side of a TrainingEngine (engine.ts): the engine holds the model's variables
 * while it trains, and the tfjs model — what validation, statistics, checkpoints, the final weights
 * and early stopping's restore read — is brought up to date only when something reads it
 * (`syncToModel`, a no-op when no step ran since). After the loop writes the tfjs model itself (a
 * restored best epoch), `syncFromModel` feeds those weights back. It also keeps the weights each
 * step started from (without copies where the engine offers `weightsView`; on the device where the
 * engine keeps them itself, the fused WebGPU step), so that a NaN loss puts back the last finite
 * weights as the general path's LastFinite does. Steps' results come out of `settled()` in order,
 * each its own: at once, or every K steps from an engine that reads back every K steps.
 */
import type * as TF from '@tensorflow/tfjs';
import { DomainError } from '../../../../../contract';
import type { NamedWeights } from '../../../export/weights';
import type { EngineProbe, EngineStepResult, StepOptions, TrainingEngine } from './engine';

/** Each masked layer's keep mask for a step of `n` samples, by the engine's input name (the run's seeded draws). */
export type StepMasks = (n: number, step: number) => ReadonlyMap<string, Float32Array> | undefined;

/** The tfjs model's variables by Keras name, as copies: what an engine starts from. */
export function modelWeights(weights: TF.LayerVariable[]): NamedWeights {
  return new Map(weights.map((w) => [w.originalName, { shape: [...w.shape] as number[], data: w.read().dataSync() as Float32Array }]));
}

/** Whether every value is a finite number: v·0 is 0 for a finite v and NaN for ±∞ or NaN (a loop without branches: ~30× `every(Number.isFinite)`, which took 7 ms of every epoch-end check of seed model 1). */
export function allFiniteValues(data: ArrayLike<number>): boolean {
  let probe = 0;
  for (let i = 0; i < data.length; i++) probe += data[i]! * 0;
  return probe === 0;
}

const allFinite = (weights: NamedWeights) => [...weights.values()].every(({ data }) => allFiniteValues(data));

export class EngineStep {
  /** A step ran since the tfjs model was last brought up to date. */
  private stale = false;
  /** The weights the latest step started from, and those the last step with a finite loss started from. */
  private before: NamedWeights | null = null;
  private lastFinite: NamedWeights | null = null;
  private stepped = false;
  /** Results of a non-deferred engine's steps not yet taken (settled). */
  private results: EngineStepResult[] = [];
  /** The run's step index of the first step (engines count their steps from 0). */
  private firstStep: number | null = null;
  private steps = 0;

  /** `weights`: the tfjs model's variables (model.weights), matched to the engine's by Keras name. */
  constructor(
    private readonly tf: typeof TF,
    readonly engine: TrainingEngine,
    private readonly weights: TF.LayerVariable[],
    private readonly masks: StepMasks = () => undefined,
  ) {
    const names = new Set(engine.getWeights().keys());
    const missing = weights.map((w) => w.originalName).filter((name) => !names.has(name));
    if (missing.length > 0 || names.size !== weights.length) {
      throw new DomainError(
        'invalid-input',
        `the engine's variables do not match the model's (${missing.length ? `missing ${missing.join(', ')}` : `${names.size} against ${weights.length}`})`,
      );
    }
    engine.keepLastFinite?.();
  }

  get description(): string {
    return this.engine.description;
  }

  /**
   * One step at learning rate `lr`; `step` is the run's step index (it seeds the dropout masks; steps
   * come one after the other). Its result is settled() now or, from a deferred engine, at a later
   * read; `options.read` asks for that read now (a statistics step), `options.keptFor` is the batch's (pipeline.ts' Batch). What it returns is this step's own
   * result only when it is not deferred.
   */
  async step(xs: Float32Array, ys: Int32Array, n: number, lr: number, step: number, probe?: EngineProbe, options: StepOptions = {}): Promise<EngineStepResult> {
    // An engine that keeps the last finite weights itself is not asked for them each step.
    if (!this.engine.restoreLastFinite) this.before = this.engine.weightsView?.() ?? this.engine.getWeights();
    this.stale = true;
    this.stepped = true;
    this.firstStep ??= step;
    const result = await this.engine.step(xs, ys, n, lr, this.masks(n, step), probe, options);
    this.steps++;
    if (!this.engine.takeReadSteps) this.results.push(result);
    if (Number.isFinite(result.loss)) this.lastFinite = this.before;
    return result;
  }

  /** The engine's variables without copies, where it hands them out (engine.ts' weightsView); else null. */
  weightsView(): NamedWeights | null {
    return this.engine.weightsView?.() ?? null;
  }

  /** Whether every variable in the engine's own arrays is a finite number; null when it does not hand them out. */
  weightsAllFinite(): boolean | null {
    const view = this.weightsView();
    return view && allFinite(view);
  }

  /** The engine's own inference-mode scoring (engine.ts' score) where it has one; else null: score the tfjs model. */
  get scorer(): ((x: Float32Array, y: Int32Array, n: number) => Promise<EngineStepResult>) | null {
    const engine = this.engine;
    return engine.score ? (x, y, n) => engine.score!(x, y, n) : null;
  }

  /** The results of the steps known since the last call, oldest first, each step's own. */
  settled(): EngineStepResult[] {
    return this.engine.takeReadSteps ? this.engine.takeReadSteps() : this.results.splice(0);
  }

  /** Batches the engine reads after their step (engine.ts' heldBatches): the feeder keeps that many unchanged. */
  get heldBatches(): number {
    return this.engine.heldBatches ?? 0;
  }

  /** Steps the engine holds queued, not yet run (engine.ts' queuedSteps). */
  get queued(): number {
    return this.engine.queuedSteps?.() ?? 0;
  }

  /** Reads back the steps whose results are still pending (a deferred engine), for settled(). */
  async flush(): Promise<void> {
    await this.engine.flush?.();
  }

  /** Whether the engine feeds a statistics probe (else the loop's statistics come from a taped tfjs pass). */
  get feedsProbe(): boolean {
    return this.engine.feedsProbe ?? true;
  }

  /** Copies the engine's variables into the tfjs model, if a step ran since the last copy. */
  async syncToModel(): Promise<void> {
    if (!this.stale) return;
    const values = this.engine.readWeights ? await this.engine.readWeights() : (this.engine.weightsView?.() ?? this.engine.getWeights());
    this.tf.tidy(() => {
      for (const w of this.weights) {
        const value = values.get(w.originalName)!;
        // The Variable itself (LayerVariable.write would apply a layer constraint a second time).
        (w.read() as TF.Variable).assign(this.tf.tensor(value.data, value.shape));
      }
    });
    this.stale = false;
  }

  /** Hands the tfjs model's variables to the engine (after the loop wrote them: a restored epoch). */
  syncFromModel(): void {
    this.engine.setWeights(modelWeights(this.weights));
    this.stale = false;
  }

  /**
   * After a step whose loss was not finite: puts back the weights that step started from when they
   * are all finite numbers (or no step was finite yet), else those the step before started from,
   * in the engine and the tfjs model; returns which.
   */
  async restoreLastFinite(step?: number): Promise<'before' | 'previous'> {
    if (!this.stepped) throw new Error('no step ran: there are no weights to restore');
    let used: 'before' | 'previous';
    if (this.engine.restoreLastFinite) used = await this.engine.restoreLastFinite(step === undefined ? undefined : this.indexOf(step));
    else {
      const before = this.before!;
      used = this.lastFinite !== null && this.lastFinite !== before && !allFinite(before) ? 'previous' : 'before';
      this.engine.setWeights(used === 'previous' ? this.lastFinite! : before);
    }
    this.stale = true;
    await this.syncToModel();
    return used;
  }

  /**
   * Undoes the steps after the run's step `step` that a deferred engine ran before its result was
   * seen (the run ended at `step`): the weights are those `step` left, in the engine and the tfjs model.
   */
  async rewindAfter(step: number): Promise<void> {
    const next = this.indexOf(step) + 1;
    if (next >= this.steps || !this.engine.restoreStepStart) return;
    await this.engine.restoreStepStart(next);
    this.stale = true;
    await this.syncToModel();
  }

  private indexOf(step: number): number {
    return step - (this.firstStep ?? 0);
  }

  dispose(): Promise<void> {
    return this.engine.dispose();
  }
}
