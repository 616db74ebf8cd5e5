/**
 * LayerNormalization trains and exports end to end: the host's real worker on real Fashion-MNIST on
 * wasm, in the fused step (its unit: worker/units/layer-normalization.ts); the trained run exports to TF.js (predicts as the
 * run), ONNX (ONNX Runtime predicts as TF.js), HDF5 (imports back predicting as the run; h5py reads
 * Keras' weight names) and a Keras script that builds the layer.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { defaultTrainingSettings } from '../../../../contract';
import { exportRun } from '../../export';
import { expectExportsPredictAsRun, pythonWithH5py, type tf } from '../../export/test-support';
import { testHost } from './host-test-support';
import type { ModelSpec } from '../../../../model/spec';

const { host, store, ended, stepKind, dataDir, dispose } = testHost(['wasm']);
afterAll(dispose);

const STEPS = 12;
const BATCH = 32;
const TEST_IMAGES = 50;

const spec: ModelSpec = {
  class_name: 'Sequential',
  config: {
    name: 'ln_mlp',
    layers: [
      { class_name: 'Flatten', config: { name: 'flatten', batch_input_shape: [null, 28, 28] } },
      { class_name: 'Dense', config: { name: 'dense', units: 64, activation: 'elu', kernel_initializer: { class_name: 'HeNormal', config: { seed: null } } } },
      { class_name: 'LayerNormalization', config: { name: 'layer_normalization' } },
      { class_name: 'Dense', config: { name: 'dense_1', units: 10, activation: 'softmax' } },
    ],
  },
};

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

it('trains on wasm in the fused step and exports to TF.js, ONNX, HDF5 and a Keras script', async () => {
  const { runId } = await host.start({
    spec,
    settings: { ...defaultTrainingSettings, backend: 'wasm', epochs: 1, batchSize: BATCH, trainSubset: STEPS * BATCH, validationSplit: 0, learningRate: 0.05, seed: 5 },
  });
  expect(await ended(runId)).toEqual({ type: 'finished', runId });
  expect(stepKind(runId)).toMatch(/^fused training step/);
  const detail = await store.get(runId);
  const losses = detail.batches.map((b) => b.loss);
  expect(losses).toHaveLength(STEPS);
  expect(losses.every(Number.isFinite)).toBe(true);
  expect(mean(losses.slice(-3))).toBeLessThan(mean(losses.slice(0, 3)) - 0.2);

  const out = mkdtempSync(join(dataDir, 'export-'));
  // Training moved gamma away from its initial ones.
  const gammaMoved = (run: tf.LayersModel) =>
    expect((run.getLayer('layer_normalization').getWeights()[0]!.dataSync() as Float32Array).some((g) => Math.abs(g - 1) > 1e-4)).toBe(true);
  await expectExportsPredictAsRun(detail.directory, out, TEST_IMAGES, gammaMoved);

  await exportRun({ runDir: detail.directory, format: 'py', out: join(out, 'model.py') });
  expect(readFileSync(join(out, 'model.py'), 'utf8')).toContain(
    'layers.LayerNormalization(axis=-1, epsilon=0.001, center=True, scale=True, beta_initializer=initializers.Zeros(), gamma_initializer=initializers.Ones(), name="layer_normalization")',
  );

  const python = pythonWithH5py();
  if (!python) return;
  const script = `
import json, sys, h5py
f = h5py.File(sys.argv[1], "r")
g = f["model_weights"]
s = lambda v: v.decode("utf8") if isinstance(v, bytes) else str(v)
config = json.loads(s(f.attrs["model_config"]))
ln = [l for l in config["config"]["layers"] if l["class_name"] == "LayerNormalization"][0]["config"]
names = [s(n) for ln_ in g.attrs["layer_names"] for n in g[s(ln_)].attrs["weight_names"]]
print(json.dumps({"names": names, "gamma": list(g["layer_normalization/layer_normalization/gamma:0"].shape), "config": ln}))
`;
  const r = spawnSync(python, ['-c', script, join(out, 'model.h5')], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  const read = JSON.parse(r.stdout) as { names: string[]; gamma: number[]; config: Record<string, unknown> };
  expect(read.names).toEqual(['dense/kernel:0', 'dense/bias:0', 'layer_normalization/gamma:0', 'layer_normalization/beta:0', 'dense_1/kernel:0', 'dense_1/bias:0']);
  expect(read.gamma).toEqual([64]);
  expect(read.config).toMatchObject({ axis: -1, epsilon: 0.001, center: true, scale: true, beta_regularizer: null, gamma_constraint: null });
});
