/** Inspecting a model's variables: built in the training worker, with freshly initialised weights. */
import { z } from 'zod';
import { DraftModelSpecSchema } from '../model/layers/spec-schema';

export const VariableStatsSchema = z.object({
  /** Keras' variable name, e.g. `dense/kernel` or `batch_normalization/moving_mean`. */
  name: z.string(),
  shape: z.array(z.number().int()),
  trainable: z.boolean(),
  mean: z.number(),
  std: z.number(),
  min: z.number(),
  max: z.number(),
});
export type VariableStats = z.infer<typeof VariableStatsSchema>;

export const ModelInspectionSchema = z.object({
  backend: z.string(),
  layers: z.array(z.object({ name: z.string(), class_name: z.string(), variables: z.array(VariableStatsSchema) })),
});
export type ModelInspection = z.infer<typeof ModelInspectionSchema>;

export const modelCommands = {
  /** A draft: its field problems come back as the service's invalid-input error, naming each field. */
  'model.inspect': { request: z.object({ spec: DraftModelSpecSchema }).strict(), response: ModelInspectionSchema },
} as const;
