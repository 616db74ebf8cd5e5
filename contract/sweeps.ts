/**
 * Experiments (#17): a sweep is a grid over training settings and layer fields, each grid point (an
 * arm) trained with N seeds, in the spirit of W&B sweeps. The same shapes serve the sweep file the CLI
 * reads, the app's `sweeps.*` commands, the local persisted queue and the Redis queue's jobs.
 */
import { z } from 'zod';
import { CheckedModelSpecSchema as ModelSpecSchema } from '../model/layers/spec-schema';
import { RunIdSchema, TrainingSettingsSchema } from './training';

/** What a sweep ranks its arms by: an epoch record's metric, at the run's last epoch. */
export const SweepMetricSchema = z.enum(['val_accuracy', 'val_loss', 'accuracy', 'loss']);
export type SweepMetric = z.infer<typeof SweepMetricSchema>;

export const GridValueSchema = z.union([z.string().max(200), z.number().finite(), z.boolean(), z.null()]);
export type GridValue = z.infer<typeof GridValueSchema>;

/**
 * Grid keys: `training.<setting path>` (training.learningRate, training.optimizer.class_name, …),
 * `layers[<ClassName>].<field>` (that field of every layer of the class), `layers[<index>].<field>`,
 * or `bn_position` ('before' | 'after': BatchNormalization before or after each activation, a named
 * transform of the stack). Values are Keras' vocabulary ('he_normal' as Keras writes it).
 */
export const SweepGridSchema = z.record(z.string().min(1).max(200), z.array(GridValueSchema).min(1).max(50));
export type SweepGrid = z.infer<typeof SweepGridSchema>;

/** The sweep file (JSON or YAML); `project` is a project file path relative to the sweep file. */
export const SweepFileSchema = z
  .object({
    name: z.string().min(1).max(200).optional(),
    project: z.string().min(1).max(4096),
    seeds: z.number().int().min(1).max(20).default(3),
    metric: SweepMetricSchema.default('val_accuracy'),
    grid: SweepGridSchema,
  })
  .strict();
export type SweepFile = z.infer<typeof SweepFileSchema>;

export const SweepIdSchema = z.string().regex(/^[A-Za-z0-9._-]{1,80}$/, 'a sweep id is letters, digits, ".", "_" or "-"');

/** One grid point: the grid values that define it, by grid key. */
export const ArmSchema = z.object({
  armId: z.string().min(1).max(80),
  settings: z.record(z.string(), GridValueSchema),
});
export type Arm = z.infer<typeof ArmSchema>;

/** One run of a sweep: an arm at a seed, with the spec and settings it trains (the grid applied to the base). */
export const SweepJobSchema = z.object({
  sweepId: SweepIdSchema,
  armId: z.string().min(1).max(80),
  seed: z.number().int().min(0),
  /** The run's name: the arm's settings and the seed, for the Runs view. */
  name: z.string().min(1).max(200),
  spec: ModelSpecSchema,
  settings: TrainingSettingsSchema,
});
export type SweepJob = z.infer<typeof SweepJobSchema>;

export const SweepJobStatusSchema = z.enum(['queued', 'running', 'finished', 'failed', 'stopped']);

export const SweepJobStateSchema = z.object({
  armId: z.string(),
  seed: z.number().int(),
  status: SweepJobStatusSchema,
  runId: RunIdSchema.nullable(),
  /** 1 for the first try; a job retried after its agent died counts up (its earlier records are kept under the attempt). */
  attempt: z.number().int().min(1),
  /** Where it ran: the agent's host name and backend (local runs: this machine). */
  agent: z.object({ host: z.string(), backend: z.string() }).nullable(),
  error: z.string().nullable(),
});
export type SweepJobState = z.infer<typeof SweepJobStateSchema>;

/** One row of the results table: an arm, its runs and its metrics' mean and sample sd over the seeds that finished. */
export const ArmResultSchema = ArmSchema.extend({
  runs: z.array(RunIdSchema),
  mean: z.record(z.string(), z.number()),
  sd: z.record(z.string(), z.number()),
});
export type ArmResult = z.infer<typeof ArmResultSchema>;

function parsesAsUrl(text: string): boolean {
  try {
    new URL(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * A Redis URL for a sweep across machines: `redis://` or `rediss://` (TLS), a user and password
 * allowed (`redis://user:password@host:6379/0`). Hosts never send the password back: summaries hold
 * the URL with it replaced by `***`.
 */
export const RedisUrlSchema = z
  .string()
  .trim()
  .min(1)
  .max(2048)
  .refine((url) => /^rediss?:\/\/[^\s/?#]+/i.test(url) && parsesAsUrl(url), 'a Redis URL looks like redis://[user:password@]host:6379[/db], or rediss:// for TLS');

/** Where a sweep's runs train: the app's own worker (default), or the agents that take jobs from a Redis queue. */
export const SweepQueueChoiceSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('local') }).strict(),
  z.object({ kind: z.literal('redis'), url: RedisUrlSchema }).strict(),
]);
export type SweepQueueChoice = z.infer<typeof SweepQueueChoiceSchema>;

export const SweepStatusSchema = z.enum(['queued', 'running', 'finished', 'stopped', 'failed']);

export const SweepSummarySchema = z.object({
  sweepId: SweepIdSchema,
  name: z.string(),
  status: SweepStatusSchema,
  createdAt: z.string(),
  metric: SweepMetricSchema,
  seeds: z.number().int(),
  grid: SweepGridSchema,
  /** 'local': the app's own training worker; 'redis': agents on other machines. */
  queue: z.enum(['local', 'redis']),
  /** A Redis sweep's queue, its password replaced by `***`. */
  redisUrl: z.string().optional(),
  total: z.number().int(),
  finished: z.number().int(),
  failed: z.number().int(),
});
export type SweepSummary = z.infer<typeof SweepSummarySchema>;

export const SweepDetailSchema = z.object({
  summary: SweepSummarySchema,
  jobs: z.array(SweepJobStateSchema),
  arms: z.array(ArmResultSchema),
});
export type SweepDetail = z.infer<typeof SweepDetailSchema>;

export const StartSweepSchema = z
  .object({
    name: z.string().min(1).max(200).optional(),
    base: z.object({ spec: ModelSpecSchema, settings: TrainingSettingsSchema }),
    grid: SweepGridSchema,
    seeds: z.number().int().min(1).max(20).default(3),
    metric: SweepMetricSchema.default('val_accuracy'),
    queue: SweepQueueChoiceSchema.default({ kind: 'local' }),
  })
  .strict();
export type StartSweep = z.infer<typeof StartSweepSchema>;

const bySweep = z.object({ sweepId: SweepIdSchema }).strict();

export const sweepCommands = {
  'sweeps.start': { request: StartSweepSchema, response: z.object({ sweepId: SweepIdSchema }) },
  'sweeps.list': { request: z.object({}).strict(), response: z.object({ sweeps: z.array(SweepSummarySchema) }) },
  'sweeps.get': { request: bySweep, response: SweepDetailSchema },
  'sweeps.stop': { request: bySweep, response: z.object({ stopped: z.boolean() }) },
} as const;

/** Sent whenever a sweep's job changes state (the runs themselves stream as training events). */
export const SweepProgressSchema = SweepSummarySchema;
