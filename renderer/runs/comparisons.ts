/**
 * One-click comparisons from Géron ch. 11, built from the presets so they stay in step with them:
 * each is a list of models trained one after the other with the same settings, then overlaid. Each
 * also says how to run it as a sweep (#17): a base model and the grid whose arms are its variants.
 */
import type { SweepGrid } from '../../contract/sweeps';
import { initializer, type LayerSpec, type ModelSpec } from '../../model/spec';
import { deepPlainMlp, plainMlp, seedModel1, seedModel2 } from '../../model/presets';

export interface ComparisonVariant {
  /** The run's name in the list and in the overlay legend. */
  label: string;
  spec: ModelSpec;
}

export interface Comparison {
  id: string;
  title: string;
  question: string;
  variants: ComparisonVariant[];
  /** The same question as a sweep: the grid's arms are the variants (or, where the grid cannot pair two fields, a superset). */
  sweep: { base: ModelSpec; grid: SweepGrid };
}

function renamed(spec: ModelSpec, name: string): ModelSpec {
  const copy = structuredClone(spec);
  copy.config.name = name;
  return copy;
}

/** The hidden Dense layers (all but the output) of a copy of `spec`, for a variant to edit. */
function hiddenDense(spec: ModelSpec): { copy: ModelSpec; hidden: LayerSpec[] } {
  const copy = structuredClone(spec);
  return { copy, hidden: copy.config.layers.filter((l) => l.class_name === 'Dense').slice(0, -1) };
}

/** Glorot (uniform) instead of He (normal) on the hidden Dense layers; the softmax output keeps its own. */
export function glorotVariant(spec: ModelSpec): ModelSpec {
  const { copy, hidden } = hiddenDense(spec);
  for (const layer of hidden) layer.config['kernel_initializer'] = initializer('GlorotUniform');
  return copy;
}

/** The hidden Dense layers with another activation; the softmax output keeps its own. */
export function activationVariant(spec: ModelSpec, activation: string): ModelSpec {
  const { copy, hidden } = hiddenDense(spec);
  for (const layer of hidden) layer.config['activation'] = activation;
  return copy;
}

/**
 * He vs Glorot on the deep plain network with ReLU. Measured (deep-gradient-flow.test.ts): with ReLU,
 * Glorot's Var(w)·fan_in = 1 halves the variance at every layer, the gradient vanishes toward the
 * input and the network stays at chance; with the preset's ELU, whose slope is 1 on both sides of 0,
 * Glorot's gradient does not vanish and the two initializations differ far less.
 */
const deepPlainRelu = activationVariant(deepPlainMlp, 'relu');

/** The self-normalizing variant: SELU with LeCun normal initialization on the hidden Dense layers. */
export function seluVariant(spec: ModelSpec): ModelSpec {
  const { copy, hidden } = hiddenDense(spec);
  for (const layer of hidden) {
    layer.config['activation'] = 'selu';
    layer.config['kernel_initializer'] = initializer('LecunNormal');
  }
  return copy;
}

/**
 * The hidden Dense layers' activations as Activation layers after linear Dense layers: the same
 * function, but a sweep's `layers[Activation].activation` then reaches the hidden activations without
 * touching the softmax output (`layers[Dense].activation` would).
 */
export function splitActivations(spec: ModelSpec): ModelSpec {
  const copy = structuredClone(spec);
  const last = copy.config.layers.findLastIndex((l) => l.class_name === 'Dense');
  copy.config.layers = copy.config.layers.flatMap((layer, i) => {
    if (layer.class_name !== 'Dense' || i === last) return [layer];
    const fn = layer.config['activation'];
    const name = String(layer.config['name']);
    const linear = { ...layer, config: { ...layer.config, activation: 'linear' } };
    return [linear, { class_name: 'Activation', config: { name: `${name}_activation`, trainable: true, activation: fn } }];
  });
  return copy;
}

export const comparisons: Comparison[] = [
  {
    id: 'he-vs-glorot',
    title: 'He vs Glorot initialization',
    // The deep plain network: BatchNormalization would hide what the initialization does.
    question: 'Do 20 ReLU layers without BN train with He initialization, where Glorot lets the gradient vanish?',
    variants: [
      { label: 'He normal init', spec: renamed(deepPlainRelu, 'deep_relu_he_normal') },
      { label: 'Glorot uniform init', spec: renamed(glorotVariant(deepPlainRelu), 'deep_relu_glorot_uniform') },
    ],
    sweep: { base: deepPlainRelu, grid: { 'layers[Dense].kernel_initializer': ['he_normal', 'glorot_uniform'] } },
  },
  {
    id: 'bn-after-vs-before',
    title: 'BN after vs before activation',
    question: 'Does it matter whether BatchNormalization comes before or after the activation?',
    variants: [
      { label: 'BN after activation', spec: renamed(seedModel1, 'bn_after_activation') },
      { label: 'BN before activation', spec: renamed(seedModel2, 'bn_before_activation') },
    ],
    sweep: { base: seedModel1, grid: { bn_position: ['after', 'before'] } },
  },
  {
    id: 'with-vs-without-bn',
    title: 'With vs without BN',
    question: 'How much do BatchNormalization layers change training of the same MLP?',
    variants: [
      { label: 'with BN', spec: renamed(seedModel1, 'mlp_with_bn') },
      { label: 'without BN', spec: renamed(plainMlp, 'mlp_without_bn') },
    ],
    // 'none': no BatchNormalization at all (the transform strips it).
    sweep: { base: seedModel1, grid: { bn_position: ['after', 'none'] } },
  },
  {
    id: 'selu-vs-elu',
    title: 'SELU vs ELU',
    question: 'Does a self-normalizing SELU network (LeCun normal init) train 20 layers without BN better than ELU with He init?',
    variants: [
      { label: 'ELU, He normal', spec: renamed(deepPlainMlp, 'deep_elu_he') },
      { label: 'SELU, LeCun normal', spec: renamed(seluVariant(deepPlainMlp), 'deep_selu_lecun') },
    ],
    // A grid cannot pair two fields: the sweep crosses activation and initializer (2 × 2 arms).
    sweep: {
      base: splitActivations(deepPlainMlp),
      grid: { 'layers[Activation].activation': ['elu', 'selu'], 'layers[Dense].kernel_initializer': ['he_normal', 'lecun_normal'] },
    },
  },
];

/**
 * The runs of a comparison over `seeds` seeds (1–20, from `baseSeed` up): seed by seed, each variant
 * in turn, so a comparison stopped early still has as many seeds per arm, give or take one.
 */
export function seedPlan(variants: readonly ComparisonVariant[], seeds: number, baseSeed: number): { variant: ComparisonVariant; seed: number }[] {
  const n = Math.max(1, Math.min(20, Math.round(seeds) || 1));
  return Array.from({ length: n }, (_, k) => variants.map((variant) => ({ variant, seed: (baseSeed + k) % 2 ** 31 }))).flat();
}
