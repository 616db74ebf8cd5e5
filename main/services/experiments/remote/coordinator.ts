/**
 * The coordinator side of a sweep across machines (`layerbench sweep --redis URL`): enqueues one
 * BullMQ job per run (its id `${sweepId}:${armId}:${seed}`, so running the sweep again never
 * enqueues a run twice and picks up where it was), reports the training events the agents stream
 * while they train, and stores each finished job's uploaded run folder as a normal run in
 * `dataDir/runs/<runId>` — once per job, however many agents attempted it. The records an attempt
 * streamed before its agent died are kept in the run folder under `attempts/<n>/`.
 *
 * Job states are read from Redis directly (state, return value, failure reason) rather than through
 * BullMQ's Job parser, and everything read is checked with zod: a garbage value fails its own job
 * with a clear error and never stops the sweep.
 */
import { readdir, readFile, rm, rmdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { formatIssues, SweepJobSchema, TrainingEventSchema, type SweepJob, type SweepJobState, type TrainingEvent } from '../../../../contract';
import { DomainError } from '../../../../contract/wire';
import { writeFileAtomic } from '../../files/atomic';
import { RunFileSchema, RunStore } from '../../runs/store';
import { checkRedis, openRedis } from './connection';
import {
  QUEUE_NAME,
  QUEUE_PREFIX,
  RecordEntrySchema,
  UploadManifestSchema,
  jobFolderName,
  recordStreamKey,
  sweepJobId,
  uploadKey,
  type Agent,
  type UploadManifest,
} from './protocol';
import { appendLines, downloadRunFolder, moveIntoPlace, uploadChunkKeys } from './run-transfer';

export type RemoteProgress =
  /** A job changed state (queued, running on an agent, finished, failed). */
  | { type: 'job'; jobId: string; state: SweepJobState }
  /** A training event of a run in progress, as its agent streamed it. */
  | { type: 'event'; jobId: string; armId: string; seed: number; attempt: number; agent: Agent; event: TrainingEvent }
  /** Something read from Redis was refused (and skipped); the sweep goes on. */
  | { type: 'warning'; message: string };

export interface RemoteSweepOptions {
  redis: string;
  /** The data folder whose `runs/` receives the finished runs. */
  dataDir: string;
  onProgress(progress: RemoteProgress): void;
  /** Stops waiting (the jobs stay queued: running the sweep again picks them up). */
  signal?: AbortSignal;
  /** How often job states are read (default 1 s). */
  pollMs?: number;
}

interface Tracked {
  job: SweepJob;
  jobId: string;
  state: SweepJobState;
  /** Folder of the attempts' streamed records, until the run is stored. */
  recordsDir: string;
  /** The job's end is being stored, or was: it is reported once. */
  settling: boolean;
  /** Its start count (BullMQ's `ats`) when its data in Redis was last checked. */
  dataCheckedAt: number | null;
}

const ENDED = new Set(['finished', 'failed', 'stopped']);
/** After a stop: how often it looks whether Redis is still connected, and how long at most it lets commands in flight finish. */
const STOP_GRACE_MS = 3_000;
const STOP_WAIT_MAX_MS = 30_000;
const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

export async function runRemoteSweep(jobs: SweepJob[], options: RemoteSweepOptions): Promise<SweepJobState[]> {
  const tracked = new Map<string, Tracked>();
  for (const raw of jobs) {
    const parsed = SweepJobSchema.safeParse(raw);
    if (!parsed.success) throw new DomainError('invalid-input', `sweep job ${JSON.stringify(raw?.armId)}: ${formatIssues(parsed.error).join('; ')}`);
    const job = parsed.data;
    const jobId = sweepJobId(job);
    if (tracked.has(jobId)) throw new DomainError('invalid-input', `two runs of the sweep have the same arm and seed: ${jobId}`);
    const state: SweepJobState = { armId: job.armId, seed: job.seed, status: 'queued', runId: null, attempt: 1, agent: null, error: null };
    tracked.set(jobId, { job, jobId, state, recordsDir: join(options.dataDir, 'remote-records', jobFolderName(jobId)), settling: false, dataCheckedAt: null });
  }
  const sweepIds = [...new Set([...tracked.values()].map((t) => t.job.sweepId))];
  if (sweepIds.length > 1) throw new DomainError('invalid-input', `the jobs belong to ${sweepIds.length} sweeps; a remote sweep runs one`);
  if (!tracked.size) return [];

  await checkRedis(options.redis);
  const warn = (message: string) => options.onProgress({ type: 'warning', message });
  const redis = openRedis(options.redis, warn);
  const reader = openRedis(options.redis, warn);
  const queue = new Queue(QUEUE_NAME, { connection: redis, prefix: QUEUE_PREFIX });
  // The connection's own handler reports its errors (openRedis); without a listener BullMQ prints them again.
  queue.on('error', () => {});
  // Commands wait for a reconnect (maxRetriesPerRequest: null), so a stop while Redis is gone would wait
  // forever: once stopped, the connections are closed when Redis is not connected at a grace period's
  // end (a run's download in progress on a live connection may finish, for STOP_WAIT_MAX_MS at most),
  // and what waits on them fails.
  let cut: NodeJS.Timeout | undefined;
  const cutOnStop = () => {
    const giveUpAt = Date.now() + STOP_WAIT_MAX_MS;
    const check = () => {
      if (redis.status === 'ready' && Date.now() < giveUpAt) return void (cut = setTimeout(check, STOP_GRACE_MS));
      reader.disconnect();
      redis.disconnect();
    };
    cut = setTimeout(check, STOP_GRACE_MS);
  };
  options.signal?.addEventListener('abort', cutOnStop, { once: true });
  const runs = new RunStore(options.dataDir);
  await runs.recoverInterrupted();
  const report = (t: Tracked, change: Partial<SweepJobState>) => {
    const next = { ...t.state, ...change };
    if (JSON.stringify(next) === JSON.stringify(t.state)) return;
    t.state = next;
    options.onProgress({ type: 'job', jobId: t.jobId, state: next });
  };

  try {
    await queue.addBulk([...tracked.values()].map((t) => ({ name: 'train', data: t.job, opts: { jobId: t.jobId, attempts: 1, removeOnComplete: false, removeOnFail: false } })));
    const stopped = new Promise<void>((resolve) => {
      if (options.signal?.aborted) resolve();
      options.signal?.addEventListener('abort', () => resolve(), { once: true });
    });
    const streaming = readRecords(reader, recordStreamKey(sweepIds[0]!), tracked, options, report, stopped);
    const settle = (t: Tracked) => settleJob(redis, queue, runs, t, report, warn);
    for (;;) {
      const pending = [...tracked.values()].filter((t) => !ENDED.has(t.state.status) && !t.settling);
      for (const t of pending) await settle(t);
      if ([...tracked.values()].every((t) => ENDED.has(t.state.status))) break;
      const pause = new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 1000));
      if ((await Promise.race([pause.then(() => 'poll'), stopped.then(() => 'stop')])) === 'stop') break;
    }
    reader.disconnect();
    await streaming;
    return [...tracked.values()].map((t) => t.state);
  } finally {
    options.signal?.removeEventListener('abort', cutOnStop);
    clearTimeout(cut);
    reader.disconnect();
    await queue.close().catch(() => {});
    await redis.quit().catch(() => redis.disconnect());
  }
}

