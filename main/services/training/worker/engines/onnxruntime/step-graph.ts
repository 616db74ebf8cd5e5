/**
 * One whole training step — forward, backward and optimizer update — as a single ONNX graph
 * (opset 13, standard ops only), generated from a model spec, for ONNX Runtime to run in one
 * `session.run` per batch instead of ~150 small tfjs kernel calls.
 *
 * Inputs: `x` [N, …input shape] float32, `y` [N] int32 class indices, `lr` [] float32, and the state:
 * every model variable under its Keras name (`dense/kernel`, `batch_normalization/moving_mean`),
 * then the optimizer's slots. Outputs: `loss` [] (mean sparse categorical cross-entropy from the
 * logits, exact log-softmax as the general path computes it), `accuracy` [] (share of arg-max hits),
 * then each state entry's next value (`<name>:next`), the caller feeds them back as the next inputs;
 * then what statistics steps fetch besides (StatisticsOutputs: BN batch moments, each activating
 * layer's output moments and saturated share, each gradient's Σ g² before clipping, all reduced in
 * the graph), which plain steps leave unfetched.
 *
 * The arithmetic follows the general tfjs path (forward.ts + tfjs' optimizers), not Keras' textbook
 * forms where they differ: BatchNormalization in training mode normalizes with the batch's biased
 * variance and moves its statistics as moving − (moving − batch)·(1 − momentum); SGD momentum
 * accumulates v = m·v + g and steps w − lr·v (Nesterov: w − lr·(g + m·v)); Adam and Adamax keep
 * β₁ᵗ (and β₂ᵗ) as state, starting at β, as tfjs does; Adagrad adds tfjs' backend epsilon 1e-7.
 *
 * Each layer kind contributes its forward and backward nodes (layers/): Flatten, Reshape, Dense and
 * Conv2D (with L1/L2 kernel penalties, added to the reported loss as Keras does, and MaxNorm applied
 * after the update), MaxPooling2D, BatchNormalization (last axis of any rank, any center/scale),
 * Activation, Dropout and AlphaDropout (keep masks fed as inputs, drawn as forward.ts draws them:
 * dropout-masks.ts), a softmax last layer; every optimizer (SGD plain, momentum and
 * Nesterov, Adagrad, RMSprop plain and centered, Adam, Adamax) with clipnorm/clipvalue;
 * `stepGraphSupport` names what else a spec or optimizer needs, and the step declines it.
 */
import type { OptimizerSettings } from '../../../../../../contract';
import { withDefaults } from '../../../../../../model/layers';
import { canonicalConstraint, canonicalRegularizer } from '../../../../../../model/regularizers';
import type { ModelSpec } from '../../../../../../model/spec';
import { FLOAT, GraphBuilder, INT32, onnxModelProto, type ValueInfo } from '../../../../export/onnx';
import { modelLayers, type ModelLayerInfo, type ModelVariable } from '../../../../export/weights';
import { graphContext, layerAt, type Backward, type Cfg, type Ctx, type LayerOutput } from './layers/graph';
import { STEP_LAYERS } from './layers/index';
import { graphFor, stepCopy, unrollSteps } from './graph-passes';
import { SATURATION_RULES, type SaturationEdges } from '../../stats';
import { activationOf } from '../../units/config';

export const STEP_INPUTS = { x: 'x', y: 'y', lr: 'lr' } as const;
export const STEP_OUTPUTS = { loss: 'loss', accuracy: 'accuracy' } as const;

const OPTIMIZERS = new Set(['SGD', 'Adagrad', 'RMSprop', 'Adam', 'Adamax']);
/** tfjs' backend epsilon (float32 backends), which its Adagrad adds inside the square root. */
const BACKEND_EPSILON = 1e-7;

/** One state tensor: fed as input `name`, its next value comes back as output `output`. */
export interface StateEntry {
  name: string;
  output: string;
  shape: number[];
  /** A model variable (weights and BN moving statistics), or an optimizer slot and the value it starts at. */
  kind: 'variable' | 'slot';
  initial: number;
}

/** A Dropout/AlphaDropout layer's keep mask (1 keep, 0 drop), fed as input `input` [N, features] each step. */
export interface DropoutMask {
  layer: string;
  input: string;
  features: number;
  rate: number;
  /** The layer's own seed, else the run's seed derives the masks (forward.ts' seededDropout). */
  seed: number | null;
}

