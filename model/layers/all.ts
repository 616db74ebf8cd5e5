/**
 * Every layer kit, registered in palette order. A new layer type is one kit module and one line
 * here; its class name joins `SupportedLayer` through the tuple's type.
 */
import { activation } from './activation';
import { alphaDropout } from './alpha-dropout';
import { batchNormalization } from './batch-normalization';
import { conv2d } from './conv2d';
import { dense } from './dense';
import { dropout } from './dropout';
import { flatten } from './flatten';
import type { LayerKit } from './kit';
import { layerNormalization } from './layer-normalization';
import { maxPooling2d } from './max-pooling2d';
import { registerLayerKit } from './registry';
import { reshape } from './reshape';

export const ALL_KITS = [flatten, reshape, dense, batchNormalization, activation, dropout, alphaDropout, conv2d, maxPooling2d, layerNormalization] as const;
for (const kit of ALL_KITS) registerLayerKit(kit as LayerKit);

export type SupportedLayer = (typeof ALL_KITS)[number]['class_name'];
export const SUPPORTED_LAYERS: readonly SupportedLayer[] = ALL_KITS.map((k) => k.class_name);
