/**
 * Runs the generated step graph (step-graph.ts) in ONNX Runtime: one `session.run` per batch, the
 * model variables and optimizer slots held here as Float32Arrays and each step's outputs fed back
 * as the next step's inputs. Two sessions: the plain step's graph and the statistics step's (the
 * same step with the statistics outputs, graph-passes.ts); validation scores the weights with the
 * ONNX export's inference graph (inference.ts). Weights go in and out by Keras variable name, in
 * Keras' order, so checkpoints and exports can read them as they read the tfjs model's.
 */
import type * as Ort from 'onnxruntime-node';
import { DomainError, type OptimizerSettings } from '../../../../../../contract';
import type { ModelSpec } from '../../../../../../model/spec';
import type { NamedWeights } from '../../../../export/weights';
import { product } from '../../../../../../model/layers/checks';
import { stepInputError, weightsInputError } from '../step-inputs';
import type { EngineProbe, TrainingEngine } from '../engine';
import { OrtInference } from './inference';
import { firstLine, ORT_EP_ENV, providerLabel, providerSessionOptions, type GpuExecutionProvider } from './execution-providers';
import { buildStepGraph, stepGraphSupport, STEP_INPUTS, STEP_OUTPUTS, type StateEntry, type StepGraph, type StepGraphOptions } from './step-graph';

/** ONNX Runtime's intra-op threads for the training step: 1 is fastest at batch 32 on two cores (2 helps at 256, bench/README.md). */
export const ORT_INTRA_OP_THREADS = 1;

export interface OrtEngineOptions extends StepGraphOptions {
  /** ONNX Runtime's intra-op threads (default ORT_INTRA_OP_THREADS). */
  intraOpNumThreads?: number;
  /** A GPU execution provider to run the step on (off by default: not measured, execution-providers.ts); creation fails when it cannot start. */
  executionProvider?: GpuExecutionProvider | null;
}

export interface StepResult {
  loss: number;
  acc: number;
}

/** Rethrows after releasing `session` (a second session of the same engine did not start). */
const releasing =
  (session: Ort.InferenceSession) =>
  async (error: unknown): Promise<never> => {
    await session.release().catch(() => undefined);
    throw error;
  };

export class OrtStepEngine implements TrainingEngine {
  private readonly values = new Map<string, Float32Array>();
  private readonly sampleSize: number;
  /** The inference graph on the weights as they were at `inferenceOf` (a count of weight changes), built on demand. */
  private inference: OrtInference | null = null;
  private inferenceOf = -1;
  private changes = 0;

  private constructor(
    private readonly ort: typeof Ort,
    /** The plain step's graph, and the statistics step's (the same step with every statistics output). */
    private readonly sessions: { plain: Ort.InferenceSession; statistics: Ort.InferenceSession },
    readonly graph: StepGraph,
    /** What the loop's step line shows; createPreferring adds why a requested GPU provider is not in use. */
    public description: string,
    private readonly model: { spec: ModelSpec; sessionOptions: Ort.InferenceSession.SessionOptions },
  ) {
    this.sampleSize = product(graph.inputShape);
    for (const s of graph.state) this.values.set(s.name, new Float32Array(product(s.shape)).fill(s.initial));
  }

