/**
 * The step graph per kind of step (graph-passes.ts): the plain step's graph outputs only the step's
 * values and takes the same step as the statistics step's graph, on real Fashion-MNIST images, for an
 * optimizer whose update is folded into the gradient's Gemm (plain SGD) and ones whose update is not;
 * and the rewrites themselves on a small graph.
 */
import * as ort from 'onnxruntime-node';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import { defaultTrainingSettings, type OptimizerSettings } from '../../../../../../contract';
import { plainMlp, seedModel1 } from '../../../../../../model/presets';
import type { ModelSpec } from '../../../../../../model/spec';
import { smallCnn } from '../../../common/small-cnn';
import { forwardWithLogits, planLayers } from '../../forward';
import { SATURATION_RULES } from '../../stats';
import { GraphBuilder } from '../../../../export/onnx';
import { buildModel } from '../../build-model';
import { useFashionBatches } from '../../test-images';
import { modelWeights } from '../engine-step';
import type { ActivationMoments, EngineProbe } from '../engine';
import { OrtStepEngine } from './engine';
import { graphFor } from './graph-passes';
import { buildStepGraph } from './step-graph';

const BATCH = 32;
const STEPS = 3;
const images = useFashionBatches(tf, BATCH, STEPS);
const adam: OptimizerSettings = { class_name: 'Adam', config: { beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7, clipnorm: null, clipvalue: null } };
const clippedMomentum: OptimizerSettings = { class_name: 'SGD', config: { momentum: 0.9, nesterov: false, clipnorm: 1, clipvalue: null } };
const ignore: EngineProbe = {
  bn: () => undefined,
  activationMoments: () => undefined,
  gradientSumOfSquares: () => undefined,
};

describe('the step graph per kind of step', () => {
  it("declares only the step's outputs in the plain step's graph, every output in the statistics step's", async () => {
    const graph = buildStepGraph(seedModel1, defaultTrainingSettings.optimizer);
    const plain = await ort.InferenceSession.create(graph.plainBytes);
    const statistics = await ort.InferenceSession.create(graph.bytes);
    try {
      expect([...plain.outputNames]).toEqual(graph.stepOutputs);
      expect([...statistics.outputNames]).toEqual(graph.outputs.map((o) => o.name));
      expect(statistics.outputNames.length).toBeGreaterThan(plain.outputNames.length + 10);
    } finally {
      await plain.release();
      await statistics.release();
    }
  });

  for (const [label, optimizer] of [
    ['plain SGD (the update folded into the Gemm)', defaultTrainingSettings.optimizer],
    ['SGD with momentum and clipnorm', clippedMomentum],
    ['Adam', adam],
  ] as const) {
    it(`takes the same steps with and without statistics: ${label}`, async () => {
      const model = await buildModel(tf, seedModel1, { seed: 9 });
      const start = modelWeights(model.weights);
      model.dispose();
      const engines = await Promise.all([0, 1].map(() => OrtStepEngine.create(seedModel1, optimizer, start)));
      const [plain, statistics] = engines.map((e) => {
        if (!(e instanceof OrtStepEngine)) throw new Error(e.unsupported);
        return e;
      }) as [OrtStepEngine, OrtStepEngine];
      try {
        for (let s = 0; s < STEPS; s++) {
          const a = await plain.step(images.x(s), images.y(s), BATCH, 0.05);
          const b = await statistics.step(images.x(s), images.y(s), BATCH, 0.05, undefined, ignore);
          expect(a.loss).toBeCloseTo(b.loss, 6);
          expect(a.acc).toBe(b.acc);
        }
        const after = statistics.getWeights();
        for (const [name, { data }] of plain.getWeights()) {
          const other = after.get(name)!.data;
          const scale = other.reduce((m, v) => Math.max(m, Math.abs(v)), 1e-3);
          const worst = data.reduce((m, v, i) => Math.max(m, Math.abs(v - other[i]!)), 0);
          expect(worst / scale, name).toBeLessThan(1e-5);
        }
      } finally {
        await plain.dispose();
        await statistics.dispose();
      }
    });
  }
});

/** `plainMlp` with these hidden activations. */
function mlpWith(first: string, second: string): ModelSpec {
  const spec = structuredClone(plainMlp);
  spec.config.layers[1]!.config.activation = first;
  spec.config.layers[2]!.config.activation = second;
  return spec;
}

