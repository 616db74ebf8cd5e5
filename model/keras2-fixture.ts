/**
 * Seed model 1 as tf.keras 2.x writes it with `model.to_json()`, for the tests that read Keras files (the
 * model's Keras JSON import, the CLI): a leading InputLayer, the first layer repeats batch_input_shape, a
 * built BatchNormalization's axis is a list. Built as
 *   Sequential([Flatten(input_shape=[28, 28]), BatchNormalization(),
 *               Dense(300, activation="elu", kernel_initializer="he_normal"), BatchNormalization(),
 *               Dense(100, activation="elu", kernel_initializer="he_normal"), BatchNormalization(),
 *               Dense(10, activation="softmax")])
 */
/** A built BatchNormalization layer as tf.keras 2.x writes it. */
export const keras2Bn = (name: string, axis: number[]) => ({
  class_name: 'BatchNormalization',
  config: {
    name,
    trainable: true,
    dtype: 'float32',
    axis,
    momentum: 0.99,
    epsilon: 0.001,
    center: true,
    scale: true,
    beta_initializer: { class_name: 'Zeros', config: {} },
    gamma_initializer: { class_name: 'Ones', config: {} },
    moving_mean_initializer: { class_name: 'Zeros', config: {} },
    moving_variance_initializer: { class_name: 'Ones', config: {} },
    beta_regularizer: null,
    gamma_regularizer: null,
    beta_constraint: null,
    gamma_constraint: null,
  },
});
/** A Dense layer as tf.keras 2.x writes it. */
export const keras2Dense = (name: string, units: number, activation: string, kernel: string) => ({
  class_name: 'Dense',
  config: {
    name,
    trainable: true,
    dtype: 'float32',
    units,
    activation,
    use_bias: true,
    kernel_initializer: { class_name: kernel, config: { seed: null } },
    bias_initializer: { class_name: 'Zeros', config: {} },
    kernel_regularizer: null,
    bias_regularizer: null,
    activity_regularizer: null,
    kernel_constraint: null,
    bias_constraint: null,
  },
});
export const keras2SeedModel1 = {
  class_name: 'Sequential',
  config: {
    name: 'sequential',
    layers: [
      { class_name: 'InputLayer', config: { batch_input_shape: [null, 28, 28], dtype: 'float32', sparse: false, ragged: false, name: 'flatten_input' } },
      { class_name: 'Flatten', config: { name: 'flatten', trainable: true, dtype: 'float32', batch_input_shape: [null, 28, 28], data_format: 'channels_last' } },
      keras2Bn('batch_normalization', [1]),
      keras2Dense('dense', 300, 'elu', 'HeNormal'),
      keras2Bn('batch_normalization_1', [1]),
      keras2Dense('dense_1', 100, 'elu', 'HeNormal'),
      keras2Bn('batch_normalization_2', [1]),
      keras2Dense('dense_2', 10, 'softmax', 'GlorotUniform'),
    ],
  },
  keras_version: '2.12.0',
  backend: 'tensorflow',
};
