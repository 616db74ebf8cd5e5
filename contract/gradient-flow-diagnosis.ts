/**
 * Why the gradient flows the way it does (#17): from the model spec and one statistics record, the
 * measured per-layer factors (gradient norm across depth, activation variance across depth), the
 * factors the initializer and activation predict, and a verdict in words with a suggestion.
 *
 * The arithmetic is the variance-preservation argument (Glorot & Bengio 2010, He et al. 2015): with
 * zero-mean weights of variance Var(w), a layer's pre-activation variance is
 *   forward:  Var(z_{l+1}) = fan_in · Var(w) · E[f(z_l)²]       (f the activation)
 *   backward: Var(δ_l)     = fan_out · Var(w) · E[f′(z_l)²] · Var(δ_{l+1})
 * so each layer multiplies the signal's variance by f = fan_in·Var(w)·E[f(z)²]/Var(z) forward and the
 * error signal's (δ) by b = fan_out·Var(w)·E[f′(z)²] toward the input. ReLU halves both (E[f²] = Var/2,
 * E[f′²] = ½): He's Var(w) = 2/fan_in keeps them at 1, Glorot's 2/(fan_in + fan_out) (= 1/n for square
 * layers) halves them at every layer. ELU's slope is 1 on both sides of 0, so its factors depend on the
 * signal: ≈1 for a small signal, ≈0.65 at unit variance (closed forms below).
 *
 * The statistics' gradient norm is not δ's: it is the layer's parameter gradient, kernel and bias.
 * The kernel's, ∇W_l = a_{l−1}ᵀ δ_l, has ‖∇W_l‖² ∝ E[a_{l−1}²]·Var(δ_l), so one layer toward the
 * input it changes by √(b/f) (layers of equal width): at initialization Glorot + ReLU (f = b = ½)
 * gives FLAT kernel gradients while the activations and δ both halve per layer (Glorot & Bengio 2010
 * saw the same). The bias's, Σ δ_l, follows √b alone, and dominates once the signal has faded (real
 * records of Glorot + ReLU at step 0: the norm falls ×0.73 a layer toward the input, ≈ √½). Neither is
 * b, so no init factor is compared with the gradient trend: the measured activation variance is
 * compared with f, the gradient trend is reported as measured, and the verdict rests on both.
 * Pure: the renderer and the CLI read the same numbers.
 */
import type { ModelSpec } from '../model/spec';
import { withDefaults } from '../model/layers';
import { initializerReport, type VariableInitReport } from '../model/summary';
import { humanNumber } from './numbers';
import type { LayerStats } from './training';

/** Layers that carry the initializer's arithmetic: their kernel's variance sets the layer's factor. */
const WEIGHTED = new Set(['Dense', 'Conv1D', 'Conv2D']);
/** Layers that rescale what flows through them, so no initializer arithmetic survives across depth. */
const NORMALIZING = new Set(['BatchNormalization', 'LayerNormalization']);
/** Layers between a weighted layer and its activation that do not change the arithmetic. */
const PASS_THROUGH = new Set(['Dropout', 'AlphaDropout', 'GaussianNoise', 'Flatten', 'Reshape']);

/** A total change across the measured depth beyond 10× is what the chapter calls vanishing / exploding. */
const VANISH_TOTAL = 0.1;
const EXPLODE_TOTAL = 10;
/** A per-layer factor within 10% of 1 preserves the variance well enough over ~20 layers (0.9²⁰ ≈ 0.12). */
const PRESERVED = Math.log(1.1);

/** Activations with slope 1 at 0 on both sides, nearly linear for a small signal. */
const SMOOTH_AT_ZERO = new Set(['elu', 'tanh']);
/** Var(z) below which |z| < 1 for ~95% of the inputs (2σ = 1). */
const SMALL_SIGNAL = 0.25;

export type FlowKind = 'vanishing' | 'exploding' | 'healthy' | 'normalized' | 'unknown';

export interface DepthPoint {
  /** The weighted layer (its gradient) and where its activation's statistics come from. */
  layer: string;
  /** 1-based index among the weighted layers. */
  depth: number;
  gradNorm: number | null;
  /** Variance of the layer's activation output (act_std²); null for the output layer and layers without one. */
  actVariance: number | null;
}