/**
 * The outputs a statistics step fetches besides the step's own (the engine hands them to its probe,
 * stats.ts' FusedStatsProbe), reduced in the graph as the WebGPU step's statistics pass reduces them:
 * each BN layer's batch moments; each Dense/Activation layer's output (the last one's softmax) as its
 * mean, biased variance and saturated share (stats.ts' SATURATION_RULES' float32 edges; null where the
 * activation has no rule); each trainable variable's Σ g² before clipping (penalties included), as
 * the general path's taped pass gives them to its statistics. Scalars, not [N, features] outputs:
 * a statistics step costs about what a plain one does (bench/README.md).
 */
export interface StatisticsOutputs {
  bn: { layer: string; mean: string; variance: string }[];
  activations: { layer: string; mean: string; variance: string; saturation: string | null }[];
  /** Variable name → the output holding its gradient's Σ g². */
  gradientSquares: Map<string, string>;
}

export interface StepGraph {
  /** The statistics step's graph: every output. */
  bytes: Uint8Array;
  /** The plain step's graph: `stepOutputs` (and the gradients' outputs) only, so that it computes nothing else (graph-passes.ts). */
  plainBytes: Uint8Array;
  /** Model variables first (Keras' order), then optimizer slots: the feed order of the state. */
  state: StateEntry[];
  /** The input's shape without the batch axis. */
  inputShape: number[];
  classes: number;
  /** With `gradients: true`: output name of each trainable variable's gradient, by variable name. */
  gradients: Map<string, string>;
  /** Outputs in the order the graph declares them. */
  outputs: ValueInfo[];
  /** Keep masks the caller feeds (forward.ts' seeded draws), in layer order. */
  masks: DropoutMask[];
  /** Fetched on statistics steps only (the others fetch `stepOutputs`). */
  statistics: StatisticsOutputs;
  /** What a plain step fetches: loss, accuracy and the state's next values. */
  stepOutputs: string[];
  /** With `stepsPerRun` > 1: that many plain steps as one graph (graph-passes.ts' unrollSteps). */
  unrolled: UnrolledSteps | null;
}

/** Several plain steps in one graph: step k's inputs are `stepCopy(input, k)` (x, y, lr, masks), its loss and accuracy likewise; the state as in the one-step graph. */
export interface UnrolledSteps {
  bytes: Uint8Array;
  steps: number;
}

/**
 * The smallest batch at which a Dense takes its input BN's gradients (AffineInput): the passes over
 * the kernel's shape it adds cost a fixed ~0.6 ms on the seed model, the dx product it drops grows
 * with the batch. Kernel time a step (bench/README.md): even at 64, −10% at 128, −28% at 256, +40% at 32.
 */
export const AFFINE_INPUT_MIN_BATCH = 96;

export interface StepGraphOptions {
  /** Also output each trainable variable's gradient as `<name>:grad` (gradient checks). */
  gradients?: boolean;
  /**
   * Let a Dense take the gradients of a first BatchNormalization below it without a dx (graph.ts'
   * AffineInput; default true). False builds the plain chain rule: faster below AFFINE_INPUT_MIN_BATCH.
   */
  affineInputs?: boolean;
  /** Also build `unrolled`, this many plain steps per graph (not with `gradients`). */
  stepsPerRun?: number;
}

function layerConfigs(spec: ModelSpec): Cfg[] {
  return spec.config.layers.map((l) => withDefaults(l).config as Cfg);
}

