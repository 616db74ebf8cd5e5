/**
 * `bn_position`, a named transform of the stack (Géron ch. 11's two placements, seed models 1 and 2):
 *   after:  Dense(300, elu) → BN                          (the layer activates, BN normalizes its output)
 *   before: Dense(300, linear, no bias) → BN → Activation(elu)   (BN's beta replaces the bias)
 *   none:   Dense(300, elu)                               (every BatchNormalization removed: "with vs without BN")
 * Each kernel layer (Dense, Conv2D) directly followed by a BatchNormalization is rewritten into the
 * asked placement; one already in it is kept. The other layers (an input BN after Flatten, the
 * softmax output) are untouched. Layer names are kept; a new Activation layer gets Keras' next name.
 */
import { nextLayerName } from '../../../model/layers';
import type { LayerSpec, ModelSpec } from '../../../model/spec';
import { SweepGridError } from './errors';

export const BN_POSITIONS = ['before', 'after', 'none'] as const;
export type BnPosition = (typeof BN_POSITIONS)[number];

const KERNEL_LAYERS = new Set(['Dense', 'Conv2D']);
const isLinear = (activation: unknown) => activation === undefined || activation === null || activation === 'linear';

export function withBnPosition(spec: ModelSpec, position: BnPosition): ModelSpec {
  const source = spec.config.layers;
  if (!source.some((layer) => layer.class_name === 'BatchNormalization')) {
    throw new SweepGridError('bn_position', `the model ${spec.config.name} has no BatchNormalization layer to place before or after an activation`);
  }
  if (position === 'none') return withoutBn(spec);
  const layers: LayerSpec[] = [];
  const stack = (of: LayerSpec[]): ModelSpec => ({ class_name: 'Sequential', config: { name: spec.config.name, layers: of } });
  let pairs = 0;
  for (let i = 0; i < source.length; i++) {
    const layer = structuredClone(source[i]!);
    const bn = source[i + 1];
    if (!KERNEL_LAYERS.has(layer.class_name) || bn?.class_name !== 'BatchNormalization') {
      layers.push(layer);
      continue;
    }
    pairs++;
    const next = source[i + 2];
    const activatesAfterBn = isLinear(layer.config.activation) && next?.class_name === 'Activation';
    if (position === 'before' && !isLinear(layer.config.activation)) {
      const activation = layer.config.activation;
      layers.push({ ...layer, config: { ...layer.config, activation: 'linear', use_bias: false } }, structuredClone(bn));
      // Named after every layer of the stack, those still to come included.
      const name = nextLayerName(stack([...layers, ...source.slice(i + 2)]), 'Activation');
      layers.push({ class_name: 'Activation', config: { name, trainable: true, activation } });
      i += 1;
    } else if (position === 'after' && activatesAfterBn) {
      layers.push({ ...layer, config: { ...layer.config, activation: next.config.activation, use_bias: true } }, structuredClone(bn));
      i += 2;
    } else {
      layers.push(layer);
    }
  }
  if (pairs === 0) {
    throw new SweepGridError(
      'bn_position',
      `no BatchNormalization layer of ${spec.config.name} follows a Dense or Conv2D layer (only such a BN has a place before or after its activation)`,
    );
  }
  return stack(layers);
}

/**
 * The stack without BatchNormalization: BN placed after first (so each kernel layer gets back its
 * activation and bias), then every BN layer dropped, the input BN included.
 */
function withoutBn(spec: ModelSpec): ModelSpec {
  const hasPair = spec.config.layers.some((layer, i) => KERNEL_LAYERS.has(layer.class_name) && spec.config.layers[i + 1]?.class_name === 'BatchNormalization');
  const after = hasPair ? withBnPosition(spec, 'after') : spec;
  return { class_name: 'Sequential', config: { name: spec.config.name, layers: after.config.layers.filter((layer) => layer.class_name !== 'BatchNormalization') } };
}
