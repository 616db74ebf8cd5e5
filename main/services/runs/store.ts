/**
 * The runs workspace on disk: one folder per run under `<dataDir>/runs/<runId>/` (layout in ./types.ts).
 *
 * Writing: batch, epoch and statistics records are turned into JSON lines at once and buffered; the
 * buffer goes to append-mode file handles at least every `flushIntervalMs` (100 ms), at once on an
 * epoch, a status change or `flush()`, and early when it grows past 1 MiB. No synchronous fs call on
 * the hot path; writes happen strictly in order, so a killed process leaves a prefix of the records
 * (at most the last ~100 ms missing, at most one torn last line, which readers skip).
 * run.json is rewritten atomically, and while a run is live in this process only its writer writes it.
 * A write that fails (a full disk, EIO, EACCES) is a fault of that file: the writer appends nothing
 * more to it, tells its owner (`onFault`, which ends the run), and records the run's ending as
 * 'failed' (code 'io', the files listed); `.reserve` keeps room for that last run.json.
 *
 * Numbers JSON cannot hold (NaN, ±Infinity: a diverged loss) are written as the strings "NaN",
 * "Infinity", "-Infinity" so the files keep the truth; `get()` returns only records the contract
 * accepts (its numbers are finite), the CSV export shows them as written.
 */
import { existsSync } from 'node:fs';
import { mkdir, open, readdir, rm, stat, utimes, writeFile, type FileHandle } from 'node:fs/promises';
import { basename, join, resolve, sep } from 'node:path';
import { z } from 'zod';
import {
  CallbackRecordSchema,
  EpochRecordSchema,
  formatIssues,
  GpuRunCountersSchema,
  RunIdSchema,
  RunSummarySchema,
  StatsRecordSchema,
  TrainingSettingsSchema,
  type CallbackRecord,
  type GpuRunCounters,
  type RunFileFault,
} from '../../../contract';
import { runTraits } from '../../../contract/run-traits';
import { ModelSpecSchema } from '../../../model/spec';
import { describeFsError, writeFileAtomic } from '../files/atomic';
import { entriesOrNone } from '../files/subfolders';
import { faultOf, withFaults } from './faults';
import { currentOwner, HEARTBEAT_FILE, HEARTBEAT_MS, ownerAlive } from './owner';
import { FileReadError, MAX_LOG_BYTES, printable, readTextBounded } from '../files/bounded-read';
import type { BatchRecord, EpochRecord, RunDetail, RunStatus, RunSummary, StatsRecord } from './contract-types';
import type { NewRun, RunStoreApi, RunWriter } from './types';
import { DomainError } from '../../../contract/wire';

export const RUN_FORMAT = 'layerbench.run';
export const RUN_VERSION = 1;
/** `get()` thins the statistics stream to at most this many records (evenly, keeping the last). */
export const MAX_STATS_RECORDS = 2_000;
export const CSV_HEADER = 'kind,epoch,batch,step,loss,acc,val_loss,val_acc,learning_rate,duration_ms';

const DEFAULT_FLUSH_INTERVAL_MS = 100;
/** Buffered bytes (roughly) that trigger a write before the timer. */
const FLUSH_AT_CHARS = 1 << 20;
const RunNameSchema = z.string().trim().min(1, 'a run name cannot be empty').max(200, 'a run name is at most 200 characters');
const ENDED: ReadonlySet<RunStatus> = new Set<RunStatus>(['finished', 'stopped', 'failed', 'interrupted']);
/**
 * Space held back for the run's last run.json: a file of this name, written when the run is created
 * and deleted just before its ending status is written, so that a run that filled the disk can still
 * record that it failed, and why.
 */
const RESERVE_FILE = '.reserve';
const RESERVE_MIN_BYTES = 64 * 1024;

