/** How layer types look in the palette and the stack: group, colour, one-line description, card caption. */
import { SUPPORTED_LAYERS, canonicalInitializer, type LayerSpec, type SupportedLayer } from '../../model';
import { formatValue } from './field-parse';

export type LayerCategory = 'reshape' | 'core' | 'norm' | 'activation' | 'regularize' | 'conv';

export const CATEGORY_LABEL: Record<LayerCategory, string> = {
  reshape: 'Reshaping',
  core: 'Core',
  norm: 'Normalization',
  activation: 'Activation',
  regularize: 'Regularization',
  conv: 'Convolution',
};

export const LAYER_INFO: Record<SupportedLayer, { category: LayerCategory; blurb: string }> = {
  Flatten: { category: 'reshape', blurb: 'Flattens to a vector' },
  Reshape: { category: 'reshape', blurb: 'To a target shape' },
  Dense: { category: 'core', blurb: 'Fully connected' },
  Activation: { category: 'activation', blurb: 'An activation function' },
  BatchNormalization: { category: 'norm', blurb: 'Standardize, then γ, β' },
  Dropout: { category: 'regularize', blurb: 'Randomly drops inputs' },
  AlphaDropout: { category: 'regularize', blurb: 'Dropout that suits SELU' },
  Conv2D: { category: 'conv', blurb: '2-D convolution' },
  MaxPooling2D: { category: 'conv', blurb: 'Max over 2-D windows' },
};

/** Palette groups in reading order, each with its layer types in SUPPORTED_LAYERS order. */
export const PALETTE_GROUPS: { category: LayerCategory; layers: SupportedLayer[] }[] = (['reshape', 'core', 'norm', 'activation', 'regularize', 'conv'] as const).map(
  (category) => ({ category, layers: SUPPORTED_LAYERS.filter((l) => LAYER_INFO[l].category === category) }),
);

export function categoryOf(class_name: string): LayerCategory | null {
  return (LAYER_INFO as Record<string, { category: LayerCategory }>)[class_name]?.category ?? null;
}

const shortInit = (v: unknown): string => {
  const c = canonicalInitializer(v);
  return c.ok ? c.value.class_name : '?';
};
const pair = (v: unknown) => (Array.isArray(v) ? v.map(formatValue).join('×') : formatValue(v));

/** The few settings worth seeing on the card without opening the layer ("300 · elu · HeNormal"). */
export function layerCaption(layer: LayerSpec): string {
  const c = layer.config as Record<string, unknown>;
  const parts: string[] = [];
  switch (layer.class_name) {
    case 'Dense':
      parts.push(formatValue(c.units) || '?', formatValue(c.activation ?? 'linear'), shortInit(c.kernel_initializer ?? 'GlorotUniform'));
      if (c.use_bias === false) parts.push('no bias');
      break;
    case 'Conv2D':
      parts.push(formatValue(c.filters) || '?', pair(c.kernel_size), formatValue(c.padding ?? 'valid'), formatValue(c.activation ?? 'linear'));
      break;
    case 'BatchNormalization':
      parts.push(`momentum ${formatValue(c.momentum ?? 0.99)}`, `ε ${formatValue(c.epsilon ?? 0.001)}`);
      break;
    case 'Activation':
      parts.push(formatValue(c.activation));
      break;
    case 'Dropout':
    case 'AlphaDropout':
      parts.push(`rate ${formatValue(c.rate ?? 0.5)}`);
      break;
    case 'MaxPooling2D':
      parts.push(pair(c.pool_size ?? [2, 2]), formatValue(c.padding ?? 'valid'));
      break;
    case 'Reshape':
      parts.push(`→ (${formatValue(c.target_shape)})`);
      break;
  }
  if (c.trainable === false) parts.push('frozen');
  return parts.filter((p) => p !== '').join(' · ');
}
