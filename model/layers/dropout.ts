/** Dropout: drops a fraction of the inputs in training (identity at inference). */
import { z } from 'zod';
import { checkRate, checkSeedAndNoise, identity } from './checks';
import type { LayerKitDef } from './kit';
import { defineKit } from './registry';

/** Dropout's definition, which AlphaDropout shares under its own name and blurb. */
export function dropoutDef<C extends 'Dropout' | 'AlphaDropout'>(class_name: C, blurb: string, glyph: string): LayerKitDef<C> {
  return {
    class_name,
    palette: { category: 'regularize', blurb, glyph },
    defaults: () => ({ rate: 0.5, noise_shape: null, seed: null }),
    required: ['rate'],
    caption: (c, f) => [`rate ${f.value(c.rate ?? 0.5)}`],
    shapeFields: [],
    initializerFields: [],
    fields: { noise_shape: { kind: 'list', placeholder: 'empty: none', hint: 'Shape of the dropout mask (not supported: must be empty)', hidden: true, type: z.null() } },
    validate: (cfg, report) => {
      checkRate(cfg, report);
      checkSeedAndNoise(cfg, report);
    },
    build: identity,
    // Identity at inference: nothing to compute, in whichever layout the tensor is.
    onnxLayout: 'either',
    onnx: (_cfg, _name, e) => e.input,
    pythonCall: (cfg) => ({
      class_name,
      args: [
        ['rate', cfg.rate],
        ['seed', cfg.seed ?? null],
      ],
    }),
  };
}

export const dropout = defineKit(dropoutDef('Dropout', 'Randomly drops inputs', 'Dr'));