/** run.json. `owner` and `activeSince` are bookkeeping for crash recovery and durations. */
export const RunFileSchema = z.object({
  format: z.literal(RUN_FORMAT),
  version: z.number().int(),
  summary: RunSummarySchema,
  spec: ModelSpecSchema,
  settings: TrainingSettingsSchema,
  seed: z.number().int(),
  /** The process that writes the run while it is running or paused. */
  owner: z
    .object({ pid: z.number().int(), hostname: z.string(), startTime: z.string().nullable().default(null) })
    .nullable()
    .default(null),
  /** When the current running stretch began (ISO); null while paused or ended. */
  activeSince: z.string().nullable().default(null),
  /** A run trained by a sweep agent on another machine (experiments/remote): where, and which job and attempt. */
  remote: z.object({ host: z.string(), backend: z.string(), jobId: z.string(), attempt: z.number().int() }).optional(),
  /** On a WebGPU backend: what a step asked of the GPU. */
  gpu: GpuRunCountersSchema.optional(),
});
type RunFile = z.infer<typeof RunFileSchema>;

function withTraits(file: RunFile): RunSummary {
  const agent = file.remote ? { agent: { host: file.remote.host, backend: file.remote.backend } } : {};
  return { ...file.summary, traits: runTraits(file.spec, file.settings), ...agent };
}

export class RunNotFoundError extends Error {
  readonly code = 'not-found' as const;
  constructor(readonly runId: string) {
    super(`Run ${runId} does not exist`);
    this.name = 'RunNotFoundError';
  }
}

export interface RunStoreOptions {
  /** How long appended records may wait in memory before they are written (ms, default 100). */
  flushIntervalMs?: number;
}

/** Writers of runs live in this process, by run folder: shared by every RunStore in the process. */
const liveWriters = new Map<string, RunWriterImpl>();
/** Run folders being created in this process (no run.json yet): not "damaged". */
const creating = new Set<string>();

export class RunStore implements RunStoreApi {
  readonly runsDir: string;
  private readonly flushIntervalMs: number;

  constructor(dataDir: string, options: RunStoreOptions = {}) {
    this.runsDir = resolve(dataDir, 'runs');
    this.flushIntervalMs = Math.min(Math.max(options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS, 0), DEFAULT_FLUSH_INTERVAL_MS);
  }

  /** The run's folder, after checking the id: the schema's characters, no "."/".." or hidden names, inside runsDir. */
  runDir(runId: string): string {
    const checked = RunIdSchema.safeParse(runId);
    if (!checked.success || runId.startsWith('.')) {
      throw new DomainError('invalid-input', `Invalid run id ${JSON.stringify(runId)}: a run id is letters, digits, ".", "_" or "-" and does not start with "."`);
    }
    const dir = resolve(this.runsDir, runId);
    if (!dir.startsWith(this.runsDir + sep) || dir.slice(this.runsDir.length + 1).includes(sep)) {
      throw new DomainError('invalid-input', `Invalid run id ${JSON.stringify(runId)}: it points outside the runs folder`);
    }
    return dir;
  }

  weightsDir(runId: string): string {
    return join(this.runDir(runId), 'weights');
  }