/** Why the step graph cannot train this spec with this optimizer, or null when it can. */
export function stepGraphSupport(spec: ModelSpec, optimizer: OptimizerSettings): string | null {
  if (!OPTIMIZERS.has(optimizer.class_name)) return `the ${String(optimizer.class_name)} optimizer is not in the ONNX Runtime step`;
  let layers: ModelLayerInfo[];
  try {
    layers = modelLayers(spec);
  } catch (e) {
    return `the model is not valid: ${(e as Error).message}`;
  }
  if (layers.length === 0) return 'the model has no layers';
  const configs = layerConfigs(spec);
  for (let i = 0; i < layers.length; i++) {
    const info = layers[i]!;
    const cfg = configs[i]!;
    const last = i === layers.length - 1;
    const kind = STEP_LAYERS.get(info.class_name);
    if (!kind) return `${layerAt(info)}: ${info.class_name} is not in the ONNX Runtime step yet`;
    if (info.input_shape.slice(1).some((d) => d === null)) return `${layerAt(info)}: its input has no fixed shape`;
    if (cfg.trainable === false && info.variables.some((v) => v.short !== 'moving_mean' && v.short !== 'moving_variance')) return `${layerAt(info)} is frozen`;
    const reason = kind.support(info, cfg, last);
    if (reason) return reason;
    if (last && !((info.class_name === 'Dense' || info.class_name === 'Activation') && cfg.activation === 'softmax')) {
      return 'the model does not end in a softmax (the step trains sparse categorical cross-entropy on softmax outputs)';
    }
  }
  return null;
}

