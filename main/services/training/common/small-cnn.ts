/**
 * Shared by the tests (not used by the app): a small Conv2D model, which the wasm backend cannot
 * differentiate (it lacks Conv2D's gradient kernels), optionally with a BatchNormalization after pooling.
 */
import type { LayerSpec, ModelSpec } from '../../../../model/spec';

/** Reshape → Conv2D(4, 3×3) → MaxPooling2D → [BatchNormalization on `bnAxis`] → Flatten → Dense(10). */
export function smallCnn(bnAxis?: number): ModelSpec {
  const bn: LayerSpec[] = bnAxis === undefined ? [] : [{ class_name: 'BatchNormalization', config: { name: 'batch_normalization', axis: bnAxis } }];
  return {
    class_name: 'Sequential',
    config: {
      name: 'small_cnn',
      layers: [
        { class_name: 'Reshape', config: { name: 'reshape', target_shape: [28, 28, 1], batch_input_shape: [null, 28, 28] } },
        { class_name: 'Conv2D', config: { name: 'conv2d', filters: 4, kernel_size: [3, 3], activation: 'relu' } },
        { class_name: 'MaxPooling2D', config: { name: 'max_pooling2d' } },
        ...bn,
        { class_name: 'Flatten', config: { name: 'flatten' } },
        { class_name: 'Dense', config: { name: 'dense', units: 10, activation: 'softmax' } },
      ],
    },
  };
}