  async create(run: NewRun): Promise<RunWriter> {
    const dir = this.runDir(run.runId);
    const spec = checked(ModelSpecSchema, run.spec, `run ${run.runId}'s model`);
    const settings = checked(TrainingSettingsSchema, run.settings, `run ${run.runId}'s training settings`);
    const name = run.name === undefined ? spec.config.name.trim().slice(0, 200) || run.runId : parseName(run.name);
    await mkdir(this.runsDir, { recursive: true }).catch((error: unknown) => {
      throw describeFsError(error, this.runsDir);
    });
    if (creating.has(dir) || liveWriters.has(dir)) throw new DomainError('exists', `Run ${run.runId} already exists`);
    creating.add(dir);
    try {
      try {
        await mkdir(dir);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new DomainError('exists', `Run ${run.runId} already exists`, { cause: error });
        throw describeFsError(error, dir);
      }
      const now = new Date();
      const file: RunFile = {
        format: RUN_FORMAT,
        version: RUN_VERSION,
        summary: {
          runId: run.runId,
          name,
          status: 'running',
          createdAt: now.toISOString(),
          endedAt: null,
          durationMs: 0,
          backend: run.backend,
          modelName: spec.config.name,
          epochsDone: 0,
          batchesDone: 0,
          bestValAcc: null,
          failure: null,
        },
        spec,
        settings,
        seed: settings.seed,
        owner: currentOwner(),
        activeSince: now.toISOString(),
      };
      let metrics: FileHandle | undefined;
      let stats: FileHandle | undefined;
      try {
        await mkdir(join(dir, 'weights'));
        metrics = await open(join(dir, 'metrics.jsonl'), 'a');
        stats = await open(join(dir, 'stats.jsonl'), 'a');
        const text = serializeRunFile(file);
        await writeFileAtomic(join(dir, 'run.json'), text);
        await writeFile(join(dir, HEARTBEAT_FILE), '');
        // Real blocks (zeros, not a sparse file): twice run.json, for its temp copy and what a failure adds.
        await writeFile(join(dir, RESERVE_FILE), Buffer.alloc(Math.max(RESERVE_MIN_BYTES, 2 * Buffer.byteLength(text))));
      } catch (error) {
        await metrics?.close().catch(() => {});
        await stats?.close().catch(() => {});
        await rm(dir, { recursive: true, force: true }).catch(() => {});
        throw error instanceof Error && error.message.startsWith('Cannot write') ? error : describeFsError(error, dir);
      }
      const writer = new RunWriterImpl(dir, file, metrics, stats, this.flushIntervalMs);
      liveWriters.set(dir, writer);
      return writer;
    } finally {
      creating.delete(dir);
    }
  }

