/** Ready-made models, written exactly as Keras would serialise them. */
import { initializer, sequential, type LayerSpec, type ModelSpec } from './spec';

export { nextLayerName } from './layers';

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
export const seedModel1 = sequential('bn_after_activation', [
  flatten28,
  batchNorm('batch_normalization'),
  dense('dense', 300, 'elu', { kernel_initializer: initializer('HeNormal') }),
  batchNorm('batch_normalization_1'),
  dense('dense_1', 100, 'elu', { kernel_initializer: initializer('HeNormal') }),
  batchNorm('batch_normalization_2'),
  dense('dense_2', 10, 'softmax'),
]);

function activation(name: string, fn: string): LayerSpec {
  return { class_name: 'Activation', config: { name, trainable: true, activation: fn } };
}

function alphaDropout(name: string, rate: number): LayerSpec {
  return { class_name: 'AlphaDropout', config: { name, trainable: true, rate, noise_shape: null, seed: null } };
}

/** Géron ch. 11: BatchNormalization before each hidden layer's activation (the Dense layers drop their bias: BN's beta replaces it). */
export const seedModel2 = sequential('bn_before_activation', [
  flatten28,
  batchNorm('batch_normalization'),
  dense('dense', 300, 'linear', { use_bias: false, kernel_initializer: initializer('HeNormal') }),
  batchNorm('batch_normalization_1'),
  activation('activation', 'elu'),
  dense('dense_1', 100, 'linear', { use_bias: false, kernel_initializer: initializer('HeNormal') }),
  batchNorm('batch_normalization_2'),
  activation('activation_1', 'elu'),
  dense('dense_2', 10, 'softmax'),
]);

/** Seed model 1 without BatchNormalization: the baseline the BN models are compared with. */
export const plainMlp = sequential('mlp_no_bn', [
  flatten28,
  dense('dense', 300, 'elu', { kernel_initializer: initializer('HeNormal') }),
  dense('dense_1', 100, 'elu', { kernel_initializer: initializer('HeNormal') }),
  dense('dense_2', 10, 'softmax'),
]);

/**
 * Géron ch. 11: a self-normalizing network — SELU activations with LeCun normal initialization and
 * AlphaDropout (which keeps SELU's mean and variance). Self-normalization assumes standardized inputs.
 */
export const seluMlp = sequential('selu_self_normalizing', [
  flatten28,
  dense('dense', 300, 'selu', { kernel_initializer: initializer('LecunNormal') }),
  alphaDropout('alpha_dropout', 0.1),
  dense('dense_1', 100, 'selu', { kernel_initializer: initializer('LecunNormal') }),
  alphaDropout('alpha_dropout_1', 0.1),
  dense('dense_2', 10, 'softmax'),
]);

/** Hidden layers of the deep plain network: deep enough for gradients to vanish without BN. */
export const DEEP_PLAIN_DEPTH = 20;

/**
 * Géron ch. 11's vanishing-gradient setting: 20 Dense(100) layers without BatchNormalization, where the
 * initialization and the activation decide whether the early layers learn at all (He vs Glorot, ELU
 * vs SELU differ here, where the BN MLP hides it). With ELU, as here, Glorot's gradient does not
 * vanish (ELU's slope is 1 on both sides of 0): the He vs Glorot comparison makes the layers ReLU.
 */
export const deepPlainMlp: ModelSpec = {
  class_name: 'Sequential',
  config: {
    name: 'deep_plain_mlp',
    layers: [
      flatten28,
      ...Array.from({ length: DEEP_PLAIN_DEPTH }, (_, i) => dense(i === 0 ? 'dense' : `dense_${i}`, 100, 'elu', { kernel_initializer: initializer('HeNormal') })),
      dense(`dense_${DEEP_PLAIN_DEPTH}`, 10, 'softmax'),
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
  {
    id: 'bn-before-activation',
    title: 'BN MLP (BN before activation)',
    description: 'Flatten → BN → Dense(300, no bias, He) → BN → elu → Dense(100, no bias, He) → BN → elu → Dense(10, softmax)',
    spec: seedModel2,
  },
  {
    id: 'mlp-no-bn',
    title: 'MLP without BN',
    description: 'Flatten → Dense(300, elu, He) → Dense(100, elu, He) → Dense(10, softmax)',
    spec: plainMlp,
  },
  {
    id: 'selu-self-normalizing',
    title: 'Self-normalizing SELU MLP',
    description:
      'Flatten → Dense(300, selu, LeCun normal) → AlphaDropout(0.1) → Dense(100, selu, LeCun normal) → AlphaDropout(0.1) → Dense(10, softmax); expects standardized inputs',
    spec: seluMlp,
  },
  {
    id: 'deep-plain',
    title: 'Deep plain MLP (20 × Dense(100), no BN)',
    description: 'Flatten → 20 × Dense(100, elu, He) → Dense(10, softmax); the vanishing-gradient setting where init and activation show',
    spec: deepPlainMlp,
  },
];

export function findPreset(id: string): Preset | undefined {
  return presets.find((p) => p.id === id);
}