  /**
   * The engine for a spec and optimizer with these starting weights (every model variable by its
   * Keras name), or why it cannot train them. Optimizer slots start as tfjs' do (zeros; Adam's β powers at β).
   */
  static async create(spec: ModelSpec, optimizer: OptimizerSettings, weights: NamedWeights, options: OrtEngineOptions = {}): Promise<OrtStepEngine | { unsupported: string }> {
    const reason = stepGraphSupport(spec, optimizer);
    if (reason) return { unsupported: reason };
    const graph = buildStepGraph(spec, optimizer, options);
    const ort = await import('onnxruntime-node');
    const threads = options.intraOpNumThreads ?? ORT_INTRA_OP_THREADS;
    const provider = options.executionProvider ?? null;
    const sessionOptions: Ort.InferenceSession.SessionOptions = {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      ...providerSessionOptions(provider),
    };
    let sessions: { plain: Ort.InferenceSession; statistics: Ort.InferenceSession };
    try {
      const plain = await ort.InferenceSession.create(graph.plainBytes, sessionOptions);
      sessions = { plain, statistics: await ort.InferenceSession.create(graph.bytes, sessionOptions).catch(releasing(plain)) };
    } catch (error) {
      if (!provider) throw error;
      throw new DomainError('unsupported', `ONNX Runtime's ${providerLabel(provider)} execution provider did not start: ${firstLine(error)}`);
    }
    const device = provider ? providerLabel(provider) : 'CPU';
    const description = `ONNX Runtime ${ort.env.versions.node ?? ''} (${device}, ${threads} thread${threads === 1 ? '' : 's'}): the whole step as one graph`;
    const engine = new OrtStepEngine(ort, sessions, graph, description, { spec, sessionOptions });
    engine.setWeights(weights);
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
  ): Promise<OrtStepEngine | { unsupported: string }> {
    if (!provider) return OrtStepEngine.create(spec, optimizer, weights);
    try {
      return await OrtStepEngine.create(spec, optimizer, weights, { executionProvider: provider });
    } catch (error) {
      if (!(error instanceof DomainError && error.code === 'unsupported')) throw error;
      const engine = await OrtStepEngine.create(spec, optimizer, weights);
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
   * `gradients` in the options, `grads` holds each trainable variable's gradient.
   */
  async step(
    xs: Float32Array,
    ys: Int32Array,
    n: number,
    lr: number,
    masks: ReadonlyMap<string, Float32Array> = new Map(),
    probe?: EngineProbe,
  ): Promise<StepResult & { grads?: Map<string, Float32Array> }> {
    const refused = stepInputError(xs, ys, n, { sampleSize: this.sampleSize, classes: this.graph.classes }, masks, this.graph.masks);
    if (refused) throw refused;
    const labels = ys.subarray(0, n);
    const { Tensor } = this.ort;
    const feeds: Record<string, Ort.Tensor> = {
      [STEP_INPUTS.x]: new Tensor('float32', xs.subarray(0, n * this.sampleSize), [n, ...this.graph.inputShape]),
      [STEP_INPUTS.y]: new Tensor('int32', labels, [n]),
      [STEP_INPUTS.lr]: new Tensor('float32', Float32Array.of(lr), []),
    };
    for (const m of this.graph.masks) {
      feeds[m.input] = new Tensor('float32', masks.get(m.input)!.subarray(0, n * m.features), [n, m.features]);
    }
    for (const s of this.graph.state) feeds[s.name] = new Tensor('float32', this.values.get(s.name)!, s.shape);
    // A plain step runs the graph without the statistics outputs; a statistics step (probe) the one with them.
    const out = await (probe ? this.sessions.statistics : this.sessions.plain).run(feeds);
    if (probe) this.feedProbe(probe, out, n);
    for (const s of this.graph.state) this.values.set(s.name, out[s.output]!.data as Float32Array);
    this.changes++;
    const result: StepResult & { grads?: Map<string, Float32Array> } = {
      loss: (out[STEP_OUTPUTS.loss]!.data as Float32Array)[0]!,
      acc: (out[STEP_OUTPUTS.accuracy]!.data as Float32Array)[0]!,
    };
    if (this.graph.gradients.size > 0) {
      result.grads = new Map([...this.graph.gradients].map(([name, output]) => [name, out[output]!.data as Float32Array]));
    }
    return result;
  }

  /** Hands a statistics step's extra outputs to the probe (the moments in float64, as FusedStatsProbe keeps them). */
  private feedProbe(probe: EngineProbe, out: Ort.InferenceSession.OnnxValueMapType, n: number): void {
    const values = (name: string) => out[name]!.data as Float32Array;
    const { bn, activations, gradients } = this.graph.statistics;
    for (const b of bn) probe.bn(b.layer, Float64Array.from(values(b.mean)), Float64Array.from(values(b.variance)));
    for (const a of activations) probe.activation(a.layer, values(a.output), n, a.features);
    for (const [variable, output] of gradients) probe.gradient(variable, values(output));
  }

  async dispose(): Promise<void> {
    await this.inference?.dispose();
    await this.sessions.plain.release();
    await this.sessions.statistics.release();
  }

  private variables(): StateEntry[] {
    return this.graph.state.filter((s) => s.kind === 'variable');
  }
}
