/**
 * The model spec: a serialisable description of a Sequential model written in Keras' own
 * config vocabulary (`class_name` + `config`, snake_case keys as Keras writes them).
 * A spec *is* Keras / TF.js topology JSON (`model.to_json()` / `model.toJSON()`), so it imports,
 * exports and builds in tfjs (`tf.models.modelFromJSON`) without a translation table.
 *
 * The schemas here are deliberately permissive about values (a user mid-edit may type 0 or -3):
 * `summarize()` reports bad values at the offending layer instead of rejecting the whole spec.
 */
import { z } from 'zod';

export const InitializerSpecSchema = z.object({
  class_name: z.string().min(1),
  config: z.record(z.string(), z.unknown()).default({}),
});
export type InitializerSpec = z.infer<typeof InitializerSpecSchema>;

export const LayerSpecSchema = z.object({
  class_name: z.string().min(1),
  config: z.looseObject({ name: z.string().min(1) }),
});
export type LayerSpec = z.infer<typeof LayerSpecSchema>;

export const ModelSpecSchema = z.object({
  class_name: z.literal('Sequential'),
  config: z.object({
    name: z.string().min(1),
    layers: z.array(LayerSpecSchema),
  }),
});
export type ModelSpec = z.infer<typeof ModelSpecSchema>;

/** Keras' serialised form of an initializer by its Keras name. */
export function initializer(className: string, config: Record<string, unknown> = {}): InitializerSpec {
  return { class_name: className, config: { seed: null, ...config } };
}

/** A Sequential model's spec: its name and layers in Keras' `{class_name, config}` form. */
export function sequential(name: string, layers: LayerSpec[]): ModelSpec {
  return { class_name: 'Sequential', config: { name, layers } };
}
