/** Flatten: [N, …] → [N, features]; its gradient is the upstream one in the input's shape. */
import type { StepLayer } from './graph';

export const flattenLayer: StepLayer = {
  support: () => null,
  build: ({ c: { g }, info, input, needDx }) => ({
    y: g.node('Flatten', [input], `${info.name}/flatten`, [{ name: 'axis', i: 1 }]),
    back: (dy) => (needDx ? g.node('Reshape', [dy, g.node('Shape', [input], `${info.name}/shape`)], `${info.name}/dx`) : null),
  }),
};