/** Reads the job's state from Redis and acts on it: running → report, completed → store the run, failed → report why. */
async function settleJob(redis: Redis, queue: Queue, runs: RunStore, t: Tracked, report: (t: Tracked, change: Partial<SweepJobState>) => void, warn: (m: string) => void) {
  let state: string;
  try {
    state = await queue.getJobState(t.jobId);
  } catch (error) {
    warn(`job ${t.jobId}: its state cannot be read: ${messageOf(error)}`);
    return;
  }
  const key = queue.toKey(t.jobId);
  const started = Number(await redis.hget(key, 'ats'));
  // Checked once per start: an agent that cannot parse the data takes the job again and again.
  if (state !== 'completed' && state !== 'failed' && state !== 'unknown' && started !== t.dataCheckedAt) {
    t.dataCheckedAt = started;
    const problem = dataProblem(await redis.hget(key, 'data'), t.jobId);
    if (problem) {
      // BullMQ cannot fail a job whose data it cannot parse (its agents would take it again and
      // again): replace the data with JSON that says why, which the next agent fails at once.
      await redis.hset(key, 'data', JSON.stringify({ refused: problem }));
      report(t, { status: 'failed', runId: null, error: `job ${t.jobId}: ${problem}` });
      return;
    }
  }
  if (state === 'active') {
    report(t, { status: 'running', ...(Number.isInteger(started) && started >= 1 ? { attempt: started } : {}) });
  } else if (state === 'failed') {
    const reason = ((await redis.hget(key, 'failedReason')) ?? 'the job failed').slice(0, 2000);
    // BullMQ's words for a job whose lock lapsed too often: say what that means here.
    const stalled = /stalled more than allowable limit/.test(reason) ? ': the agents that took it died, or its data in Redis cannot be read' : '';
    report(t, { status: 'failed', error: `${reason}${stalled}` });
  } else if (state === 'unknown') {
    report(t, { status: 'failed', error: `job ${t.jobId} was removed from the queue` });
  } else if (state === 'completed') {
    t.settling = true;
    try {
      const stored = await storeRun(redis, runs, t, await redis.hget(key, 'returnvalue'));
      report(t, { status: stored.status === 'finished' ? 'finished' : stored.status, runId: stored.runId, attempt: stored.attempt, agent: stored.agent, error: stored.error });
    } catch (error) {
      report(t, { status: 'failed', runId: null, error: `job ${t.jobId}'s upload was refused: ${messageOf(error)}` });
    }
  }
}

