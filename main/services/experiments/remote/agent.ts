/**
 * The sweep agent (`layerbench agent --redis URL`): a BullMQ worker that takes one sweep job at a
 * time per slot (`concurrency` slots, each its own training host and worker thread), trains it
 * headlessly exactly as `layerbench train` does (the training host service), streams the run's
 * training events to the sweep's record stream as they happen, and when the run ends uploads its
 * folder and completes the job with the upload's manifest. Runs live in a temp folder of the agent's
 * own; datasets come from the agent machine's data folder (Fashion-MNIST is found or downloaded there).
 *
 * A job whose agent dies is retried by BullMQ's stalled-job check on another agent once its lock
 * expires (`lockDurationMs`); `release()` (SIGINT/SIGTERM) stops the runs in progress and hands
 * their jobs back to the queue at once, so another agent takes them without waiting for that.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import { formatIssues, SweepJobSchema, type BackendName, type SweepJob, type TrainingEvent } from '../../../../contract';
import { RunStore } from '../../runs/store';
import { defaultDataDir } from '../../paths';
import { TrainingHost } from '../../training/host/host';
import { checkRedis, openRedis, redactRedisUrl } from './connection';
import { MAX_RECORD_BYTES, QUEUE_NAME, QUEUE_PREFIX, RECORD_STREAM_MAX_LENGTH, recordStreamKey, sweepJobId, uploadKey, type Agent, type UploadManifest } from './protocol';
import { uploadRunFolder } from './run-transfer';

export interface AgentOptions {
  redis: string;
  /** Jobs trained at once, each in its own worker thread (default 1). */
  concurrency?: number;
  /** Trains every job on this backend instead of the job's own setting. */
  backend?: BackendName;
  /** The name the agent reports (default: the host name). */
  name?: string;
  /** Where datasets are found and cached (default: the app's data folder). */
  dataDir?: string;
  /** How long a job's lock lasts without renewal: a dead agent's job is retried after it (BullMQ's default 30 s). */
  lockDurationMs?: number;
  /** How often this agent looks for stalled jobs of dead agents (default 30 s). */
  stalledIntervalMs?: number;
  /** How many times a job may be found stalled and retried before it fails (default 2). */
  maxStalledCount?: number;
  /** Upload chunk size (default and cap 8 MiB). */
  chunkBytes?: number;
  log?(line: string): void;
}

export interface RunningAgent {
  readonly name: string;
  /** Stops taking jobs, stops the runs in progress and gives their jobs back to the queue; then closes. */
  release(): Promise<void>;
}

/** One training host and what it trains now. */
interface Slot {
  host: TrainingHost;
  busy: boolean;
  onEvent: ((event: TrainingEvent) => void) | null;
  runId: string | null;
  released: boolean;
}

const isEnd = (event: TrainingEvent) => event.type === 'finished' || event.type === 'stopped' || event.type === 'failed';
const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