describe("a statistics step's reductions in the graph", () => {
  for (const [label, spec] of [
    ['tanh and sigmoid (saturated on both sides)', mlpWith('tanh', 'sigmoid')],
    ['relu (at most 0) and linear (no record)', mlpWith('relu', 'linear')],
    ['a CNN: Conv2D relu, rank 4', smallCnn()],
  ] as const) {
    it(`equal the general path's layer outputs' moments and saturated shares: ${label}`, async () => {
      const model = await buildModel(tf, spec, { seed: 5 });
      const plans = planLayers(model, spec);
      const start = modelWeights(model.weights);
      // The general path's training-mode forward pass on the same batch and weights, each activating layer's output summed in float64.
      const expected = new Map<string, ActivationMoments & { count: number }>();
      tf.tidy(() => {
        const x = tf.tensor(images.x(0), [BATCH, ...(model.inputs[0]!.shape.slice(1) as number[])]);
        forwardWithLogits(tf, plans, x, {
          mode: 'train',
          seed: 0,
          step: 0,
          probe: (plan, _input, output) => {
            if (!plan.activation) return;
            const y = output.dataSync() as Float32Array;
            const features = output.shape.at(-1)!;
            const mean = y.reduce((sum, v) => sum + v, 0) / y.length;
            const variance = y.reduce((sum, v) => sum + (v - mean) ** 2, 0) / y.length;
            const saturation = SATURATION_RULES[plan.activation]?.share(y, y.length / features, features);
            expected.set(plan.name, { mean, variance, ...(saturation === undefined ? {} : { saturation }), count: y.length });
          },
        });
      });
      model.dispose();
      const engine = await OrtStepEngine.create(spec, defaultTrainingSettings.optimizer, start);
      if (!(engine instanceof OrtStepEngine)) throw new Error(engine.unsupported);
      const got = new Map<string, ActivationMoments>();
      try {
        await engine.step(images.x(0), images.y(0), BATCH, 0.05, undefined, { ...ignore, activationMoments: (layer, moments) => got.set(layer, moments) });
      } finally {
        await engine.dispose();
      }
      expect([...got.keys()].sort()).toEqual([...expected.keys()].sort());
      expect(got.size).toBeGreaterThanOrEqual(2);
      for (const [layer, want] of expected) {
        const have = got.get(layer)!;
        expect(Math.abs(have.mean - want.mean), `${layer} mean`).toBeLessThan(1e-5 * Math.max(1, Math.abs(want.mean)));
        expect(Math.abs(have.variance - want.variance), `${layer} variance`).toBeLessThan(1e-4 * Math.max(1e-2, want.variance));
        // A value within float32 rounding of an edge may fall either side: one value's worth.
        if (want.saturation === undefined) expect(have.saturation, `${layer} saturation`).toBeUndefined();
        else expect(Math.abs(have.saturation! - want.saturation), `${layer} saturation`).toBeLessThanOrEqual(1 / want.count + 1e-7);
      }
      // Something is saturated somewhere: the edges are exercised, not only the moments.
      expect([...got.values()].some((m) => (m.saturation ?? 0) > 0)).toBe(true);
    });
  }
});

describe('graphFor', () => {
  /** z = A·B (a gradient), next = W + (−lr)·z, copied into the output `next:out`; `extra` reads z too. */
  function update(extraOutput: boolean) {
    const g = new GraphBuilder();
    const z = g.node('Gemm', ['a', 'b'], 'z', [{ name: 'transA', i: 1 }]);
    const negLr = g.node('Neg', ['lr'], 'neg_lr');
    const next = g.node('Add', [g.node('Mul', [negLr, z], 'scaled'), 'w'], 'next');
    g.nodes.push({ op: 'Identity', inputs: [next], output: 'next:out', name: 'next:out' });
    if (extraOutput) g.nodes.push({ op: 'Identity', inputs: [z], output: 'z:out', name: 'z:out' });
    return { g, negLr };
  }

  it("folds the update into the gradient's Gemm and names the producer after the output", () => {
    const { g, negLr } = update(true);
    const nodes = graphFor(g, ['next:out'], negLr).nodes;
    expect(nodes.map((n) => n.op)).toEqual(['Neg', 'Mul', 'Gemm']);
    const gemm = nodes.at(-1)!;
    expect(gemm).toMatchObject({ output: 'next:out', inputs: ['a', nodes[1]!.output, 'w'], attrs: [{ name: 'transA', i: 1 }] });
    expect(nodes[1]!.inputs).toEqual(['b', negLr]);
  });

  it('keeps the gradient and the update apart when the gradient is an output too', () => {
    const { g, negLr } = update(true);
    const nodes = graphFor(g, ['next:out', 'z:out'], negLr).nodes;
    expect(nodes.map((n) => n.op)).toEqual(['Gemm', 'Neg', 'Mul', 'Add']);
    expect(nodes[0]!.output).toBe('z:out');
    expect(nodes[2]!.inputs).toEqual([negLr, 'z:out']);
    expect(nodes[3]!.output).toBe('next:out');
  });
});