export interface DepthTrend {
  /** Per layer: toward the input for gradients (g_{l−1}/g_l), toward the output for activation variance. */
  perLayer: number;
  /** perLayer ^ (layers − 1): the change from one end of the span to the other, in the same direction. */
  total: number;
  from: string;
  to: string;
  layers: number;
}

export interface ExpectedFactors {
  layer: string;
  initializer: string;
  /** The variance the training samples from (tfjs with Keras' truncated-normal correction). */
  varW: number;
  /** How Var(w) comes about, e.g. "2/(fan_in + fan_out) = 2/200". */
  varWFormula: string;
  fanIn: number;
  fanOut: number;
  activation: string;
  /** The pre-activation variance the activation's gains were evaluated at (measured when the record allows, else 1). */
  q: number;
  /** E[f(z)²]/Var(z) and E[f′(z)²] at q. */
  forwardGain: number;
  backwardGain: number;
  /** fan_in·Var(w)·forwardGain (the signal's variance, forward) and fan_out·Var(w)·backwardGain (δ's, toward the input). */
  forward: number;
  backward: number;
}

export interface GradientFlowDiagnosis {
  kind: FlowKind;
  depth: DepthPoint[];
  /** Parameter-gradient norms over the hidden layers fed by hidden layers (the first layer sees raw inputs, the output the loss). */
  gradient: DepthTrend | null;
  /** Activation variance over the hidden layers: the forward signal, what `expected.forward` predicts. */
  activation: DepthTrend | null;
  expected: ExpectedFactors | null;
  /** Sentences: what was measured, what the arithmetic predicts, the verdict. */
  verdict: string;
  suggestion: string | null;
}

// ---- the activations' gains ------------------------------------------------------------------

/** ln erfc(x) for x ≥ 0 (Numerical Recipes' erfcc, relative error < 1.2e-7), in log form so e^{2q}·Φ(−2√q) cannot overflow. */
function logErfc(x: number): number {
  const t = 1 / (1 + 0.5 * x);
  const poly =
    -1.26551223 +
    t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  return Math.log(t) - x * x + poly;
}

/** E[e^{a z}; z < 0] for z ~ N(0, q), a ≥ 0: e^{a²q/2} · Φ(−a√q). */
function expBelowZero(a: number, q: number): number {
  const s = a * Math.sqrt(q);
  return Math.exp((a * a * q) / 2 + Math.log(0.5) + logErfc(s / Math.SQRT2));
}

/** E[(e^z − 1)²; z < 0] for z ~ N(0, q): the negative side's share of ELU's second moment. */
function eluNegativeSecondMoment(q: number): number {
  return expBelowZero(2, q) - 2 * expBelowZero(1, q) + 0.5;
}

const SELU_LAMBDA = 1.0507009873554805;
const SELU_ALPHA = 1.6732632423543772;
/** Keras' and tfjs' leaky_relu slope for x < 0. */
const LEAKY_ALPHA = 0.2;

interface Gains {
  forward: number;
  backward: number;
  /** How the gains were obtained, for the verdict. */
  note: string;
}

/**
 * E[f(z)²]/q and E[f′(z)²] for z ~ N(0, q). Exact for relu, leaky_relu, elu, selu and linear; the
 * linear regime (f's tangent at 0) for tanh and sigmoid, which flatten for large q. Null for the others.
 */
