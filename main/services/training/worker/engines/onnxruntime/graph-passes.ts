/**
 * Rewrites of a built step graph for the set of outputs one kind of step fetches (step-graph.ts).
 * ONNX Runtime runs every node of a session's graph whatever the run fetches, and it does not fold
 * an `Identity` whose output is a graph output: a plain step's graph that still held the statistics
 * outputs copied every gradient, BN moment and layer output each step, and each state output was
 * one more copy of a weight (about a fifth of a seed-model step at batch 32). So each variant keeps
 * only the nodes its outputs need, names producers after the outputs instead of copying into them,
 * and folds plain SGD's `W − lr·(Aᵀ·B)` into the gradient's own `Gemm` (C = W, B scaled by −lr).
 */
import { GraphBuilder } from '../../../../export/onnx';

type GraphNode = GraphBuilder['nodes'][number];

const outputsOf = (n: GraphNode) => [n.output, ...(n.moreOutputs ?? [])];

/** The nodes `outputs` need, in their order. */
function needed(nodes: GraphNode[], outputs: readonly string[]): GraphNode[] {
  const want = new Set(outputs);
  const keep = new Array<boolean>(nodes.length).fill(false);
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i]!;
    if (!outputsOf(n).some((o) => want.has(o))) continue;
    keep[i] = true;
    for (const input of n.inputs) want.add(input);
  }
  return nodes.filter((_, i) => keep[i]);
}

/** How many times each tensor is read: by a node, or as a graph output. */
function readCounts(nodes: GraphNode[], outputs: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const name of [...nodes.flatMap((n) => n.inputs), ...outputs]) counts.set(name, (counts.get(name) ?? 0) + 1);
  return counts;
}

/**
 * `Add(Mul(negLr, Gemm(A, B)), W)` → `Gemm(A, Mul(B, negLr), W)`: the update in the product's own
 * pass (Gemm adds C), when the gradient and its scaled copy are read nowhere else.
 */
function foldSgdIntoGemm(nodes: GraphNode[], outputs: readonly string[], negLr: string): GraphNode[] {
  const reads = readCounts(nodes, outputs);
  const producer = new Map(nodes.map((n) => [n.output, n]));
  const dropped = new Set<GraphNode>();
  const replaced = new Map<GraphNode, GraphNode[]>();
  for (const add of nodes) {
    if (add.op !== 'Add' || add.inputs.length !== 2) continue;
    const mul = producer.get(add.inputs[0]!);
    if (!mul || mul.op !== 'Mul' || mul.inputs[0] !== negLr || reads.get(mul.output) !== 1) continue;
    const gemm = producer.get(mul.inputs[1]!);
    const plainProduct = gemm?.op === 'Gemm' && gemm.inputs.length === 2 && (gemm.attrs ?? []).every((a) => a.name === 'transA' || a.name === 'transB');
    if (!gemm || !plainProduct || reads.get(gemm.output) !== 1 || dropped.has(gemm)) continue;
    const [a, b] = gemm.inputs as [string, string];
    const scaled: GraphNode = { op: 'Mul', inputs: [b, negLr], output: `${add.output}/scaled_grad`, name: `${add.output}/scaled_grad` };
    const update: GraphNode = { ...gemm, inputs: [a, scaled.output, add.inputs[1]!], output: add.output, name: add.name };
    // The fused Gemm stands where the update stood: every input is ready there (−lr may come after the gradient).
    replaced.set(add, [scaled, update]);
    dropped.add(mul).add(gemm);
  }
  return nodes.flatMap((n) => (dropped.has(n) ? [] : (replaced.get(n) ?? [n])));
}

/**
 * Drops an `Identity` into a graph output by giving its producer the output's name (every reader
 * renamed), where the value is made by a node here and is not itself an output.
 */
function foldOutputIdentities(nodes: GraphNode[], outputs: readonly string[]): GraphNode[] {
  const isOutput = new Set(outputs);
  const producer = new Map(nodes.flatMap((n) => outputsOf(n).map((o) => [o, n] as const)));
  const renames = new Map<string, string>();
  const dropped = new Set<GraphNode>();
  for (const n of nodes) {
    if (n.op !== 'Identity' || !isOutput.has(n.output)) continue;
    const source = n.inputs[0]!;
    if (!producer.has(source) || isOutput.has(source) || renames.has(source)) continue;
    renames.set(source, n.output);
    dropped.add(n);
  }
  const rename = (name: string) => renames.get(name) ?? name;
  return nodes
    .filter((n) => !dropped.has(n))
    .map((n) => ({
      ...n,
      inputs: n.inputs.map(rename),
      output: rename(n.output),
      name: rename(n.name),
      ...(n.moreOutputs ? { moreOutputs: n.moreOutputs.map(rename) } : {}),
    }));
}

/** A graph builder holding `g`'s initializers and its nodes rewritten for exactly `outputs` (see above). */
export function graphFor(g: GraphBuilder, outputs: readonly string[], negLr: string): GraphBuilder {
  const nodes = foldOutputIdentities(foldSgdIntoGemm(needed(g.nodes, outputs), outputs, negLr), outputs);
  const variant = new GraphBuilder();
  variant.nodes.push(...nodes);
  const read = new Set(nodes.flatMap((n) => n.inputs));
  variant.initializers.push(...g.initializers.filter((t) => read.has(t.name)));
  return variant;
}

/** Names in an unrolled graph (unrollSteps): `name@k` is step k's copy of a value of the one-step graph. */
export const stepCopy = (name: string, k: number) => `${name}@${k}`;

/**
 * `steps` copies of a one-step graph chained into one graph, so that one `session.run` trains
 * several batches: each copy reads its own batch inputs (`x@k`, `y@k`, `lr@k`, masks) and the state the
 * copy before it left (the first copy the state inputs), and the last copy's state outputs keep
 * their names. Every other value of copy k is `name@k`; initializers are shared. The state crosses
 * into JavaScript once per run instead of once per step (bench/README.md).
 */
export function unrollSteps(step: GraphBuilder, steps: number, state: readonly { input: string; output: string }[]): GraphBuilder {
  const shared = new Set(step.initializers.map((t) => t.name));
  const outputOf = new Map(state.map((s) => [s.input, s.output]));
  const stateOutputs = new Set(state.map((s) => s.output));
  const unrolled = new GraphBuilder();
  unrolled.initializers.push(...step.initializers);
  for (let k = 0; k < steps; k++) {
    const rename = (name: string): string => {
      if (shared.has(name)) return name;
      const input = outputOf.get(name);
      if (input !== undefined) return k === 0 ? name : stepCopy(input, k - 1);
      if (stateOutputs.has(name) && k === steps - 1) return name;
      return stepCopy(name, k);
    };
    for (const n of step.nodes) {
      unrolled.nodes.push({
        ...n,
        inputs: n.inputs.map(rename),
        output: rename(n.output),
        name: stepCopy(n.name, k),
        ...(n.moreOutputs ? { moreOutputs: n.moreOutputs.map(rename) } : {}),
      });
    }
  }
  return unrolled;
}
