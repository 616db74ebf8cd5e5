/**
 * BatchNormalization with `center: false` and/or `scale: false` trains end to end: the host's real
 * worker on real Fashion-MNIST, on wasm (the fused step) and on cpu (the general step), for every
 * combination of the flags and a non-default axis. Each run finishes with finite, falling losses,
 * statistics records on the contract, and saved weights that list exactly the layer's variables;
 * wasm and cpu train to the same weights. A trained center:false model is evaluated and exports to TF.js, ONNX
 * (ONNX Runtime predicts as TF.js) and HDF5 (h5py reads the Keras layout).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TrainingSettings } from '../../../../contract';
import { defaultTrainingSettings, StatsRecordSchema } from '../../../../contract';
import type { ModelSpec } from '../../../../model/spec';
import { expectExportsPredictAsRun, maxAbsDiff, pythonWithH5py, tfWeights } from '../../export/test-support';
import { BN_FLAG_COMBINATIONS, bnAxis1, bnMlp, expectedVariables, flagsLabel, type BnFlags } from '../common/bn-flag-specs';
import { relativeError, savedWeights, testHost } from './host-test-support';

const { host, store, ended, stepKind, dataDir, dispose } = testHost(['wasm', 'cpu']);
afterAll(dispose);

const STEPS = 10;
const BATCH = 32;

/** Trains `spec` for STEPS steps on `backend`; returns the run folder, the step kind and the batch losses. */
async function train(spec: ModelSpec, backend: 'wasm' | 'cpu', settings: Partial<TrainingSettings> = {}) {
  const { runId } = await host.start({
    spec,
    settings: {
      ...defaultTrainingSettings,
      backend,
      epochs: 1,
      batchSize: BATCH,
      trainSubset: STEPS * BATCH,
      validationSplit: 0,
      learningRate: 0.05,
      statsEvery: 3,
      seed: 11,
      ...settings,
    },
  });
  const end = await ended(runId);
  expect(end).toEqual({ type: 'finished', runId });
  const detail = await store.get(runId);
  return { detail, stepKind: stepKind(runId), losses: detail.batches.map((b) => b.loss) };
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

function expectTrained(run: Awaited<ReturnType<typeof train>>, spec: ModelSpec) {
  expect(run.losses).toHaveLength(STEPS);
  expect(run.losses.every(Number.isFinite)).toBe(true);
  // Falling: the last three steps' loss is clearly below the first three's.
  expect(mean(run.losses.slice(-3))).toBeLessThan(mean(run.losses.slice(0, 3)) - 0.2);
  const saved = savedWeights(run.detail.directory);
  expect([...saved.keys()]).toEqual(expectedVariables(spec, 'tfjs'));
  // The moving statistics moved away from their initial (0, 1).
  expect(saved.get('batch_normalization/moving_mean')!.some((v) => Math.abs(v) > 1e-3)).toBe(true);
  // Statistics records: on the contract, with every BN layer's moving statistics equal to the saved ones at the end.
  expect(run.detail.stats.length).toBeGreaterThan(2);
  for (const record of run.detail.stats) StatsRecordSchema.parse(record);
  const last = run.detail.stats.at(-1)!;
  expect(last.step).toBe(STEPS - 1);
  for (const bn of last.bn) {
    expect(bn.chosen.moving_mean).toEqual(bn.chosen.indices.map((i) => saved.get(`${bn.layer}/moving_mean`)![i]));
  }
  return saved;
}

describe('BatchNormalization without center or scale trains on every path', () => {
  const cases: [string, ModelSpec, BnFlags][] = [
    ...BN_FLAG_COMBINATIONS.map((flags): [string, ModelSpec, BnFlags] => [`MLP, ${flagsLabel(flags)}`, bnMlp(flags), flags]),
    ['BN with axis 1, center false, scale false', bnAxis1({ center: false, scale: false }), { center: false, scale: false }],
    ['BN with axis 1, center true, scale false', bnAxis1({ center: true, scale: false }), { center: true, scale: false }],
  ];
  for (const [label, spec] of cases) {
    it(`${label}: wasm (fused and general) and cpu finish with falling losses, the right saved variables and the same weights`, async () => {
      const wasm = await train(spec, 'wasm');
      // A clipnorm the gradients never reach changes nothing but turns the fused step down: wasm's general step.
      const wasmGeneral = await train(spec, 'wasm', { optimizer: { class_name: 'SGD', config: { momentum: 0, nesterov: false, clipnorm: 1e9, clipvalue: null } } });
      const cpu = await train(spec, 'cpu');
      expect(wasm.stepKind).toMatch(/^fused training step/);
      expect(wasmGeneral.stepKind).toMatch(/^general training step/);
      expect(cpu.stepKind).toMatch(/^general training step/);
      const onCpu = expectTrained(cpu, spec);
      // Same seed, same batches: the fused and general steps, on both backends, agree within the fused step's tolerance.
      for (const run of [wasm, wasmGeneral]) {
        const weights = expectTrained(run, spec);
        expect(maxAbsDiff(run.losses, cpu.losses)).toBeLessThan(1e-4);
        expect(relativeError(weights, onCpu)).toBeLessThan(1e-4);
      }
    });
  }
});

describe('a trained center:false model exports', () => {
  const spec = bnMlp({ center: false, scale: true });
  const TEST_IMAGES = 50;

  it('to TF.js (loads and predicts as the run), ONNX (ONNX Runtime predicts the same) and HDF5 (imports back; h5py reads every variable)', async () => {
    const { detail } = await train(spec, 'wasm');
    // The run's evaluation (inference and batch-statistics modes) reads the saved weights too.
    const evaluation = await host.evaluate(detail.summary.runId);
    for (const mode of [evaluation.inference, evaluation.training]) {
      expect(Number.isFinite(mode.loss)).toBe(true);
      expect(mode.acc).toBeGreaterThan(0.3);
    }
    const out = mkdtempSync(join(dataDir, 'export-'));
    await expectExportsPredictAsRun(detail.directory, out, TEST_IMAGES, (run) => expect([...tfWeights(run).keys()]).toEqual(expectedVariables(spec, 'tfjs')));
    const python = pythonWithH5py();
    if (!python) return;
    const script = `
import json, sys, h5py
g = h5py.File(sys.argv[1], "r")["model_weights"]
s = lambda v: v.decode("utf8") if isinstance(v, bytes) else str(v)
print(json.dumps([s(n) for ln in g.attrs["layer_names"] for n in g[s(ln)].attrs["weight_names"]]))
`;
    const r = spawnSync(python, ['-c', script, join(out, 'model.h5')], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(expectedVariables(spec, 'keras').map((n) => `${n}:0`));
  });
});
