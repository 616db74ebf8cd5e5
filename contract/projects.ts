/**
 * Project files: a model and its training settings in a versioned JSON format. The model is stored
 * as Keras topology JSON, so the file's `model` can be handed to Keras or TF.js as it is.
 */
import { z } from 'zod';
import { DraftModelSpecSchema } from '../model/layers/spec-schema';
import { TrainingSettingsSchema } from './training';

export const PROJECT_FORMAT = 'layerbench.project';
/** The newest project format this build reads and writes. */
export const PROJECT_VERSION = 1;

export const ProjectSchema = z.object({
  format: z.literal(PROJECT_FORMAT),
  version: z.literal(PROJECT_VERSION),
  /** The editor's draft, problems and all: a project is saved mid-edit. */
  model: DraftModelSpecSchema,
  training: TrainingSettingsSchema,
});
export type Project = z.infer<typeof ProjectSchema>;

const path = z.string().min(1).max(4096);

export const RecentProjectSchema = z.object({ path, openedAt: z.string() });
export const RecoverySchema = z.object({ project: ProjectSchema, path: path.nullable(), savedAt: z.string() });
export type Recovery = z.infer<typeof RecoverySchema>;

export const projectCommands = {
  'projects.open': { request: z.object({ path }).strict(), response: z.object({ path, project: ProjectSchema }) },
  /** Without `overwrite`, an existing file is left alone and `saved: false` asks the UI to confirm. */
  'projects.save': {
    request: z.object({ path, project: ProjectSchema, overwrite: z.boolean() }).strict(),
    response: z.discriminatedUnion('saved', [z.object({ saved: z.literal(true), path }), z.object({ saved: z.literal(false), reason: z.literal('exists'), path })]),
  },
  'projects.recent': { request: z.object({}).strict(), response: z.object({ projects: z.array(RecentProjectSchema) }) },
  'projects.autosave': { request: z.object({ project: ProjectSchema, path: path.nullable() }).strict(), response: z.object({ savedAt: z.string() }) },
  'projects.recovery': { request: z.object({}).strict(), response: z.object({ recovery: RecoverySchema.nullable() }) },
  'projects.discardRecovery': { request: z.object({}).strict(), response: z.object({ discarded: z.boolean() }) },
} as const;
