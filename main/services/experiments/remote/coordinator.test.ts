/** The coordinator alone (no agent): queuing is idempotent, and a stopped coordinator leaves its jobs queued. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { runRemoteSweep, type RemoteProgress } from './coordinator';
import { QUEUE_NAME, QUEUE_PREFIX } from './protocol';
import { startTestRedis, type TestRedis } from './redis-test-server';
import { gridJobs } from './test-jobs';

let dir: string;
let redis: TestRedis;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'layerbench-coordinator-'));
  redis = await startTestRedis();
});
afterEach(async () => {
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('queues each run once however often the sweep starts, and leaves the jobs queued when stopped', async () => {
  const jobs = gridJobs('resume-1', [0.01, 0.05], ['he_normal'], 2);
  const progress: RemoteProgress[] = [];
  for (let start = 0; start < 2; start++) {
    const states = await runRemoteSweep(jobs, { redis: redis.url, dataDir: dir, onProgress: (p) => progress.push(p), pollMs: 50, signal: AbortSignal.timeout(400) });
    expect(states.map((s) => s.status)).toEqual(['queued', 'queued', 'queued', 'queued']);
  }
  expect(progress).toEqual([]); // nothing changed: no agent took a job
  const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
  const queue = new Queue(QUEUE_NAME, { connection, prefix: QUEUE_PREFIX });
  expect(await queue.getJobCounts('waiting', 'active', 'completed', 'failed')).toEqual({ waiting: 4, active: 0, completed: 0, failed: 0 });
  expect((await queue.getWaiting()).map((job) => job.id).sort()).toEqual([
    'resume-1:lr0.01-he_normal:1',
    'resume-1:lr0.01-he_normal:2',
    'resume-1:lr0.05-he_normal:1',
    'resume-1:lr0.05-he_normal:2',
  ]);
  await queue.close();
  connection.disconnect();
});

it('refuses jobs of two sweeps, or two runs of one arm and seed, before touching Redis', async () => {
  const [a] = gridJobs('sweep-a', [0.01], ['he_normal'], 1);
  const [b] = gridJobs('sweep-b', [0.01], ['he_normal'], 1);
  const options = { redis: 'redis://127.0.0.1:1', dataDir: dir, onProgress: () => {} };
  await expect(runRemoteSweep([a!, b!], options)).rejects.toThrow(/belong to 2 sweeps/);
  await expect(runRemoteSweep([a!, a!], options)).rejects.toThrow(/same arm and seed: sweep-a:lr0\.01-he_normal:1/);
});
