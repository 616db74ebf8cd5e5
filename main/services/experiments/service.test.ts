/**
 * The `sweeps.*` commands through the app's services (the dispatcher Electron and `serve` share): a real
 * training worker, real Fashion-MNIST, real files. Quitting mid-sweep and starting again resumes it.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SweepDetailSchema, SweepProgressSchema, type SweepSummary } from '../../../contract/sweeps';
import type { TrainingSettings } from '../../../contract/training';
import { createServices, type Services } from '../index';
import { readProcStat } from '../runs/owner';
import { tinySettings, tinySpec } from './test-support';

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function services(dataDir?: string): { dataDir: string; app: Services; progress: SweepSummary[] } {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'layerbench-sweeps-'));
  if (!dataDir) dirs.push(dir);
  const app = createServices({ host: 'browser', dataDir: dir });
  const progress: SweepSummary[] = [];
  app.onEvent((name, payload) => {
    if (name === 'sweeps.progress') progress.push(SweepProgressSchema.parse(payload));
  });
  return { dataDir: dir, app, progress };
}

async function until<T>(what: string, probe: () => T | undefined | null | false | Promise<T | undefined | null | false>, timeoutMs = 90_000): Promise<T> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((r) => setTimeout(r, 20))) {
    const value = await probe();
    if (value) return value;
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function invoke(app: Services, name: string, payload: unknown): Promise<unknown> {
  const result = await app.dispatch(name, payload);
  if (!result.ok) throw Object.assign(new Error(result.error.message), { code: result.error.code });
  return result.value;
}

const slow = { ...tinySettings, trainSubset: 3000, batchSize: 8, validationSplit: 0.1, epochs: 2 };

async function startSweep(app: Services, settings: TrainingSettings, seeds: number, extra: object = {}): Promise<string> {
  return ((await invoke(app, 'sweeps.start', { base: { spec: tinySpec, settings }, grid: {}, seeds, ...extra })) as { sweepId: string }).sweepId;
}

/** A sweep on disk that no process runs: started, then stopped before its run. */
async function stoppedSweep(app: Services): Promise<string> {
  const sweepId = await startSweep(app, tinySettings, 1);
  await invoke(app, 'sweeps.stop', { sweepId });
  await app.sweeps.settled(sweepId);
  return sweepId;
}

/** The sweep's first run, once it has recorded its first epoch (of two). */
function firstRunUnderWay(app: Services, sweepId: string): Promise<string> {
  return until('the first run to be under way', async () => {
    const job = SweepDetailSchema.parse(await invoke(app, 'sweeps.get', { sweepId })).jobs[0]!;
    return job.runId && ((await invoke(app, 'runs.get', { runId: job.runId })) as { epochs: unknown[] }).epochs.length === 1 && job.runId;
  });
}

