/**
 * A sweep across machines, for real: a private redis-server (with a password), two `layerbench agent`
 * processes (the CLI from source, via tsx) training a tiny MLP on a Fashion-MNIST subset, and the
 * coordinator in this process. One agent is SIGKILLed mid-run: its job finishes on the other.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { SweepJobState } from '../../../../contract';
import { RunStore } from '../../runs/store';
import { runRemoteSweep, type RemoteProgress } from './coordinator';
import { progressLine } from './progress-text';
import { startTestRedis, type TestRedis } from './redis-test-server';
import { gridJobs } from './test-jobs';
import { spawnAgent, type AgentProcess } from './agent-process';

let dir: string;
let redis: TestRedis;
const agents: ChildProcess[] = [];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'layerbench-remote-'));
  redis = await startTestRedis({ password: 'sweep-secret' });
});
afterEach(async () => {
  for (const agent of agents.splice(0)) if (agent.exitCode === null && agent.signalCode === null) agent.kill('SIGKILL');
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Starts `layerbench agent` as a user would; resolves once it waits for jobs. */
async function startAgentProcess(name: string): Promise<AgentProcess> {
  const args = ['--redis', redis.url, '--name', name, '--backend', 'wasm', '--data-dir', join(dir, `data-${name}`), '--lock-ms', '3000', '--stalled-check-ms', '1000'];
  const agent = spawnAgent(args, { TMPDIR: dir });
  agents.push(agent.child);
  await agent.ready;
  return agent;
}

