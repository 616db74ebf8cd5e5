/** Ready-made models, written exactly as Keras would serialise them. */
import { initializer, type LayerSpec, type ModelSpec } from './spec';

function dense(name: string, units: number, activation: string, extra: Record<string, unknown> = {}): LayerSpec {
  return {
    class_name: 'Dense',
    config: {
      name,
      trainable: true,
      units,
      activation,
      use_bias: true,
      kernel_initializer: initializer('GlorotUniform'),
      bias_initializer: { class_name: 'Zeros', config: {} },
      ...extra,
    },
  };
}

function batchNorm(name: string): LayerSpec {
  return {
    class_name: 'BatchNormalization',
    config: {
      name,
      trainable: true,
      axis: -1,
      momentum: 0.99,
      epsilon: 0.001,
      center: true,
      scale: true,
    },
  };
}

const flatten28: LayerSpec = {
  class_name: 'Flatten',
  config: { name: 'flatten', trainable: true, batch_input_shape: [null, 28, 28] },
};

/** Géron ch. 11: BatchNormalization after each hidden layer's activation. */
export const seedModel1: ModelSpec = {
  class_name: 'Sequential',
  config: {
    name: 'bn_after_activation',
    layers: [
      flatten28,
      batchNorm('batch_normalization'),
      dense('dense', 300, 'elu', { kernel_initializer: initializer('HeNormal') }),
      batchNorm('batch_normalization_1'),
      dense('dense_1', 100, 'elu', { kernel_initializer: initializer('HeNormal') }),
      batchNorm('batch_normalization_2'),
      dense('dense_2', 10, 'softmax'),
    ],
  },
};

export interface Preset {
  id: string;
  title: string;
  description: string;
  spec: ModelSpec;
}

export const presets: Preset[] = [
  {
    id: 'bn-after-activation',
    title: 'BN MLP (BN after activation)',
    description: 'Flatten → BN → Dense(300, elu, He) → BN → Dense(100, elu, He) → BN → Dense(10, softmax)',
    spec: seedModel1,
  },
];

export function findPreset(id: string): Preset | undefined {
  return presets.find((p) => p.id === id);
}