  async list(): Promise<RunSummary[]> {
    const entries = await entriesOrNone(this.runsDir).catch((error: unknown) => {
      throw describeFsError(error, this.runsDir);
    });
    const summaries = await Promise.all(
      entries
        .filter((entry) => entry.isDirectory() && isListableId(entry.name))
        .map(async (entry): Promise<RunSummary | null> => {
          const dir = join(this.runsDir, entry.name);
          const live = liveWriters.get(dir);
          if (live) return live.listed();
          if (creating.has(dir)) return null;
          const loaded = await loadRunFile(dir, entry.name);
          if (loaded.ok) return withTraits(loaded.file);
          // Never fail the list for one folder: show it as failed, with why, so it can be deleted.
          return damagedSummary(entry.name, loaded.reason, await folderTime(dir));
        }),
    );
    return summaries.filter((s): s is RunSummary => s !== null).sort((a, b) => (a.createdAt === b.createdAt ? (a.runId < b.runId ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1));
  }

  async get(runId: string): Promise<RunDetail> {
    const dir = this.runDir(runId);
    const live = liveWriters.get(dir);
    await live?.drain();
    const file = await this.readRunFile(dir, runId);
    const [metricsText, statsText] = await Promise.all([readOptional(join(dir, 'metrics.jsonl')), readOptional(join(dir, 'stats.jsonl'))]);
    const metrics = parseMetrics(metricsText);
    let summary = live ? live.listed() : withTraits(file);
    if (!live && (summary.status === 'running' || summary.status === 'paused')) {
      // Written by another process (or not recovered yet): its run.json counts are from its last status change.
      summary = { ...summary, ...metrics.counts };
    }
    return {
      summary,
      spec: file.spec,
      settings: file.settings,
      batches: metrics.batches,
      epochs: metrics.epochs,
      callbacks: metrics.callbacks,
      stats: thinStats(statsText, MAX_STATS_RECORDS),
      hasWeights: existsSync(join(dir, 'weights', 'model.json')),
      hasBestCheckpoint: existsSync(join(dir, 'best', 'model.json')),
      directory: dir,
      ...(file.gpu ? { gpu: file.gpu } : {}),
    };
  }

  async rename(runId: string, rawName: string): Promise<RunSummary> {
    const name = parseName(rawName);
    const dir = this.runDir(runId);
    const live = liveWriters.get(dir);
    if (live) return live.rename(name);
    const file = await this.readRunFile(dir, runId);
    file.summary = { ...file.summary, name };
    await writeFileAtomic(join(dir, 'run.json'), serializeRunFile(file));
    return withTraits(file);
  }

  async delete(runId: string): Promise<boolean> {
    const dir = this.runDir(runId);
    if (liveWriters.has(dir) || creating.has(dir)) throw new DomainError('busy', `Run ${runId} is still training: stop it first`);
    if (!existsSync(dir)) return false;
    try {
      await rm(dir, { recursive: true, force: true });
    } catch (error) {
      throw new DomainError('io', `Cannot delete run ${runId} (${dir}): ${describeFsError(error, dir).message.replace(/^Cannot write [^:]*: /, '')}`, { cause: error });
    }
    return true;
  }

  /** Marks runs left 'running' or 'paused' by a process that died as 'interrupted' (see recoverRunFolder). */
  async recoverInterrupted(): Promise<string[]> {
    let entries;
    try {
      entries = await readdir(this.runsDir, { withFileTypes: true });
    } catch {
      return [];
    }
    const recovered: string[] = [];
    for (const entry of entries) {
      if (!entry.isDirectory() || !isListableId(entry.name)) continue;
      if (await recoverRunFolder(join(this.runsDir, entry.name))) recovered.push(entry.name);
    }
    return recovered;
  }

  async exportCsv(runId: string): Promise<{ fileName: string; csv: string }> {
    const dir = this.runDir(runId);
    await liveWriters.get(dir)?.drain();
    await this.readRunFile(dir, runId);
    const lines = [CSV_HEADER];
    for (const record of readJsonLines(await readOptional(join(dir, 'metrics.jsonl')))) {
      if (!isObject(record)) continue;
      if (record.kind === 'batch') {
        lines.push(`batch,${csvCell(record.epoch)},${csvCell(record.batch)},${csvCell(record.step)},${csvCell(record.loss)},${csvCell(record.acc)},,,,`);
      } else if (record.kind === 'epoch') {
        lines.push(
          `epoch,${csvCell(record.epoch)},,,${csvCell(record.loss)},${csvCell(record.acc)},${csvCell(record.val_loss)},${csvCell(record.val_acc)},${csvCell(record.learningRate)},${csvCell(record.durationMs)}`,
        );
      }
    }
    return { fileName: `${runId}-metrics.csv`, csv: `${lines.join('\n')}\n` };
  }

  private async readRunFile(dir: string, runId: string): Promise<RunFile> {
    const loaded = await loadRunFile(dir, runId);
    if (loaded.ok) return loaded.file;
    if (loaded.missing) throw new RunNotFoundError(runId);
    throw new DomainError('invalid-input', `Run ${runId} is damaged: ${loaded.reason}`);
  }
}

class RunWriterImpl implements RunWriter {
  readonly weightsDir: string;
  private metricsLines: string[] = [];
  private statsLines: string[] = [];
  private pendingChars = 0;
  private timer: NodeJS.Timeout | null = null;
  /** Every disk operation, in order; never rejects (each task's caller gets its own promise). */
  private chain: Promise<void> = Promise.resolve();
  private appendError: Error | null = null;
  /** Files that could not be written; a file that failed once is not appended to again (no torn lines mid-file). */
  private fileFaults: RunFileFault[] = [];
  private faultListeners: ((fault: RunFileFault) => void)[] = [];
  private heartbeat: NodeJS.Timeout;
  private ended = false;
  private activeMs = 0;
  private activeSinceMs: number | null;

