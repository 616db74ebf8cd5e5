/**
 * The generated ONNX Runtime step graph (engines/onnxruntime/step-graph.ts, plain-step variant)
 * against a hand-built one for the same model, in one process, interleaved block by block, both
 * run through a bare `session.run` with the same feeds (1 intra-op thread, SGD lr 0.01, real
 * Fashion-MNIST). `npx tsx bench/ort-handbuilt.ts [batch…]` (ORT_STEPS steps per graph, default
 * 200; ORT_PROFILE=1 writes ONNX Runtime's per-node profile of each graph to /tmp and sums it).
 *
 * The hand-built graphs are the ones the first measurements used: Gemm with transA/transB
 * for every backward product, `Where(Greater(z, 0), 1, a + 1)` for ELU's derivative, ReduceSum
 * over axis 0 for the bias gradients, SGD as W − lr·∇W; BatchNormalization in training mode with
 * its backward and moving statistics from ReduceMean/ReduceSum over axis 0.
 */
import { readdirSync, readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { defaultOptimizer } from '../contract';
import { plainMlp, seedModel1 } from '../model/presets';
import type { ModelSpec } from '../model/spec';
import { loadFashionMnist } from '../main/services/datasets/fashion-mnist';
import { FLOAT, GraphBuilder, INT32, onnxModelProto, type ValueInfo } from '../main/services/export/onnx';
import { buildStepGraph } from '../main/services/training/worker/engines/onnxruntime/step-graph';
import { heldBatches, runAlone, timeInterleaved, type TimedEngine } from './interleaved';

const WIDTHS = [784, 300, 100, 10];
const BN_EPSILON = 0.001;
const BN_MOMENTUM = 0.99;

interface Built {
  bytes: Uint8Array;
  /** State input → its next value's output, with shapes. */
  state: { name: string; output: string; shape: number[]; initial: number }[];
}

/** The hand-built step: Flatten-free [N, 784] input, Dense(300, elu) → Dense(100, elu) → Dense(10, softmax), optional BN before each Dense. */
export function handBuiltStep(withBn: boolean): Built {
  const g = new GraphBuilder();
  const k = new Map<number, string>();
  const scalar = (v: number) => k.get(v) ?? (k.set(v, g.floats('k', [], Float32Array.of(v))), k.get(v)!);
  const axis0 = g.int64s('axis0', [0]);
  const n = (op: string, inputs: string[], attrs?: Parameters<GraphBuilder['node']>[3]) => g.node(op, inputs, op.toLowerCase(), attrs);
  const state: Built['state'] = [];
  const outputs: ValueInfo[] = [
    { name: 'loss', dims: [] },
    { name: 'accuracy', dims: [] },
  ];
  const next = new Map<string, string>();
  const variable = (name: string, shape: number[], initial = 0) => {
    g.unique(name);
    state.push({ name, output: `${name}:next`, shape, initial });
    return name;
  };
  const flat = g.node('Flatten', ['x'], 'flat', [{ name: 'axis', i: 1 }]);
  let h = flat;
  const backs: ((dy: string) => string)[] = [];
  for (let i = 0; i < 3; i++) {
    const [fanIn, fanOut] = [WIDTHS[i]!, WIDTHS[i + 1]!];
    if (withBn) {
      const gamma = variable(`bn${i}/gamma`, [fanIn], 1);
      const beta = variable(`bn${i}/beta`, [fanIn]);
      const mm = variable(`bn${i}/moving_mean`, [fanIn]);
      const mv = variable(`bn${i}/moving_variance`, [fanIn], 1);
      const x = h;
      const mean = n('ReduceMean', [x], [{ name: 'axes', ints: [0] }]);
      const xc = n('Sub', [x, mean]);
      const variance = n('ReduceMean', [n('Mul', [xc, xc])], [{ name: 'axes', ints: [0] }]);
      const inv = n('Reciprocal', [n('Sqrt', [n('Add', [variance, scalar(BN_EPSILON)])])]);
      const xhat = n('Mul', [xc, inv]);
      h = n('Add', [n('Mul', [xhat, gamma]), beta]);
      next.set(mm, n('Sub', [mm, n('Mul', [n('Sub', [mm, n('Squeeze', [mean, axis0])]), scalar(1 - BN_MOMENTUM)])]));
      next.set(mv, n('Sub', [mv, n('Mul', [n('Sub', [mv, n('Squeeze', [variance, axis0])]), scalar(1 - BN_MOMENTUM)])]));
      const first = i === 0;
      backs.push((dy) => {
        next.set(beta, n('Sub', [beta, n('Mul', ['lr', n('ReduceSum', [dy, axis0], [{ name: 'keepdims', i: 0 }])])]));
        next.set(gamma, n('Sub', [gamma, n('Mul', ['lr', n('ReduceSum', [n('Mul', [dy, xhat]), axis0], [{ name: 'keepdims', i: 0 }])])]));
        if (first) return '';
        const gy = n('Mul', [dy, gamma]);
        const meanG = n('ReduceMean', [gy], [{ name: 'axes', ints: [0] }]);
        const meanGx = n('ReduceMean', [n('Mul', [gy, xhat])], [{ name: 'axes', ints: [0] }]);
        return n('Mul', [n('Sub', [n('Sub', [gy, meanG]), n('Mul', [xhat, meanGx])]), inv]);
      });
    }
    const w = variable(`dense${i}/kernel`, [fanIn, fanOut]);
    const b = variable(`dense${i}/bias`, [fanOut]);
    const x = h;
    const z = n('Gemm', [x, w, b]);
    const last = i === 2;
    const a = last ? z : n('Elu', [z]);
    const needDx = withBn || i > 0;
    backs.push((dy) => {
      const dz = last ? dy : n('Mul', [dy, n('Where', [n('Greater', [z, scalar(0)]), scalar(1), n('Add', [a, scalar(1)])])]);
      next.set(w, n('Sub', [w, n('Mul', ['lr', n('Gemm', [x, dz], [{ name: 'transA', i: 1 }])])]));
      next.set(b, n('Sub', [b, n('Mul', ['lr', n('ReduceSum', [dz, axis0], [{ name: 'keepdims', i: 0 }])])]));
      return needDx ? n('Gemm', [dz, w], [{ name: 'transB', i: 1 }]) : '';
    });
    h = a;
  }
  const logp = n('LogSoftmax', [h], [{ name: 'axis', i: 1 }]);
  const onehot = n('Cast', [n('Equal', [n('Unsqueeze', ['y', g.int64s('axis1', [1])]), g.int32s('classes', [1, 10], [...Array(10).keys()])])], [{ name: 'to', i: FLOAT }]);
  g.nodes.push({
    op: 'Neg',
    inputs: [n('ReduceMean', [n('ReduceSum', [n('Mul', [onehot, logp]), g.int64s('axis1b', [1])], [{ name: 'keepdims', i: 0 }])], [{ name: 'keepdims', i: 0 }])],
    output: 'loss',
    name: 'loss',
  });
  const hits = n(
    'Cast',
    [
      n('Equal', [
        n(
          'ArgMax',
          [h],
          [
            { name: 'axis', i: 1 },
            { name: 'keepdims', i: 0 },
          ],
        ),
        n('Cast', ['y'], [{ name: 'to', i: 7 }]),
      ]),
    ],
    [{ name: 'to', i: FLOAT }],
  );
  g.nodes.push({ op: 'ReduceMean', inputs: [hits], output: 'accuracy', name: 'accuracy', attrs: [{ name: 'keepdims', i: 0 }] });
  const batch = n('Cast', [n('Gather', [n('Shape', ['x']), g.int64s('zero', [0])])], [{ name: 'to', i: FLOAT }]);
  let dy = n('Div', [n('Sub', [n('Exp', [logp]), onehot]), batch]);
  for (let i = backs.length - 1; i >= 0 && dy; i--) dy = backs[i]!(dy);
  // Each next value's producer gets the output's name (no Identity copies).
  for (const s of state) {
    const producer = g.nodes.find((node) => node.output === next.get(s.name))!;
    for (const node of g.nodes) node.inputs = node.inputs.map((input) => (input === producer.output ? s.output : input));
    producer.output = producer.name = s.output;
    outputs.push({ name: s.output, dims: s.shape });
  }
  const inputs: ValueInfo[] = [
    { name: 'x', dims: [null, 28, 28] },
    { name: 'y', dims: [null], type: INT32 },
    { name: 'lr', dims: [] },
    ...state.map((s) => ({ name: s.name, dims: s.shape })),
  ];
  return { bytes: onnxModelProto(g, { graphName: 'handbuilt', doc: 'hand-built step', inputs, outputs }), state };
}

/** The generated plain step for `spec` with SGD. */
function generatedStep(spec: ModelSpec): Built {
  const graph = buildStepGraph(spec, defaultOptimizer('SGD'));
  return { bytes: graph.plainBytes, state: graph.state.map((s) => ({ ...s, initial: s.name.endsWith('gamma') || s.name.endsWith('moving_variance') ? 1 : 0 })) };
}

/** Small deterministic kernels (uniform ±√(6/fan-in)), the rest at its initial value. */
function startValues(built: Built): Float32Array[] {
  let seed = 12345;
  const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  return built.state.map((s) => {
    const size = s.shape.reduce((a, b) => a * b, 1);
    if (s.shape.length === 2) return Float32Array.from({ length: size }, () => random() * Math.sqrt(6 / s.shape[0]!));
    return new Float32Array(size).fill(s.initial);
  });
}

/** CPU time (user + system, µs) of the process per timed step: steadier than wall clock on a shared machine. */
type CpuTally = { us: number; steps: number };

async function engineFor(name: string, built: Built, batch: number, slice: ReturnType<typeof heldBatches>, steps: number, cpu: CpuTally): Promise<TimedEngine> {
  const profile = process.env.ORT_PROFILE === '1';
  const session = await ort.InferenceSession.create(built.bytes, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    ...(profile ? { enableProfiling: true, profileFilePrefix: `/tmp/ort-${name.replace(/\W+/g, '_')}-${batch}` } : {}),
  });
  const values = startValues(built);
  const lr = new ort.Tensor('float32', Float32Array.of(0.01), []);
  return {
    name,
    warmup: 10,
    blockSteps: Math.max(1, Math.round(steps / 5)),
    step: async (s) => {
      const { x, y } = slice(s);
      const feeds: Record<string, ort.Tensor> = { x: new ort.Tensor('float32', x, [batch, 28, 28]), y: new ort.Tensor('int32', y, [batch]), lr };
      built.state.forEach((st, i) => (feeds[st.name] = new ort.Tensor('float32', values[i]!, st.shape)));
      const before = process.cpuUsage();
      const out = await session.run(feeds);
      const used = process.cpuUsage(before);
      if (s >= 10) {
        cpu.us += used.user + used.system;
        cpu.steps++;
      }
      built.state.forEach((st, i) => (values[i] = out[st.output]!.data as Float32Array));
      return (out.loss!.data as Float32Array)[0]!;
    },
    dispose: async () => {
      if (profile) {
        // onnxruntime-node's endProfiling returns nothing: the file is the prefix plus a timestamp.
        session.endProfiling();
        const prefix = `ort-${name.replace(/\W+/g, '_')}-${batch}`;
        const file = readdirSync('/tmp')
          .filter((f) => f.startsWith(prefix) && f.endsWith('.json'))
          .sort()
          .at(-1);
        if (file) summariseProfile(`/tmp/${file}`, name);
      }
      await session.release();
    },
  };
}