export async function startAgent(options: AgentOptions): Promise<RunningAgent> {
  const log = options.log ?? (() => {});
  const name = options.name ?? hostname();
  await checkRedis(options.redis);
  const workDir = await mkdtemp(join(tmpdir(), 'layerbench-agent-'));
  const runs = new RunStore(workDir);
  const redis = openRedis(options.redis, log);
  const slots: Slot[] = [];
  let releasing = false;

  const acquire = (): Slot => {
    let slot = slots.find((s) => !s.busy);
    if (!slot) {
      const created: Slot = {
        busy: false,
        onEvent: null,
        runId: null,
        released: false,
        host: new TrainingHost({ dataDir: options.dataDir ?? defaultDataDir(), runs, onEvent: (event) => created.onEvent?.(event) }),
      };
      slots.push(created);
      slot = created;
    }
    Object.assign(slot, { busy: true, onEvent: null, runId: null, released: releasing });
    return slot;
  };

  /** Trains the job in the slot; resolves with its manifest, or null when the job was released. */
  async function train(slot: Slot, job: SweepJob, jobId: string, attempt: number): Promise<UploadManifest | null> {
    const agent: Agent = { host: name, backend: options.backend ?? 'unknown' };
    const stream = recordStreamKey(job.sweepId);
    // Events go out in order; a failed send is logged, the run goes on (the upload carries every record).
    let sending = Promise.resolve();
    const send = (event: TrainingEvent) => {
      const json = JSON.stringify(event);
      // Bounded like every Redis value of a sweep (the upload still carries every record).
      if (Buffer.byteLength(json) > MAX_RECORD_BYTES) return log(`job ${jobId}: a ${event.type} record over ${MAX_RECORD_BYTES} bytes was not streamed`);
      const fields = ['job', jobId, 'attempt', String(attempt), 'host', agent.host, 'backend', agent.backend, 'event', json];
      sending = sending
        .then(() => redis.xadd(stream, 'MAXLEN', '~', String(RECORD_STREAM_MAX_LENGTH), '*', ...fields))
        .then(
          () => {},
          (error: unknown) => log(`job ${jobId}: a record could not be sent: ${messageOf(error)}`),
        );
    };
    let end!: (event: TrainingEvent) => void;
    const ended = new Promise<TrainingEvent>((resolve) => (end = resolve));
    slot.onEvent = (event) => {
      if (event.type === 'started') agent.backend = event.backend;
      if (event.type === 'epoch')
        log(
          `job ${jobId}: epoch ${event.record.epoch + 1} loss ${event.record.loss.toFixed(4)}${event.record.val_acc !== undefined ? ` val_acc ${event.record.val_acc.toFixed(4)}` : ''}`,
        );
      send(event);
      if (isEnd(event)) end(event);
    };
    const settings = { ...job.settings, seed: job.seed, ...(options.backend ? { backend: options.backend } : {}) };
    let runId: string;
    try {
      ({ runId } = await slot.host.start({ spec: job.spec, settings }));
    } catch (error) {
      // The model or settings cannot train here: no retry on another agent would change that.
      throw new UnrecoverableError(`job ${jobId} cannot train: ${messageOf(error)}`);
    }
    slot.runId = runId;
    if (slot.released) await slot.host.stop(runId);
    const last = await ended;
    await sending;
    try {
      if (slot.released) return null;
      await runs.rename(runId, job.name);
      const files = await uploadRunFolder(redis, runs.runDir(runId), uploadKey(jobId, attempt), options.chunkBytes);
      const error = last.type === 'failed' ? last.error : null;
      log(`job ${jobId}: run ${runId} ${last.type}${error ? `: ${error}` : ''}; uploaded ${files.length} files`);
      return { version: 1, runId, status: last.type as UploadManifest['status'], error, attempt, agent, files };
    } finally {
      await rm(runs.runDir(runId), { recursive: true, force: true });
    }
  }

  const worker = new Worker(
    QUEUE_NAME,
    async (job: Job, token?: string) => {
      const parsed = SweepJobSchema.safeParse(job.data);
      if (!parsed.success) throw new UnrecoverableError(`job ${job.id} is not a sweep job: ${formatIssues(parsed.error).join('; ')}`);
      const jobId = sweepJobId(parsed.data);
      if (job.id !== jobId) throw new UnrecoverableError(`job ${job.id} does not match its data (a sweep job's id is ${jobId})`);
      const attempt = Math.max(1, job.attemptsStarted);
      log(`job ${jobId}: training ${parsed.data.name} (attempt ${attempt})`);
      const slot = acquire();
      try {
        const manifest = await train(slot, parsed.data, jobId, attempt);
        if (manifest) return manifest;
        // Released: back to the queue now (not as a failure), for this or another agent.
        await job.moveToDelayed(Date.now(), token);
        log(`job ${jobId}: released`);
        throw new DelayedError();
      } finally {
        slot.busy = false;
        slot.onEvent = null;
      }
    },
    {
      connection: redis,
      prefix: QUEUE_PREFIX,
      concurrency: Math.max(1, options.concurrency ?? 1),
      lockDuration: options.lockDurationMs ?? 30_000,
      stalledInterval: options.stalledIntervalMs ?? 30_000,
      maxStalledCount: options.maxStalledCount ?? 2,
    },
  );
  worker.on('failed', (job, error) => log(`job ${job?.id ?? '?'}: failed: ${error.message}`));
  worker.on('error', (error) =>
    // BullMQ cannot parse a job whose data is not JSON: the job stays locked by nobody and fails as stalled.
    log(error instanceof SyntaxError ? `agent: a job in the queue cannot be read (${error.message}); it fails once its lock expires` : `agent: ${messageOf(error)}`),
  );
  await worker.waitUntilReady();
  log(
    `agent ${name}: waiting for jobs on ${redactRedisUrl(options.redis)} (concurrency ${Math.max(1, options.concurrency ?? 1)}${options.backend ? `, backend ${options.backend}` : ''})`,
  );

  let released: Promise<void> | null = null;
  return {
    name,
    release() {
      released ??= (async () => {
        releasing = true;
        for (const slot of slots.filter((s) => s.busy)) {
          slot.released = true;
          if (slot.runId) await slot.host.stop(slot.runId);
        }
        await worker.close();
        await Promise.all(slots.map((s) => s.host.dispose()));
        await redis.quit().catch(() => redis.disconnect());
        await rm(workDir, { recursive: true, force: true });
      })();
      return released;
    },
  };
}
