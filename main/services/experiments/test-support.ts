/**
 * Shared by the sweep tests (not used by the app): a tiny project (Dense(16) on a small Fashion-MNIST
 * subset, one short epoch on wasm) written as a real project file beside a sweep file.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_FORMAT, PROJECT_VERSION, defaultTrainingSettings, type TrainingSettings } from '../../../contract';
import type { ModelSpec } from '../../../model/spec';

export const tinySpec: ModelSpec = {
  class_name: 'Sequential',
  config: {
    name: 'tiny',
    layers: [
      { class_name: 'Flatten', config: { name: 'flatten', batch_input_shape: [null, 28, 28] } },
      { class_name: 'Dense', config: { name: 'dense', units: 16, activation: 'relu' } },
      { class_name: 'Dense', config: { name: 'dense_1', units: 10, activation: 'softmax' } },
    ],
  },
};

export const tinySettings: TrainingSettings = {
  ...defaultTrainingSettings,
  epochs: 1,
  batchSize: 32,
  trainSubset: 512,
  validationSplit: 0.25,
  checkpointBest: false,
  backend: 'wasm',
};

/** Writes `dir/name` as a project file; returns its path. */
export function writeProject(dir: string, name: string, spec: ModelSpec = tinySpec, training: TrainingSettings = tinySettings): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify({ format: PROJECT_FORMAT, version: PROJECT_VERSION, model: spec, training }));
  return path;
}