/** Sums an ONNX Runtime profile's node time by op type and prints the graph's node count. */
function summariseProfile(file: string, name: string): void {
  const events = JSON.parse(readFileSync(file, 'utf8')) as { cat: string; name: string; dur: number; args?: { op_name?: string } }[];
  const byOp = new Map<string, { us: number; count: number }>();
  let runs = 0;
  for (const e of events) {
    if (e.cat === 'Session' && e.name === 'model_run') runs++;
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const op = e.args?.op_name ?? '?';
    const entry = byOp.get(op) ?? { us: 0, count: 0 };
    entry.us += e.dur;
    entry.count++;
    byOp.set(op, entry);
  }
  const total = [...byOp.values()].reduce((a, b) => a + b.us, 0);
  console.log(`  ${name}: ${runs} runs, kernel time ${(total / runs).toFixed(0)} µs a run (${file})`);
  for (const [op, e] of [...byOp].sort((a, b) => b[1].us - a[1].us))
    console.log(`    ${op.padEnd(18)} ${(e.us / runs).toFixed(1).padStart(8)} µs  ${(e.count / runs).toFixed(0)} nodes`);
}

export async function runHandBuiltComparison(options: { batches?: number[] } = {}): Promise<void> {
  const steps = Number(process.env.ORT_STEPS ?? 200);
  const data = await loadFashionMnist('/usr/share/datasets/fashion-mnist', 'train');
  const models = (process.env.ORT_MODELS ?? 'mlp,bn').split(',');
  for (const batch of options.batches ?? [32, 256]) {
    const slice = heldBatches(data, batch, 16);
    for (const [label, spec, withBn] of [
      ['mlp', plainMlp, false],
      ['bn', seedModel1, true],
    ] as const) {
      if (!models.includes(label)) continue;
      const cpu: CpuTally[] = [
        { us: 0, steps: 0 },
        { us: 0, steps: 0 },
      ];
      const engines = [
        await engineFor(`${label} hand-built`, handBuiltStep(withBn), batch, slice, steps, cpu[0]!),
        await engineFor(`${label} generated`, generatedStep(spec), batch, slice, steps, cpu[1]!),
      ];
      const rows = await timeInterleaved(engines, batch, console.log);
      const [hand, gen] = rows.map((r) => (1000 * batch) / r.samplesPerSec);
      const [handCpu, genCpu] = cpu.map((c) => c.us / c.steps / 1000);
      console.log(
        `  batch ${batch} ${label}: wall (median block) hand-built ${hand!.toFixed(3)} ms a step, generated ${gen!.toFixed(3)} ms (${(gen! / hand!).toFixed(2)}×); ` +
          `CPU in session.run hand-built ${handCpu!.toFixed(3)} ms, generated ${genCpu!.toFixed(3)} ms (${(genCpu! / handCpu!).toFixed(2)}×)`,
      );
    }
  }
}

runAlone('ort-handbuilt.ts', runHandBuiltComparison);
