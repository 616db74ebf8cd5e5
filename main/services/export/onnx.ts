/**
 * ONNX export (opset 13, IR version 7) of every layer type a spec can hold, in inference mode:
 * each layer's graph is its kit's `onnx` (model/layers/<layer>.ts; BatchNormalization uses its moving
 * statistics, Dropout and AlphaDropout are identities). This module writes the graph and the model.
 *
 * Keras tensors are channels_last (NHWC); ONNX Conv and MaxPool are NCHW. The graph keeps each
 * tensor in whichever layout it has and transposes only where a layer's kit takes the other one
 * (`onnxLayout`), so a Conv2D → MaxPooling2D → BatchNormalization → activation chain runs NCHW with
 * one transpose in and one out.
 *
 * Input `input` [N, ...batch_input_shape[1:]] (float32), output `output`, both in Keras' layout.
 */
import { layerKit, withDefaults, type ModelSpec, type OnnxAttr, type OnnxEmitter } from '../../../model';
import { ProtoWriter } from './protobuf';
import { ExportError } from './errors';
import { checkWeights, modelLayers, type NamedWeights } from './weights';

export const ONNX_OPSET = 13;
export const ONNX_IR_VERSION = 7;
export const ONNX_INPUT = 'input';
export const ONNX_OUTPUT = 'output';

export const FLOAT = 1;
export const INT32 = 6;
export const INT64 = 7;
type ElemType = typeof FLOAT | typeof INT32 | typeof INT64;

export type Attr = OnnxAttr;

interface Node {
  op: string;
  inputs: string[];
  output: string;
  /** Outputs after the first (MaxPool's indices). */
  moreOutputs?: string[];
  name: string;
  attrs?: Attr[];
}

interface Initializer {
  name: string;
  dims: number[];
  type: ElemType;
  raw: Uint8Array;
}

/** Nodes and initializers of an ONNX graph, with unique tensor names. */
export class GraphBuilder {
  readonly nodes: Node[] = [];
  readonly initializers: Initializer[] = [];
  private readonly used = new Set<string>();

  unique(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }

  node(op: string, inputs: string[], name: string, attrs?: Attr[]): string {
    const output = this.unique(name);
    this.nodes.push({ op, inputs, output, name: output, ...(attrs ? { attrs } : {}) });
    return output;
  }

  /** A node with several outputs (named after `names`); returns their unique names. */
  nodeOutputs(op: string, inputs: string[], names: string[], attrs?: Attr[]): string[] {
    const outputs = names.map((n) => this.unique(n));
    this.nodes.push({ op, inputs, output: outputs[0]!, moreOutputs: outputs.slice(1), name: outputs[0]!, ...(attrs ? { attrs } : {}) });
    return outputs;
  }

  floats(name: string, dims: number[], data: Float32Array): string {
    const unique = this.unique(name);
    const copy = new Float32Array(data);
    this.initializers.push({ name: unique, dims, type: FLOAT, raw: new Uint8Array(copy.buffer) });
    return unique;
  }

  int64s(name: string, values: number[], dims: number[] = [values.length]): string {
    const unique = this.unique(name);
    const data = new BigInt64Array(values.map((v) => BigInt(v)));
    this.initializers.push({ name: unique, dims, type: INT64, raw: new Uint8Array(data.buffer) });
    return unique;
  }

  int32s(name: string, dims: number[], values: number[]): string {
    const unique = this.unique(name);
    this.initializers.push({ name: unique, dims, type: INT32, raw: new Uint8Array(Int32Array.from(values).buffer) });
    return unique;
  }
}

/** The tensor flowing between layers: its name, its rank and whether a rank-4 tensor is currently NCHW. */
interface Flow {
  name: string;
  rank: number;
  nchw: boolean;
}

function toNchw(g: GraphBuilder, flow: Flow, layer: string): Flow {
  if (flow.nchw) return flow;
  return { ...flow, name: g.node('Transpose', [flow.name], `${layer}/to_nchw`, [{ name: 'perm', ints: [0, 3, 1, 2] }]), nchw: true };
}

function toNhwc(g: GraphBuilder, flow: Flow, layer: string): Flow {
  if (!flow.nchw) return flow;
  return { ...flow, name: g.node('Transpose', [flow.name], `${layer}/to_nhwc`, [{ name: 'perm', ints: [0, 2, 3, 1] }]), nchw: false };
}

function attrMessage(w: ProtoWriter, a: Attr): void {
  w.string(1, a.name);
  if ('f' in a) w.float(2, a.f).int(20, 1);
  else if ('i' in a) w.int(3, a.i).int(20, 2);
  else if ('s' in a) w.string(4, a.s).int(20, 3);
  else w.ints(8, a.ints).int(20, 7);
}

/** A graph input or output: its name, dims (null: symbolic, the first one 'N') and element type. */
export interface ValueInfo {
  name: string;
  dims: (number | null)[];
  type?: ElemType;
}