export function activationGains(activation: string, q: number): Gains | null {
  switch (activation) {
    case 'linear':
      return { forward: 1, backward: 1, note: 'gain 1' };
    case 'relu':
      return { forward: 0.5, backward: 0.5, note: 'E[f(z)²] = Var(z)/2, E[f′²] = ½' };
    case 'leaky_relu': {
      const g = (1 + LEAKY_ALPHA ** 2) / 2;
      return { forward: g, backward: g, note: `gain (1 + ${LEAKY_ALPHA}²)/2 = ${fmt(g)}` };
    }
    case 'elu': {
      // ELU: z for z > 0 (half the variance), e^z − 1 below; f′ = e^z below 0.
      const forward = (q / 2 + eluNegativeSecondMoment(q)) / q;
      const backward = 0.5 + expBelowZero(2, q);
      return {
        forward,
        backward,
        note: `slope 1 on both sides of 0, so its gains depend on the signal: at Var(z) = ${fmt(q)}, E[f(z)²]/Var(z) = ${fmt(forward)}, E[f′²] = ${fmt(backward)}`,
      };
    }
    case 'selu': {
      const forward = (SELU_LAMBDA ** 2 * (q / 2 + SELU_ALPHA ** 2 * eluNegativeSecondMoment(q))) / q;
      const backward = SELU_LAMBDA ** 2 * (0.5 + SELU_ALPHA ** 2 * expBelowZero(2, q));
      return {
        forward,
        backward,
        note: `at Var(z) = ${fmt(q)}: E[f(z)²]/Var(z) = ${fmt(forward)}, E[f′²] = ${fmt(backward)} (1 and ≈1.07 at Var(z) = 1, its fixed point with LeCun init)`,
      };
    }
    case 'tanh':
      return { forward: 1, backward: 1, note: 'linear regime: slope 1 at 0, less once it saturates' };
    case 'sigmoid': {
      // f(z) ≈ ½ + z/4: its second moment keeps the mean's ¼ (zero-mean weights pass E[f²], not Var(f), on).
      const forward = 1 / 16 + 1 / (4 * q);
      return { forward, backward: 1 / 16, note: `linear regime: f(z) ≈ ½ + z/4, so E[f(z)²]/Var(z) = 1/16 + 1/(4·${fmt(q)}) = ${fmt(forward)}, E[f′²] = 1/16` };
    }
    default:
      return null;
  }
}

// ---- the model's layers ------------------------------------------------------------------------

interface WeightedLayer {
  index: number;
  name: string;
  activation: string;
  /** The layer whose statistics carry this layer's activation output (itself, or a following Activation layer). */
  activationLayer: string;
}

/** The weighted layers in order, each with the activation its output goes through. */
function weightedLayers(spec: ModelSpec): WeightedLayer[] {
  const layers = spec.config.layers.map((l) => withDefaults(l));
  const out: WeightedLayer[] = [];
  layers.forEach((layer, index) => {
    if (!WEIGHTED.has(layer.class_name)) return;
    const name = String(layer.config.name);
    let activation = String(layer.config['activation'] ?? 'linear');
    let activationLayer = name;
    if (activation === 'linear') {
      for (let j = index + 1; j < layers.length; j++) {
        const next = layers[j]!;
        if (next.class_name === 'Activation') {
          activation = String(next.config['activation']);
          activationLayer = String(next.config.name);
          break;
        }
        if (!PASS_THROUGH.has(next.class_name) && !NORMALIZING.has(next.class_name)) break;
      }
    }
    out.push({ index, name, activation, activationLayer });
  });
  return out;
}

/** Least-squares slope of ln y against position: the geometric per-step factor of a series. */
function geometricTrend(values: number[]): number {
  const n = values.length;
  const logs = values.map(Math.log);
  const meanX = (n - 1) / 2;
  const meanY = logs.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  logs.forEach((y, x) => {
    sxy += (x - meanX) * (y - meanY);
    sxx += (x - meanX) ** 2;
  });
  return Math.exp(sxy / sxx);
}

/** The trend of a series over depth when at least three layers have positive finite values. */
function trend(points: { layer: string; value: number | null }[], towardInput: boolean): DepthTrend | null {
  const usable = points.filter((p): p is { layer: string; value: number } => p.value !== null && Number.isFinite(p.value) && p.value > 0);
  if (usable.length < 3 || usable.length !== points.length) return null;
  const ordered = towardInput ? [...usable].reverse() : usable;
  const perLayer = geometricTrend(ordered.map((p) => p.value));
  return { perLayer, total: perLayer ** (ordered.length - 1), from: ordered[0]!.layer, to: ordered.at(-1)!.layer, layers: ordered.length };
}