describe('sweeps service', () => {
  it('starts, lists, details and ranks a sweep; errors keep their codes across the dispatcher', async () => {
    const { app, progress } = services();
    try {
      const { sweepId } = (await invoke(app, 'sweeps.start', {
        base: { spec: tinySpec, settings: tinySettings },
        grid: { 'training.learningRate': [0.01, 0.05] },
        seeds: 1,
        name: 'lr',
      })) as { sweepId: string };
      await until('the sweep to finish', () => progress.find((p) => p.sweepId === sweepId && p.status === 'finished'));
      const detail = SweepDetailSchema.parse(await invoke(app, 'sweeps.get', { sweepId }));
      expect(detail.summary).toMatchObject({ name: 'lr', status: 'finished', total: 2, finished: 2, failed: 0, queue: 'local' });
      expect(detail.jobs.map((j) => [j.status, j.attempt, j.agent?.backend])).toEqual([
        ['finished', 1, 'wasm'],
        ['finished', 1, 'wasm'],
      ]);
      expect(detail.arms.map((a) => a.runs)).toEqual(detail.jobs.map((j) => [j.runId]));
      for (const arm of detail.arms) expect(arm.mean.val_accuracy).toBeGreaterThan(0);
      const { runs } = (await invoke(app, 'runs.list', {})) as { runs: { name: string }[] };
      expect(runs.map((r) => r.name).sort()).toEqual(['lr=0.01 · seed 42', 'lr=0.05 · seed 42']);
      expect(((await invoke(app, 'sweeps.list', {})) as { sweeps: SweepSummary[] }).sweeps.map((s) => s.sweepId)).toEqual([sweepId]);
      // Progress came for each job's start, run and end.
      expect(progress.filter((p) => p.sweepId === sweepId).length).toBeGreaterThanOrEqual(5);

      // A run that cannot start fails its job with the reason; the sweep goes on to the next.
      const missing = await startSweep(app, tinySettings, 2, { grid: { 'training.dataset': ['no-such-dataset'] } });
      await until('the sweep of a missing dataset to end', () => progress.find((p) => p.sweepId === missing && p.status === 'failed'));
      const failed = SweepDetailSchema.parse(await invoke(app, 'sweeps.get', { sweepId: missing }));
      expect(failed.jobs.map((j) => [j.status, j.runId])).toEqual([
        ['failed', null],
        ['failed', null],
      ]);
      expect(failed.jobs[1]!.error).toMatch(/Dataset no-such-dataset is not imported here/);
      expect(failed.arms[0]).toMatchObject({ runs: [], mean: {}, sd: {} });

      const huge = { base: { spec: tinySpec, settings: tinySettings }, grid: { 'training.batchSize': Array.from({ length: 30 }, (_, i) => i + 1) }, seeds: 20 };
      await expect(invoke(app, 'sweeps.start', huge)).rejects.toMatchObject({ code: 'limit' });
      await expect(invoke(app, 'sweeps.get', { sweepId: 'sweep-none' })).rejects.toMatchObject({ code: 'not-found' });
      await expect(invoke(app, 'sweeps.get', { sweepId: '../runs' })).rejects.toMatchObject({ code: 'invalid-request' });
    } finally {
      await app.dispose();
    }
  });

  it('stops the current run and the sweep', async () => {
    const { app, progress } = services();
    try {
      const sweepId = await startSweep(app, slow, 3);
      await until('the first run', async () => SweepDetailSchema.parse(await invoke(app, 'sweeps.get', { sweepId })).jobs[0]!.runId);
      expect(await invoke(app, 'sweeps.stop', { sweepId })).toEqual({ stopped: true });
      await until('the sweep to stop', () => progress.find((p) => p.sweepId === sweepId && p.status === 'stopped'));
      const detail = SweepDetailSchema.parse(await invoke(app, 'sweeps.get', { sweepId }));
      expect(detail.jobs.map((j) => j.status)).toEqual(['stopped', 'queued', 'queued']);
      expect(await invoke(app, 'sweeps.stop', { sweepId })).toEqual({ stopped: false });
    } finally {
      await app.dispose();
    }
  });

  it('resumes a sweep the app was quit in: the run it cut short rerun as attempt 2, the rest run', async () => {
    const first = services();
    const sweepId = await startSweep(first.app, slow, 2);
    const cut = await firstRunUnderWay(first.app, sweepId);
    await first.app.dispose();
    const jobsFile = join(first.dataDir, 'sweeps', sweepId, 'jobs.json');
    expect((JSON.parse(readFileSync(jobsFile, 'utf8')) as { status: string; jobs: { status: string }[] }).jobs.map((j) => j.status)).toEqual(['running', 'queued']);

    const second = services(first.dataDir);
    try {
      await until('the resumed sweep to finish', () => second.progress.find((p) => p.sweepId === sweepId && p.status === 'finished'));
      const detail = SweepDetailSchema.parse(await invoke(second.app, 'sweeps.get', { sweepId }));
      expect(detail.jobs.map((j) => [j.status, j.attempt])).toEqual([
        ['finished', 2],
        ['finished', 1],
      ]);
      expect(detail.jobs[0]!.runId).not.toBe(cut);
      expect((JSON.parse(readFileSync(jobsFile, 'utf8')) as { jobs: { earlierRuns: string[] }[] }).jobs[0]!.earlierRuns).toEqual([cut]);
      const { runs } = (await invoke(second.app, 'runs.list', {})) as { runs: { runId: string; status: string }[] };
      expect(runs.find((r) => r.runId === cut)?.status).toBe('interrupted');
      expect(
        runs
          .filter((r) => r.status === 'finished')
          .map((r) => r.runId)
          .sort(),
      ).toEqual(detail.jobs.map((j) => j.runId).sort());
    } finally {
      await second.app.dispose();
    }
  });

  it('reruns a job whose run the worker’s crash cut short, keeping the cut run', async () => {
    const { app, progress } = services();
    try {
      const sweepId = await startSweep(app, slow, 1);
      const cut = await firstRunUnderWay(app, sweepId);
      await app.training.killWorkerForTest();
      await until('the sweep to finish', () => progress.find((p) => p.sweepId === sweepId && p.status === 'finished'));
      const job = SweepDetailSchema.parse(await invoke(app, 'sweeps.get', { sweepId })).jobs[0]!;
      expect(job).toMatchObject({ status: 'finished', attempt: 2, error: null });
      expect(job.runId).not.toBe(cut);
      expect(((await invoke(app, 'runs.get', { runId: cut })) as { summary: { status: string } }).summary.status).toBe('interrupted');
    } finally {
      await app.dispose();
    }
  });

  it('keeps going past damaged sweep folders: listed without them, detailed with a clear error', async () => {
    const { dataDir, app } = services();
    try {
      const sweepId = await stoppedSweep(app);
      for (const [id, jobs] of [
        ['sweep-garbage', '{"status": '],
        ['sweep-short', JSON.stringify({ status: 'running', owner: null, updatedAt: '', jobs: [] })],
      ] as const) {
        mkdirSync(join(dataDir, 'sweeps', id));
        const record = JSON.parse(readFileSync(join(dataDir, 'sweeps', sweepId, 'sweep.json'), 'utf8')) as object;
        writeFileSync(join(dataDir, 'sweeps', id, 'sweep.json'), JSON.stringify({ ...record, sweepId: id }));
        writeFileSync(join(dataDir, 'sweeps', id, 'jobs.json'), jobs);
      }
      expect(((await invoke(app, 'sweeps.list', {})) as { sweeps: SweepSummary[] }).sweeps.map((s) => s.sweepId)).toEqual([sweepId]);
      await expect(invoke(app, 'sweeps.get', { sweepId: 'sweep-garbage' })).rejects.toMatchObject({
        code: 'invalid-input',
        message: expect.stringMatching(/sweep-garbage is damaged: jobs\.json is not valid JSON/),
      });
      await expect(invoke(app, 'sweeps.get', { sweepId: 'sweep-short' })).rejects.toMatchObject({
        message: expect.stringMatching(/sweep-short is damaged: jobs\.json does not list the jobs of sweep\.json/),
      });
      expect(await app.sweeps.resume()).toEqual([]);
    } finally {
      await app.dispose();
    }
  });

  it('leaves a sweep another live process runs to it, and takes over one whose process is dead', async () => {
    const { dataDir, app } = services();
    try {
      const sweepId = await stoppedSweep(app);
      const jobsFile = join(dataDir, 'sweeps', sweepId, 'jobs.json');
      const { definitionHash } = JSON.parse(readFileSync(join(dataDir, 'sweeps', sweepId, 'sweep.json'), 'utf8')) as { definitionHash: string };
      const leftRunning = (owner: object) => {
        const state = JSON.parse(readFileSync(jobsFile, 'utf8')) as object;
        writeFileSync(jobsFile, JSON.stringify({ ...state, status: 'running', owner }));
      };
      // This test's parent process: alive, and not this one.
      leftRunning({ pid: process.ppid, hostname: hostname(), startTime: readProcStat(process.ppid)?.startTime ?? null });
      await expect(app.sweeps.findResumable(definitionHash)).rejects.toMatchObject({ code: 'busy', message: expect.stringMatching(/still running in process/) });
      expect(await app.sweeps.resume()).toEqual([]);
      const dead = spawnSync(process.execPath, ['-e', '']).pid!;
      leftRunning({ pid: dead, hostname: hostname(), startTime: null });
      expect(await app.sweeps.findResumable(definitionHash)).toBe(sweepId);
    } finally {
      await app.dispose();
    }
  });
});