function valueInfo(w: ProtoWriter, { name, dims, type: elemType = FLOAT }: ValueInfo): void {
  w.string(1, name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, elemType);
      tensor.message(2, (shape) => {
        dims.forEach((d, i) => shape.message(1, (dim) => (d === null ? dim.string(2, i === 0 ? 'N' : `d${i}`) : dim.int(1, d))));
      });
    }),
  );
}

/** The ONNX model (serialized ModelProto) of a spec with its weights. */
export function onnxModelBytes(spec: ModelSpec, weights: NamedWeights, options: { producerVersion?: string } = {}): Uint8Array {
  const { g, input, output } = onnxInferenceGraph(spec, weights);
  return onnxModelProto(g, {
    graphName: spec.config.name,
    doc: `${spec.config.name}: exported by Layerbench from a Keras Sequential spec (inference mode)`,
    producerVersion: options.producerVersion,
    inputs: [input],
    outputs: [output],
  });
}

/** The export's inference graph of a spec with its weights (as initializers), before it is written: its input and output. */
export function onnxInferenceGraph(spec: ModelSpec, weights: NamedWeights): { g: GraphBuilder; input: ValueInfo; output: ValueInfo } {
  checkWeights(spec, weights, 'weights');
  const layers = modelLayers(spec);
  const g = new GraphBuilder();
  g.unique(ONNX_INPUT);
  g.unique(ONNX_OUTPUT);
  const inputShape = layers[0]!.input_shape;
  let flow: Flow = { name: ONNX_INPUT, rank: inputShape.length, nchw: false };
  const w = (name: string) => weights.get(name)!.data;

  // Each layer's graph comes from its kit (model/layers/<layer>.ts), in the layout the kit takes.
  layers.forEach((info, index) => {
    const cfg = withDefaults(spec.config.layers[index]!).config as Record<string, unknown>;
    const name = info.name;
    const kit = layerKit(info.class_name);
    if (!kit?.onnx) throw new ExportError('unsupported', `layer '${name}': ${info.class_name} has no ONNX export`);
    const layout = kit.onnxLayout ?? 'channels_last';
    if (layout === 'nchw') flow = toNchw(g, flow, name);
    else if (layout === 'channels_last') flow = toNhwc(g, flow, name);
    const vars = Object.fromEntries(info.variables.map((v) => [v.short, v]));
    const emitter: OnnxEmitter = {
      input: flow.name,
      nchw: flow.nchw,
      input_shape: info.input_shape,
      output_shape: info.output_shape,
      weight: (short) => (vars[short] ? { shape: vars[short].shape, data: w(vars[short].name) } : null),
      node: (...a) => g.node(...a),
      floats: (...a) => g.floats(...a),
      int64s: (...a) => g.int64s(...a),
      unsupported: (message) => {
        throw new ExportError('unsupported', message);
      },
    };
    flow = { name: kit.onnx(cfg, name, emitter), rank: info.output_shape.length, nchw: flow.nchw };
  });
  flow = toNhwc(g, flow, 'output');
  g.nodes.push({ op: 'Identity', inputs: [flow.name], output: ONNX_OUTPUT, name: ONNX_OUTPUT });

  return { g, input: { name: ONNX_INPUT, dims: inputShape }, output: { name: ONNX_OUTPUT, dims: layers.at(-1)!.output_shape } };
}

/** A serialized ModelProto (IR 7, opset 13) of a built graph. */
export function onnxModelProto(
  g: GraphBuilder,
  meta: { graphName: string; doc: string; producerVersion?: string | undefined; inputs: ValueInfo[]; outputs: ValueInfo[] },
): Uint8Array {
  const model = new ProtoWriter();
  model.int(1, ONNX_IR_VERSION);
  model.string(2, 'Layerbench');
  model.string(3, meta.producerVersion ?? '0.1.0');
  model.string(6, meta.doc);
  model.message(7, (graph) => {
    for (const n of g.nodes) {
      graph.message(1, (node) => {
        for (const i of n.inputs) node.string(1, i);
        node.string(2, n.output);
        for (const o of n.moreOutputs ?? []) node.string(2, o);
        node.string(3, n.name);
        node.string(4, n.op);
        for (const a of n.attrs ?? []) node.message(5, (m) => attrMessage(m, a));
      });
    }
    graph.string(2, meta.graphName);
    for (const t of g.initializers) {
      graph.message(5, (tensor) => {
        tensor.ints(1, t.dims);
        tensor.int(2, t.type);
        tensor.string(8, t.name);
        tensor.bytes(9, t.raw);
      });
    }
    for (const i of meta.inputs) graph.message(11, (v) => valueInfo(v, i));
    for (const o of meta.outputs) graph.message(12, (v) => valueInfo(v, o));
  });
  model.message(8, (opset) => opset.string(1, '').int(2, ONNX_OPSET));
  return model.finish();
}
