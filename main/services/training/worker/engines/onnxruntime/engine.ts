/**
 * Runs the generated step graph (step-graph.ts) in ONNX Runtime: one `session.run` per batch (or per
 * K batches, below), the model variables and optimizer slots held here as Float32Arrays and each run's outputs fed back
 * as the next step's inputs. Sessions: the plain step's graph, the statistics step's (the same step
 * with the statistics outputs, graph-passes.ts) and, with `stepsPerRun` K > 1, K plain steps as one
 * graph: plain steps are then queued and run K at a time (their results come from takeReadSteps, as
 * a deferred engine's do: engine.ts), which moves the state across into JavaScript once per K steps.
 * That graph has a session at each intra-op thread count create() timed, and its runs move between
 * them as the machine's load changes (thread-choice.ts' ThreadSwitch).
 * Validation scores the weights with the ONNX export's inference graph (inference.ts). Weights go in
 * and out by Keras variable name, in Keras' order, so checkpoints and exports can read them as they
 * read the tfjs model's.
 */
import type * as Ort from 'onnxruntime-node';
import { DomainError, type OptimizerSettings } from '../../../../../../contract';
import type { ModelSpec } from '../../../../../../model/spec';
import type { NamedWeights } from '../../../../export/weights';
import { product } from '../../../../../../model/layers/checks';
import { stepInputError, weightsInputError } from '../step-inputs';
import type { EngineProbe, StepOptions, TrainingEngine } from '../engine';
import { OrtInference } from './inference';
import { firstLine, ORT_EP_ENV, providerLabel, providerSessionOptions, type GpuExecutionProvider } from './execution-providers';
import { allFiniteValues } from '../engine-step';
import { stepCopy } from './graph-passes';
import { HeldSteps, RecentRuns, type HeldStep, type StepState } from './held-steps';
import { stepFeeds, unrolledFeeds } from './step-feeds';
import { checkRetimeEvery, chooseThreads, KEEP_OTHER_COUNTS_MAX_BYTES, threadCandidates, threadOptions, ThreadSwitch, type ThreadTiming } from './thread-choice';
import { AFFINE_INPUT_MIN_BATCH, buildStepGraph, stepGraphSupport, STEP_OUTPUTS, type StateEntry, type StepGraph, type StepGraphOptions } from './step-graph';

/** ONNX Runtime's intra-op threads for a step that is not timed (thread-choice.ts times 1 and 2 when a run gives its batch size). */
export const ORT_INTRA_OP_THREADS = 1;
/**
 * Plain steps per `session.run` in a training run: the unrolled graph of 4 steps costs 10–25% less a
 * step than 4 runs of one (bench/README.md), and a statistics step, a pause or an epoch's end runs
 * what is queued at once.
 */
export const ORT_STEPS_PER_RUN = 4;
/** Pins the step's intra-op threads (a whole number from 1 to 64). */
export const ORT_THREADS_ENV = 'LAYERBENCH_ORT_THREADS';

/** The intra-op threads $LAYERBENCH_ORT_THREADS pins, or null when it is unset; a value that is not 1–64 is refused by name. */
export function pinnedOrtThreads(env: NodeJS.ProcessEnv = process.env): number | null {
  const raw = env[ORT_THREADS_ENV];
  if (raw === undefined || raw === '') return null;
  const threads = Number(raw);
  if (!Number.isInteger(threads) || threads < 1 || threads > 64)
    throw new DomainError('invalid-input', `${ORT_THREADS_ENV} must be a whole number from 1 to 64, not "${raw.slice(0, 20)}"`);
  return threads;
}