/** Builds the step graph of a spec `stepGraphSupport` accepts (throws otherwise). */
export function buildStepGraph(spec: ModelSpec, optimizer: OptimizerSettings, options: StepGraphOptions = {}): StepGraph {
  const reason = stepGraphSupport(spec, optimizer);
  if (reason) throw new Error(`the ONNX Runtime step cannot train this model: ${reason}`);
  const layers = modelLayers(spec);
  const configs = layerConfigs(spec);
  const variables = layers.flatMap((l) => l.variables);
  const g = new GraphBuilder();
  for (const name of [...Object.values(STEP_INPUTS), ...Object.values(STEP_OUTPUTS), ...variables.map((v) => v.name)]) g.unique(name);
  const c = graphContext(g);

  const state: StateEntry[] = variables.map((v) => ({ name: v.name, output: `${v.name}:next`, shape: v.shape, kind: 'variable', initial: 0 }));
  const next = new Map<string, string>();
  const grads = new Map<string, string>();
  const backwards: Backward[] = [];
  const masks: DropoutMask[] = [];
  const firstTrainable = layers.findIndex((l) => l.variables.some((v) => v.trainable));

  let h: string = STEP_INPUTS.x;
  let logits: string | null = null;
  let affine: LayerOutput['affine'];
  // The values statistics steps fetch (graph outputs below, once the backward pass is built).
  const stats: { bn: StatisticsOutputs['bn']; activations: { layer: string; output: string; activation: string }[] } = { bn: [], activations: [] };
  layers.forEach((info, index) => {
    const out = STEP_LAYERS.get(info.class_name)!.build({
      c,
      info,
      cfg: configs[index]!,
      vars: Object.fromEntries(info.variables.map((v) => [v.short, v])),
      input: h,
      // A layer passes a gradient down only when a trainable layer sits below it.
      needDx: firstTrainable >= 0 && index > firstTrainable,
      last: index === layers.length - 1,
      grads,
      next,
      masks,
      ...(affine ? { affineInput: affine } : {}),
    });
    h = out.y;
    affine = options.affineInputs === false ? undefined : out.affine;
    if (out.logits) logits = out.logits;
    backwards.push(out.back);
    // What statistics steps fetch besides: BN's batch moments, and the outputs of the layers with a
    // non-linear activation, of any rank (as the general path's statistics describe them).
    if (out.moments) stats.bn.push({ layer: info.name, ...out.moments });
    const activation = activationOf(configs[index]!.activation);
    if (out.activates && activation !== 'linear') stats.activations.push({ layer: info.name, output: out.y, activation });
  });
  if (!logits) throw new Error('the model does not end in a softmax');

  // Loss: mean −log softmax(logits)[label], from the exact log-softmax (as forward.ts' crossEntropyPerSample).
  const classes = layers.at(-1)!.output_shape.at(-1) as number;
  const logSoftmax = g.node('LogSoftmax', [logits], 'loss/log_softmax', [{ name: 'axis', i: -1 }]);
  const labels = g.node('Unsqueeze', [STEP_INPUTS.y, g.int64s('loss/label_axis', [1])], 'loss/labels');
  const classRange = g.int32s(
    'loss/classes',
    [1, classes],
    Array.from({ length: classes }, (_, i) => i),
  );
  const oneHot = g.node('Cast', [g.node('Equal', [labels, classRange], 'loss/is_label')], 'loss/one_hot', [{ name: 'to', i: FLOAT }]);
  const picked = g.node('ReduceSum', [g.node('Mul', [oneHot, logSoftmax], 'loss/picked_terms'), g.int64s('loss/class_axis', [1])], 'loss/picked', [{ name: 'keepdims', i: 0 }]);
  const crossEntropy = g.node('Neg', [g.node('ReduceMean', [picked], 'loss/mean', [{ name: 'keepdims', i: 0 }])], 'loss/cross_entropy');
  const penalties = kernelPenalties(c, layers, configs);
  // Keras minimises and reports the loss with the regularization penalty added.
  const loss = penalties.reduce((sum, p) => g.node('Add', [sum, p.value], 'loss/with_penalty'), crossEntropy);
  g.nodes.push({ op: 'Identity', inputs: [loss], output: STEP_OUTPUTS.loss, name: STEP_OUTPUTS.loss });
  const predicted = g.node('ArgMax', [logits], 'accuracy/argmax', [
    { name: 'axis', i: -1 },
    { name: 'keepdims', i: 0 },
  ]);
  const labels64 = g.node('Cast', [STEP_INPUTS.y], 'accuracy/labels', [{ name: 'to', i: 7 }]);
  const hits = g.node('Cast', [g.node('Equal', [predicted, labels64], 'accuracy/equal')], 'accuracy/hits', [{ name: 'to', i: FLOAT }]);
  g.nodes.push({ op: 'ReduceMean', inputs: [hits], output: STEP_OUTPUTS.accuracy, name: STEP_OUTPUTS.accuracy, attrs: [{ name: 'keepdims', i: 0 }] });

  // d loss / d logits = (softmax − one-hot) / N, softmax as exp(log-softmax) as tfjs' LogSoftmax gradient takes it.
  const batch = g.node('Cast', [g.node('Gather', [g.node('Shape', [STEP_INPUTS.x], 'batch/shape'), g.int64s('batch/index', [0])], 'batch/size_1')], 'batch/size', [
    { name: 'to', i: FLOAT },
  ]);
  const probabilities = g.node('Exp', [logSoftmax], 'loss/softmax');
  stats.activations.push({ layer: layers.at(-1)!.name, output: probabilities, activation: 'softmax' });
  let dy: string | null = g.node('Div', [g.node('Sub', [probabilities, oneHot], 'loss/residual'), batch], 'loss/dlogits');
  for (let i = backwards.length - 1; i >= 0 && dy !== null; i--) dy = backwards[i]!(dy);
  for (const p of penalties) grads.set(p.kernel, g.node('Add', [grads.get(p.kernel)!, p.gradient], `${p.kernel}/dpenalty`));
  // The statistics' gradient norms are taken before clipping, as the general path's.
  const rawGrads = new Map(grads);
  clipGradients(c, optimizer.config, grads);

  const trainable = variables.filter((v) => v.trainable);
  const { slots, negLr } = applyOptimizer(c, optimizer, trainable, grads, next, state);
  applyMaxNorm(c, layers, configs, next);

  const outputs: ValueInfo[] = [
    { name: STEP_OUTPUTS.loss, dims: [] },
    { name: STEP_OUTPUTS.accuracy, dims: [] },
  ];
  for (const s of [...state, ...slots]) {
    g.nodes.push({ op: 'Identity', inputs: [next.get(s.name)!], output: s.output, name: s.output });
    outputs.push({ name: s.output, dims: s.shape });
  }
  const stepOutputs = outputs.map((o) => o.name);
  const statistics: StatisticsOutputs = { bn: [], activations: [], gradientSquares: new Map() };
  /** A statistics output: `value` under the name `<base>:<what>`. */
  const statOutput = (value: string, base: string, what: string, dims: (number | null)[]) => {
    const out = g.unique(`${base}:${what}`);
    g.nodes.push({ op: 'Identity', inputs: [value], output: out, name: out });
    outputs.push({ name: out, dims });
    return out;
  };
  for (const b of stats.bn) {
    const features = layers.find((l) => l.name === b.layer)!.input_shape.at(-1) as number;
    statistics.bn.push({ layer: b.layer, mean: statOutput(b.mean, b.layer, 'batch_mean', [features]), variance: statOutput(b.variance, b.layer, 'batch_variance', [features]) });
  }
  for (const a of stats.activations) {
    const m = activationMoments(c, a.output, a.layer, SATURATION_RULES[a.activation]?.edges);
    statistics.activations.push({
      layer: a.layer,
      mean: statOutput(m.mean, a.layer, 'output_mean', []),
      variance: statOutput(m.variance, a.layer, 'output_variance', []),
      saturation: m.saturation ? statOutput(m.saturation, a.layer, 'output_saturation', []) : null,
    });
  }
  for (const v of variables.filter((v) => v.trainable)) {
    const squares = g.node('ReduceSumSquare', [rawGrads.get(v.name)!], `${v.name}/grad_sq`, [{ name: 'keepdims', i: 0 }]);
    statistics.gradientSquares.set(v.name, statOutput(squares, v.name, 'raw_grad_sq', []));
  }
  const gradients = new Map<string, string>();
  if (options.gradients) {
    for (const v of trainable) {
      const out = `${v.name}:grad`;
      g.nodes.push({ op: 'Identity', inputs: [grads.get(v.name)!], output: out, name: out });
      outputs.push({ name: out, dims: v.shape });
      gradients.set(v.name, out);
    }
  }
  const allState = [...state, ...slots];
  const inputShape = layers[0]!.input_shape.slice(1) as number[];
  const inputs: ValueInfo[] = [
    { name: STEP_INPUTS.x, dims: [null, ...inputShape] },
    { name: STEP_INPUTS.y, dims: [null], type: INT32 },
    { name: STEP_INPUTS.lr, dims: [] },
    ...masks.map((m) => ({ name: m.input, dims: [null, m.features] })),
    ...allState.map((s) => ({ name: s.name, dims: s.shape })),
  ];
  /** A graph as ONNX bytes, named `<model>_<what>`. */
  const proto = (graph: GraphBuilder, what: string, doc: string, io: { inputs: ValueInfo[]; outputs: ValueInfo[] }) =>
    onnxModelProto(graph, { graphName: `${spec.config.name}_${what}`, doc: `${spec.config.name}: ${doc} (${optimizer.class_name}) generated by Layerbench`, ...io });
  /** The graph that computes exactly `fetched` (graph-passes.ts). */
  const variant = (fetched: ValueInfo[]) =>
    graphFor(
      g,
      fetched.map((o) => o.name),
      negLr,
    );
  const plainOutputs = new Set([...stepOutputs, ...gradients.values()]);
  const plainFetched = outputs.filter((o) => plainOutputs.has(o.name));
  const plainGraph = variant(plainFetched);
  const bytes = proto(variant(outputs), 'statistics_step', 'one statistics step', { inputs, outputs });
  const plainBytes = proto(plainGraph, 'train_step', 'one train step', { inputs, outputs: plainFetched });
  const steps = options.stepsPerRun ?? 1;
  let unrolled: UnrolledSteps | null = null;
  if (steps > 1) {
    // Without gradient outputs the plain step's graph fetches exactly stepOutputs: its copies are chained.
    if (options.gradients) throw new Error('the step graph outputs gradients one step at a time (stepsPerRun 1)');
    const stepNames = (values: ValueInfo[], perStep: ReadonlySet<string>) =>
      values.flatMap((v) => (perStep.has(v.name) ? Array.from({ length: steps }, (_, k) => ({ ...v, name: stepCopy(v.name, k) })) : [v]));
    const perStepInputs = new Set([...Object.values(STEP_INPUTS), ...masks.map((m) => m.input)]);
    const perStepOutputs = new Set<string>(Object.values(STEP_OUTPUTS));
    const graph = unrollSteps(
      plainGraph,
      steps,
      allState.map((s) => ({ input: s.name, output: s.output })),
    );
    unrolled = {
      steps,
      bytes: proto(graph, `train_steps_${steps}`, `${steps} training steps`, { inputs: stepNames(inputs, perStepInputs), outputs: stepNames(plainFetched, perStepOutputs) }),
    };
  }
  return { bytes, plainBytes, state: allState, inputShape, classes, gradients, outputs, masks, statistics, stepOutputs, unrolled };
}

