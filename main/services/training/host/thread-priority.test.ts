/**
 * The training thread's priority, read back from the kernel: a host started for a UI trains at
 * nice 10 on its own thread while the rest of the process (its main thread: IPC, persistence)
 * stays at normal priority; a headless host leaves every thread alone.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TrainingHost } from './host';
import type { ThreadPriority } from '../common/thread-priority';

const dataDir = mkdtempSync(join(tmpdir(), 'layerbench-priority-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** Thread id → nice value of every thread of this process (/proc/self/task/<tid>/stat, field 19). */
function threadNices(): Map<number, number> {
  const nices = new Map<number, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    // After the command name in parentheses (which may hold spaces): state is field 3, nice field 19.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    nices.set(Number(tid), Number(fields[16]));
  }
  return nices;
}

async function nicesWith(threadPriority: ThreadPriority | undefined): Promise<{ before: Map<number, number>; after: Map<number, number> }> {
  const before = threadNices();
  const host = new TrainingHost({ dataDir, backends: ['wasm'], threadPriority, onEvent: () => {} });
  try {
    await host.backends(); // the worker has started and applied its priority
    return { before, after: threadNices() };
  } finally {
    await host.dispose();
  }
}

describe.runIf(process.platform === 'linux')('training thread priority (Linux)', () => {
  it("'below-normal' lowers the training worker's thread only", async () => {
    const { before, after } = await nicesWith('below-normal');
    const lowered = [...after].filter(([tid, nice]) => !before.has(tid) && nice === 10);
    expect(lowered.length).toBe(1); // the worker thread: its helper threads predate the call
    expect(after.get(process.pid)).toBe(before.get(process.pid)); // the main thread is untouched
    for (const [tid, nice] of before) if (after.has(tid)) expect(after.get(tid), `thread ${tid}`).toBe(nice);
  }, 60_000);

  it('a headless host (the default) changes no thread', async () => {
    const { before, after } = await nicesWith(undefined);
    expect([...after].filter(([, nice]) => nice === 10)).toEqual([...before].filter(([, nice]) => nice === 10));
  }, 60_000);
});
