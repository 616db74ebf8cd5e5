/**
 * Owner liveness with real processes: a run whose owner was SIGKILLed, or exited and was left a
 * zombie by a parent that never reaps it, is dead — though `kill(pid, 0)` still answers for the
 * zombie — and any start marks its run interrupted, the CLI's included.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultTrainingSettings } from '../../../contract';
import { seedModel1 } from '../../../model/presets';
import { currentOwner, HEARTBEAT_FILE, HEARTBEAT_STALE_MS, ownerAlive, readProcStat, type RunOwner } from './owner';
import { RunStore } from './store';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const crashWriter = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url));
const dirs: string[] = [];
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function freshDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'layerbench-owner-'));
  dirs.push(dir);
  return dir;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits for "created" on the child's stdout (the run exists, owned by the crash writer). */
function created(child: ChildProcess): Promise<void> {
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  return new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('created') && resolve());
    child.on('exit', () => reject(new Error(`the writer ended before creating its run: ${stderr}`)));
  });
}

function runFile(dataDir: string, runId: string): { summary: { status: string }; owner: RunOwner | null } {
  return JSON.parse(readFileSync(join(dataDir, 'runs', runId, 'run.json'), 'utf8'));
}

function heartbeatOf(dataDir: string, runId: string): number {
  const path = join(dataDir, 'runs', runId, HEARTBEAT_FILE);
  return existsSync(path) ? statSync(path).mtimeMs : 0;
}

/** `layerbench runs list` from the sources, as a user runs it. */
function cliRunsList(dataDir: string) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'main/cli/index.ts', 'runs', 'list', '--data-dir', dataDir], { cwd: root, encoding: 'utf8' });
}

const linux = readProcStat('self') !== undefined;

describe('run owner liveness', () => {
  it('a SIGKILLed owner is dead, and the CLI (runs list) marks its run interrupted', async () => {
    const dataDir = freshDataDir();
    const child = spawn(process.execPath, ['--import', 'tsx', crashWriter, dataDir, 'run-killed'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    const exited = new Promise((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    await created(child);
    const owner = runFile(dataDir, 'run-killed').owner!;
    expect(owner.pid).toBe(child.pid);
    if (linux) expect(owner.startTime).toMatch(/^\d+$/);
    expect(ownerAlive(owner, heartbeatOf(dataDir, 'run-killed'))).toBe(true);
    // The owner lives: a start leaves its run alone.
    expect(await new RunStore(dataDir).recoverInterrupted()).toEqual([]);

    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect(ownerAlive(owner, heartbeatOf(dataDir, 'run-killed'))).toBe(false);
    const listed = cliRunsList(dataDir);
    expect(listed.status).toBe(0);
    expect(listed.stdout).toMatch(/^run-killed {2}interrupted /m);
    expect(runFile(dataDir, 'run-killed')).toMatchObject({ summary: { status: 'interrupted' }, owner: null });
    expect(existsSync(join(dataDir, 'runs', 'run-killed', HEARTBEAT_FILE))).toBe(false);
    expect(existsSync(join(dataDir, 'runs', 'run-killed', '.reserve'))).toBe(false);
  });

  it.skipIf(!linux)('a zombie owner is dead, though kill(pid, 0) still answers for it', async () => {
    const dataDir = freshDataDir();
    // sh starts the writer in the background, then becomes `sleep`, which never waits for its
    // child: the writer exits right after creating its run and stays a zombie until sleep ends.
    const script = `"${process.execPath}" --import tsx "${crashWriter}" "${dataDir}" run-zombie exit & exec sleep 60`;
    const parent = spawn('sh', ['-c', script], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(parent);
    try {
      await new Promise<void>((resolve, reject) => {
        parent.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('created') && resolve());
        parent.on('exit', () => reject(new Error('sleep ended early')));
      });
      const owner = runFile(dataDir, 'run-zombie').owner!;
      let state = readProcStat(owner.pid)?.state;
      for (let i = 0; i < 200 && state !== 'Z'; i++) {
        await sleep(25);
        state = readProcStat(owner.pid)?.state;
      }
      expect(state).toBe('Z');
      expect(() => process.kill(owner.pid, 0)).not.toThrow(); // what made a zombie look alive
      expect(ownerAlive(owner, heartbeatOf(dataDir, 'run-zombie'))).toBe(false);
      expect(await new RunStore(dataDir).recoverInterrupted()).toEqual(['run-zombie']);
      expect(runFile(dataDir, 'run-zombie').summary.status).toBe('interrupted');
    } finally {
      parent.kill('SIGKILL');
    }
  });

  it.skipIf(!linux)('a recycled pid is not the owner: the start time differs', () => {
    const me = currentOwner();
    const parentStart = readProcStat(process.ppid)!.startTime;
    expect(ownerAlive({ ...me, pid: process.ppid, startTime: parentStart }, 0)).toBe(true);
    // The same pid, started a tick later than the recorded owner: another process.
    expect(ownerAlive({ ...me, pid: process.ppid, startTime: String(Number(parentStart) + 1) }, 0)).toBe(false);
  });

  it('without /proc, or on another host, a heartbeat decides: fresh is alive, stale is dead', () => {
    const me = currentOwner();
    const parent: RunOwner = { ...me, pid: process.ppid };
    const now = Date.now();
    expect(ownerAlive(parent, now - 1000, { now, useProc: false })).toBe(true);
    expect(ownerAlive(parent, now - HEARTBEAT_STALE_MS - 1, { now, useProc: false })).toBe(false);
    expect(ownerAlive(parent, 0, { now, useProc: false })).toBe(false);
    const elsewhere: RunOwner = { pid: 1, hostname: `${me.hostname}-elsewhere`, startTime: null };
    expect(ownerAlive(elsewhere, now - 1000, { now })).toBe(true);
    expect(ownerAlive(elsewhere, now - HEARTBEAT_STALE_MS - 1, { now })).toBe(false);
  });

  it('the writer keeps its heartbeat while the run lives, and removes it when the run ends', async () => {
    const store = new RunStore(freshDataDir());
    const writer = await store.create({ runId: 'run-beat', spec: seedModel1, settings: defaultTrainingSettings, backend: 'cpu' });
    const beat = join(writer.directory, HEARTBEAT_FILE);
    expect(existsSync(beat)).toBe(true);
    await writer.setStatus('finished');
    expect(existsSync(beat)).toBe(false);
  });
});
