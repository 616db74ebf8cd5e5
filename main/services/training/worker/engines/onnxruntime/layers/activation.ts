/** Activations (Keras' names) with their derivatives, and the Activation layer. */
import type { Attr } from '../../../../../export/onnx';
import { LEAKY_RELU_SLOPE } from '../../../../../../../model/layers';
import type { ModelLayerInfo } from '../../../../../export/weights';
import { layerAt, rank2Input, type Cfg, type Ctx, type StepLayer } from './graph';

export const SELU_ALPHA = 1.6732632423543772;
export const SELU_SCALE = 1.0507009873554805;
const ACTIVATIONS = new Set(['linear', 'relu', 'elu', 'selu', 'leaky_relu', 'tanh', 'sigmoid', 'swish', 'silu']);

/** Why the layer's `activation` setting is outside the step (softmax only on the last layer), or null. */
export function activationSupport(info: ModelLayerInfo, cfg: Cfg, last: boolean): string | null {
  const fn = cfg.activation as string;
  if (fn === 'softmax' && !last) return `${layerAt(info)}: softmax before the last layer`;
  if (fn !== 'softmax' && !ACTIVATIONS.has(fn)) return `${layerAt(info)}: activation ${fn}`;
  return null;
}

/** An activation and its backward pass (dy → dz) in terms of its input z and output y. */
export function activate(c: Ctx, z: string, fn: string, layer: string): { y: string; back: (dy: string) => string } {
  const { g, k } = c;
  const n = (op: string, inputs: string[], attrs?: Attr[]) => g.node(op, inputs, `${layer}/${op.toLowerCase()}`, attrs);
  const scaled = (y: string, derivative: () => string) => ({ y, back: (dy: string) => n('Mul', [dy, derivative()]) });
  const positive = () => n('Greater', [z, k.of(0)]);
  switch (fn) {
    case 'linear':
      return { y: z, back: (dy) => dy };
    case 'relu':
      return { y: n('Relu', [z]), back: (dy) => n('Where', [positive(), dy, k.of(0)]) };
    case 'elu': {
      // y′ is 1 above zero and y + 1 below it: min(y, 0) + 1 (y > 0 exactly where z > 0).
      const y = n('Elu', [z], [{ name: 'alpha', f: 1 }]);
      return scaled(y, () => n('Add', [n('Min', [y, k.of(0)]), k.of(1)]));
    }
    case 'selu': {
      // ONNX's Selu defaults are Keras' constants; below zero the derivative is y + λα.
      const y = n('Selu', [z]);
      return scaled(y, () => n('Where', [positive(), k.of(SELU_SCALE), n('Add', [y, k.of(SELU_SCALE * SELU_ALPHA)])]));
    }
    case 'leaky_relu':
      return scaled(n('LeakyRelu', [z], [{ name: 'alpha', f: LEAKY_RELU_SLOPE }]), () => n('Where', [positive(), k.of(1), k.of(LEAKY_RELU_SLOPE)]));
    case 'tanh': {
      const y = n('Tanh', [z]);
      return scaled(y, () => n('Sub', [k.of(1), n('Mul', [y, y])]));
    }
    case 'sigmoid': {
      const y = n('Sigmoid', [z]);
      return scaled(y, () => n('Mul', [y, n('Sub', [k.of(1), y])]));
    }
    case 'swish':
    case 'silu': {
      // y = z·σ(z); y' = σ(z)·(1 + z·(1 − σ(z))).
      const s = n('Sigmoid', [z]);
      const y = n('Mul', [z, s]);
      return scaled(y, () => n('Mul', [s, n('Add', [k.of(1), n('Mul', [z, n('Sub', [k.of(1), s])])])]));
    }
    default:
      throw new Error(`activation ${fn} has no step-graph form`);
  }
}

export const activationLayer: StepLayer = {
  // Elementwise at any rank; the loss's softmax needs [N, classes].
  support: (info, cfg, last) => (last ? rank2Input(info) : null) ?? activationSupport(info, cfg, last),
  build: ({ c, info, cfg, input, needDx, last }) => {
    // A softmax on the last layer is the loss's: its input is the logits.
    if (last) return { y: input, logits: input, back: (dy) => dy };
    const act = activate(c, input, cfg.activation as string, info.name);
    return { y: act.y, activates: true, back: (dy) => (needDx ? act.back(dy) : null) };
  },
};