export interface OrtEngineOptions extends StepGraphOptions {
  /** The run's batch size: without `affineInputs`, the step takes them from AFFINE_INPUT_MIN_BATCH on. */
  batchSize?: number;
  /** ONNX Runtime's intra-op threads; unset (and not pinned by $LAYERBENCH_ORT_THREADS): the fastest of `threadCandidates` by timing. */
  intraOpNumThreads?: number;
  /** The counts timed when none is set (default thread-choice.ts' threadCandidates: 1 and 2 with a batch size on two cores or more, else 1). */
  threadCandidates?: number[];
  /** A GPU execution provider to run the step on (off by default: not measured, execution-providers.ts); creation fails when it cannot start. */
  executionProvider?: GpuExecutionProvider | null;
  /** With counts timed and several steps a run: runs between re-timings of the other counts (thread-choice.ts' RETIME_EVERY_RUNS). */
  retimeEveryRuns?: number;
  /** The most memory each further count's session may hold for the runs to move between counts, bytes (thread-choice.ts' KEEP_OTHER_COUNTS_MAX_BYTES; 0: never). */
  keepOtherCountsUpTo?: number;
}

export interface StepResult {
  loss: number;
  acc: number;
}

/** Rethrows after releasing `sessions` (a later session of the same engine did not start). */
const releasing =
  (...sessions: Ort.InferenceSession[]) =>
  async (error: unknown): Promise<never> => {
    for (const session of sessions) await session.release().catch(() => undefined);
    throw error;
  };

/** A scalar output's value. */
const scalar = (out: Ort.InferenceSession.OnnxValueMapType, name: string) => (out[name]!.data as Float32Array)[0]!;

/**
 * The several-steps graph's session at each intra-op thread count create() timed (one where it timed
 * none), and which the next run takes (thread-choice.ts' ThreadSwitch).
 */
type UnrolledSessions = { sessions: Ort.InferenceSession[]; threads: ThreadSwitch };
type Sessions = { plain: Ort.InferenceSession; statistics: Ort.InferenceSession; unrolled: UnrolledSessions | null };

export class OrtStepEngine implements TrainingEngine {
  private values: StepState = new Map();
  private readonly sampleSize: number;
  private readonly held: HeldSteps;
  /** Plain steps waiting for the next several-steps run. */
  private queued: HeldStep[] = [];
  /** The last few runs (their start and batches), for the restores (held-steps.ts' RECENT_RUNS). */
  private readonly recent = new RecentRuns();
  /** Steps run since the engine began keeping (keepLastFinite): the restores' step indices. */
  private ran = 0;
  /** Results of the steps run and not yet taken (takeReadSteps), oldest first; and the latest. */
  private ready: StepResult[] = [];
  private latest: StepResult = { loss: NaN, acc: NaN };
  /** The inference graph on the weights as they were at `inferenceOf` (a count of weight changes), built on demand. */
  private inference: OrtInference | null = null;
  private inferenceOf = -1;
  private changes = 0;
  /** Each intra-op thread count create() timed (thread-choice.ts), when it timed more than one. */
  threadTimings: ThreadTiming[] = [];

  private constructor(
    private readonly ort: typeof Ort,
    /** The plain step's graph, the statistics step's (the same step with every statistics output), and K plain steps' (K > 1). */
    private readonly sessions: Sessions,
    readonly graph: StepGraph,
    /** What the loop's step line shows; createPreferring adds why a requested GPU provider is not in use. */
    public description: string,
    private readonly model: { spec: ModelSpec; sessionOptions: Ort.InferenceSession.SessionOptions },
  ) {
    this.sampleSize = product(graph.inputShape);
    this.held = new HeldSteps(this.sampleSize, graph.unrolled?.steps ?? 1);
    for (const s of graph.state) this.values.set(s.name, new Float32Array(product(s.shape)).fill(s.initial));
  }