/** What is wrong with a queued job's data as Redis holds it now (another client may have rewritten it), or null. */
function dataProblem(data: string | null, jobId: string): string | null {
  let json: unknown;
  try {
    json = JSON.parse(data ?? '');
  } catch {
    return 'its data in Redis is not JSON (rewritten by another client)';
  }
  const job = SweepJobSchema.safeParse(json);
  if (!job.success) return `its data in Redis is not a sweep job (${formatIssues(job.error).slice(0, 3).join('; ')})`;
  return sweepJobId(job.data) === jobId ? null : `its data in Redis is another run's (${sweepJobId(job.data)})`;
}

/** Checks the completed job's manifest, fetches its run folder, adds the earlier attempts' records and the agent, and moves it into `runs/`. */
async function storeRun(redis: Redis, runs: RunStore, t: Tracked, returnValue: string | null): Promise<UploadManifest> {
  let json: unknown;
  try {
    json = JSON.parse(returnValue ?? '');
  } catch {
    throw new DomainError('invalid-input', 'its return value is not JSON');
  }
  const checked = UploadManifestSchema.safeParse(json);
  if (!checked.success) throw new DomainError('invalid-input', `its manifest is invalid: ${formatIssues(checked.error).join('; ')}`);
  const manifest = checked.data;
  const target = runs.runDir(manifest.runId);
  if (await isStoredRun(target, t.jobId)) return manifest; // stored by an earlier coordinator of this sweep
  const upload = uploadKey(t.jobId, manifest.attempt);
  const incoming = await downloadRunFolder(redis, manifest, upload, runs.runsDir);
  try {
    await describeRun(incoming, manifest, t.jobId);
    await keepEarlierAttempts(t.recordsDir, incoming, manifest.attempt);
    await moveIntoPlace(incoming, target);
  } catch (error) {
    await rm(incoming, { recursive: true, force: true });
    throw error;
  }
  await rm(t.recordsDir, { recursive: true, force: true });
  await rmdir(dirname(t.recordsDir)).catch(() => {}); // when it was the last
  const keys = uploadChunkKeys(upload, manifest.files);
  if (keys.length) await redis.del(...keys).catch(() => {});
  return manifest;
}

/** Checks the uploaded run.json and records where the run was trained in it. */
async function describeRun(dir: string, manifest: UploadManifest, jobId: string): Promise<void> {
  const path = join(dir, 'run.json');
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch {
    throw new DomainError('invalid-input', 'run.json is not JSON');
  }
  const run = RunFileSchema.safeParse(json);
  if (!run.success) throw new DomainError('invalid-input', `run.json is invalid: ${formatIssues(run.error).join('; ')}`);
  const { summary } = run.data;
  if (summary.runId !== manifest.runId) throw new DomainError('invalid-input', `run.json belongs to run ${summary.runId}, the manifest says ${manifest.runId}`);
  if (summary.status !== manifest.status) throw new DomainError('invalid-input', `run.json says the run ${summary.status}, the manifest says ${manifest.status}`);
  const remote = { ...manifest.agent, jobId, attempt: manifest.attempt };
  await writeFileAtomic(path, `${JSON.stringify({ ...run.data, owner: null, remote }, null, 2)}\n`);
}

async function isStoredRun(dir: string, jobId: string): Promise<boolean> {
  try {
    const file = RunFileSchema.safeParse(JSON.parse(await readFile(join(dir, 'run.json'), 'utf8')));
    return file.success && file.data.remote?.jobId === jobId;
  } catch {
    return false;
  }
}

