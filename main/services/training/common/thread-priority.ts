/**
 * The training thread's scheduling priority. Training keeps a core busy for as long as it runs;
 * on a machine with few cores the UI's threads (the renderer, its compositor, the GPU process)
 * then wait for the CPU behind it and frames drop at every burst of chart drawing. A desktop app
 * with a UI therefore trains at below-normal priority: the trainer gives way only while the UI
 * actually wants the CPU (bench/README.md, section 3, has what it bought), and runs at full speed
 * otherwise. Headless runs (the CLI) keep normal priority. Nice values weigh threads within one
 * scheduling group: a browser started from another session or systemd scope (serve mode) is weighed
 * against that group as a whole, and this process's other threads (V8's helpers, libuv's pool) stay
 * at normal priority.
 */
import { setPriority } from 'node:os';

export type ThreadPriority = 'normal' | 'below-normal';

/** The nice value for 'below-normal': CFS then weighs the thread ~10× below a normal one. */
const BELOW_NORMAL_NICE = 10;

/**
 * Applies `priority` to the calling thread. Only Linux has per-thread nice values
 * (setpriority(PRIO_PROCESS, 0) names the calling thread there); on macOS and Windows the same
 * call would lower the whole process, Electron's main process with its IPC, so nothing changes.
 * Returns why not where it did not apply.
 */
export function applyThreadPriority(priority: ThreadPriority): { applied: boolean; reason?: string } {
  if (priority === 'normal') return { applied: false, reason: 'normal priority asked for' };
  if (process.platform !== 'linux') return { applied: false, reason: `per-thread priorities are Linux-only (this is ${process.platform})` };
  try {
    setPriority(0, BELOW_NORMAL_NICE);
    return { applied: true };
  } catch (error) {
    // E.g. a sandbox without the right to renice: training still works, at normal priority.
    return { applied: false, reason: error instanceof Error ? error.message : String(error) };
  }
}
