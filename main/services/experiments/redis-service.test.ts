/**
 * A Redis sweep started through the app's services (the dispatcher Electron and `serve` share): a
 * private redis-server with a password, a real `layerbench agent` process training a tiny MLP on a
 * Fashion-MNIST subset, real files. Its runs show live in `runs.list` with the agent's host and
 * backend, are stored once under the same ids, and a restarted service follows the sweep again.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { SweepDetailSchema, SweepProgressSchema, type SweepSummary } from '../../../contract/sweeps';
import type { RunSummary } from '../../../contract/runs';
import type { TrainingEvent } from '../../../contract/training';
import { createServices, type Services } from '../index';
import { spawnAgent } from './remote/agent-process';
import { recordStreamKey, sweepJobId } from './remote/protocol';
import { startTestRedis, type TestRedis } from './remote/redis-test-server';
import { tinySettings, tinySpec } from './test-support';

const PASSWORD = 'app-sweep-secret';
const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'layerbench-redis-app-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function testRedis(): Promise<TestRedis> {
  const redis = await startTestRedis({ password: PASSWORD });
  cleanups.push(() => redis.stop());
  return redis;
}

async function startAgent(redis: TestRedis, dir: string, name: string): Promise<void> {
  const agent = spawnAgent(['--redis', redis.url, '--name', name, '--backend', 'wasm', '--data-dir', join(dir, `agent-${name}`)], { TMPDIR: dir });
  cleanups.push(() => void agent.child.kill('SIGKILL'));
  await agent.ready;
}

interface App {
  app: Services;
  progress: SweepSummary[];
  events: TrainingEvent[];
}

function services(dataDir: string): App {
  const app = createServices({ host: 'browser', dataDir });
  const progress: SweepSummary[] = [];
  const events: TrainingEvent[] = [];
  app.onEvent((name, payload) => {
    if (name === 'sweeps.progress') progress.push(SweepProgressSchema.parse(payload));
    if (name === 'training') events.push(payload as TrainingEvent);
  });
  return { app, progress, events };
}

async function invoke(app: Services, name: string, payload: unknown): Promise<unknown> {
  const result = await app.dispatch(name, payload);
  if (!result.ok) throw Object.assign(new Error(result.error.message), { code: result.error.code });
  return result.value;
}

async function until<T>(what: string, probe: () => T | undefined | null | false | Promise<T | undefined | null | false>, timeoutMs = 60_000): Promise<T> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
    const value = await probe();
    if (value) return value;
  }
  throw new Error(`timed out waiting for ${what}`);
}

const listRuns = async (app: Services) => ((await invoke(app, 'runs.list', {})) as { runs: RunSummary[] }).runs;
const startRedisSweep = async (app: Services, url: string, seeds: number) =>
  ((await invoke(app, 'sweeps.start', { base: { spec: tinySpec, settings: tinySettings }, grid: {}, seeds, queue: { kind: 'redis', url } })) as { sweepId: string }).sweepId;

it('runs a sweep on a Redis queue: its runs show live with the agent’s host and backend, then are stored once under the same ids', async () => {
  const dir = tempDir();
  const redis = await testRedis();
  await startAgent(redis, dir, 'agent-east');
  const { app, progress, events } = services(join(dir, 'app'));
  cleanups.push(() => app.dispose());

  const sweepId = await startRedisSweep(app, redis.url, 2);
  // While a run trains on the agent, the runs list shows it running, labelled with the agent.
  const liveRow = await until('a remote run to be listed running', async () =>
    (await listRuns(app)).find((r) => r.status === 'running' && r.agent?.host === 'agent-east' && r.batchesDone > 0),
  );
  expect(liveRow).toMatchObject({ agent: { host: 'agent-east', backend: 'wasm' }, backend: 'wasm', modelName: 'tiny' });
  const liveDetail = (await invoke(app, 'runs.get', { runId: liveRow.runId })) as { batches: unknown[]; summary: RunSummary };
  expect(liveDetail.batches.length).toBeGreaterThan(0);

  await until('the sweep to finish', () => progress.find((p) => p.sweepId === sweepId && p.status === 'finished'));
  const detail = SweepDetailSchema.parse(await invoke(app, 'sweeps.get', { sweepId }));
  expect(detail.summary).toMatchObject({ queue: 'redis', redisUrl: `redis://:***@127.0.0.1:${redis.port}`, total: 2, finished: 2 });
  expect(detail.jobs.map((j) => [j.status, j.agent])).toEqual(Array(2).fill(['finished', { host: 'agent-east', backend: 'wasm' }]));

  // Stored once each, under the run ids their events carried: no live duplicate beside them.
  const runs = await listRuns(app);
  const runIds = detail.jobs.map((j) => j.runId!);
  expect(runs.map((r) => r.runId).sort()).toEqual([...runIds].sort());
  expect(runs.every((r) => r.status === 'finished' && r.agent?.host === 'agent-east' && r.agent.backend === 'wasm')).toBe(true);
  expect(new Set(events.map((e) => e.runId))).toEqual(new Set(runIds));
  expect(events.filter((e) => e.type === 'epoch')).toHaveLength(2);
  expect(events.filter((e) => e.type === 'finished')).toHaveLength(2);
  // Nothing a Train view or the backend badge would take for this machine's own run.
  expect(events.filter((e) => e.type === 'phase' || e.type === 'calibration')).toEqual([]);

  // The password stays in the 0600 file the sweep is followed with, never in what is listed.
  const sweepDir = app.sweeps.store.sweepDir(sweepId);
  expect(readFileSync(join(sweepDir, 'redis-url'), 'utf8')).toBe(redis.url);
  expect(statSync(join(sweepDir, 'redis-url')).mode & 0o777).toBe(0o600);
  for (const file of ['sweep.json', 'jobs.json']) expect(readFileSync(join(sweepDir, file), 'utf8')).not.toContain(PASSWORD);
  expect(JSON.stringify(await invoke(app, 'sweeps.list', {}))).not.toContain(PASSWORD);
}, 90_000);

it('refuses an unreachable Redis or a wrong password at sweeps.start, fast and typed, and writes nothing', async () => {
  const dir = tempDir();
  const redis = await testRedis();
  const { app } = services(join(dir, 'app'));
  cleanups.push(() => app.dispose());
  const closedPort = await new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

  const started = Date.now();
  await expect(startRedisSweep(app, `redis://127.0.0.1:${closedPort}`, 1)).rejects.toMatchObject({
    code: 'io',
    message: expect.stringMatching(/^Cannot use Redis at redis:\/\/127\.0\.0\.1:\d+/),
  });
  const wrong = startRedisSweep(app, `redis://:not-${PASSWORD}@127.0.0.1:${redis.port}`, 1);
  await expect(wrong).rejects.toMatchObject({ code: 'io', message: expect.stringContaining('WRONGPASS') });
  await expect(wrong).rejects.not.toThrow(PASSWORD);
  expect(Date.now() - started).toBeLessThan(10_000);
  // The schema refuses what is not a Redis URL, and an endless one.
  await expect(startRedisSweep(app, `http://127.0.0.1:${redis.port}`, 1)).rejects.toMatchObject({ code: 'invalid-request' });
  await expect(startRedisSweep(app, `redis://${'a'.repeat(3000)}`, 1)).rejects.toMatchObject({ code: 'invalid-request' });
  expect(((await invoke(app, 'sweeps.list', {})) as { sweeps: unknown[] }).sweeps).toEqual([]);
});

it('follows a Redis sweep again after the app restarts: jobs queued while it was closed finish on an agent', async () => {
  const dir = tempDir();
  const redis = await testRedis();
  const dataDir = join(dir, 'app');
  const first = services(dataDir);
  const sweepId = await startRedisSweep(first.app, redis.url, 1);
  await until('the sweep to be followed', () => first.progress.find((p) => p.sweepId === sweepId && p.status === 'running'));
  await first.app.dispose();
  // No agent yet: the job waits in Redis, the sweep stays running on disk.
  expect(JSON.parse(readFileSync(join(dataDir, 'sweeps', sweepId, 'jobs.json'), 'utf8'))).toMatchObject({ status: 'running', jobs: [{ status: 'queued' }] });

  await startAgent(redis, dir, 'agent-west');
  const second = services(dataDir);
  cleanups.push(() => second.app.dispose());
  await until('the resumed sweep to finish', () => second.progress.find((p) => p.sweepId === sweepId && p.status === 'finished'));
  const detail = SweepDetailSchema.parse(await invoke(second.app, 'sweeps.get', { sweepId }));
  expect(detail.jobs).toEqual([expect.objectContaining({ status: 'finished', attempt: 1, agent: { host: 'agent-west', backend: 'wasm' } })]);
  expect((await listRuns(second.app)).map((r) => r.runId)).toEqual([detail.jobs[0]!.runId]);
}, 90_000);

it('stops a Redis sweep: its jobs no agent took are removed from the queue and stay queued in the sweep', async () => {
  const dir = tempDir();
  const redis = await testRedis();
  const { app, progress } = services(join(dir, 'app'));
  cleanups.push(() => app.dispose());
  const sweepId = await startRedisSweep(app, redis.url, 2);
  await until('the sweep to be followed', () => progress.find((p) => p.sweepId === sweepId && p.status === 'running'));
  const { Redis } = await import('ioredis');
  const client = new Redis(redis.url);
  cleanups.push(() => void client.disconnect());
  const waiting = () => client.llen('layerbench:layerbench-sweeps:wait');
  await until('the jobs to be queued in Redis', async () => (await waiting()) === 2);

  expect(await invoke(app, 'sweeps.stop', { sweepId })).toEqual({ stopped: true });
  expect(await waiting()).toBe(0);
  const detail = SweepDetailSchema.parse(await invoke(app, 'sweeps.get', { sweepId }));
  expect(detail.summary.status).toBe('stopped');
  expect(detail.jobs.map((j) => j.status)).toEqual(['queued', 'queued']);
  expect(await invoke(app, 'sweeps.stop', { sweepId })).toEqual({ stopped: false });
});

it('stops a Redis sweep that could not be followed again (its Redis gone when the app restarted)', async () => {
  const dir = tempDir();
  const redis = await startTestRedis({ password: PASSWORD });
  const dataDir = join(dir, 'app');
  const first = services(dataDir);
  const sweepId = await startRedisSweep(first.app, redis.url, 1);
  await until('the sweep to be followed', () => first.progress.find((p) => p.sweepId === sweepId && p.status === 'running'));
  await first.app.dispose();
  await redis.stop();

  const second = services(dataDir);
  cleanups.push(() => second.app.dispose());
  // Resumed (announced), then given up: its Redis refuses the connection.
  await until('the sweep to be resumed', () => second.progress.find((p) => p.sweepId === sweepId));
  await second.app.sweeps.settled(sweepId);
  expect(SweepDetailSchema.parse(await invoke(second.app, 'sweeps.get', { sweepId })).summary.status).toBe('running');
  expect(await invoke(second.app, 'sweeps.stop', { sweepId })).toEqual({ stopped: true });
  expect(SweepDetailSchema.parse(await invoke(second.app, 'sweeps.get', { sweepId })).summary.status).toBe('stopped');
});

it('stops a Redis sweep whose Redis went away while it was followed, and the host closes, in bounded time', async () => {
  const dir = tempDir();
  const redis = await startTestRedis({ password: PASSWORD });
  const { app, progress } = services(join(dir, 'app'));
  const { Redis } = await import('ioredis');
  const client = new Redis(redis.url);
  const queued = () => client.llen('layerbench:layerbench-sweeps:wait');
  const stopped = await startRedisSweep(app, redis.url, 1);
  const left = await startRedisSweep(app, redis.url, 2);
  await until('both sweeps to be followed', () => ['running', 'running'].every((_, i) => progress.some((p) => p.sweepId === [stopped, left][i] && p.status === 'running')));
  await until('their jobs to be queued in Redis', async () => (await queued()) === 3);
  client.disconnect();
  await redis.stop();
  // Past a poll (1 s): the followers are waiting on a command then, not in their pause.
  await new Promise((resolve) => setTimeout(resolve, 2_500));

  // Their commands wait for a reconnect that never comes: the stop and the host's dispose must not.
  let started = Date.now();
  expect(await invoke(app, 'sweeps.stop', { sweepId: stopped })).toEqual({ stopped: true });
  expect(Date.now() - started).toBeLessThan(10_000);
  expect(SweepDetailSchema.parse(await invoke(app, 'sweeps.get', { sweepId: stopped })).summary.status).toBe('stopped');
  started = Date.now();
  await app.dispose();
  expect(Date.now() - started).toBeLessThan(10_000);
}, 60_000);

it('passes a flooding agent’s events to the training stream at a capped rate, while runs.get keeps them all', async () => {
  const dir = tempDir();
  const redis = await testRedis();
  const { app, progress, events } = services(join(dir, 'app'));
  cleanups.push(() => app.dispose());
  const sweepId = await startRedisSweep(app, redis.url, 1);
  await until('the sweep to be followed', () => progress.find((p) => p.sweepId === sweepId && p.status === 'running'));
  const { armId, seed } = SweepDetailSchema.parse(await invoke(app, 'sweeps.get', { sweepId })).jobs[0]!;
  const { Redis } = await import('ioredis');
  const client = new Redis(redis.url);
  cleanups.push(() => void client.disconnect());

  const FLOOD = 3_000;
  const started = Date.now();
  const pipeline = client.pipeline();
  for (let i = 0; i < FLOOD; i++) {
    const event = {
      type: 'batches',
      runId: 'run-flood',
      batches: [{ epoch: 0, batch: i, step: i, loss: 1, acc: 0.5 }],
      completedBatches: i + 1,
      totalBatches: FLOOD,
      samplesPerSec: 1,
    };
    pipeline.xadd(recordStreamKey(sweepId), '*', 'job', sweepJobId({ sweepId, armId, seed }), 'attempt', '1', 'host', 'flood', 'backend', 'wasm', 'event', JSON.stringify(event));
  }
  await pipeline.exec();
  await until('every event to reach the live run', async () => ((await invoke(app, 'runs.get', { runId: 'run-flood' })) as { batches: unknown[] }).batches.length === FLOOD);
  const seconds = Math.ceil((Date.now() - started) / 1000);
  const forwarded = events.filter((e) => e.runId === 'run-flood').length;
  expect(forwarded).toBeGreaterThan(0);
  expect(forwarded).toBeLessThanOrEqual(250 * (seconds + 1));
  expect(forwarded).toBeLessThan(FLOOD);
}, 60_000);