  constructor(
    readonly directory: string,
    private readonly file: RunFile,
    private readonly metricsHandle: FileHandle,
    private readonly statsHandle: FileHandle,
    private readonly flushIntervalMs: number,
  ) {
    this.weightsDir = join(directory, 'weights');
    this.activeSinceMs = Date.parse(file.activeSince ?? file.summary.createdAt);
    // See owner.ts: what tells other processes (where there is no /proc) that this one still writes the run.
    this.heartbeat = setInterval(() => {
      const now = new Date();
      utimes(join(directory, HEARTBEAT_FILE), now, now).catch(() => {});
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  faults(): RunFileFault[] {
    return [...this.fileFaults];
  }

  onFault(listener: (fault: RunFileFault) => void): void {
    this.faultListeners.push(listener);
  }

  private recordFault(fault: RunFileFault): void {
    if (this.fileFaults.some((f) => f.file === fault.file)) return;
    this.fileFaults.push(fault);
    for (const listener of this.faultListeners) listener(fault);
  }

  get runId(): string {
    return this.file.summary.runId;
  }

  /** The summary as `list()` gives it: with the run's traits. */
  listed(): RunSummary {
    return { ...this.summary(), traits: runTraits(this.file.spec, this.file.settings) };
  }

  summary(): RunSummary {
    const running = this.activeSinceMs === null ? 0 : Math.max(0, Date.now() - this.activeSinceMs);
    return { ...this.file.summary, durationMs: this.activeMs + running };
  }

  appendBatch(record: BatchRecord): void {
    if (this.ended) return;
    this.file.summary.batchesDone++;
    const line = { kind: 'batch', ...record };
    this.push(this.metricsLines, Number.isFinite(record.loss) && Number.isFinite(record.acc) ? JSON.stringify(line) : JSON.stringify(line, keepNonFinite));
  }

  appendEpoch(record: EpochRecord): void {
    if (this.ended) return;
    const summary = this.file.summary;
    summary.epochsDone++;
    if (typeof record.val_acc === 'number' && Number.isFinite(record.val_acc)) {
      summary.bestValAcc = summary.bestValAcc === null ? record.val_acc : Math.max(summary.bestValAcc, record.val_acc);
    }
    this.push(this.metricsLines, JSON.stringify({ kind: 'epoch', ...record }, keepNonFinite));
    void this.writePending();
  }

  appendCallback(record: CallbackRecord): void {
    if (this.ended) return;
    this.push(this.metricsLines, JSON.stringify({ kind: 'callback', ...record }));
    void this.writePending();
  }

  appendStats(record: StatsRecord): void {
    if (this.ended) return;
    this.push(this.statsLines, JSON.stringify(record, keepNonFinite));
  }

  async flush(): Promise<void> {
    await this.drain();
    const error = this.appendError;
    this.appendError = null;
    if (error) throw error;
  }

  /** Writes what is buffered, leaving any write error for the writer's owner (flush / setStatus). */
  drain(): Promise<void> {
    return this.writePending();
  }

  /**
   * Records the status in run.json (atomically), after writing every pending record. The first
   * ending status (finished, stopped, failed, interrupted) is final: the writer then closes its
   * files, ignores later appends, and later setStatus calls resolve without effect.
   */
  /** The backend the run actually trains on (Auto may pick another than the default); saved with the next status. */
  setBackend(backend: string, step?: string): void {
    if (this.ended) return;
    this.file.summary.backend = backend;
    if (step !== undefined) this.file.summary.step = step;
  }

  setGpu(counters: GpuRunCounters): void {
    if (!this.ended) this.file.gpu = counters;
  }

  async setStatus(status: RunStatus, failure?: RunSummary['failure']): Promise<void> {
    if (this.ended) return;
    const now = Date.now();
    if (this.activeSinceMs !== null && status !== 'running') {
      this.activeMs += Math.max(0, now - this.activeSinceMs);
      this.activeSinceMs = null;
    } else if (this.activeSinceMs === null && status === 'running') {
      this.activeSinceMs = now;
    }
    const ending = ENDED.has(status);
    const summary = this.file.summary;
    summary.status = status;
    summary.durationMs = this.activeMs;
    summary.failure = failure ?? (status === 'failed' ? { error: 'The run failed' } : null);
    summary.endedAt = ending ? new Date(now).toISOString() : null;
    this.file.activeSince = this.activeSinceMs === null ? null : new Date(this.activeSinceMs).toISOString();
    if (ending) {
      this.ended = true;
      this.file.owner = null;
      clearInterval(this.heartbeat);
    }
    const written = this.writePending(ending);
    // The status is decided once the last records are written: a run whose files failed ends 'failed'.
    const saved = this.enqueue(async () => {
      const faulted = ending ? withFaults(summary.failure, this.fileFaults, this.directory) : summary.failure;
      if (faulted !== summary.failure) {
        summary.status = 'failed';
        summary.failure = faulted;
      }
      const path = join(this.directory, 'run.json');
      try {
        if (ending) await rm(join(this.directory, RESERVE_FILE), { force: true });
        await writeFileAtomic(path, serializeRunFile(this.file));
      } catch (error) {
        this.recordFault(faultOf(error, 'run.json', 'incomplete'));
        throw error;
      }
    });
    if (ending) {
      await this.enqueue(async () => {
        await Promise.allSettled([this.metricsHandle.close(), this.statsHandle.close()]);
        await rm(join(this.directory, HEARTBEAT_FILE), { force: true }).catch(() => {});
      });
      // Only now may the folder be deleted; readers from here on read the files.
      if (liveWriters.get(this.directory) === this) liveWriters.delete(this.directory);
    }
    await written;
    await saved;
    const error = this.appendError;
    this.appendError = null;
    if (error) throw error;
  }

  /** Renames the live run: through the writer, so run.json is never written by two parties at once. */
  async rename(name: string): Promise<RunSummary> {
    this.file.summary.name = name;
    const snapshot = serializeRunFile(this.file);
    await this.enqueue(() => writeFileAtomic(join(this.directory, 'run.json'), snapshot));
    return this.listed();
  }

  private push(lines: string[], line: string): void {
    lines.push(line);
    this.pendingChars += line.length + 1;
    if (this.pendingChars >= FLUSH_AT_CHARS) void this.writePending();
    else if (!this.timer) {
      this.timer = setTimeout(() => void this.writePending(), this.flushIntervalMs);
      this.timer.unref();
    }
  }

  /** Hands what is buffered to the write queue; resolves once it is written (errors go to appendError). */
  private writePending(sync = false): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const metrics = this.metricsLines;
    const stats = this.statsLines;
    this.metricsLines = [];
    this.statsLines = [];
    this.pendingChars = 0;
    if (metrics.length === 0 && stats.length === 0 && !sync) return this.chain;
    return this.enqueue(async () => {
      await this.append(this.metricsHandle, 'metrics.jsonl', metrics, sync);
      await this.append(this.statsHandle, 'stats.jsonl', stats, sync);
    });
  }

  private async append(handle: FileHandle, name: string, lines: string[], sync: boolean): Promise<void> {
    if (this.fileFaults.some((f) => f.file === name)) return;
    try {
      // writeFile on an append-mode handle writes everything, at the end of the file.
      if (lines.length > 0) await handle.writeFile(`${lines.join('\n')}\n`);
      if (sync) await handle.datasync();
    } catch (error) {
      this.appendError ??= describeFsError(error, join(this.directory, name));
      this.recordFault(faultOf(error, name, 'incomplete'));
    }
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const result = this.chain.then(task);
    this.chain = result.then(
      () => {},
      () => {},
    );
    return result;
  }
}

// ---------- recovery ----------

/**
 * Marks one run folder 'interrupted' when its run.json says 'running' or 'paused' and its owner is
 * dead (owner.ts: a zombie or a recycled pid counts as dead); returns whether it did. Every start
 * calls it, through RunStore.recoverInterrupted: the app, `layerbench serve`, and each CLI command
 * that touches runs.
 */
export async function recoverRunFolder(dir: string): Promise<boolean> {
  if (liveWriters.has(dir) || creating.has(dir)) return false;
  const loaded = await loadRunFile(dir, basename(dir));
  if (!loaded.ok) return false;
  const { file } = loaded;
  if (file.summary.status !== 'running' && file.summary.status !== 'paused') return false;
  // Another Layerbench (the app beside `layerbench serve`, a CLI run) may be training it.
  if (file.owner && file.owner.pid !== process.pid && ownerAlive(file.owner, await mtimeMs(join(dir, HEARTBEAT_FILE)))) return false;
  // An unreadable log (a pipe, over the cap) does not keep the run from being marked interrupted.
  const metrics = parseMetrics(await readOptional(join(dir, 'metrics.jsonl')).catch(() => ''));
  const lastActivity = Math.max(...(await Promise.all(['run.json', 'metrics.jsonl', 'stats.jsonl'].map((f) => mtimeMs(join(dir, f))))));
  const activeSince = file.activeSince ? Date.parse(file.activeSince) : NaN;
  const extra = file.summary.status === 'running' && Number.isFinite(activeSince) ? Math.max(0, lastActivity - activeSince) : 0;
  file.summary = {
    ...file.summary,
    ...metrics.counts,
    status: 'interrupted',
    endedAt: new Date(lastActivity > 0 ? lastActivity : Date.now()).toISOString(),
    durationMs: file.summary.durationMs + extra,
  };
  file.owner = null;
  file.activeSince = null;
  // The dead owner's reserve makes room for this write on a full disk.
  await rm(join(dir, RESERVE_FILE), { force: true }).catch(() => {});
  await writeFileAtomic(join(dir, 'run.json'), serializeRunFile(file));
  await rm(join(dir, HEARTBEAT_FILE), { force: true }).catch(() => {});
  return true;
}

// ---------- reading ----------

type Loaded = { ok: true; file: RunFile } | { ok: false; missing: boolean; reason: string };

async function loadRunFile(dir: string, runId: string): Promise<Loaded> {
  let text: string;
  try {
    text = await readTextBounded(join(dir, 'run.json'), { what: 'run description (run.json)' });
  } catch (error) {
    if ((error as FileReadError).code === 'not-found') return { ok: false, missing: !existsSync(dir), reason: 'run.json is missing' };
    return { ok: false, missing: false, reason: `run.json cannot be read (${error instanceof FileReadError ? error.problem : (error as Error).message})` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, missing: false, reason: `run.json is not valid JSON (${printable((error as Error).message)})` };
  }
  const header = z.object({ format: z.literal(RUN_FORMAT), version: z.number() }).safeParse(json);
  if (!header.success) return { ok: false, missing: false, reason: `run.json is not a Layerbench run (expected "format": "${RUN_FORMAT}")` };
  if (header.data.version > RUN_VERSION) {
    return { ok: false, missing: false, reason: `run.json was written by a newer Layerbench (run format version ${header.data.version}; this version reads up to ${RUN_VERSION})` };
  }
  const parsed = RunFileSchema.safeParse(json);
  if (!parsed.success) return { ok: false, missing: false, reason: `run.json is invalid: ${formatIssues(parsed.error).join('; ')}` };
  if (parsed.data.summary.runId !== runId) {
    return { ok: false, missing: false, reason: `run.json belongs to run ${parsed.data.summary.runId}, not to its folder ${runId}` };
  }
  return { ok: true, file: parsed.data };
}

function damagedSummary(runId: string, reason: string, at: string): RunSummary {
  return {
    runId,
    name: runId,
    status: 'failed',
    createdAt: at,
    endedAt: null,
    durationMs: 0,
    backend: '',
    modelName: '',
    epochsDone: 0,
    batchesDone: 0,
    bestValAcc: null,
    failure: { error: `This run's files are damaged: ${reason}` },
  };
}

interface ParsedMetrics {
  batches: BatchRecord[];
  epochs: EpochRecord[];
  callbacks: CallbackRecord[];
  /** Counted over every record in the file, including those with non-finite numbers. */
  counts: { batchesDone: number; epochsDone: number; bestValAcc: number | null };
}

/** Reads metrics.jsonl: lines that do not parse (a torn last line after a crash) are skipped. */
export function parseMetrics(text: string): ParsedMetrics {
  const batches: BatchRecord[] = [];
  const epochs: EpochRecord[] = [];
  const callbacks: CallbackRecord[] = [];
  const counts: ParsedMetrics['counts'] = { batchesDone: 0, epochsDone: 0, bestValAcc: null };
  for (const record of readJsonLines(text)) {
    if (!isObject(record)) continue;
    if (record.kind === 'batch') {
      counts.batchesDone++;
      const { epoch, batch, step, loss, acc } = record;
      if (isCount(epoch) && isCount(batch) && isCount(step) && Number.isFinite(loss) && Number.isFinite(acc)) {
        batches.push({ epoch, batch, step, loss: loss as number, acc: acc as number });
      }
    } else if (record.kind === 'epoch') {
      counts.epochsDone++;
      const { kind: _kind, ...rest } = record;
      if (typeof rest.val_acc === 'number' && Number.isFinite(rest.val_acc)) {
        counts.bestValAcc = counts.bestValAcc === null ? rest.val_acc : Math.max(counts.bestValAcc, rest.val_acc);
      }
      // Optional numbers that were not finite are left out rather than losing the epoch.
      for (const key of ['val_loss', 'val_acc', 'learningRate', 'numTensors']) if (key in rest && !Number.isFinite(rest[key])) delete rest[key];
      const parsed = EpochRecordSchema.safeParse(rest);
      if (parsed.success) epochs.push(parsed.data);
    } else if (record.kind === 'callback') {
      const parsed = CallbackRecordSchema.safeParse(record);
      if (parsed.success) callbacks.push(parsed.data);
    }
  }
  return { batches, epochs, callbacks, counts };
}

/** At most `max` statistics records, evenly spaced over the file, always keeping the last. */
export function thinStats(text: string, max: number): StatsRecord[] {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  // A torn last line (a crash mid-write) would otherwise take the "last" slot.
  if (lines.length > 0 && tryParse(lines[lines.length - 1]!) === undefined) lines.pop();
  const picked: string[] = [];
  if (lines.length <= max) picked.push(...lines);
  else {
    let previous = -1;
    for (let i = 0; i < max; i++) {
      const index = Math.round((i * (lines.length - 1)) / (max - 1));
      if (index !== previous) picked.push(lines[index]!);
      previous = index;
    }
  }
  const records: StatsRecord[] = [];
  for (const line of picked) {
    const parsed = StatsRecordSchema.safeParse(tryParse(line));
    if (parsed.success) records.push(parsed.data);
  }
  return records;
}

function* readJsonLines(text: string): Generator<unknown> {
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    if (end > start) {
      const value = tryParse(text.slice(start, end));
      if (value !== undefined) yield value;
    }
    start = end + 1;
  }
}

function tryParse(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

/** A run's log (metrics.jsonl, stats.jsonl): '' when missing; refused when not a regular file or over MAX_LOG_BYTES. */
async function readOptional(path: string): Promise<string> {
  try {
    return await readTextBounded(path, { maxBytes: MAX_LOG_BYTES, what: 'run log' });
  } catch (error) {
    if ((error as FileReadError).code === 'not-found') return '';
    throw error;
  }
}

async function mtimeMs(path: string): Promise<number> {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return 0;
  }
}

async function folderTime(dir: string): Promise<string> {
  try {
    const info = await stat(dir);
    return new Date(info.birthtimeMs > 0 ? info.birthtimeMs : info.mtimeMs).toISOString();
  } catch {
    return new Date(0).toISOString();
  }
}

// ---------- helpers ----------

function serializeRunFile(file: RunFile): string {
  return `${JSON.stringify(file, null, 2)}\n`;
}

function checked<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new DomainError('invalid-input', `Invalid ${what}: ${formatIssues(parsed.error).join('; ')}`);
  return parsed.data;
}

function parseName(name: string): string {
  const parsed = RunNameSchema.safeParse(name);
  if (!parsed.success) throw new DomainError('invalid-input', `Invalid run name: ${parsed.error.issues.map((issue) => issue.message).join('; ')}`);
  return parsed.data;
}

function isListableId(name: string): boolean {
  return !name.startsWith('.') && RunIdSchema.safeParse(name).success;
}

/** JSON.stringify replacer: NaN and ±Infinity become "NaN", "Infinity", "-Infinity" instead of null. */
function keepNonFinite(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? String(value) : value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

function csvCell(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (value === 'NaN' || value === 'Infinity' || value === '-Infinity') return value;
  return '';
}
