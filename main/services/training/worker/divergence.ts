/**
 * When the loss becomes NaN or infinite, or explodes while staying finite: what a learner should
 * look at first, from the model spec and the run's settings (Géron ch. 11: learning rate,
 * initialization scale, BatchNormalization).
 */
import type { TrainingSettings } from '../../../../contract';
import { humanNumber } from '../../../../contract/numbers';
import { withDefaults } from '../../../../model/layers';
import type { ModelSpec } from '../../../../model/spec';
import { initializerReport } from '../../../../model/summary';

const HE_FAMILY = new Set(['relu', 'leaky_relu', 'elu', 'silu', 'swish']);

/** The initialization Géron recommends for an activation, and its target std for a kernel of `fanIn` × `fanOut`. */
function recommended(activation: string, fanIn: number, fanOut: number): { name: string; std: number } {
  if (HE_FAMILY.has(activation)) return { name: 'He', std: Math.sqrt(2 / fanIn) };
  if (activation === 'selu') return { name: 'LeCun', std: Math.sqrt(1 / fanIn) };
  return { name: 'Glorot', std: Math.sqrt(2 / (fanIn + fanOut)) };
}

const fmt = (x: number) => humanNumber(x);

/**
 * The learning rate to try after a divergence: the usual starting rate (Géron: 0.01 for SGD on
 * these models; adaptive optimizers about ten times lower, Keras' default 0.001), or a tenth of the
 * failed rate when that was already at or below it — never more than the rate that failed.
 */
export function suggestedLearningRate(optimizer: string, failed: number): number {
  const usual = optimizer === 'SGD' ? 0.01 : 0.001;
  return failed > usual ? usual : Number((failed / 10).toPrecision(1));
}

/** The activation a layer's output goes through: its own, or the next Activation layer's (BN and dropout in between). */
function activationAfter(spec: ModelSpec, index: number): string {
  const layers = spec.config.layers.map((l) => withDefaults(l));
  const own = layers[index]?.config['activation'];
  if (typeof own === 'string' && own !== 'linear') return own;
  for (let i = index + 1; i < layers.length; i++) {
    const layer = layers[i]!;
    if (layer.class_name === 'Activation') return String(layer.config['activation']);
    if (!['BatchNormalization', 'Dropout', 'AlphaDropout'].includes(layer.class_name)) break;
  }
  return 'linear';
}

export interface DivergencePoint {
  step: number;
  epoch: number;
  batch: number;
  loss: number;
  lastFiniteLoss: number | null;
  /**
   * 'loss': the loss itself was NaN/∞; 'weights': the loss stayed finite but some weights became
   * NaN/∞ (found at the epoch's end); 'explosion': the loss stayed finite but far above where it
   * started (ExplosionWatch), from `step` on.
   */
  what: 'loss' | 'weights' | 'explosion';
  explosion?: Explosion;
}

/** An exploding loss: finite, but above `bound` from `step` on, for `steps` steps in a row. */
export interface Explosion {
  step: number;
  startLoss: number;
  bound: number;
  steps: number;
  /** The loss of the last step seen. */
  loss: number;
}

/** How far above its starting value a loss must climb, in units of ln(classes), to count as exploding. */
export const EXPLOSION_MARGIN = 10;
/** For how many steps in a row it must stay there. */
export const EXPLOSION_STEPS = 5;

/**
 * Watches the step losses of a run for an explosion that stays finite (Adam or RMSprop at a huge
 * learning rate: losses of 10^22 and chance accuracy, never NaN). Cross-entropy starts near
 * ln(classes) (uniform guesses) and a training run brings it down; a loss EXPLOSION_MARGIN·ln(classes)
 * above the first step's (23 nats for 10 classes: the right class gets e^-23 of the probability
 * more than at the start) for EXPLOSION_STEPS steps in a row is no noisy step of a healthy run.
 */
export class ExplosionWatch {
  private startLoss: number | null = null;
  private streak: { step: number; steps: number; loss: number } | null = null;

  constructor(private readonly classes: number) {}

  /** The loss the watch flags above (null before the first step). */
  get bound(): number | null {
    return this.startLoss === null ? null : this.startLoss + EXPLOSION_MARGIN * Math.log(Math.max(2, this.classes));
  }

  /** Sees a step's finite loss; returns the explosion once the loss stayed above the bound for EXPLOSION_STEPS steps. */
  observe(step: number, loss: number): Explosion | null {
    this.startLoss ??= loss;
    if (loss <= this.bound!) {
      this.streak = null;
      return null;
    }
    this.streak = this.streak ? { ...this.streak, steps: this.streak.steps + 1, loss } : { step, steps: 1, loss };
    return this.streak.steps >= EXPLOSION_STEPS ? this.current()! : null;
  }