  /**
   * The engine for a spec and optimizer with these starting weights (every model variable by its
   * Keras name), or why it cannot train them. Optimizer slots start as tfjs' do (zeros; Adam's β powers at β).
   */
  static async create(spec: ModelSpec, optimizer: OptimizerSettings, weights: NamedWeights, options: OrtEngineOptions = {}): Promise<OrtStepEngine | { unsupported: string }> {
    const reason = stepGraphSupport(spec, optimizer);
    if (reason) return { unsupported: reason };
    const { batchSize, affineInputs, ...graphOptions } = options;
    const graph = buildStepGraph(spec, optimizer, { ...graphOptions, affineInputs: affineInputs ?? (batchSize ?? 0) >= AFFINE_INPUT_MIN_BATCH });
    const refused = weightsInputError(
      weights,
      graph.state.filter((s) => s.kind === 'variable'),
    );
    if (refused) throw refused;
    const ort = await import('onnxruntime-node');
    const pinned = options.intraOpNumThreads ?? pinnedOrtThreads();
    const provider = options.executionProvider ?? null;
    // A GPU provider's step is not timed on CPU threads.
    const counts = pinned !== null ? [pinned] : provider ? [ORT_INTRA_OP_THREADS] : (options.threadCandidates ?? threadCandidates(options.batchSize));
    if (counts.length === 0 || counts.some((t) => !Number.isInteger(t) || t < 1)) throw new Error(`intra-op thread counts must be whole numbers from 1: ${JSON.stringify(counts)}`);
    if (options.retimeEveryRuns !== undefined) checkRetimeEvery(options.retimeEveryRuns);
    const keepCap = options.keepOtherCountsUpTo;
    if (keepCap !== undefined && !(keepCap >= 0)) throw new Error(`the memory a further count's session may hold must be 0 bytes or more, not ${keepCap}`);
    const base: Ort.InferenceSession.SessionOptions = {
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      ...providerSessionOptions(provider),
    };
    let threads = counts[0]!;
    let timings: ThreadTiming[] = [];
    let sessionOptions = threadOptions(base, threads);
    let sessions: Sessions;
    /** With counts timed: the memory each timed session held. */
    let bytesPerSession = 0;
    try {
      // The timed sessions (several steps where the graph has them): every count's, else the chosen one's.
      let timed: { sessions: Ort.InferenceSession[]; chosen: number } | null = null;
      if (counts.length > 1) {
        const start = new Map(graph.state.map((s) => [s.name, weights.get(s.name)?.data ?? new Float32Array(product(s.shape)).fill(s.initial)]));
        // The several-steps graph keeps every count's session where they are small, to move between them as the load changes.
        const keepUpTo = graph.unrolled ? (keepCap ?? KEEP_OTHER_COUNTS_MAX_BYTES) : null;
        const choice = await chooseThreads(ort, graph, start, options.batchSize ?? 32, counts, (t) => threadOptions(base, t), keepUpTo);
        ({ threads, timings, bytesPerSession } = choice);
        timed = choice;
        sessionOptions = threadOptions(base, threads);
      }
      const unrolled: UnrolledSessions | null = graph.unrolled
        ? timed
          ? { sessions: timed.sessions, threads: new ThreadSwitch(timed.sessions.length > 1 ? counts : [threads], timings, timed.chosen, options.retimeEveryRuns) }
          : { sessions: [await ort.InferenceSession.create(graph.unrolled.bytes, sessionOptions)], threads: new ThreadSwitch([threads], [], 0) }
        : null;
      const made = unrolled?.sessions ?? [];
      const plain = (!graph.unrolled ? timed?.sessions[timed.chosen] : null) ?? (await ort.InferenceSession.create(graph.plainBytes, sessionOptions).catch(releasing(...made)));
      const statistics = await ort.InferenceSession.create(graph.bytes, sessionOptions).catch(releasing(plain, ...made));
      sessions = { plain, statistics, unrolled };
    } catch (error) {
      if (!provider) throw error;
      throw new DomainError('unsupported', `ONNX Runtime's ${providerLabel(provider)} execution provider did not start: ${firstLine(error)}`);
    }
    const device = provider ? providerLabel(provider) : 'CPU';
    const perRun = graph.unrolled ? `, ${graph.unrolled.steps} steps a run` : '';
    const retimed = sessions.unrolled && sessions.unrolled.sessions.length > 1;
    const again = retimed ? ', timed again as it trains' : graph.unrolled ? `, not timed again (a session holds ${Math.round(bytesPerSession / 2 ** 20)} MB)` : '';
    const timed =
      timings.length > 1 ? `${retimed ? ' at the start' : ''} by timing: ${timings.map((t) => `${t.threads}: ${t.msPerStep.toFixed(2)} ms`).join(', ')} a step${again}` : '';
    const description = `ONNX Runtime ${ort.env.versions.node ?? ''} (${device}, ${threads} thread${threads === 1 ? '' : 's'}${timed}${perRun}): the whole step as one graph`;
    const engine = new OrtStepEngine(ort, sessions, graph, description, { spec, sessionOptions });
    engine.threadTimings = timings;
    try {
      engine.setWeights(weights);
    } catch (error) {
      await engine.dispose();
      throw error;
    }
    return engine;
  }

