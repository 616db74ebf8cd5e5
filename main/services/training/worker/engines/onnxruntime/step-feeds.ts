/**
 * A step graph's feeds (step-graph.ts): a held step's batch, learning rate and dropout masks, and
 * the state, under the one-step graph's input names or, for K steps as one graph, stepCopy's. The
 * engine's runs and the thread timing's (thread-choice.ts) feed the graphs through these.
 */
import type * as Ort from 'onnxruntime-node';
import { stepCopy } from './graph-passes';
import type { HeldStep } from './held-steps';
import { STEP_INPUTS, type StepGraph } from './step-graph';

type Feeds = Record<string, Ort.Tensor>;

/** A step's inputs, without the state, each named `rename(name)` (the one-step graph's names by default). */
function batchFeeds(ort: typeof Ort, graph: StepGraph, step: HeldStep, rename: (name: string) => string = (name) => name): Feeds {
  const feeds: Feeds = {
    [rename(STEP_INPUTS.x)]: new ort.Tensor('float32', step.x, [step.n, ...graph.inputShape]),
    [rename(STEP_INPUTS.y)]: new ort.Tensor('int32', step.y, [step.n]),
    [rename(STEP_INPUTS.lr)]: new ort.Tensor('float32', Float32Array.of(step.lr), []),
  };
  for (const m of graph.masks) feeds[rename(m.input)] = new ort.Tensor('float32', step.masks.get(m.input)!.subarray(0, step.n * m.features), [step.n, m.features]);
  return feeds;
}

function withState(ort: typeof Ort, graph: StepGraph, feeds: Feeds, state: ReadonlyMap<string, Float32Array>): Feeds {
  for (const s of graph.state) feeds[s.name] = new ort.Tensor('float32', state.get(s.name)!, s.shape);
  return feeds;
}

/** One step's feeds, from `state`. */
export function stepFeeds(ort: typeof Ort, graph: StepGraph, step: HeldStep, state: ReadonlyMap<string, Float32Array>): Feeds {
  return withState(ort, graph, batchFeeds(ort, graph, step), state);
}

/** The several-steps graph's feeds: step k's inputs under stepCopy's names, the state the first starts from. */
export function unrolledFeeds(ort: typeof Ort, graph: StepGraph, steps: HeldStep[], state: ReadonlyMap<string, Float32Array>): Feeds {
  const feeds = Object.assign({}, ...steps.map((step, k) => batchFeeds(ort, graph, step, (name) => stepCopy(name, k)))) as Feeds;
  return withState(ort, graph, feeds, state);
}