  /** The explosion in progress (the last step's loss above the bound), if any: the end of a run shorter than the streak. */
  current(): Explosion | null {
    if (!this.streak) return null;
    return { step: this.streak.step, startLoss: this.startLoss!, bound: this.bound!, steps: this.streak.steps, loss: this.streak.loss };
  }
}

export function likelyCauses(spec: ModelSpec, settings: Pick<TrainingSettings, 'learningRate' | 'optimizer' | 'batchSize'>, point: DivergencePoint): string[] {
  const causes: string[] = [];
  const lr = settings.learningRate;
  const optimizer = settings.optimizer.class_name;
  // Adaptive optimizers want learning rates about 10× smaller than SGD (Keras' defaults: 0.001 against 0.01).
  const highLr = lr > (optimizer === 'SGD' ? 0.1 : 0.01);
  const clipHint =
    settings.optimizer.config.clipnorm === null && settings.optimizer.config.clipvalue === null
      ? ' Gradient clipping (clipnorm = 1) also guards against a single exploding step.'
      : '';
  const suggested = fmt(suggestedLearningRate(optimizer, lr));
  const lrCause = highLr
    ? `Learning rate too high: ${fmt(lr)} is far above what ${optimizer === 'SGD' ? 'plain SGD' : optimizer} tolerates here (Géron uses ${optimizer === 'SGD' ? '0.001–0.05' : '0.0001–0.003'}); try ${suggested}.${clipHint}`
    : `Learning rate: even ${fmt(lr)} can be too high for this model; try ${suggested}.`;

  const initCauses: string[] = [];
  try {
    for (const v of initializerReport(spec, { kerasVariance: true })) {
      if (!v.variable.endsWith('/kernel') || v.shape.length < 2) continue;
      const { fan_in: fanIn, fan_out: fanOut } = v.stats.fans;
      const activation = activationAfter(spec, v.layerIndex);
      const target = recommended(activation, Math.max(1, fanIn), Math.max(1, fanOut));
      const scale = Math.sqrt(v.stats.std ** 2 + v.stats.mean ** 2);
      if (scale > 2 * target.std) {
        initCauses.push(
          `Initializer scale: ${v.layerName}'s kernel starts at σ ≈ ${fmt(scale)} (${v.stats.class_name}), ${fmt(scale / target.std)}× the ${target.name} scale (σ = ${fmt(target.std)}) for ${activation} — large initial weights make activations and gradients explode; use ${target.name} initialization.`,
        );
      }
    }
  } catch {
    // an initializer the report cannot describe: no advice about it
  }

  const layers = spec.config.layers;
  const hasBn = layers.some((l) => l.class_name === 'BatchNormalization');
  const hidden = layers.filter((l) => l.class_name === 'Dense' || l.class_name === 'Conv2D').length - 1;
  const bnCause =
    !hasBn && hidden >= 1
      ? `No BatchNormalization: with ${hidden} hidden layer${hidden === 1 ? '' : 's'} and nothing re-centring the activations, their scale can grow layer after layer; add BatchNormalization after the hidden layers.`
      : null;

  if (point.step === 0 && initCauses.length) causes.push(...initCauses, lrCause);
  else causes.push(lrCause, ...initCauses);
  if (bnCause) causes.push(bnCause);
  if (point.what === 'weights') causes.push('Some gradients overflowed: updates left weights that are no longer finite numbers.');
  if (!highLr && !initCauses.length && !bnCause && settings.batchSize < 8) {
    causes.push(`Batch size ${settings.batchSize} gives very noisy gradients (and BatchNormalization statistics); try 32.`);
  }
  return causes;
}

/**
 * The run's error message for a divergence: what happened, where. The likely causes travel beside
 * it (the failure's `divergence.likelyCauses`), and every place that shows the message lists them
 * once, so the message does not repeat the first.
 */
export function divergenceMessage(point: DivergencePoint): string {
  const where = `epoch ${point.epoch + 1}, batch ${point.batch + 1} (step ${point.step})`;
  if (point.what === 'explosion' && point.explosion) {
    const { startLoss, bound, steps, loss } = point.explosion;
    return (
      `Training diverged: the loss exploded at ${where}: it started at ${fmt(startLoss)} and stayed above ${fmt(bound)} ` +
      `(${EXPLOSION_MARGIN}·ln(classes) above the start) for ${steps} step${steps === 1 ? '' : 's'} in a row, reaching ${fmt(loss)}. The run was stopped.`
    );
  }
  const what =
    point.what === 'loss'
      ? `the loss became ${fmt(point.loss)} at ${where}`
      : `some weights became NaN or infinite during epoch ${point.epoch + 1} although the loss stayed finite`;
  const last = point.lastFiniteLoss === null ? 'no finite loss before it' : `last finite loss ${fmt(point.lastFiniteLoss)}`;
  const kept = point.what === 'loss' ? ' The run was stopped; its last finite weights were kept.' : ' The run was stopped.';
  return `Training diverged: ${what}, ${last}.${kept}`;
}