  /**
   * As create, on the GPU execution provider $LAYERBENCH_ORT_EP asks for when there is one; when that
   * provider does not start the step runs on the CPU and its description says why.
   */
  static async createPreferring(
    spec: ModelSpec,
    optimizer: OptimizerSettings,
    weights: NamedWeights,
    provider: GpuExecutionProvider | null,
    options: Omit<OrtEngineOptions, 'executionProvider'> = {},
  ): Promise<OrtStepEngine | { unsupported: string }> {
    if (!provider) return OrtStepEngine.create(spec, optimizer, weights, options);
    try {
      return await OrtStepEngine.create(spec, optimizer, weights, { ...options, executionProvider: provider });
    } catch (error) {
      if (!(error instanceof DomainError && error.code === 'unsupported')) throw error;
      const engine = await OrtStepEngine.create(spec, optimizer, weights, options);
      if (engine instanceof OrtStepEngine) engine.description += ` (${ORT_EP_ENV}=${provider}: ${error.message})`;
      return engine;
    }
  }

  /** The model variables (weights and BN moving statistics) in Keras' order, as copies. */
  getWeights(): NamedWeights {
    const out: NamedWeights = new Map();
    for (const s of this.variables()) out.set(s.name, { shape: [...s.shape], data: this.values.get(s.name)!.slice() });
    return out;
  }

  /** The model variables as the engine holds them: each step's outputs replace these arrays, nothing writes into them. */
  weightsView(): NamedWeights {
    return new Map(this.variables().map((s) => [s.name, { shape: s.shape, data: this.values.get(s.name)! }]));
  }

  /** Replaces every model variable (all must be given, with their shapes); optimizer slots are kept. */
  setWeights(weights: NamedWeights): void {
    const refused = weightsInputError(weights, this.variables());
    if (refused) throw refused;
    if (this.queued.length > 0) throw new Error('setWeights with steps queued: flush() first');
    this.values = new Map(this.values);
    for (const s of this.variables()) this.values.set(s.name, Float32Array.from(weights.get(s.name)!.data));
    this.changes++;
  }

  /**
   * Mean loss and accuracy of the model as it is now in inference mode (BN's moving statistics,
   * dropout off) on `n` samples (`x` row-major, `y` class indices): the ONNX export's graph on these
   * weights (inference.ts), built again only when a step or setWeights changed them.
   */
  async score(x: Float32Array, y: Int32Array, n: number): Promise<StepResult> {
    if (!this.inference || this.inferenceOf !== this.changes) {
      await this.inference?.dispose();
      this.inference = null;
      this.inference = await OrtInference.create(this.ort, this.model.spec, this.weightsView(), this.model.sessionOptions);
      this.inferenceOf = this.changes;
    }
    return this.inference.score(x, y, n);
  }

