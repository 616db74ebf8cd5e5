/**
 * The model in inference mode (BatchNormalization with its moving statistics, dropout off) in ONNX
 * Runtime, for validation on the onnxruntime backend: the ONNX export's own graph
 * (export/onnx.ts' onnxInferenceGraph) on the engine's weights, with the final softmax's input as a
 * second output, so that the loss is taken from the logits as evaluate.ts' `score` takes it on tfjs.
 */
import type * as Ort from 'onnxruntime-node';
import { DomainError } from '../../../../../../contract';
import { product } from '../../../../../../model/layers/checks';
import type { ModelSpec } from '../../../../../../model/spec';
import { onnxInferenceGraph, onnxModelProto } from '../../../../export/onnx';
import type { NamedWeights } from '../../../../export/weights';
import type { EngineStepResult } from '../engine';

/** Samples per `session.run` (evaluate.ts' validation chunk). */
const CHUNK = 500;

export class OrtInference {
  private constructor(
    private readonly ort: typeof Ort,
    private readonly session: Ort.InferenceSession,
    private readonly names: { input: string; output: string; logits: string },
    private readonly inputShape: number[],
  ) {}

  /** The inference graph of `spec` with these weights (every model variable by Keras name), in a session with `options`. */
  static async create(ort: typeof Ort, spec: ModelSpec, weights: NamedWeights, options: Ort.InferenceSession.SessionOptions): Promise<OrtInference> {
    const { g, input, output } = onnxInferenceGraph(spec, weights);
    const probabilities = g.nodes.find((n) => n.output === output.name)?.inputs[0];
    const softmax = g.nodes.find((n) => n.output === probabilities);
    if (softmax?.op !== 'Softmax') throw new DomainError('unsupported', 'the model does not end in a softmax: the ONNX Runtime validation takes the loss from its logits');
    const logits = softmax.inputs[0]!;
    const bytes = onnxModelProto(g, {
      graphName: `${spec.config.name}_inference`,
      doc: `${spec.config.name}: inference mode, with the logits, for validation (Layerbench)`,
      inputs: [input],
      outputs: [output, { name: logits, dims: output.dims }],
    });
    const session = await ort.InferenceSession.create(bytes, options);
    return new OrtInference(ort, session, { input: input.name, output: output.name, logits }, input.dims.slice(1) as number[]);
  }

  /**
   * Mean sparse categorical cross-entropy (from the logits) and accuracy (arg-max of the
   * probabilities, the first on ties as tf.argMax) on `n` samples laid out contiguously in `x` / `y`.
   */
  async score(x: Float32Array, y: Int32Array, n: number): Promise<EngineStepResult> {
    const size = product(this.inputShape);
    let lossSum = 0;
    let correct = 0;
    for (let from = 0; from < n; from += CHUNK) {
      const count = Math.min(CHUNK, n - from);
      const feed = new this.ort.Tensor('float32', x.subarray(from * size, (from + count) * size), [count, ...this.inputShape]);
      const out = await this.session.run({ [this.names.input]: feed });
      const probabilities = out[this.names.output]!.data as Float32Array;
      const logits = out[this.names.logits]!.data as Float32Array;
      const classes = probabilities.length / count;
      for (let i = 0; i < count; i++) {
        const row = i * classes;
        const label = y[from + i]!;
        let max = -Infinity;
        let best = 0;
        for (let k = 0; k < classes; k++) {
          max = Math.max(max, logits[row + k]!);
          if (probabilities[row + k]! > probabilities[row + best]!) best = k;
        }
        let sumExp = 0;
        for (let k = 0; k < classes; k++) sumExp += Math.exp(logits[row + k]! - max);
        // −log softmax(z)[label] = log Σ exp(z − max) + max − z[label].
        lossSum += Math.log(sumExp) + max - logits[row + label]!;
        if (best === label) correct++;
      }
    }
    return { loss: lossSum / n, acc: correct / n };
  }

  dispose(): Promise<void> {
    return this.session.release();
  }
}
