/**
 * Sweeps on disk, one folder per sweep under `<data>/sweeps/<sweepId>/`:
 *   sweep.json   what the sweep is (grid, seeds, metric, arms and every job's spec and settings): written once
 *   jobs.json    where it stands (its status, each job's state, the process running it): rewritten atomically
 *   redis-url    a Redis sweep's queue URL, password included (mode 0600: only the user reads it), to follow it after a restart
 *   .heartbeat   touched by the process running it (runs/owner.ts: judges liveness where there is no /proc)
 * Both files are written atomically (temp file + rename), as run.json is: a kill leaves the old or the new one.
 */
import { mkdir, stat, utimes, writeFile } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { z } from 'zod';
import { ArmSchema, SweepGridSchema, SweepIdSchema, SweepJobSchema, SweepJobStateSchema, SweepMetricSchema, SweepStatusSchema } from '../../../contract/sweeps';
import { RunIdSchema } from '../../../contract/training';
import { DomainError, formatIssues } from '../../../contract/wire';
import { writeFileAtomic } from '../files/atomic';
import { entriesOrNone } from '../files/subfolders';
import { FileReadError, printable, readTextBounded } from '../files/bounded-read';
import { currentOwner, HEARTBEAT_FILE, HEARTBEAT_MS, ownerAlive, type RunOwner } from '../runs/owner';

export const SWEEP_FORMAT = 'layerbench.sweep';
export const SWEEP_VERSION = 1;
const REDIS_URL_FILE = 'redis-url';

const OwnerSchema = z.object({ pid: z.number().int(), hostname: z.string(), startTime: z.string().nullable() });

export const SweepRecordSchema = z.object({
  format: z.literal(SWEEP_FORMAT),
  version: z.literal(SWEEP_VERSION),
  sweepId: SweepIdSchema,
  name: z.string(),
  createdAt: z.string(),
  metric: SweepMetricSchema,
  seeds: z.number().int().min(1),
  grid: SweepGridSchema,
  /** Where its runs train: the local worker, or agents taking jobs from a Redis queue (URL in `redis-url`). */
  queue: z.enum(['local', 'redis']).default('local'),
  /** A Redis sweep's URL with its password replaced by `***`, for summaries. */
  redisUrl: z.string().optional(),
  /** The jobs' definitions hashed (expand.ts): the same sweep file started again finds this sweep to resume. */
  definitionHash: z.string(),
  arms: z.array(ArmSchema.extend({ name: z.string() })),
  jobs: z.array(SweepJobSchema),
});
export type SweepRecord = z.infer<typeof SweepRecordSchema>;

/** A job's state, plus the runs of its earlier attempts (kept, listed as interrupted). */
export const JobRecordSchema = SweepJobStateSchema.extend({ earlierRuns: z.array(RunIdSchema).default([]) });
export type JobRecord = z.infer<typeof JobRecordSchema>;

export const SweepStateSchema = z.object({
  status: SweepStatusSchema,
  /** The process running the sweep (null when none is). */
  owner: OwnerSchema.nullable(),
  updatedAt: z.string(),
  jobs: z.array(JobRecordSchema),
});
export type SweepState = z.infer<typeof SweepStateSchema>;

export class SweepStore {
  readonly dir: string;

  constructor(sweepsDir: string) {
    this.dir = resolve(sweepsDir);
  }

  sweepDir(sweepId: string): string {
    if (!SweepIdSchema.safeParse(sweepId).success || sweepId.startsWith('.')) throw new DomainError('invalid-input', `Invalid sweep id ${JSON.stringify(sweepId)}`);
    const dir = resolve(this.dir, sweepId);
    if (!dir.startsWith(this.dir + sep)) throw new DomainError('invalid-input', `Invalid sweep id ${JSON.stringify(sweepId)}`);
    return dir;
  }

