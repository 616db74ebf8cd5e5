/** Redis credentials and TLS pass through to ioredis, and a password never shows in a message. */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { spawnAgent } from './agent-process';
import { checkRedis, redactRedisUrl } from './connection';
import { runRemoteSweep } from './coordinator';
import { startTestRedis, type TestRedis } from './redis-test-server';
import { gridJobs } from './test-jobs';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function testRedis(options: { password?: string; tls?: boolean }): Promise<TestRedis> {
  const redis = await startTestRedis(options);
  cleanups.push(() => redis.stop());
  return redis;
}

it('redacts the password of a Redis URL, an ACL user’s too', () => {
  expect(redactRedisUrl('redis://:hunter2@db.example:6379/0')).toBe('redis://:***@db.example:6379/0');
  expect(redactRedisUrl('rediss://sweeper:p%40ss@db.example:6380')).toBe('rediss://sweeper:***@db.example:6380');
  expect(redactRedisUrl('redis://db.example:6379')).toBe('redis://db.example:6379');
  expect(redactRedisUrl('not a url hunter2')).not.toContain('hunter2');
  // ioredis reads options from the query as well, a password among them.
  expect(redactRedisUrl('redis://db.example:6379/0?password=hunter2&family=6')).toBe('redis://db.example:6379/0?password=***&family=***');
});

it('gives up on a server that accepts and never answers, within the timeout', async () => {
  const accepted: Socket[] = [];
  const silent = createServer((socket) => void accepted.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () => new Promise((resolve) => silent.close(resolve)),
    () => accepted.forEach((socket) => socket.destroy()),
  );
  const { port } = silent.address() as AddressInfo;
  const started = Date.now();
  await expect(checkRedis(`redis://:hunter2@127.0.0.1:${port}`, 500)).rejects.toMatchObject({
    code: 'io',
    message: `Cannot use Redis at redis://:***@127.0.0.1:${port}: no answer within 500 ms`,
  });
  expect(Date.now() - started).toBeLessThan(3_000);
});

it('refuses a wrong or missing password with a clear error that does not show it', async () => {
  const redis = await testRedis({ password: 'right-secret' });
  const jobs = gridJobs('auth-1', [0.01], ['he_normal'], 1);
  const options = { dataDir: join(tmpdir(), 'never-written'), onProgress: () => {} };
  const wrong = runRemoteSweep(jobs, { ...options, redis: `redis://:wrong-secret@127.0.0.1:${redis.port}` });
  await expect(wrong).rejects.toThrow(new RegExp(`^Cannot use Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${redis.port}: WRONGPASS`));
  await expect(wrong).rejects.not.toThrow(/wrong-secret/);
  await expect(runRemoteSweep(jobs, { ...options, redis: `redis://127.0.0.1:${redis.port}` })).rejects.toThrow(/NOAUTH/);
  await expect(runRemoteSweep(jobs, { ...options, redis: `http://127.0.0.1:${redis.port}` })).rejects.toThrow(/must start with redis:\/\/ or rediss:\/\//);
});

it('connects an agent over TLS (rediss://) when its CA is trusted, and refuses it clearly when not', async () => {
  const redis = await testRedis({ password: 'tls-secret', tls: true });
  const dir = mkdtempSync(join(tmpdir(), 'layerbench-tls-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const args = ['--redis', redis.url, '--name', 'tls-agent', '--data-dir', dir];

  const untrusted = spawnAgent(args, { TMPDIR: dir });
  expect(await untrusted.exited).toBe(1);
  expect(untrusted.log()).toMatch(new RegExp(`Cannot use Redis at rediss://:\\*\\*\\*@127\\.0\\.0\\.1:${redis.port}: .*certificate`));
  expect(untrusted.log()).not.toContain('tls-secret');

  const trusted = spawnAgent(args, { TMPDIR: dir, NODE_EXTRA_CA_CERTS: redis.caFile! });
  cleanups.push(() => void trusted.child.kill('SIGKILL'));
  await trusted.ready;
  expect(trusted.log()).toContain(`agent tls-agent: waiting for jobs on rediss://:***@127.0.0.1:${redis.port}`);
  trusted.child.kill('SIGTERM');
  expect(await trusted.exited).toBe(0);
});
