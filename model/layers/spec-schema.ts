/**
 * The model spec checked field by field: each layer against its kit's schema (a union discriminated
 * on class_name). `ModelSpecSchema` (`model/spec.ts`) stays permissive because the editor stores what
 * the user typed ('abc' in units) for `summarize()` to report at the field, and projects and the
 * autosave keep such specs; a spec on its way to be trained has passed `summarize()` and must
 * also pass this.
 */
import { z } from 'zod';
import type { ModelSpec } from '../spec';
import { ALL_KITS } from './all';

type LayerSchemas = [z.ZodObject<{ class_name: z.ZodLiteral<string> }>, ...z.ZodObject<{ class_name: z.ZodLiteral<string> }>[]];

export const KitLayerSpecSchema = z.discriminatedUnion('class_name', ALL_KITS.map((k) => k.schema) as unknown as LayerSchemas);

export const CheckedModelSpecSchema: z.ZodType<ModelSpec> = z.object({
  class_name: z.literal('Sequential'),
  config: z.object({ name: z.string().min(1), layers: z.array(KitLayerSpecSchema) }),
}) as unknown as z.ZodType<ModelSpec>;
