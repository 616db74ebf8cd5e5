/**
 * ONNX export (opset 13, IR version 7) of every layer type a spec can hold, in inference mode:
 * BatchNormalization uses its moving statistics, Dropout and AlphaDropout are identities.
 *
 * Keras tensors are channels_last (NHWC); ONNX Conv and MaxPool are NCHW. The graph keeps each
 * tensor in whichever layout it has and transposes only where a layer needs the other one, so a
 * Conv2D → MaxPooling2D → BatchNormalization → activation chain runs NCHW with one transpose in and
 * one out. 'same' padding is written as explicit pads computed as TensorFlow does (the extra row or
 * column at the end), so strided and dilated convolutions match Keras exactly.
 *
 * Input `input` [N, ...batch_input_shape[1:]] (float32), output `output`, both in Keras' layout.
 */
import { layerKit, withDefaults, type ModelSpec, type OnnxAttr } from '../../../model';
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

/** TensorFlow's SAME padding: the total split with the extra pixel at the end. */
export function samePads(input: number, window: number, stride: number, dilation: number): [number, number] {
  const out = Math.ceil(input / stride);
  const effective = (window - 1) * dilation + 1;
  const total = Math.max((out - 1) * stride + effective - input, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/** pads [top, left, bottom, right] for ONNX, or an auto_pad attribute when the spatial size is unknown. */
function padAttrs(padding: string, inputHW: (number | null)[], window: number[], strides: number[], dilation: number[]): Attr[] {
  if (padding !== 'same') return [{ name: 'pads', ints: [0, 0, 0, 0] }];
  if (inputHW.some((d) => d === null)) return [{ name: 'auto_pad', s: 'SAME_UPPER' }];
  const [t, b] = samePads(inputHW[0]!, window[0]!, strides[0]!, dilation[0]!);
  const [l, r] = samePads(inputHW[1]!, window[1]!, strides[1]!, dilation[1]!);
  return [{ name: 'pads', ints: [t, l, b, r] }];
}

/** Keras kernel [kh, kw, in, out] → ONNX weight [out, in, kh, kw]. */
function convKernel(data: Float32Array, [kh, kw, cin, cout]: number[]): Float32Array {
  const out = new Float32Array(data.length);
  for (let y = 0; y < kh!; y++)
    for (let x = 0; x < kw!; x++)
      for (let i = 0; i < cin!; i++) for (let o = 0; o < cout!; o++) out[((o * cin! + i) * kh! + y) * kw! + x] = data[((y * kw! + x) * cin! + i) * cout! + o]!;
  return out;
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

function activation(g: GraphBuilder, flow: Flow, fn: string, layer: string): Flow {
  const unary = (op: string, attrs?: Attr[]) => ({ ...flow, name: g.node(op, [flow.name], `${layer}/${op.toLowerCase()}`, attrs) });
  switch (fn) {
    case 'linear':
      return flow;
    case 'relu':
      return unary('Relu');
    case 'elu':
      return unary('Elu', [{ name: 'alpha', f: 1 }]);
    case 'selu':
      // ONNX's defaults are Keras' constants (alpha 1.6732632, gamma 1.0507010) in float32.
      return unary('Selu');
    case 'leaky_relu':
      return unary('LeakyRelu', [{ name: 'alpha', f: 0.2 }]);
    case 'tanh':
      return unary('Tanh');
    case 'sigmoid':
      return unary('Sigmoid');
    case 'softmax': {
      // Keras' softmax runs over the last axis of the Keras (channels_last) tensor.
      const f = toNhwc(g, flow, layer);
      return { ...f, name: g.node('Softmax', [f.name], `${layer}/softmax`, [{ name: 'axis', i: -1 }]) };
    }
    case 'swish':
    case 'silu': {
      const s = g.node('Sigmoid', [flow.name], `${layer}/sigmoid`);
      return { ...flow, name: g.node('Mul', [flow.name, s], `${layer}/swish`) };
    }
    default:
      throw new ExportError('unsupported', `layer '${layer}': activation '${fn}' has no ONNX export`);
  }
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
  checkWeights(spec, weights, 'weights');
  const layers = modelLayers(spec);
  const g = new GraphBuilder();
  g.unique(ONNX_INPUT);
  g.unique(ONNX_OUTPUT);
  const inputShape = layers[0]!.input_shape;
  let flow: Flow = { name: ONNX_INPUT, rank: inputShape.length, nchw: false };
  const w = (name: string) => weights.get(name)!.data;

  layers.forEach((info, index) => {
    const cfg = withDefaults(spec.config.layers[index]!).config as Record<string, unknown>;
    const name = info.name;
    const vars = Object.fromEntries(info.variables.map((v) => [v.short, v]));
    switch (info.class_name) {
      case 'Dropout':
      case 'AlphaDropout':
        // Identity at inference: nothing to compute.
        break;
      case 'Flatten': {
        flow = toNhwc(g, flow, name);
        flow = { name: g.node('Flatten', [flow.name], `${name}/flatten`, [{ name: 'axis', i: 1 }]), rank: 2, nchw: false };
        break;
      }
      case 'Reshape': {
        flow = toNhwc(g, flow, name);
        // 0 copies the batch size; the other sizes are the resolved target shape.
        const target = info.output_shape.slice(1).map((d, i) => d ?? (cfg.target_shape as number[])[i]!);
        const shape = g.int64s(`${name}/shape`, [0, ...target]);
        flow = { name: g.node('Reshape', [flow.name, shape], `${name}/reshape`), rank: info.output_shape.length, nchw: false };
        break;
      }
      case 'Dense': {
        flow = toNhwc(g, flow, name);
        const kernel = g.floats(`${name}/kernel`, vars.kernel!.shape, w(vars.kernel!.name));
        let out = g.node('MatMul', [flow.name, kernel], `${name}/matmul`);
        if (vars.bias) out = g.node('Add', [out, g.floats(`${name}/bias`, vars.bias.shape, w(vars.bias.name))], `${name}/bias_add`);
        flow = activation(g, { name: out, rank: info.output_shape.length, nchw: false }, cfg.activation as string, name);
        break;
      }
      case 'BatchNormalization': {
        const rank = info.input_shape.length;
        const raw = (Array.isArray(cfg.axis) ? cfg.axis[0] : cfg.axis) as number;
        const axis = raw < 0 ? rank + raw : raw;
        const n = info.input_shape[axis] as number;
        const eps = cfg.epsilon as number;
        const mean = w(vars.moving_mean!.name);
        const variance = w(vars.moving_variance!.name);
        const gamma = vars.gamma ? w(vars.gamma.name) : null;
        const beta = vars.beta ? w(vars.beta.name) : null;
        // y = (x - mean) · gamma/√(var + ε) + beta, with the factor folded as TF.js computes it.
        const factor = new Float32Array(n);
        for (let i = 0; i < n; i++) factor[i] = (gamma ? gamma[i]! : 1) / Math.sqrt(variance[i]! + eps);
        // The axis in the tensor's current layout (a NCHW tensor holds Keras axis 3 at 1, 1 at 2, 2 at 3).
        const at = flow.nchw ? [0, 2, 3, 1][axis]! : axis;
        const dims = Array.from({ length: rank }, (_, i) => (i === at ? n : 1));
        let out = g.node('Sub', [flow.name, g.floats(`${name}/moving_mean`, dims, mean)], `${name}/center`);
        out = g.node('Mul', [out, g.floats(`${name}/scale`, dims, factor)], `${name}/scale`);
        if (beta) out = g.node('Add', [out, g.floats(`${name}/beta`, dims, beta)], `${name}/shift`);
        flow = { ...flow, name: out };
        break;
      }
      case 'Activation':
        flow = activation(g, flow, cfg.activation as string, name);
        break;
      case 'Conv2D': {
        flow = toNchw(g, flow, name);
        const k = vars.kernel!;
        const window = cfg.kernel_size as number[];
        const strides = cfg.strides as number[];
        const dilation = cfg.dilation_rate as number[];
        const inputs = [flow.name, g.floats(`${name}/kernel`, [k.shape[3]!, k.shape[2]!, k.shape[0]!, k.shape[1]!], convKernel(w(k.name), k.shape))];
        if (vars.bias) inputs.push(g.floats(`${name}/bias`, vars.bias.shape, w(vars.bias.name)));
        const out = g.node('Conv', inputs, `${name}/conv`, [
          { name: 'kernel_shape', ints: window },
          { name: 'strides', ints: strides },
          { name: 'dilations', ints: dilation },
          { name: 'group', i: 1 },
          ...padAttrs(cfg.padding as string, info.input_shape.slice(1, 3), window, strides, dilation),
        ]);
        flow = activation(g, { name: out, rank: 4, nchw: true }, cfg.activation as string, name);
        break;
      }
      case 'MaxPooling2D': {
        flow = toNchw(g, flow, name);
        const pool = cfg.pool_size as number[];
        const strides = (cfg.strides as number[] | null) ?? pool;
        flow = {
          ...flow,
          name: g.node('MaxPool', [flow.name], `${name}/maxpool`, [
            { name: 'kernel_shape', ints: pool },
            { name: 'strides', ints: strides },
            ...padAttrs(cfg.padding as string, info.input_shape.slice(1, 3), pool, strides, [1, 1]),
          ]),
        };
        break;
      }
      default: {
        const emit = layerKit(info.class_name)?.onnx;
        if (!emit) throw new ExportError('unsupported', `layer '${name}': ${info.class_name} has no ONNX export`);
        flow = toNhwc(g, flow, name);
        const weight = (short: string) => (vars[short] ? { shape: vars[short].shape, data: w(vars[short].name) } : null);
        const out = emit(cfg, name, { input: flow.name, input_shape: info.input_shape, weight, node: (...a) => g.node(...a), floats: (...a) => g.floats(...a) });
        flow = { name: out, rank: info.output_shape.length, nchw: false };
      }
    }
  });
  flow = toNhwc(g, flow, 'output');
  g.nodes.push({ op: 'Identity', inputs: [flow.name], output: ONNX_OUTPUT, name: ONNX_OUTPUT });

  const outputShape = layers.at(-1)!.output_shape;
  return onnxModelProto(g, {
    graphName: spec.config.name,
    doc: `${spec.config.name}: exported by Layerbench from a Keras Sequential spec (inference mode)`,
    producerVersion: options.producerVersion,
    inputs: [{ name: ONNX_INPUT, dims: inputShape }],
    outputs: [{ name: ONNX_OUTPUT, dims: outputShape }],
  });
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
