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
import { seedModel1 } from '../../../../../../model/presets';
import { GraphBuilder } from '../../../../export/onnx';
import { buildModel } from '../../build-model';
import { useFashionBatches } from '../../test-images';
import { modelWeights } from '../engine-step';
import type { EngineProbe } from '../engine';
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
  activation: () => undefined,
  activationMoments: () => undefined,
  gradient: () => undefined,
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
