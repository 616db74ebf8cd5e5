/** Reshape and Flatten: the values as they are in another shape; the gradient goes back in the input's shape. */
import type { Backward, LayerInput, StepLayer } from './graph';

function backToInputShape({ c: { g }, info, input, needDx }: LayerInput): Backward {
  return (dy) => (needDx ? g.node('Reshape', [dy, g.node('Shape', [input], `${info.name}/shape`)], `${info.name}/dx`) : null);
}

export const flattenLayer: StepLayer = {
  support: () => null,
  build: (l) => ({ y: l.c.g.node('Flatten', [l.input], `${l.info.name}/flatten`, [{ name: 'axis', i: 1 }]), back: backToInputShape(l) }),
};

export const reshapeLayer: StepLayer = {
  support: () => null,
  build: (l) => {
    // 0 keeps the batch size; the rest is the layer's resolved output shape.
    const shape = l.c.g.int64s(`${l.info.name}/target`, [0, ...(l.info.output_shape.slice(1) as number[])]);
    return { y: l.c.g.node('Reshape', [l.input, shape], `${l.info.name}/reshape`), back: backToInputShape(l) };
  },
};
