/** How layer types look in the palette and the stack: group, colour, one-line description, card caption. */
import { LAYER_DEFS, SUPPORTED_LAYERS, canonicalInitializer, layerKit, type LayerCategory, type LayerSpec, type SupportedLayer } from '../../model';
import { formatValue } from './field-parse';

export type { LayerCategory };

export const CATEGORY_LABEL: Record<LayerCategory, string> = {
  reshape: 'Reshaping',
  core: 'Core',
  norm: 'Normalization',
  activation: 'Activation',
  regularize: 'Regularization',
  conv: 'Convolution',
};

/** Each layer type's palette group and blurb, from its kit. */
export const LAYER_INFO: Record<SupportedLayer, { category: LayerCategory; blurb: string; glyph: string }> = Object.fromEntries(
  SUPPORTED_LAYERS.map((cls) => [cls, LAYER_DEFS[cls].palette]),
) as Record<SupportedLayer, { category: LayerCategory; blurb: string; glyph: string }>;

/** Palette groups in reading order, each with its layer types in SUPPORTED_LAYERS order. */
export const PALETTE_GROUPS: { category: LayerCategory; layers: SupportedLayer[] }[] = (['reshape', 'core', 'norm', 'activation', 'regularize', 'conv'] as const).map(
  (category) => ({ category, layers: SUPPORTED_LAYERS.filter((l) => LAYER_INFO[l].category === category) }),
);

/** The initials on a layer type's glyph, from its kit ('?' for a type Layerbench does not know). */
export function glyphOf(class_name: string): string {
  return (LAYER_INFO as Record<string, { glyph: string }>)[class_name]?.glyph ?? '?';
}

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
  const parts: string[] = layerKit(layer.class_name)?.caption?.(c, { value: formatValue, initializer: shortInit, pair }) ?? [];
  if (c.trainable === false) parts.push('frozen');
  return parts.filter((p) => p !== '').join(' · ');
}
