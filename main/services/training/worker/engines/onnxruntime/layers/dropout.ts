/** Dropout and AlphaDropout with keep masks fed as inputs (drawn as forward.ts draws them: dropout-masks.ts). */
import type { DropoutMask } from '../step-graph';
import { SELU_ALPHA, SELU_SCALE } from './activation';
import type { Ctx, StepLayer } from './graph';

/** Inverted dropout as forward.ts' seededDropout: x·(keep/(1 − rate)). */
function dropout(c: Ctx, name: string, x: string, keep: string, rate: number): { y: string; dydx: string } {
  const scaled = c.g.node('Div', [keep, c.k.of(1 - rate)], `${name}/scaled_keep`);
  return { y: c.g.node('Mul', [x, scaled], `${name}/y`), dydx: scaled };
}

/** Keras' AlphaDropout as forward.ts' seededAlphaDropout: (x·keep + (1 − keep)·α′)·a + b, α′ = −λα; dy/dx = keep·a. */
function alphaDropout(c: Ctx, name: string, x: string, keep: string, rate: number): { y: string; dydx: string } {
  const { g, k } = c;
  const alphaP = -SELU_ALPHA * SELU_SCALE;
  const a = ((1 - rate) * (1 + rate * alphaP ** 2)) ** -0.5;
  const b = -a * alphaP * rate;
  const kept = g.node('Mul', [x, keep], `${name}/kept`);
  const dropped = g.node('Mul', [g.node('Sub', [k.of(1), keep], `${name}/drop`), k.of(alphaP)], `${name}/saturated`);
  const y = g.node('Add', [g.node('Mul', [g.node('Add', [kept, dropped], `${name}/mixed`), k.of(a)], `${name}/affine`), k.of(b)], `${name}/y`);
  return { y, dydx: g.node('Mul', [keep, k.of(a)], `${name}/dydx`) };
}

export const dropoutLayer: StepLayer = {
  support: () => null,
  build: ({ c, info, cfg, input, needDx, masks }) => {
    const name = info.name;
    const rate = cfg.rate as number;
    // forward.ts applies no dropout at rate 0 (or 1 and above, which Keras refuses).
    if (!(rate > 0 && rate < 1)) return { y: input, back: (dy) => dy };
    const mask: DropoutMask = {
      layer: name,
      input: c.g.unique(`${name}/keep`),
      // A mask for an image batch is drawn flat, as many uniform values in the same order as forward.ts' draw over the image shape.
      features: (info.input_shape.slice(1) as number[]).reduce((a, b) => a * b, 1),
      rate,
      seed: typeof cfg.seed === 'number' ? cfg.seed : null,
    };
    masks.push(mask);
    const keep = info.input_shape.length === 2 ? mask.input : c.g.node('Reshape', [mask.input, c.g.node('Shape', [input], `${name}/shape`)], `${name}/keep_shaped`);
    const out = info.class_name === 'Dropout' ? dropout(c, name, input, keep, rate) : alphaDropout(c, name, input, keep, rate);
    return { y: out.y, back: (dy) => (needDx ? c.g.node('Mul', [dy, out.dydx], `${name}/dx`) : null) };
  },
};
