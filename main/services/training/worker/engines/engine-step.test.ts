/**
 * The loop's adapter over a TrainingEngine, on the real ONNX Runtime engine and a real tfjs model
 * (real Fashion-MNIST): the tfjs model follows the engine only when synced, the engine takes the
 * model's weights back, and a NaN loss puts back the last weights that were finite.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterEach, describe, expect, it } from 'vitest';
import type { OptimizerSettings } from '../../../../../contract';
import { seedModel1 } from '../../../../../model/presets';
import type { NamedWeights } from '../../../export/weights';
import { buildModel } from '../build-model';
import { planLayers } from '../forward';
import { FusedStatsProbe } from '../stats';
import { sharedHandle } from '../tfjs-adapter';
import { useFashionBatches } from '../test-images';
import { allFiniteValues, EngineStep, modelWeights } from './engine-step';
import { OrtStepEngine } from './onnxruntime/engine';

const BATCH = 16;
const { x: batchX, y: batchY } = useFashionBatches(tf, BATCH, 4);
const momentum: OptimizerSettings = { class_name: 'SGD', config: { momentum: 0.9, nesterov: false, clipnorm: null, clipvalue: null } };

let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  await cleanup?.();
  cleanup = null;
});

async function setup(stepsPerRun = 1): Promise<{ model: tf.LayersModel; adapter: EngineStep; engine: OrtStepEngine }> {
  const model = await buildModel(tf, seedModel1, { seed: 5 });
  const engine = await OrtStepEngine.create(seedModel1, momentum, modelWeights(model.weights), { stepsPerRun });
  if (!(engine instanceof OrtStepEngine)) throw new Error(engine.unsupported);
  const adapter = new EngineStep(tf, engine, model.weights);
  cleanup = async () => {
    await adapter.dispose();
    model.dispose();
  };
  return { model, adapter, engine };
}

const equalWeights = (a: NamedWeights, b: NamedWeights) => {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  for (const [name, w] of b) expect(Array.from(a.get(name)!.data), name).toEqual(Array.from(w.data));
};
const allFinite = (weights: NamedWeights) => [...weights.values()].every((w) => w.data.every(Number.isFinite));

describe('EngineStep', () => {
  it('leaves the tfjs model alone while the engine steps, and copies the weights in on sync (once)', async () => {
    const { model, adapter, engine } = await setup();
    const initial = modelWeights(model.weights);
    await adapter.step(batchX(0), batchY(0), BATCH, 0.01, 0);
    await adapter.step(batchX(1), batchY(1), BATCH, 0.01, 1);
    equalWeights(modelWeights(model.weights), initial);
    await adapter.syncToModel();
    const synced = modelWeights(model.weights);
    equalWeights(synced, engine.getWeights());
    expect(synced.get('dense/kernel')!.data).not.toEqual(initial.get('dense/kernel')!.data);
    expect(synced.get('batch_normalization/moving_mean')!.data).not.toEqual(initial.get('batch_normalization/moving_mean')!.data);
    // No step since: a second sync copies nothing over what the loop may have written.
    const tensors = tf.memory().numTensors;
    await adapter.syncToModel();
    expect(tf.memory().numTensors).toBe(tensors);
  });

  it("hands the tfjs model's weights to the engine (a restored epoch)", async () => {
    const { model, adapter, engine } = await setup();
    const initial = modelWeights(model.weights);
    await adapter.step(batchX(0), batchY(0), BATCH, 0.01, 0);
    adapter.syncFromModel();
    equalWeights(engine.getWeights(), initial);
  });

  it('after a NaN loss puts back the weights the step started from, or the step before when those are not finite', async () => {
    const { model, adapter, engine } = await setup();
    await adapter.step(batchX(0), batchY(0), BATCH, 0.01, 0);
    const beforeNaNStep = engine.getWeights();
    // A NaN learning rate: this step's loss is still finite (computed before the update), its weights are NaN.
    expect(Number.isFinite((await adapter.step(batchX(1), batchY(1), BATCH, NaN, 1)).loss)).toBe(true);
    expect(allFinite(engine.getWeights())).toBe(false);
    expect((await adapter.step(batchX(2), batchY(2), BATCH, 0.01, 2)).loss).toBeNaN();
    expect(await adapter.restoreLastFinite()).toBe('previous');
    equalWeights(engine.getWeights(), beforeNaNStep);
    equalWeights(modelWeights(model.weights), beforeNaNStep);
    // Training goes on from there.
    expect(Number.isFinite((await adapter.step(batchX(3), batchY(3), BATCH, 0.01, 3)).loss)).toBe(true);
  });

  it("takes a statistics step's weight norms, update sizes and moving statistics from the engine's arrays as from the synced tfjs model", async () => {
    const { model, adapter } = await setup();
    await adapter.step(batchX(0), batchY(0), BATCH, 0.01, 0);
    const trainable = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const plans = planLayers(model, seedModel1);
    const fromArrays = new FusedStatsProbe(plans, trainable);
    const fromTfjs = new FusedStatsProbe(plans, trainable);
    // The general way: the tfjs model synced before (handles kept) and after the step.
    await adapter.syncToModel();
    const variables = model.weights.map((w) => w.read() as tf.Variable);
    const handles = variables.map((v) => sharedHandle(tf, v));
    const before = adapter.weightsView()!;
    const names = model.trainableWeights.map((w) => w.originalName);
    const [a, b] = [fromArrays.engineProbe(names), fromTfjs.engineProbe(names)];
    await adapter.step(batchX(1), batchY(1), BATCH, 0.01, 1, {
      bn: (layer, mean, variance) => [a, b].forEach((p) => p.bn(layer, mean, variance)),
      activationMoments: (layer, moments) => [a, b].forEach((p) => p.activationMoments(layer, moments)),
      gradientSumOfSquares: (variable, sq) => [a, b].forEach((p) => p.gradientSumOfSquares(variable, sq)),
    });
    const after = adapter.weightsView()!;
    const engineValues = fromArrays.finishWith(
      (w) => after.get(w.originalName)!.data,
      (w) => before.get(w.originalName)?.data,
    );
    await adapter.syncToModel();
    const tfjsValues = fromTfjs.finish(tf, new Map(variables.map((v, i) => [v.name, handles[i]!])));
    handles.forEach((h) => h.dispose());
    expect([...engineValues.keys()].sort()).toEqual([...tfjsValues.keys()].sort());
    expect([...engineValues.keys()].filter((k) => k.endsWith(':update_sq'))).toHaveLength(6);
    for (const [key, value] of tfjsValues) expect(Array.from(engineValues.get(key)!), key).toEqual(Array.from(value));
  });

  it('with 4 steps a run: results in order once the run ran, and a NaN inside the run puts back a start replayed from it', async () => {
    const reference = await setup();
    const steps: [number, number][] = [
      [0, 0.01],
      [1, 0.01],
      [2, NaN], // a finite loss, NaN weights after it
      [3, 0.01], // a NaN loss
    ];
    const expected: number[] = [];
    let startOfStep2: NamedWeights | null = null;
    for (const [step, lr] of steps) {
      if (step === 2) startOfStep2 = reference.engine.getWeights();
      expected.push((await reference.adapter.step(batchX(step), batchY(step), BATCH, lr, step)).loss);
    }
    await cleanup!();
    const { model, adapter, engine } = await setup(4);
    for (const [step, lr] of steps.slice(0, 3)) {
      await adapter.step(batchX(step), batchY(step), BATCH, lr, step);
      expect(adapter.settled()).toEqual([]);
    }
    await adapter.step(batchX(3), batchY(3), BATCH, 0.01, 3);
    const losses = adapter.settled().map((r) => r.loss);
    expect(losses.slice(0, 3).every(Number.isFinite)).toBe(true);
    expect(losses[3]).toBeNaN();
    losses.slice(0, 3).forEach((loss, i) => expect(Math.abs(loss - expected[i]!)).toBeLessThan(1e-6));
    // Step 3 started from NaN weights: the start of step 2, replayed from the run's start, is put back.
    expect(await adapter.restoreLastFinite(3)).toBe('previous');
    for (const [name, w] of startOfStep2!) {
      const restored = engine.getWeights().get(name)!.data;
      expect(
        restored.reduce((worst, v, i) => Math.max(worst, Math.abs(v - w.data[i]!)), 0),
        name,
      ).toBeLessThan(1e-6);
    }
    equalWeights(modelWeights(model.weights), engine.getWeights());
  });

  it('with steps queued, a sync to the tfjs model runs them first and their results follow', async () => {
    const reference = await setup();
    for (const step of [0, 1]) await reference.adapter.step(batchX(step), batchY(step), BATCH, 0.01, step);
    const expected = reference.engine.getWeights();
    await cleanup!();
    const { model, adapter, engine } = await setup(4);
    for (const step of [0, 1]) await adapter.step(batchX(step), batchY(step), BATCH, 0.01, step);
    expect(adapter.queued).toBe(2);
    await adapter.syncToModel();
    expect(adapter.queued).toBe(0);
    expect(adapter.settled()).toHaveLength(2);
    equalWeights(modelWeights(model.weights), engine.getWeights());
    for (const [name, w] of expected) {
      const synced = modelWeights(model.weights).get(name)!.data;
      expect(
        synced.reduce((worst, v, i) => Math.max(worst, Math.abs(v - w.data[i]!)), 0),
        name,
      ).toBeLessThan(1e-6);
    }
  });

  it('tells finite arrays from ones holding NaN or ±∞ (the epoch-end check)', () => {
    expect(allFiniteValues(Float32Array.of(1, -0, 3e38, -1e-45))).toBe(true);
    expect(allFiniteValues(new Float32Array(0))).toBe(true);
    for (const bad of [NaN, Infinity, -Infinity]) expect(allFiniteValues(Float32Array.of(1, bad, 2)), String(bad)).toBe(false);
  });

  it("checks the engine's own arrays for non-finite weights", async () => {
    const { adapter } = await setup();
    await adapter.step(batchX(0), batchY(0), BATCH, 0.01, 0);
    expect(adapter.weightsAllFinite()).toBe(true);
    await adapter.step(batchX(1), batchY(1), BATCH, NaN, 1);
    expect(adapter.weightsAllFinite()).toBe(false);
  });

  it("refuses an engine whose variables are not the model's", async () => {
    const { engine } = await setup();
    const other = await buildModel(tf, { ...seedModel1, config: { ...seedModel1.config, layers: seedModel1.config.layers.slice(0, 3) } }, { seed: 5 });
    try {
      expect(() => new EngineStep(tf, engine, other.weights)).toThrow(/the engine's variables do not match the model's/);
    } finally {
      other.dispose();
    }
  });
});