  /** `redisUrl`: a Redis sweep's URL, written (mode 0600) before the files that make the sweep listed. */
  async create(record: SweepRecord, state: SweepState, redisUrl?: string): Promise<void> {
    const dir = this.sweepDir(record.sweepId);
    await mkdir(this.dir, { recursive: true });
    try {
      await mkdir(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new DomainError('exists', `Sweep ${record.sweepId} already exists`);
      throw error;
    }
    if (redisUrl !== undefined) await this.writeRedisUrl(record.sweepId, redisUrl);
    // jobs.json first: a folder with sweep.json always has a state to read.
    await this.writeState(record.sweepId, state);
    await writeFileAtomic(join(dir, 'sweep.json'), `${JSON.stringify(record)}\n`);
  }

  async ids(): Promise<string[]> {
    const entries = await entriesOrNone(this.dir);
    return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.') && SweepIdSchema.safeParse(e.name).success).map((e) => e.name);
  }

  record(sweepId: string): Promise<SweepRecord> {
    return this.read(sweepId, 'sweep.json', SweepRecordSchema);
  }

  state(sweepId: string): Promise<SweepState> {
    return this.read(sweepId, 'jobs.json', SweepStateSchema);
  }

  /** Both files, checked against each other (one job state per job, in order). */
  async load(sweepId: string): Promise<{ record: SweepRecord; state: SweepState }> {
    const [record, state] = await Promise.all([this.record(sweepId), this.state(sweepId)]);
    const mismatch = record.jobs.length !== state.jobs.length || record.jobs.some((job, i) => job.armId !== state.jobs[i]!.armId || job.seed !== state.jobs[i]!.seed);
    if (mismatch) throw new DomainError('invalid-input', `Sweep ${sweepId} is damaged: jobs.json does not list the jobs of sweep.json`);
    return { record, state };
  }

  async writeState(sweepId: string, state: SweepState): Promise<void> {
    state.updatedAt = new Date().toISOString();
    await writeFileAtomic(join(this.sweepDir(sweepId), 'jobs.json'), `${JSON.stringify(SweepStateSchema.parse(state))}\n`);
  }

  /** A Redis sweep's URL, readable by the user only: it may hold the Redis password. */
  async writeRedisUrl(sweepId: string, url: string): Promise<void> {
    await writeFileAtomic(join(this.sweepDir(sweepId), REDIS_URL_FILE), url, 0o600);
  }

  async readRedisUrl(sweepId: string): Promise<string> {
    try {
      return (await readTextBounded(join(this.sweepDir(sweepId), REDIS_URL_FILE), { what: 'sweep redis-url' })).trim();
    } catch (error) {
      if (error instanceof FileReadError && error.code === 'not-found') throw new DomainError('not-found', `Redis sweep ${sweepId} has no ${REDIS_URL_FILE}`);
      throw error;
    }
  }

  /** Marks the sweep as run by this process: 'running', owned, its heartbeat touched until the returned function is called. */
  async claim(sweepId: string, state: SweepState): Promise<() => void> {
    state.status = 'running';
    state.owner = currentOwner();
    await this.touchHeartbeat(sweepId);
    const heartbeat = setInterval(() => void this.touchHeartbeat(sweepId).catch(() => {}), HEARTBEAT_MS);
    heartbeat.unref();
    return () => clearInterval(heartbeat);
  }

  /** Marks the running process as alive for other processes' ownerAlive (where there is no /proc). */
  async touchHeartbeat(sweepId: string): Promise<void> {
    const path = join(this.sweepDir(sweepId), HEARTBEAT_FILE);
    const now = new Date();
    await utimes(path, now, now).catch(() => writeFile(path, ''));
  }

  /** Whether another live process runs the sweep. */
  async ownedElsewhere(sweepId: string, owner: RunOwner | null): Promise<boolean> {
    if (!owner || owner.pid === process.pid) return false;
    const beat = await stat(join(this.sweepDir(sweepId), HEARTBEAT_FILE)).then(
      (s) => s.mtimeMs,
      () => 0,
    );
    return ownerAlive(owner, beat);
  }

  private async read<T>(sweepId: string, file: string, schema: z.ZodType<T>): Promise<T> {
    const path = join(this.sweepDir(sweepId), file);
    let text: string;
    try {
      text = await readTextBounded(path, { what: `sweep ${file}` });
    } catch (error) {
      if (error instanceof FileReadError && error.code === 'not-found') throw new DomainError('not-found', `Sweep ${sweepId} does not exist (or has no ${file})`);
      throw error;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new DomainError('invalid-input', `Sweep ${sweepId} is damaged: ${file} is not valid JSON (${printable((error as Error).message)})`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new DomainError('invalid-input', `Sweep ${sweepId} is damaged: ${file} is invalid: ${formatIssues(parsed.error).slice(0, 5).join('; ')}`);
    return parsed.data;
  }
}