/**
 * A layer output's mean and biased variance over all its values (two passes, as the probe's), and the
 * share of values (of samples' largest values, `perSample`) past the saturation edges, compared in float32.
 */
function activationMoments(c: Ctx, y: string, layer: string, edges: SaturationEdges | undefined): { mean: string; variance: string; saturation: string | null } {
  const { g, k } = c;
  const all = (op: string, input: string, name: string) => g.node(op, [input], name, [{ name: 'keepdims', i: 0 }]);
  const mean = all('ReduceMean', y, `${layer}/stats/mean`);
  const centered = g.node('Sub', [y, mean], `${layer}/stats/centered`);
  const variance = all('ReduceMean', g.node('Mul', [centered, centered], `${layer}/stats/squares`), `${layer}/stats/variance`);
  if (!edges) return { mean, variance, saturation: null };
  const tested = edges.perSample
    ? g.node('ReduceMax', [y], `${layer}/stats/sample_max`, [
        { name: 'axes', ints: [-1] },
        { name: 'keepdims', i: 0 },
      ])
    : y;
  const tests: string[] = [];
  if (edges.below !== undefined) tests.push(g.node('Less', [tested, k.of(edges.below)], `${layer}/stats/below`));
  if (edges.above !== undefined) tests.push(g.node('Greater', [tested, k.of(edges.above)], `${layer}/stats/above`));
  if (edges.atMost !== undefined) tests.push(g.node('LessOrEqual', [tested, k.of(edges.atMost)], `${layer}/stats/at_most`));
  const hit = tests.reduce((a, b) => g.node('Or', [a, b], `${layer}/stats/either`));
  const saturation = all('ReduceMean', g.node('Cast', [hit], `${layer}/stats/hits`, [{ name: 'to', i: FLOAT }]), `${layer}/stats/saturation`);
  return { mean, variance, saturation };
}

