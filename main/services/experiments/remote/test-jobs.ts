/** For tests (not used by the app): sweep jobs of a tiny MLP on a small Fashion-MNIST subset, built directly. */
import { defaultTrainingSettings, type SweepJob, type TrainingSettings } from '../../../../contract';
import { initializer, type ModelSpec } from '../../../../model/spec';

export function tinyMlp(kernelInitializer: string): ModelSpec {
  const dense = (name: string, units: number, activation: string) => ({
    class_name: 'Dense',
    config: { name, trainable: true, units, activation, use_bias: true, kernel_initializer: initializer(kernelInitializer), bias_initializer: { class_name: 'Zeros', config: {} } },
  });
  return {
    class_name: 'Sequential',
    config: {
      name: 'tiny_mlp',
      layers: [
        { class_name: 'Flatten', config: { name: 'flatten', trainable: true, batch_input_shape: [null, 28, 28] } },
        dense('dense', 16, 'relu'),
        dense('dense_1', 10, 'softmax'),
      ],
    },
  };
}

export const tinySettings: TrainingSettings = { ...defaultTrainingSettings, trainSubset: 320, validationSplit: 0.2, epochs: 2, batchSize: 32, backend: 'auto' };

/** A learning rate × kernel initializer grid with `seeds` seeds per arm, as the sweep's expansion gives it. */
export function gridJobs(sweepId: string, learningRates: number[], initializers: string[], seeds: number, settings: Partial<TrainingSettings> = {}): SweepJob[] {
  const jobs: SweepJob[] = [];
  for (const learningRate of learningRates) {
    for (const init of initializers) {
      const armId = `lr${learningRate}-${init}`;
      for (let seed = 1; seed <= seeds; seed++) {
        jobs.push({ sweepId, armId, seed, name: `${armId} · seed ${seed}`, spec: tinyMlp(init), settings: { ...tinySettings, ...settings, learningRate, seed } });
      }
    }
  }
  return jobs;
}
