/**
 * Hostile values in Redis, written by another client of the same server: a malformed job payload, a
 * garbage or forged upload, garbage in the record stream. Each fails its own job with a clear error;
 * the coordinator and the agent go on. Real redis-server, real BullMQ; loopback only.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { RunStore } from '../../runs/store';
import { startAgent, type RunningAgent } from './agent';
import { runRemoteSweep, type RemoteProgress } from './coordinator';
import { QUEUE_NAME, QUEUE_PREFIX, chunkKey, recordStreamKey, sweepJobId, uploadKey } from './protocol';
import { startTestRedis, type TestRedis } from './redis-test-server';
import { gridJobs, tinyMlp, tinySettings } from './test-jobs';

let dir: string;
let redis: TestRedis;
let client: Redis;
const closers: (() => Promise<unknown>)[] = [];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'layerbench-hostile-'));
  redis = await startTestRedis();
  client = new Redis(redis.url, { maxRetriesPerRequest: null });
});
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  client.disconnect();
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A connection for a BullMQ queue or worker of the test's own (BullMQ leaves closing it to its owner). */
function connection(): Redis {
  const redisClient = client.duplicate({ maxRetriesPerRequest: null });
  closers.unshift(async () => redisClient.disconnect());
  return redisClient;
}

const sha256 = (bytes: string | Buffer) => createHash('sha256').update(bytes).digest('hex');