  /**
   * One training step on `n` samples (`xs` row-major [n, …input shape], `ys` class indices) at
   * learning rate `lr`, with each dropout layer's keep mask by input name (dropoutKeepMasks). With
   * `gradients` in the options, `grads` holds each trainable variable's gradient. With several steps
   * a run, a plain step is queued and its result comes from takeReadSteps once its run ran (the
   * call returns the latest result known); a statistics step (`probe`) or `options.read` runs what is
   * queued, then itself, and returns its own result.
   */
  async step(
    xs: Float32Array,
    ys: Int32Array,
    n: number,
    lr: number,
    masks: ReadonlyMap<string, Float32Array> = new Map(),
    probe?: EngineProbe,
    options: StepOptions = {},
  ): Promise<StepResult & { grads?: Map<string, Float32Array> }> {
    const refused = stepInputError(xs, ys, n, { sampleSize: this.sampleSize, classes: this.graph.classes }, masks, this.graph.masks);
    if (refused) throw refused;
    const unrolled = this.graph.unrolled;
    if (!unrolled || probe || options.read) {
      await this.flush();
      // One step a run replays nothing (a restore takes a run's start): the batch is not copied.
      const step = unrolled ? this.held.hold(xs, ys, n, lr, masks, options.keptFor) : { x: xs.subarray(0, n * this.sampleSize), y: ys.subarray(0, n), n, lr, masks };
      return this.runAlone(step, probe);
    }
    this.queued.push(this.held.hold(xs, ys, n, lr, masks, options.keptFor));
    if (this.queued.length === unrolled.steps) await this.flush();
    return this.latest;
  }

  /** The variables with every queued step run (EngineStep's sync to the tfjs model reads these). */
  async readWeights(): Promise<NamedWeights> {
    await this.flush();
    return this.weightsView();
  }

  /** Batches read after their step: the queued steps' and the recent runs' (held-steps.ts); none with one step a run. */
  get heldBatches(): number {
    return this.graph.unrolled ? this.held.slotCount : 0;
  }

  /** The several-steps runs taken at each intra-op thread count (thread-choice.ts' ThreadSwitch); empty with one step a run. */
  threadRuns(): { threads: number; runs: number }[] {
    const unrolled = this.sessions.unrolled;
    return unrolled ? unrolled.threads.counts.map((threads, i) => ({ threads, runs: unrolled.threads.runs[i]! })) : [];
  }

  /** Plain steps queued for the next several-steps run. */
  queuedSteps(): number {
    return this.queued.length;
  }

  /** Runs the queued steps now: K as one graph, fewer one by one (their results then come from takeReadSteps). */
  async flush(): Promise<void> {
    if (this.queued.length === 0) return;
    const steps = this.queued.splice(0);
    const start = this.values;
    const unrolled = this.sessions.unrolled;
    if (unrolled && steps.length === this.graph.unrolled?.steps) {
      const at = unrolled.threads.next();
      const t = performance.now();
      const out = await unrolled.sessions[at]!.run(unrolledFeeds(this.ort, this.graph, steps, this.values));
      unrolled.threads.observe(at, (performance.now() - t) / steps.length);
      this.runUnrolled(steps, out);
    } else for (const step of steps) this.finish(await this.sessions.plain.run(stepFeeds(this.ort, this.graph, step, this.values)));
    this.remember(start, steps);
  }

  /** The loss and accuracy of each step run since the last call, oldest first. */
  takeReadSteps(): StepResult[] {
    return this.ready.splice(0);
  }

  /** From here on steps are counted from 0 for the restores (EngineStep calls it before its first step). */
  keepLastFinite(): void {
    this.ran = 0;
    this.recent.clear();
  }

  /**
   * After a step with a NaN loss (`step`: its index since keepLastFinite, by default the latest): puts
   * back the state that step started from when its variables are all finite (or it is the first kept),
   * else the state the step before started from. Steps inside a several-steps run are replayed from
   * the run's start one by one (the unrolled graph keeps nothing between them); queued steps are dropped.
   */
  async restoreLastFinite(step = this.ran - 1): Promise<'before' | 'previous'> {
    const before = await this.startOf(step);
    this.adopt(before);
    if (step === 0 || this.variables().every((v) => allFiniteValues(before.get(v.name)!)) || !this.recent.find(step - 1)) return 'before';
    this.adopt(await this.startOf(step - 1));
    return 'previous';
  }

  /** Puts back the state step `step` (its index since keepLastFinite) started from: the steps from it on are undone. */
  async restoreStepStart(step: number): Promise<void> {
    this.adopt(await this.startOf(step));
  }

