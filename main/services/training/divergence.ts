/**
 * When the loss becomes NaN or infinite: what a learner should look at first, from the model spec
 * and the run's settings (Géron ch. 11: learning rate, initialization scale, BatchNormalization).
 */
import type { TrainingSettings } from '../../../contract';
import { withDefaults } from '../../../model/layers';
import type { ModelSpec } from '../../../model/spec';
import { initializerReport } from '../../../model/summary';

const HE_FAMILY = new Set(['relu', 'leaky_relu', 'elu', 'silu', 'swish']);

/** The initialization Géron recommends for an activation, and its target std for a kernel of `fanIn` × `fanOut`. */
function recommended(activation: string, fanIn: number, fanOut: number): { name: string; std: number } {
  if (HE_FAMILY.has(activation)) return { name: 'He', std: Math.sqrt(2 / fanIn) };
  if (activation === 'selu') return { name: 'LeCun', std: Math.sqrt(1 / fanIn) };
  return { name: 'Glorot', std: Math.sqrt(2 / (fanIn + fanOut)) };
}

const fmt = (x: number) => (Math.abs(x) >= 1e4 || (x !== 0 && Math.abs(x) < 1e-3) ? x.toExponential(1) : String(Number(x.toPrecision(3))));

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
  /** 'loss': the loss itself was NaN/∞; 'weights': the loss stayed finite but some weights became NaN/∞ (found at the epoch's end). */
  what: 'loss' | 'weights';
}

export function likelyCauses(spec: ModelSpec, settings: Pick<TrainingSettings, 'learningRate' | 'optimizer' | 'batchSize'>, point: DivergencePoint): string[] {
  const causes: string[] = [];
  const lr = settings.learningRate;
  const optimizer = settings.optimizer.class_name;
  // Adaptive optimizers want learning rates about 10× smaller than SGD (Keras' defaults: 0.001 against 0.01).
  const highLr = lr > (optimizer === 'SGD' ? 0.1 : 0.01);
  const clipHint = settings.optimizer.config.clipnorm === null && settings.optimizer.config.clipvalue === null ? ' Gradient clipping (clipnorm = 1) also guards against a single exploding step.' : '';
  const lrCause = highLr
    ? `Learning rate too high: ${fmt(lr)} is far above what ${optimizer === 'SGD' ? 'plain SGD' : optimizer} tolerates here (Géron uses ${optimizer === 'SGD' ? '0.001–0.05' : '0.0001–0.003'}); try ${fmt(lr / 100)}, then raise it step by step.${clipHint}`
    : `Learning rate: even ${fmt(lr)} can be too high for this model; try ${fmt(lr / 10)}.`;

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

/** The run's error message for a divergence. */
export function divergenceMessage(point: DivergencePoint, causes: string[]): string {
  const where = `epoch ${point.epoch + 1}, batch ${point.batch + 1} (step ${point.step})`;
  const what =
    point.what === 'loss'
      ? `the loss became ${Number.isNaN(point.loss) ? 'NaN' : point.loss > 0 ? '+∞' : '−∞'} at ${where}`
      : `some weights became NaN or infinite during epoch ${point.epoch + 1} although the loss stayed finite`;
  const last = point.lastFiniteLoss === null ? 'no finite loss before it' : `last finite loss ${fmt(point.lastFiniteLoss)}`;
  const first = causes[0] ? ` Likely cause: ${causes[0]}` : '';
  const kept = point.what === 'loss' ? ' The run was stopped; its last finite weights were kept.' : ' The run was stopped.';
  return `Training diverged: ${what}, ${last}.${kept}${first}`;
}
