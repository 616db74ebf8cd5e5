/**
 * Shared by the tests (not used by the app): small models whose BatchNormalization layers have each
 * combination of `center` and `scale`, as the model builder writes them.
 */
import { initializer, type LayerSpec, type ModelSpec } from '../../../../model/spec';

export interface BnFlags {
  center: boolean;
  scale: boolean;
}

/** Every combination of center and scale. */
export const BN_FLAG_COMBINATIONS: BnFlags[] = [
  { center: true, scale: true },
  { center: false, scale: true },
  { center: true, scale: false },
  { center: false, scale: false },
];

export const flagsLabel = ({ center, scale }: BnFlags) => `center ${center}, scale ${scale}`;

function batchNorm(name: string, flags: BnFlags, extra: Record<string, unknown> = {}): LayerSpec {
  return { class_name: 'BatchNormalization', config: { name, trainable: true, axis: -1, momentum: 0.9, epsilon: 0.001, ...flags, ...extra } };
}

function dense(name: string, units: number, activation: string): LayerSpec {
  return { class_name: 'Dense', config: { name, trainable: true, units, activation, use_bias: true, kernel_initializer: initializer('HeNormal') } };
}

/** A Sequential model on 28×28 images: Flatten, then `layers`. */
function onImages(name: string, layers: LayerSpec[]): ModelSpec {
  const flatten: LayerSpec = { class_name: 'Flatten', config: { name: 'flatten', trainable: true, batch_input_shape: [null, 28, 28] } };
  return { class_name: 'Sequential', config: { name, layers: [flatten, ...layers] } };
}

/** Flatten → BN → Dense(64, elu) → BN → Dense(10, softmax): BN on the last axis (the fused step's case). */
export function bnMlp(flags: BnFlags): ModelSpec {
  return onImages('bn_flags_mlp', [batchNorm('batch_normalization', flags), dense('dense', 64, 'elu'), batchNorm('batch_normalization_1', flags), dense('dense_1', 10, 'softmax')]);
}

/** Flatten → Dense(64, elu) → BN(axis 1, the same axis as −1 written the other way) → Dense(10, softmax). */
export function bnAxis1(flags: BnFlags): ModelSpec {
  return onImages('bn_flags_axis_1', [dense('dense', 64, 'elu'), batchNorm('batch_normalization', flags, { axis: 1 }), dense('dense_1', 10, 'softmax')]);
}

/**
 * The variables of `bnMlp`'s or `bnAxis1`'s model: in Keras' order (layer by layer, as HDF5 lists
 * them), or in TF.js' (`model.weights`, as weights.bin holds them: trainable ones first).
 */
export function expectedVariables(spec: ModelSpec, order: 'keras' | 'tfjs'): string[] {
  const keras = spec.config.layers.flatMap((layer) => {
    const name = layer.config.name;
    if (layer.class_name === 'Dense') return [`${name}/kernel`, `${name}/bias`];
    if (layer.class_name !== 'BatchNormalization') return [];
    return [...(layer.config['scale'] ? [`${name}/gamma`] : []), ...(layer.config['center'] ? [`${name}/beta`] : []), `${name}/moving_mean`, `${name}/moving_variance`];
  });
  const moving = (name: string) => name.endsWith('/moving_mean') || name.endsWith('/moving_variance');
  return order === 'keras' ? keras : [...keras.filter((n) => !moving(n)), ...keras.filter(moving)];
}
