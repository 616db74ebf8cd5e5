/**
 * The model spec at the API boundary, each layer checked against its kit (a union discriminated on
 * class_name), in two strengths:
 *
 * - `CheckedModelSpecSchema`: every field has its kit's JSON type. A spec to be trained (the
 *   `training.start` command, the worker's `train` message) or one a run holds.
 * - `DraftModelSpecSchema`: a field may also hold what the property panel stores mid-edit ('abc' in
 *   units, an emptied field), for `summarize()` to report at the field. Projects, the autosave and
 *   `model.inspect` carry drafts.
 *
 * Both refuse a layer type no kit knows, a value of a type the field never holds, NaN and Infinity,
 * and lists past `MAX_RANK` / `MAX_LAYERS`. Value ranges (units ≥ 1, momentum in [0, 1]) are the kits'
 * `validate`, which names the field. `ModelSpecSchema` (`model/spec.ts`) checks the structure only,
 * for files read back from disk, whose problems `summarize()` reports.
 */
import { z } from 'zod';
import type { ModelSpec } from '../spec';
import { ALL_KITS } from './all';
import { MAX_LAYERS, MAX_TEXT } from './fields';
import type { LayerKit } from './kit';

type LayerSchemas = [z.ZodObject<{ class_name: z.ZodLiteral<string> }>, ...z.ZodObject<{ class_name: z.ZodLiteral<string> }>[]];

function modelSchema(layer: (kit: LayerKit) => z.ZodObject) {
  const layers = z.discriminatedUnion('class_name', ALL_KITS.map((k) => layer(k as LayerKit)) as unknown as LayerSchemas);
  return {
    layers,
    model: z.object({
      class_name: z.literal('Sequential'),
      config: z.object({ name: z.string().min(1).max(MAX_TEXT), layers: z.array(layers).max(MAX_LAYERS) }),
    }) as unknown as z.ZodType<ModelSpec>,
  };
}

const checked = modelSchema((k) => k.schema);
export const KitLayerSpecSchema = checked.layers;
export const CheckedModelSpecSchema = checked.model;
export const DraftModelSpecSchema = modelSchema((k) => k.draftSchema).model;