it('refuses forged and garbage uploads and skips garbage records, storing nothing, without stopping the sweep', async () => {
  const jobs = gridJobs('hostile-1', [0.01], ['garbage_chunk', 'escape_path', 'not_a_manifest', 'oversized_chunk', 'wrong_run_json'], 1);
  // A hostile agent: completes every job with a forged result of its own kind.
  const forge = async (job: Job) => {
    const kind = (job.data as { armId: string }).armId.replace('lr0.01-', '');
    const jobId = job.id!;
    const upload = uploadKey(jobId, 1);
    const manifest = (files: object[]) => ({ version: 1, runId: 'run-forged', status: 'finished', error: null, attempt: 1, agent: { host: 'evil', backend: 'wasm' }, files });
    const stream = recordStreamKey('hostile-1');
    await client.xadd(stream, '*', 'job', jobId, 'attempt', '1', 'host', 'evil', 'backend', 'wasm', 'event', '{not json');
    await client.xadd(stream, '*', 'job', 'hostile-1:elsewhere:1', 'attempt', '1', 'host', 'evil', 'backend', 'wasm', 'event', '{}');
    await client.xadd(stream, '*', 'garbage', 'x');
    switch (kind) {
      case 'garbage_chunk':
        await client.set(chunkKey(upload, 0, 0), 'garbage');
        return manifest([{ path: 'run.json', bytes: 7, sha256: sha256('{"a":1}'), chunks: 1 }]);
      case 'escape_path':
        return manifest([{ path: '../../../.bashrc', bytes: 1, sha256: sha256('x'), chunks: 1 }]);
      case 'not_a_manifest':
        return 'hello';
      case 'oversized_chunk':
        await client.set(chunkKey(upload, 0, 0), Buffer.alloc(1 << 20));
        return manifest([{ path: 'run.json', bytes: 10, sha256: sha256('0123456789'), chunks: 1 }]);
      default: {
        const text = JSON.stringify({ format: 'layerbench.run', version: 1, summary: { runId: '../x' } });
        await client.set(chunkKey(upload, 0, 0), text);
        return manifest([{ path: 'run.json', bytes: Buffer.byteLength(text), sha256: sha256(text), chunks: 1 }]);
      }
    }
  };
  const evil = new Worker(QUEUE_NAME, forge, { connection: connection(), prefix: QUEUE_PREFIX });
  closers.push(() => evil.close());

  const dataDir = join(dir, 'coordinator');
  const warnings: string[] = [];
  const onProgress = (p: RemoteProgress) => p.type === 'warning' && warnings.push(p.message);
  const states = await runRemoteSweep(jobs, { redis: redis.url, dataDir, onProgress, pollMs: 200 });

  const errors = Object.fromEntries(states.map((s) => [s.armId.replace('lr0.01-', ''), s.status === 'failed' ? s.error : s.status]));
  expect(errors['garbage_chunk']).toMatch(/upload was refused: run\.json: its content does not match its SHA-256/);
  expect(errors['escape_path']).toMatch(/upload was refused: its manifest is invalid: .*not a run folder file/);
  expect(errors['not_a_manifest']).toMatch(/upload was refused: its manifest is invalid/);
  expect(errors['oversized_chunk']).toMatch(/upload was refused: run\.json: chunk 1 is 1048576 bytes, more than the file's declared size allows/);
  expect(errors['wrong_run_json']).toMatch(/upload was refused: run\.json is invalid/);
  expect(warnings.some((w) => /a record was skipped/.test(w))).toBe(true);
  expect(warnings.some((w) => /not in this sweep/.test(w))).toBe(true);
  expect(warnings.some((w) => /record .* skipped: .*job/.test(w))).toBe(true);
  expect(await new RunStore(dataDir).list()).toEqual([]);
  expect(readdirSync(join(dataDir, 'runs'))).toEqual([]); // no half-downloaded folder left
});

it('fails a malformed job payload with a clear error and goes on training the next job', async () => {
  const logs: string[] = [];
  const agent: RunningAgent = await startAgent({
    redis: redis.url,
    name: 'agent-x',
    backend: 'wasm',
    dataDir: join(dir, 'agent-data'),
    log: (line) => logs.push(line),
    // Short, so the garbled job below fails as stalled within seconds.
    lockDurationMs: 2000,
    stalledIntervalMs: 500,
    maxStalledCount: 1,
  });
  closers.push(() => agent.release());
  const queue = new Queue(QUEUE_NAME, { connection: connection(), prefix: QUEUE_PREFIX });
  closers.push(() => queue.close());

  await queue.add('train', { sweepId: 'hostile-2', armId: 'a', seed: 1, spec: 'nope' }, { jobId: 'hostile-2:a:1' });
  const [good] = gridJobs('hostile-2', [0.01], ['he_normal'], 1);
  await queue.add('train', good, { jobId: 'hostile-2:forged:1' });
  const failedReason = async (jobId: string) => {
    for (let i = 0; i < 100; i++) {
      const reason = await client.hget(`${QUEUE_PREFIX}:${QUEUE_NAME}:${jobId}`, 'failedReason');
      if (reason) return reason;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return null;
  };
  expect(await failedReason('hostile-2:a:1')).toMatch(/^job hostile-2:a:1 is not a sweep job: .*spec: Invalid input: expected object, received string/);
  expect(await failedReason('hostile-2:forged:1')).toBe(`job hostile-2:forged:1 does not match its data (a sweep job's id is ${sweepJobId(good!)})`);

  // The agent is still there: an untrainable model fails as such, a good job trains, and a job of
  // the sweep whose data is not even JSON (queued under its id before the sweep) fails as stalled.
  const untrainable = { ...good!, armId: 'five-classes', spec: tinyMlp('he_normal'), settings: tinySettings };
  untrainable.spec.config.layers[2]!.config['units'] = 5;
  const garbled = { ...good!, armId: 'garbled' };
  await queue.add('train', {}, { jobId: sweepJobId(garbled), delay: 60_000 });
  await client.hset(`${QUEUE_PREFIX}:${QUEUE_NAME}:${sweepJobId(garbled)}`, 'data', '{not json');
  await queue.promoteJobs();
  const states = await runRemoteSweep([good!, untrainable, garbled], { redis: redis.url, dataDir: join(dir, 'coordinator'), onProgress: () => {}, pollMs: 200 });
  expect(states[0]).toMatchObject({ status: 'finished', agent: { host: 'agent-x', backend: 'wasm' } });
  expect(states[1]).toMatchObject({ status: 'failed', runId: null });
  expect(states[1]!.error).toMatch(/cannot train: The model cannot be trained on Fashion-MNIST: .*10/);
  expect(states[2]).toEqual(
    expect.objectContaining({ status: 'failed', runId: null, error: `job ${sweepJobId(garbled)}: its data in Redis is not JSON (rewritten by another client)` }),
  );
  // …and the queue fails it too, rather than handing it out for ever.
  expect(await failedReason(sweepJobId(garbled))).toMatch(/not a sweep job|stalled more than allowable limit/);
  expect(logs.join('\n')).toMatch(/job hostile-2:a:1: failed: job hostile-2:a:1 is not a sweep job/);
});