function jsonLines(path: string): Record<string, unknown>[] {
  return readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

it('runs a 2 × 2 grid × 2 seeds on two agents; a SIGKILLed agent’s run finishes once on the other, its partial records kept', async () => {
  const [a, b] = await Promise.all([startAgentProcess('agent-a'), startAgentProcess('agent-b')]);
  expect(a.log()).toContain('redis://:***@127.0.0.1');
  expect(a.log()).not.toContain('sweep-secret');
  const epochs = 2;
  const jobs = gridJobs('grid-1', [0.01, 0.05], ['he_normal', 'glorot_uniform'], 2, { epochs, trainSubset: 1600 });
  const dataDir = join(dir, 'coordinator');
  const finishedReports = new Map<string, number>();
  let killed: { jobId: string; completedBatches: number } | null = null;
  const lines: string[] = [];
  const onProgress = (p: RemoteProgress) => {
    lines.push(progressLine(p) ?? '');
    if (p.type === 'job' && p.state.status === 'finished') finishedReports.set(p.jobId, (finishedReports.get(p.jobId) ?? 0) + 1);
    // Mid-run: the first batches agent-a streams, with most of its run still to go.
    if (!killed && p.type === 'event' && p.agent.host === 'agent-a' && p.event.type === 'batches' && p.event.completedBatches < p.event.totalBatches / 2) {
      killed = { jobId: p.jobId, completedBatches: p.event.completedBatches };
      a.child.kill('SIGKILL');
    }
  };
  const states = await runRemoteSweep(jobs, { redis: redis.url, dataDir, onProgress, pollMs: 300 });

  expect(killed).not.toBeNull();
  const { jobId: killedJob } = killed!;
  expect(states.map((s) => s.status)).toEqual(Array(8).fill('finished'));
  // Each run reported finished once, and stored once, under its own id.
  expect([...finishedReports.values()]).toEqual(Array(8).fill(1));
  expect(new Set(states.map((s) => s.runId)).size).toBe(8);
  const killedState = states.find((s) => `grid-1:${s.armId}:${s.seed}` === killedJob)!;
  expect(killedState).toMatchObject({ attempt: 2, agent: { host: 'agent-b', backend: 'wasm' } });
  expect(lines).toContain(`${killedState.armId} seed ${killedState.seed}: finished on agent-b (wasm), attempt 2 → run ${killedState.runId}`);
  expect(lines.filter((l) => / \[agent-b\/wasm\]: epoch 2 loss \d.* val_acc \d+\.\d\d%$/.test(l)).length).toBeGreaterThanOrEqual(4);
  expect(existsSync(join(dataDir, 'remote-records'))).toBe(false); // the attempts' records moved into their runs

  const store = new RunStore(dataDir);
  const listed = await store.list();
  expect(listed.map((r) => r.runId).sort()).toEqual(states.map((s) => s.runId).sort());
  for (const [i, job] of jobs.entries()) {
    const state = states[i]!;
    const detail = await store.get(state.runId!);
    expect(detail.summary).toMatchObject({ status: 'finished', name: job.name, epochsDone: epochs, backend: 'wasm' });
    expect(detail.epochs.map((e) => e.epoch)).toEqual([0, 1]);
    expect(detail.epochs.every((e) => typeof e.val_acc === 'number' && typeof e.val_loss === 'number')).toBe(true);
    expect(detail.batches).toHaveLength(epochs * 40);
    expect(detail.settings).toMatchObject({ learningRate: job.settings.learningRate, seed: job.seed });
    expect(detail.hasWeights && detail.hasBestCheckpoint).toBe(true);
    const runJson = JSON.parse(readFileSync(join(store.runDir(state.runId!), 'run.json'), 'utf8'));
    expect(runJson.remote).toEqual({ host: state.agent!.host, backend: 'wasm', jobId: `grid-1:${job.armId}:${job.seed}`, attempt: state.attempt });
    const attempt1 = join(store.runDir(state.runId!), 'attempts', '1', 'metrics.jsonl');
    expect(existsSync(attempt1)).toBe(state.attempt === 2);
  }
  // The killed attempt's records, as far as it got: some batches, not the whole run.
  const partial = jsonLines(join(store.runDir(killedState.runId!), 'attempts', '1', 'metrics.jsonl')).filter((r) => r.kind === 'batch');
  expect(partial.length).toBeGreaterThanOrEqual(killed!.completedBatches);
  expect(partial.length).toBeLessThan(epochs * 40);

  // The same sweep started again: nothing queued twice, the stored runs recognised, not stored again.
  const again = await runRemoteSweep(jobs, { redis: redis.url, dataDir, onProgress: () => {}, pollMs: 300 });
  expect(again.map((s) => [s.status, s.runId])).toEqual(states.map((s) => ['finished', s.runId]));
  expect(await store.list()).toHaveLength(8);

  // SIGTERM: the idle agent stops cleanly.
  b.child.kill('SIGTERM');
  expect(await b.exited).toBe(0);
  expect(b.log()).toContain('agent agent-b: stopped');
});

it('gives a run back to the queue on SIGTERM; the next agent finishes it as attempt 2', async () => {
  const a = await startAgentProcess('agent-a');
  const jobs = gridJobs('release-1', [0.01], ['he_normal'], 1, { epochs: 2, trainSubset: 1600 });
  const dataDir = join(dir, 'coordinator');
  let b: Promise<AgentProcess> | null = null;
  const states: SweepJobState[] = await runRemoteSweep(jobs, {
    redis: redis.url,
    dataDir,
    pollMs: 300,
    onProgress: (p) => {
      if (!b && p.type === 'event' && p.event.type === 'batches') {
        a.child.kill('SIGTERM');
        b = a.exited.then(() => startAgentProcess('agent-b'));
      }
    },
  });
  expect(await a.exited).toBe(0);
  expect(a.log()).toMatch(/released/);
  expect(states).toEqual([expect.objectContaining({ status: 'finished', attempt: 2, agent: { host: 'agent-b', backend: 'wasm' } })]);
  const runDir = new RunStore(dataDir).runDir(states[0]!.runId!);
  expect(jsonLines(join(runDir, 'attempts', '1', 'metrics.jsonl')).some((r) => r.kind === 'batch')).toBe(true);
});
