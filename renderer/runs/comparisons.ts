/**
 * One-click comparisons from Géron ch. 11, built from the presets so they stay in step with them:
 * each is a list of models trained one after the other with the same settings, then overlaid.
 */
import { initializer, type ModelSpec } from '../../model/spec';
import { plainMlp, seedModel1, seedModel2 } from '../../model/presets';

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
}

function renamed(spec: ModelSpec, name: string): ModelSpec {
  const copy = structuredClone(spec);
  copy.config.name = name;
  return copy;
}

/** Seed model 1 with Glorot (uniform) instead of He (normal) on its hidden Dense layers; the softmax output keeps its own. */
export function glorotVariant(spec: ModelSpec): ModelSpec {
  const copy = structuredClone(spec);
  const dense = copy.config.layers.filter((l) => l.class_name === 'Dense');
  for (const layer of dense.slice(0, -1)) layer.config['kernel_initializer'] = initializer('GlorotUniform');
  return copy;
}

export const comparisons: Comparison[] = [
  {
    id: 'he-vs-glorot',
    title: 'He vs Glorot initialization',
    question: 'Does He initialization help ELU layers start training faster than Glorot?',
    variants: [
      { label: 'He normal init', spec: renamed(seedModel1, 'bn_mlp_he_normal') },
      { label: 'Glorot uniform init', spec: renamed(glorotVariant(seedModel1), 'bn_mlp_glorot_uniform') },
    ],
  },
  {
    id: 'bn-after-vs-before',
    title: 'BN after vs before activation',
    question: 'Does it matter whether BatchNormalization comes before or after the activation?',
    variants: [
      { label: 'BN after activation', spec: renamed(seedModel1, 'bn_after_activation') },
      { label: 'BN before activation', spec: renamed(seedModel2, 'bn_before_activation') },
    ],
  },
  {
    id: 'with-vs-without-bn',
    title: 'With vs without BN',
    question: 'How much do BatchNormalization layers change training of the same MLP?',
    variants: [
      { label: 'with BN', spec: renamed(seedModel1, 'mlp_with_bn') },
      { label: 'without BN', spec: renamed(plainMlp, 'mlp_without_bn') },
    ],
  },
];