const INIT_NAMES: Record<string, string> = {
  GlorotUniform: 'Glorot uniform',
  GlorotNormal: 'Glorot normal',
  HeNormal: 'He normal',
  HeUniform: 'He uniform',
  LecunNormal: 'LeCun normal',
  LecunUniform: 'LeCun uniform',
  VarianceScaling: 'VarianceScaling',
};

/** The initializer each activation's variance arithmetic asks for, and the Var(w) it gives. */
function recommendedInit(activation: string, fanIn: number, fanOut: number): { id: string; name: string; varW: number; formula: string } {
  if (['relu', 'leaky_relu', 'elu'].includes(activation)) return { id: 'he_normal', name: 'He normal', varW: 2 / fanIn, formula: '2/fan_in' };
  if (activation === 'selu') return { id: 'lecun_normal', name: 'LeCun normal', varW: 1 / fanIn, formula: '1/fan_in' };
  return { id: 'glorot_uniform', name: 'Glorot uniform', varW: 2 / (fanIn + fanOut), formula: '2/(fan_in + fan_out)' };
}

/** `report`: initializerReport(spec, { kerasVariance: true }), the variances training samples. */
function expectedFactors(report: VariableInitReport[], layer: WeightedLayer, q: number): ExpectedFactors | null {
  const kernel = report.find((v) => v.layerIndex === layer.index && v.variable.endsWith('/kernel'));
  const gains = activationGains(layer.activation, q);
  if (!kernel || !gains) return null;
  const { fan_in: fanIn, fan_out: fanOut } = kernel.stats.fans;
  const varW = kernel.stats.std ** 2 + kernel.stats.mean ** 2;
  const { scale, mode } = kernel.stats;
  // Keras' VarianceScaling: Var(w) = scale / fan, fan_avg being (fan_in + fan_out)/2.
  const varWFormula =
    scale === null || mode === null
      ? fmt(varW)
      : mode === 'fan_avg'
        ? `${fmt(2 * scale)}/(fan_in + fan_out) = ${fmt(2 * scale)}/${fanIn + fanOut}`
        : `${fmt(scale)}/${mode} = ${fmt(scale)}/${mode === 'fan_in' ? fanIn : fanOut}`;
  return {
    layer: layer.name,
    initializer: INIT_NAMES[kernel.stats.class_name] ?? kernel.stats.class_name,
    varW,
    varWFormula,
    fanIn,
    fanOut,
    activation: layer.activation,
    q,
    forwardGain: gains.forward,
    backwardGain: gains.backward,
    forward: fanIn * varW * gains.forward,
    backward: fanOut * varW * gains.backward,
  };
}

// ---- the diagnosis -----------------------------------------------------------------------------

const fmt = (x: number) => humanNumber(x, 2);
/** A per-layer factor to three digits ("×0.807"); a total change in words ("48× smaller", "6.7× larger"). */
const times = (x: number) => `×${humanNumber(x, 3)}`;
const list = (names: string[]) => (names.length > 3 ? `${names.slice(0, 3).join(', ')} and ${names.length - 3} more` : names.join(', '));
const change = (total: number) => (total < 1 ? `${fmt(1 / total)}× smaller` : `${fmt(total)}× larger`);

/** A measured total change over depth, in norm terms (a variance's square root), against the 10× thresholds. */
function kindOf(norms: number[]): FlowKind {
  if (norms.some((t) => t > EXPLODE_TOTAL)) return 'exploding';
  return norms.some((t) => t < VANISH_TOTAL) ? 'vanishing' : 'healthy';
}

/**
 * Diagnoses the gradient flow of `spec` from one statistics record's layers (the latest: the panel
 * passes it as it arrives). Layers are matched by name; a record from another model yields 'unknown'.
 */