/** Keras' clipnorm (g·c/max(‖g‖, c) per tensor), then clipvalue (each value into [−c, c]), as optimizers.ts' clipGradients. */
function clipGradients(c: Ctx, config: { clipnorm: number | null; clipvalue: number | null }, grads: Map<string, string>): void {
  const { g, k } = c;
  for (const [name, grad] of grads) {
    let t = grad;
    if (config.clipnorm !== null) {
      const cap = k.of(config.clipnorm);
      const norm = g.node('Sqrt', [g.node('ReduceSum', [g.node('Mul', [t, t], `${name}/grad_squares`)], `${name}/grad_sum`, [{ name: 'keepdims', i: 0 }])], `${name}/grad_norm`);
      t = g.node('Div', [g.node('Mul', [t, cap], `${name}/grad_scaled`), g.node('Max', [norm, cap], `${name}/grad_norm_cap`)], `${name}/clipnorm`);
    }
    if (config.clipvalue !== null) t = g.node('Clip', [t, k.of(-config.clipvalue), k.of(config.clipvalue)], `${name}/clipvalue`);
    grads.set(name, t);
  }
}

/** Keras' kernel penalties: l1·Σ|W| + l2·ΣW² per Dense kernel, and their gradients l1·sign(W) + 2·l2·W (tfjs' |x|′ is −1 at 0). */
function kernelPenalties(c: Ctx, layers: ModelLayerInfo[], configs: Cfg[]): { kernel: string; value: string; gradient: string }[] {
  const { g, k } = c;
  const out: { kernel: string; value: string; gradient: string }[] = [];
  layers.forEach((info, i) => {
    const r = canonicalRegularizer(configs[i]!.kernel_regularizer);
    if (!r.ok || !r.value) return;
    const { l1, l2 } = r.value.config;
    if (!(l1 > 0 || l2 > 0)) return;
    const w = info.variables.find((v) => v.short === 'kernel')!.name;
    const values: string[] = [];
    const gradients: string[] = [];
    const total = (t: string, name: string) => g.node('ReduceSum', [t], name, [{ name: 'keepdims', i: 0 }]);
    if (l1 > 0) {
      values.push(g.node('Mul', [k.of(l1), total(g.node('Abs', [w], `${w}/abs`), `${w}/l1_sum`)], `${w}/l1`));
      gradients.push(g.node('Where', [g.node('Greater', [w, k.of(0)], `${w}/positive`), k.of(l1), k.of(-l1)], `${w}/dl1`));
    }
    if (l2 > 0) {
      values.push(g.node('Mul', [k.of(l2), total(g.node('Mul', [w, w], `${w}/square`), `${w}/l2_sum`)], `${w}/l2`));
      gradients.push(g.node('Mul', [w, k.of(2 * l2)], `${w}/dl2`));
    }
    const sum = (xs: string[], name: string) => xs.reduce((a, b) => g.node('Add', [a, b], name));
    out.push({ kernel: w, value: sum(values, `${w}/penalty`), gradient: sum(gradients, `${w}/dpenalty_terms`) });
  });
  return out;
}