  /** The state step `index` started from: its run's start, and the run's steps before it replayed. */
  private async startOf(index: number): Promise<StepState> {
    const found = Number.isInteger(index) ? this.recent.find(index) : null;
    if (!found) throw new DomainError('invalid-input', `the weights step ${index} started from are not kept (${this.recent.describe()})`);
    let state = found.run.start;
    for (const step of found.run.steps.slice(0, found.offset)) state = this.stateOf(await this.sessions.plain.run(stepFeeds(this.ort, this.graph, step, state)));
    return state;
  }

  private adopt(state: StepState): void {
    this.values = state;
    this.queued = [];
    this.ready = [];
    this.changes++;
  }

  /** One step as its own run, on the statistics graph with a probe, else the plain one. */
  private async runAlone(step: HeldStep, probe?: EngineProbe): Promise<StepResult & { grads?: Map<string, Float32Array> }> {
    const start = this.values;
    const out = await (probe ? this.sessions.statistics : this.sessions.plain).run(stepFeeds(this.ort, this.graph, step, start));
    if (probe) this.feedProbe(probe, out);
    const result: StepResult & { grads?: Map<string, Float32Array> } = this.finish(out);
    this.remember(start, [step]);
    if (this.graph.gradients.size > 0) {
      result.grads = new Map([...this.graph.gradients].map(([name, output]) => [name, out[output]!.data as Float32Array]));
    }
    return result;
  }

  /** Keeps a run (its start and its steps) for the restores. */
  private remember(start: StepState, steps: HeldStep[]): void {
    this.recent.add({ first: this.ran, start, steps });
    this.ran += steps.length;
  }

  /** The state a run left: its state outputs under the state's names. */
  private stateOf(out: Ort.InferenceSession.OnnxValueMapType): StepState {
    return new Map(this.graph.state.map((s) => [s.name, out[s.output]!.data as Float32Array]));
  }

  /** Takes a one-step run's state and result. */
  private finish(out: Ort.InferenceSession.OnnxValueMapType): StepResult {
    this.values = this.stateOf(out);
    return this.record(scalar(out, STEP_OUTPUTS.loss), scalar(out, STEP_OUTPUTS.accuracy));
  }

  /** Takes a several-steps run's state and each step's result. */
  private runUnrolled(steps: HeldStep[], out: Ort.InferenceSession.OnnxValueMapType): void {
    this.values = this.stateOf(out);
    steps.forEach((_, k) => this.record(scalar(out, stepCopy(STEP_OUTPUTS.loss, k)), scalar(out, stepCopy(STEP_OUTPUTS.accuracy, k))));
  }

  private record(loss: number, acc: number): StepResult {
    this.changes++;
    this.latest = { loss, acc };
    this.ready.push(this.latest);
    return this.latest;
  }

  /** Hands a statistics step's extra outputs to the probe: the BN moments in float64, as FusedStatsProbe keeps them, and the sums the graph reduced. */
  private feedProbe(probe: EngineProbe, out: Ort.InferenceSession.OnnxValueMapType): void {
    const values = (name: string) => out[name]!.data as Float32Array;
    const { bn, activations, gradientSquares } = this.graph.statistics;
    for (const b of bn) probe.bn(b.layer, Float64Array.from(values(b.mean)), Float64Array.from(values(b.variance)));
    for (const a of activations) {
      const moments = { mean: scalar(out, a.mean), variance: scalar(out, a.variance) };
      probe.activationMoments(a.layer, a.saturation ? { ...moments, saturation: scalar(out, a.saturation) } : moments);
    }
    for (const [variable, output] of gradientSquares) probe.gradientSumOfSquares(variable, scalar(out, output));
  }

  async dispose(): Promise<void> {
    await this.inference?.dispose();
    await this.sessions.plain.release();
    await this.sessions.statistics.release();
    for (const session of this.sessions.unrolled?.sessions ?? []) await session.release();
  }

  private variables(): StateEntry[] {
    return this.graph.state.filter((s) => s.kind === 'variable');
  }
}