export function diagnoseGradientFlow(spec: ModelSpec, layers: readonly LayerStats[]): GradientFlowDiagnosis {
  const byName = new Map(layers.map((l) => [l.layer, l]));
  const weighted = weightedLayers(spec);
  const depth: DepthPoint[] = weighted.map((w, i) => {
    const act = byName.get(w.activationLayer);
    const isOutput = i === weighted.length - 1;
    return {
      layer: w.name,
      depth: i + 1,
      gradNorm: byName.get(w.name)?.grad_norm ?? null,
      actVariance: !isOutput && act?.act_std !== undefined ? act.act_std ** 2 : null,
    };
  });
  const normalized = spec.config.layers.some((l) => NORMALIZING.has(l.class_name));
  // The span: hidden layers fed by hidden layers (the first sees raw inputs of another size and scale, the output the loss's gradient).
  const span = depth.slice(1, -1);
  const gradient = trend(
    span.map((p) => ({ layer: p.layer, value: p.gradNorm })),
    true,
  );
  const activation = trend(
    depth.slice(0, -1).map((p) => ({ layer: p.layer, value: p.actVariance })),
    false,
  );
  const report = initializerReport(spec, { kerasVariance: true });

  // The representative layer: the middle of the span, its activation's gains at the variance its input measured.
  const middle = span.length ? Math.floor(span.length / 2) + 1 : -1;
  let expected: ExpectedFactors | null = null;
  if (middle > 0) {
    const layer = weighted[middle]!;
    const previous = byName.get(weighted[middle - 1]!.activationLayer);
    const secondMoment = previous?.act_std !== undefined ? previous.act_std ** 2 + (previous.act_mean ?? 0) ** 2 : null;
    const pre = expectedFactors(report, layer, 1);
    // q = fan_in · Var(w) · E[a²] of the layer below: the pre-activation variance the gains apply to.
    const q = pre && secondMoment !== null && secondMoment > 0 ? pre.fanIn * pre.varW * secondMoment : 1;
    expected = expectedFactors(report, layer, q);
  }

  if (!depth.some((p) => p.gradNorm !== null)) {
    return { kind: 'unknown', depth, gradient, activation, expected, verdict: 'No gradient statistics for this model yet.', suggestion: null };
  }

  const e = expected && !normalized ? expected : null;
  const theory = e ? ` (${e.initializer} with ${e.activation} predicts ${times(e.forward)})` : '';
  const sentences: string[] = [];
  if (activation) {
    sentences.push(
      `The signal's variance (activations) goes ${times(activation.perLayer)} a layer forward${theory}: ${change(activation.total)} at ${activation.to} than at ${activation.from}.`,
    );
  }
  if (gradient) {
    const subject = "Toward the input the layers' gradient norm (kernel and bias)";
    const direction = gradient.perLayer < 1 ? 'falls' : 'rises';
    // Within 5% over the whole span "1× larger" would say nothing: call it level.
    if (Math.abs(Math.log(gradient.total)) < Math.log(1.05)) sentences.push(`${subject} stays level: ${times(gradient.perLayer)} a layer.`);
    else sentences.push(`${subject} ${direction} ${times(gradient.perLayer)} a layer: ${change(gradient.total)} at ${gradient.to} than at ${gradient.from}.`);
  } else if (span.length < 3) {
    sentences.push('Fewer than 3 hidden layers between the first and the output: no trend across depth to measure.');
  }
  // A layer whose gradient is exactly 0 (every unit dead) or not finite breaks the trend: name it instead.
  const dead = span.filter((p) => p.gradNorm === 0).map((p) => p.layer);
  const broken = depth.filter((p) => p.gradNorm !== null && !Number.isFinite(p.gradNorm)).map((p) => p.layer);
  if (dead.length) sentences.push(`No gradient at all reaches ${list(dead)} (norm 0).`);
  if (broken.length) sentences.push(`The gradient norm is not finite at ${list(broken)}.`);

  let kind: FlowKind;
  // The measured changes over depth as norms, like the thresholds: the signal's std and the gradient norm.
  const signalKind = activation ? kindOf([Math.sqrt(activation.total)]) : null;
  const gradientKind = gradient ? kindOf([gradient.total]) : null;
  if (broken.length) kind = 'exploding';
  else if (dead.length) kind = 'vanishing';
  else if (normalized) {
    kind = 'normalized';
    sentences.push('Normalization layers rescale every layer they follow, so the initializer does not set these factors.');
  } else if (activation || gradient) {
    kind = kindOf([activation ? Math.sqrt(activation.total) : 1, gradient?.total ?? 1]);
  } else if (e) {
    // Nothing measured across depth: what the arithmetic predicts for the signal and the error over the model's depth.
    const layersBelow = Math.max(0, weighted.length - 2);
    kind = kindOf([Math.sqrt(e.forward) ** layersBelow, Math.sqrt(e.backward) ** layersBelow]);
  } else kind = 'unknown';

  if (e) {
    const gains = activationGains(e.activation, e.q)!;
    sentences.push(
      `${e.initializer} gives Var(w) = ${e.varWFormula} = ${fmt(e.varW)}; with ${e.activation} (${gains.note}) each layer scales the signal's variance by fan_in·Var(w)·${fmt(e.forwardGain)} = ${fmt(e.forward)} forward and the error's (δ) by fan_out·Var(w)·${fmt(e.backwardGain)} = ${fmt(e.backward)} toward the input.`,
    );
  }
  // A small signal sits in the near-linear part of a smooth activation: the stack then computes almost a linear map.
  if (e && SMOOTH_AT_ZERO.has(e.activation) && e.q < SMALL_SIGNAL) {
    sentences.push(`At Var(z) = ${fmt(e.q)} most inputs sit in ${e.activation}'s near-linear part around 0, so the layers act almost as one linear map.`);
  }
  if (kind === 'vanishing') {
    if (signalKind === 'vanishing') {
      const error = e && e.backward < 1 ? `, and the arithmetic has the error δ fade toward the input (${times(e.backward)} a layer)` : '';
      sentences.push(`The signal vanishes forward: the last layers see almost nothing of the input${error}.`);
      // ‖∇W_l‖² ∝ E[a_{l−1}²]·Var(δ_l): one layer toward the input the kernel's gradient changes by √(b/f).
      const offset = e ? ` (√(${fmt(e.backward)}/${fmt(e.forward)}) = ${times(Math.sqrt(e.backward / e.forward))} a layer at initialization)` : '';
      if (gradientKind === 'healthy') {
        sentences.push(
          `The gradient norms need not show it: a kernel’s gradient, a_{l−1}ᵀδ_l, carries the fading signal and the fading error together, and they offset each other${offset}; the activations show it.`,
        );
      }
    }
    if (signalKind !== 'vanishing' || gradientKind === 'vanishing') sentences.push('The gradient vanishes toward the input layers: they barely learn.');
  } else if (kind === 'exploding') {
    if (signalKind === 'exploding') sentences.push('The signal explodes forward.');
    if (signalKind !== 'exploding' || gradientKind === 'exploding') sentences.push('The gradient explodes toward the input layers.');
  } else if (kind === 'healthy' && gradient) sentences.push(`Neither the signal nor the gradient norms vanish over these ${gradient.layers} layers.`);

  let suggestion: string | null = null;
  if (e) {
    const r = recommendedInit(e.activation, e.fanIn, e.fanOut);
    const gains = activationGains(e.activation, e.q)!;
    const forward = e.fanIn * r.varW * gains.forward;
    const backward = e.fanOut * r.varW * gains.backward;
    const off = (x: number) => Math.abs(Math.log(x));
    const better = Math.max(off(forward), off(backward)) + 1e-9 < Math.max(off(e.forward), off(e.backward));
    if (r.name !== e.initializer && better && (kind !== 'healthy' || Math.max(off(e.forward), off(e.backward)) > PRESERVED)) {
      suggestion = `${r.name} (Var(w) = ${r.formula} = ${fmt(r.varW)}) keeps the factors at ${fmt(forward)} forward and ${fmt(backward)} backward for ${e.activation}: set kernel_initializer to ${r.id}.`;
    } else if (kind === 'vanishing' || kind === 'exploding') {
      suggestion = 'Add BatchNormalization after the hidden layers, or use fewer layers.';
    }
  }
  return { kind, depth, gradient, activation, expected, verdict: sentences.join(' '), suggestion };
}