/** Keras' MaxNorm after the update: w·min(‖w‖, c)/(1e-7 + ‖w‖), norms along the constraint's axis (forward.ts' applyMaxNorm). */
function applyMaxNorm(c: Ctx, layers: ModelLayerInfo[], configs: Cfg[], next: Map<string, string>): void {
  const { g, k } = c;
  layers.forEach((info, i) => {
    const constraint = canonicalConstraint(configs[i]!.kernel_constraint);
    if (!constraint.ok || !constraint.value) return;
    const { max_value: maxValue, axis } = constraint.value.config;
    const w = info.variables.find((v) => v.short === 'kernel')!.name;
    const updated = next.get(w)!;
    const squares = g.node('ReduceSum', [g.node('Mul', [updated, updated], `${w}/max_norm_squares`), g.int64s(`${w}/max_norm_axis`, [axis])], `${w}/max_norm_sum`, [
      { name: 'keepdims', i: 1 },
    ]);
    const norms = g.node('Sqrt', [squares], `${w}/max_norm_norms`);
    const factor = g.node(
      'Div',
      [g.node('Min', [norms, k.of(maxValue)], `${w}/max_norm_desired`), g.node('Add', [norms, k.of(1e-7)], `${w}/max_norm_safe`)],
      `${w}/max_norm_factor`,
    );
    next.set(w, g.node('Mul', [updated, factor], `${w}/max_norm`));
  });
}

/** s·β + x·(1 − β), tfjs' moving averages of its optimizers. */
function movingAverage(c: Ctx, state: string, x: string, beta: number, name: string): string {
  const { g, k } = c;
  return g.node('Add', [g.node('Mul', [state, k.of(beta)], `${name}/decayed`), g.node('Mul', [x, k.of(1 - beta)], `${name}/fresh`)], `${name}/average`);
}