/** The records other attempts streamed (agents that died or were released), under `attempts/<n>/`. */
async function keepEarlierAttempts(recordsDir: string, runDir: string, finalAttempt: number): Promise<void> {
  const entries = await readdir(recordsDir).catch(() => [] as string[]);
  for (const entry of entries) {
    const attempt = /^attempt-(\d+)$/.exec(entry)?.[1];
    if (!attempt || Number(attempt) === finalAttempt) continue;
    for (const file of ['metrics.jsonl', 'stats.jsonl']) {
      const text = await readFile(join(recordsDir, entry, file), 'utf8').catch(() => '');
      if (text) await appendLines(join(runDir, 'attempts', attempt, file), [text.trimEnd()]);
    }
  }
}

/**
 * Follows the sweep's record stream until `stopped` (or the connection is closed): each valid entry
 * of one of this sweep's jobs is reported and appended to its attempt's record files; anything else
 * is skipped with a warning. Entries read are trimmed from the stream.
 */
async function readRecords(
  reader: Redis,
  stream: string,
  tracked: Map<string, Tracked>,
  options: RemoteSweepOptions,
  report: (t: Tracked, change: Partial<SweepJobState>) => void,
  stopped: Promise<void>,
): Promise<void> {
  let done = false;
  void stopped.then(() => (done = true));
  let lastId = '0';
  const warned = new Set<string>();
  const warnOnce = (key: string, message: string) => {
    if (warned.size < 100 && !warned.has(key)) {
      warned.add(key);
      options.onProgress({ type: 'warning', message });
    }
  };
  const closed = () => (reader.status as string) === 'end';
  while (!done && !closed()) {
    let reply: [string, [string, string[]][]][] | null;
    try {
      reply = (await reader.xread('COUNT', 500, 'BLOCK', 1000, 'STREAMS', stream, lastId)) as typeof reply;
    } catch (error) {
      if (closed() || done) return;
      warnOnce(`read:${messageOf(error)}`, `the record stream cannot be read: ${messageOf(error)}`);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      continue;
    }
    const entries = reply?.[0]?.[1] ?? [];
    for (const [id, fields] of entries) {
      lastId = id;
      const entry = RecordEntrySchema.safeParse(Object.fromEntries(pairs(fields)));
      const t = entry.success ? tracked.get(entry.data.job) : undefined;
      if (!entry.success || !t) {
        warnOnce(
          `entry:${entry.success ? entry.data.job : 'shape'}`,
          `record ${id} skipped: ${entry.success ? `job ${entry.data.job} is not in this sweep` : formatIssues(entry.error).join('; ')}`,
        );
        continue;
      }
      let event: TrainingEvent;
      try {
        event = TrainingEventSchema.parse(JSON.parse(entry.data.event));
      } catch (error) {
        warnOnce(`event:${t.jobId}:${entry.data.attempt}`, `job ${t.jobId}: a record was skipped (${messageOf(error).slice(0, 200)})`);
        continue;
      }
      const { attempt, host, backend } = entry.data;
      const agent = { host, backend: backend || 'unknown' };
      // The run id is the one the run will be stored under, once its attempt finishes.
      if (!ENDED.has(t.state.status) && !t.settling) report(t, { status: 'running', attempt, agent, runId: event.runId });
      options.onProgress({ type: 'event', jobId: t.jobId, armId: t.job.armId, seed: t.job.seed, attempt, agent, event });
      // Kept for the run folder's attempts/ until the job is stored (its final attempt's records come in the upload).
      if (!t.settling) await appendRecord(join(t.recordsDir, `attempt-${attempt}`), event);
    }
    if (entries.length) await reader.xtrim(stream, 'MINID', lastId).catch(() => {});
  }
}

/** Appends an event's records to an attempt's folder, in the run folder's own line format. */
async function appendRecord(dir: string, event: TrainingEvent): Promise<void> {
  if (event.type === 'batches')
    await appendLines(
      join(dir, 'metrics.jsonl'),
      event.batches.map((b) => JSON.stringify({ kind: 'batch', ...b })),
    );
  else if (event.type === 'epoch') await appendLines(join(dir, 'metrics.jsonl'), [JSON.stringify({ kind: 'epoch', ...event.record })]);
  else if (event.type === 'callback')
    await appendLines(join(dir, 'metrics.jsonl'), [JSON.stringify({ kind: 'callback', callback: event.callback, epoch: event.epoch, detail: event.detail })]);
  else if (event.type === 'stats')
    await appendLines(
      join(dir, 'stats.jsonl'),
      event.records.map((r) => JSON.stringify(r)),
    );
}

function pairs(fields: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < fields.length; i += 2) out.push([fields[i]!, fields[i + 1]!]);
  return out;
}
