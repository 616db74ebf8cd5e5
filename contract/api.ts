/**
 * The one API contract between the renderer and the services, in the style of GitHub Desktop's
 * typed channel maps: every command and event stream is named here with its zod schemas, and the
 * TypeScript types are inferred from them. Main, preload, the serve host and the renderer all import
 * this file; each side validates what it receives.
 */
import { z } from 'zod';
import { BackendReportSchema, RunIdSchema, StartTrainingSchema, TrainingEventSchema } from './training';
import { DatasetImportProgressSchema, DatasetProgressSchema, datasetCommands } from './datasets';
import { projectCommands } from './projects';
import { modelCommands } from './model';
import { runCommands } from './runs';
import { SweepProgressSchema, sweepCommands } from './sweeps';

const empty = z.object({}).strict();

export const commands = {
  'app.info': {
    request: empty,
    response: z.object({
      name: z.string(),
      version: z.string(),
      host: z.enum(['electron', 'browser']),
      platform: z.string(),
      /** Where new projects are suggested to go (created on first save). */
      projectsDir: z.string(),
    }),
  },
  'training.backends': { request: empty, response: BackendReportSchema },
  'training.start': { request: StartTrainingSchema, response: z.object({ runId: RunIdSchema }) },
  'training.stop': { request: z.object({ runId: RunIdSchema }).strict(), response: z.object({ stopped: z.boolean() }) },
  ...datasetCommands,
  ...projectCommands,
  ...modelCommands,
  ...runCommands,
  ...sweepCommands,
} as const;

export const events = {
  training: TrainingEventSchema,
  'datasets.progress': DatasetProgressSchema,
  'datasets.importProgress': DatasetImportProgressSchema,
  'sweeps.progress': SweepProgressSchema,
} as const;

export type Commands = typeof commands;
export type CommandName = keyof Commands;
export type CommandRequest<N extends CommandName> = z.input<Commands[N]['request']>;
export type CommandResponse<N extends CommandName> = z.output<Commands[N]['response']>;
export type EventName = keyof typeof events;
export type EventPayload<E extends EventName> = z.output<(typeof events)[E]>;

export const commandNames = Object.keys(commands) as CommandName[];
export const eventNames = Object.keys(events) as EventName[];

export function isCommandName(name: unknown): name is CommandName {
  return typeof name === 'string' && Object.hasOwn(commands, name);
}
export function isEventName(name: unknown): name is EventName {
  return typeof name === 'string' && Object.hasOwn(events, name);
}

/** What the renderer holds: the same interface whether it runs in Electron or in a browser. */
export interface LayerbenchApi {
  invoke<N extends CommandName>(name: N, request: CommandRequest<N>): Promise<CommandResponse<N>>;
  /** Subscribe to an event stream; returns the unsubscribe function. */
  on<E extends EventName>(name: E, listener: (payload: EventPayload<E>) => void): () => void;
}
