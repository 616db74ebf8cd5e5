/**
 * Who writes a run, and whether that process still lives: a run left 'running' or 'paused' by a
 * process that died is marked 'interrupted' (store.ts' recovery), one whose owner lives is left alone.
 *
 * `kill(pid, 0)` is not enough: a zombie (exited, not yet reaped by its parent) still answers it,
 * and a dead owner's pid may have been given to another process since. So, on Linux, the owner is
 * judged by /proc/<pid>/stat: alive only when the process exists, is not a zombie ('Z') or dead
 * ('X'), and started at the clock tick recorded with the run (a recycled pid starts later). Where
 * there is no /proc (macOS, Windows) or the owner is on another host (a shared folder), it is judged
 * by a heartbeat: the writer touches `.heartbeat` in the run folder every HEARTBEAT_MS, which a dead
 * or zombie process cannot do; one older than HEARTBEAT_STALE_MS means the owner is gone.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

export const HEARTBEAT_FILE = '.heartbeat';
export const HEARTBEAT_MS = 5_000;
/** Six missed beats: generous for an event loop held up by a long synchronous task. */
export const HEARTBEAT_STALE_MS = 30_000;

export interface RunOwner {
  pid: number;
  hostname: string;
  /** The process's start time in clock ticks since boot (/proc/<pid>/stat field 22); null without /proc. */
  startTime: string | null;
}

interface ProcStat {
  /** R, S, D, T, Z (zombie), X (dead), … */
  state: string;
  startTime: string;
}

/** The process's /proc stat; null: no such process; undefined: this system has no /proc. */
export function readProcStat(pid: number | 'self'): ProcStat | null | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return undefined;
    return procAvailable() ? null : undefined;
  }
  // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const startTime = fields[19];
  return state && startTime ? { state, startTime } : undefined;
}

let hasProc: boolean | undefined;
function procAvailable(): boolean {
  if (hasProc === undefined) {
    try {
      readFileSync('/proc/self/stat');
      hasProc = true;
    } catch {
      hasProc = false;
    }
  }
  return hasProc;
}

export function currentOwner(): RunOwner {
  return { pid: process.pid, hostname: hostname(), startTime: readProcStat('self')?.startTime ?? null };
}

/**
 * Whether a run's owner (another process) is alive. `heartbeatMs`: the run's heartbeat file's mtime
 * (0 when there is none); `useProc: false` judges as on a system without /proc.
 */
export function ownerAlive(owner: RunOwner, heartbeatMs: number, options: { now?: number; useProc?: boolean } = {}): boolean {
  const sameHost = owner.hostname === hostname();
  if (sameHost && options.useProc !== false) {
    const stat = readProcStat(owner.pid);
    if (stat === null) return false;
    if (stat) return stat.state !== 'Z' && stat.state !== 'X' && (owner.startTime === null || owner.startTime === stat.startTime);
  }
  const fresh = (options.now ?? Date.now()) - heartbeatMs < HEARTBEAT_STALE_MS;
  return fresh && (!sameHost || signalable(owner.pid));
}

function signalable(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