/** The update of every trainable variable in tfjs' form; returns the optimizer's slots (state after the variables) and −lr's tensor. */
function applyOptimizer(
  c: Ctx,
  optimizer: OptimizerSettings,
  trainable: ModelVariable[],
  grads: Map<string, string>,
  next: Map<string, string>,
  state: StateEntry[],
): { slots: StateEntry[]; negLr: string } {
  const { g, k } = c;
  const slots: StateEntry[] = [];
  const slot = (name: string, shape: number[], initial = 0) => {
    g.unique(name);
    slots.push({ name, output: `${name}:next`, shape, kind: 'slot', initial });
    return name;
  };
  const negLr = g.node('Neg', [STEP_INPUTS.lr], 'optimizer/neg_lr');
  /** Runs `update` per trainable variable with its gradient and a node maker named after it. */
  const eachVariable = (update: (v: ModelVariable, grad: string, n: (op: string, inputs: string[]) => string) => void) => {
    for (const v of trainable) update(v, grads.get(v.name)!, (op, inputs) => g.node(op, inputs, `${v.name}/${op.toLowerCase()}`));
  };
  if (optimizer.class_name === 'SGD') {
    const { momentum, nesterov } = optimizer.config;
    eachVariable((v, grad, n) => {
      if (momentum === 0 && !nesterov) {
        next.set(v.name, n('Add', [n('Mul', [negLr, grad]), v.name]));
        return;
      }
      const acc = slot(`${v.name}/momentum`, v.shape);
      const accNext = n('Add', [n('Mul', [acc, k.of(momentum)]), grad]);
      next.set(acc, accNext);
      const direction = nesterov ? n('Add', [grad, n('Mul', [accNext, k.of(momentum)])]) : accNext;
      next.set(v.name, n('Add', [n('Mul', [negLr, direction]), v.name]));
    });
  } else if (optimizer.class_name === 'Adam') {
    const { beta_1: b1, beta_2: b2, epsilon } = optimizer.config;
    // tfjs keeps β₁ᵗ and β₂ᵗ as variables that start at β and are multiplied by β after each step.
    const p1 = slot('adam/beta_1_power', [], b1);
    const p2 = slot('adam/beta_2_power', [], b2);
    const correction1 = g.node('Sub', [k.of(1), p1], 'adam/correction_1');
    const correction2 = g.node('Sub', [k.of(1), p2], 'adam/correction_2');
    eachVariable((v, grad, n) => {
      const m = slot(`${v.name}/m`, v.shape);
      const s = slot(`${v.name}/v`, v.shape);
      const mNext = movingAverage(c, m, grad, b1, v.name);
      const sNext = movingAverage(c, s, n('Mul', [grad, grad]), b2, v.name);
      next.set(m, mNext);
      next.set(s, sNext);
      const mHat = n('Div', [mNext, correction1]);
      const sHat = n('Div', [sNext, correction2]);
      next.set(v.name, n('Add', [n('Mul', [n('Div', [mHat, n('Add', [n('Sqrt', [sHat]), k.of(epsilon)])]), negLr]), v.name]));
    });
    next.set(p1, g.node('Mul', [p1, k.of(b1)], 'adam/beta_1_power_next'));
    next.set(p2, g.node('Mul', [p2, k.of(b2)], 'adam/beta_2_power_next'));
  } else if (optimizer.class_name === 'Adamax') {
    const { beta_1: b1, beta_2: b2, epsilon } = optimizer.config;
    const p1 = slot('adamax/beta_1_power', [], b1);
    // −lr/(1 − β₁ᵗ), tfjs' step size (its decay is 0).
    const stepSize = g.node('Div', [negLr, g.node('Sub', [k.of(1), p1], 'adamax/correction')], 'adamax/step_size');
    eachVariable((v, grad, n) => {
      const m = slot(`${v.name}/m`, v.shape);
      const u = slot(`${v.name}/v`, v.shape);
      const mNext = movingAverage(c, m, grad, b1, v.name);
      const uNext = n('Max', [n('Mul', [u, k.of(b2)]), n('Abs', [grad])]);
      next.set(m, mNext);
      next.set(u, uNext);
      next.set(v.name, n('Add', [n('Mul', [stepSize, n('Div', [mNext, n('Add', [uNext, k.of(epsilon)])])]), v.name]));
    });
    next.set(p1, g.node('Mul', [p1, k.of(b1)], 'adamax/beta_1_power_next'));
  } else if (optimizer.class_name === 'Adagrad') {
    eachVariable((v, grad, n) => {
      const acc = slot(`${v.name}/accumulator`, v.shape, optimizer.config.initial_accumulator_value);
      const accNext = n('Add', [acc, n('Mul', [grad, grad])]);
      next.set(acc, accNext);
      next.set(v.name, n('Add', [n('Mul', [n('Div', [grad, n('Sqrt', [n('Add', [accNext, k.of(BACKEND_EPSILON)])])]), negLr]), v.name]));
    });
  } else if (optimizer.class_name === 'RMSprop') {
    const { rho, momentum, epsilon, centered } = optimizer.config;
    eachVariable((v, grad, n) => {
      const ms = slot(`${v.name}/rms`, v.shape);
      const mom = slot(`${v.name}/momentum`, v.shape);
      const msNext = movingAverage(c, ms, n('Mul', [grad, grad]), rho, v.name);
      next.set(ms, msNext);
      let variance = msNext;
      if (centered) {
        // Keras' centered form √(ms − mg² + ε) (optimizers.ts hands tfjs −ε for exactly this).
        const mg = slot(`${v.name}/mg`, v.shape);
        const mgNext = movingAverage(c, mg, grad, rho, v.name);
        next.set(mg, mgNext);
        variance = n('Sub', [msNext, n('Mul', [mgNext, mgNext])]);
      }
      const contribution = n('Div', [n('Mul', [grad, STEP_INPUTS.lr]), n('Sqrt', [n('Add', [variance, k.of(epsilon)])])]);
      const momNext = n('Add', [n('Mul', [mom, k.of(momentum)]), contribution]);
      next.set(mom, momNext);
      next.set(v.name, n('Sub', [v.name, momNext]));
    });
  }
  // Variables without a gradient (none trainable here) pass through.
  for (const s of state) if (!next.has(s.name)) next.set(s.name, s.name);
  return { slots, negLr };
}
