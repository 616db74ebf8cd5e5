/**
 * ONNX pieces several kits share: activations, and TensorFlow's 'same' padding as explicit pads, so
 * strided and dilated convolutions and poolings match Keras exactly. Pure data (node and attribute
 * names); the exporter (`main/services/export/onnx.ts`) writes the graph.
 */
import { LEAKY_RELU_SLOPE } from './checks';
import type { OnnxAttr, OnnxEmitter } from './kit';

/**
 * A Keras activation applied to `input` (in the emitter's layout): returns the output's name.
 * Softmax runs over Keras' last axis, which an NCHW tensor holds at 1.
 */
export function onnxActivation(e: OnnxEmitter, input: string, fn: string, layer: string): string {
  const unary = (op: string, attrs?: OnnxAttr[]) => e.node(op, [input], `${layer}/${op.toLowerCase()}`, attrs);
  switch (fn) {
    case 'linear':
      return input;
    case 'relu':
      return unary('Relu');
    case 'elu':
      return unary('Elu', [{ name: 'alpha', f: 1 }]);
    case 'selu':
      // ONNX's defaults are Keras' constants (alpha 1.6732632, gamma 1.0507010) in float32.
      return unary('Selu');
    case 'leaky_relu':
      return unary('LeakyRelu', [{ name: 'alpha', f: LEAKY_RELU_SLOPE }]);
    case 'tanh':
      return unary('Tanh');
    case 'sigmoid':
      return unary('Sigmoid');
    case 'softmax':
      return unary('Softmax', [{ name: 'axis', i: e.nchw ? 1 : -1 }]);
    case 'swish':
    case 'silu':
      return e.node('Mul', [input, e.node('Sigmoid', [input], `${layer}/sigmoid`)], `${layer}/swish`);
    default:
      return e.unsupported(`layer '${layer}': activation '${fn}' has no ONNX export`);
  }
}

/** TensorFlow's SAME padding: the total split with the extra pixel at the end. */
export function samePads(input: number, window: number, stride: number, dilation: number): [number, number] {
  const out = Math.ceil(input / stride);
  const effective = (window - 1) * dilation + 1;
  const total = Math.max((out - 1) * stride + effective - input, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/** Conv / MaxPool's pads [top, left, bottom, right], or an auto_pad attribute when the spatial size is unknown. */
export function onnxPadAttrs(padding: string, inputHW: (number | null)[], window: number[], strides: number[], dilation: number[]): OnnxAttr[] {
  if (padding !== 'same') return [{ name: 'pads', ints: [0, 0, 0, 0] }];
  if (inputHW.some((d) => d === null)) return [{ name: 'auto_pad', s: 'SAME_UPPER' }];
  const [t, b] = samePads(inputHW[0]!, window[0]!, strides[0]!, dilation[0]!);
  const [l, r] = samePads(inputHW[1]!, window[1]!, strides[1]!, dilation[1]!);
  return [{ name: 'pads', ints: [t, l, b, r] }];
}
