/**
 * Validation on the onnxruntime backend: the engine's inference graph (inference.ts, the ONNX
 * export's graph on the engine's weights) scores real Fashion-MNIST images as evaluate.ts' `score`
 * scores the tfjs model in inference mode, after steps that moved the weights and BN's moving
 * statistics (AlphaDropout off in inference), and follows the weights as they change.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterEach, describe, expect, it } from 'vitest';
import type { OptimizerSettings } from '../../../../../../contract';
import { seedModel1, seluMlp } from '../../../../../../model/presets';
import type { ModelSpec } from '../../../../../../model/spec';
import { buildModel } from '../../build-model';
import { score } from '../../evaluate';
import { planLayers } from '../../forward';
import { useFashionBatches } from '../../test-images';
import { EngineStep, modelWeights } from '../engine-step';
import { dropoutKeepMasks } from './dropout-masks';
import { OrtStepEngine } from './engine';

const BATCH = 32;
const TRAIN_STEPS = 10;
/** Held-out images scored: more than one of the inference graph's 500-sample runs. */
const SCORED = 640;
const images = useFashionBatches(tf, SCORED, 2);
const momentum: OptimizerSettings = { class_name: 'SGD', config: { momentum: 0.9, nesterov: false, clipnorm: null, clipvalue: null } };

let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  await cleanup?.();
  cleanup = null;
});

async function trained(spec: ModelSpec): Promise<{ adapter: EngineStep; engine: OrtStepEngine; plans: ReturnType<typeof planLayers> }> {
  const model = await buildModel(tf, spec, { seed: 3 });
  const engine = await OrtStepEngine.create(spec, momentum, modelWeights(model.weights));
  if (!(engine instanceof OrtStepEngine)) throw new Error(engine.unsupported);
  const adapter = new EngineStep(tf, engine, model.weights, (n, step) => dropoutKeepMasks(tf, engine.graph.masks, n, { seed: 3, step }));
  cleanup = async () => {
    await adapter.dispose();
    model.dispose();
  };
  const x = images.x(0);
  const y = images.y(0);
  for (let s = 0; s < TRAIN_STEPS; s++) {
    const at = (s * BATCH) % SCORED;
    await adapter.step(x.subarray(at * 784, (at + BATCH) * 784), y.subarray(at, at + BATCH), BATCH, 0.05, s);
  }
  return { adapter, engine, plans: planLayers(model, spec) };
}

/** The tfjs model (synced to the engine) scored in inference mode, as the loop's validation scores it. */
async function tfjsScore(adapter: EngineStep, plans: ReturnType<typeof planLayers>) {
  await adapter.syncToModel();
  return score(tf, plans, images.x(1), images.y(1), SCORED, [28, 28], { mode: 'inference', chunk: 500 });
}

describe("the ONNX Runtime engine's inference graph", () => {
  for (const [label, spec] of [
    ['seed model 1 (BN with its moving statistics)', seedModel1],
    ['the SELU MLP (AlphaDropout off)', seluMlp],
  ] as const) {
    it(`scores held-out images as tfjs' inference mode does: ${label}`, async () => {
      const { adapter, engine, plans } = await trained(spec);
      const ort = await engine.score(images.x(1), images.y(1), SCORED);
      const reference = await tfjsScore(adapter, plans);
      expect(Math.abs(ort.loss - reference.loss)).toBeLessThan(1e-5);
      expect(ort.acc).toBe(reference.acc);
      expect(ort.acc).toBeGreaterThan(0.3);
    });
  }

  it('scores the weights as they are after another step, not those of its first graph', async () => {
    const { adapter, engine, plans } = await trained(seedModel1);
    const first = await engine.score(images.x(1), images.y(1), SCORED);
    await adapter.step(images.x(0).subarray(0, BATCH * 784), images.y(0).subarray(0, BATCH), BATCH, 0.05, TRAIN_STEPS);
    const after = await engine.score(images.x(1), images.y(1), SCORED);
    expect(after.loss).not.toBe(first.loss);
    expect(Math.abs(after.loss - (await tfjsScore(adapter, plans)).loss)).toBeLessThan(1e-5);
  });
});
