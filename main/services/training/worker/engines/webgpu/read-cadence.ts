/**
 * How often the fused WebGPU step reads loss and accuracy back: every K steps. A read waits for the
 * GPU to finish every step queued before it (mapAsync); on a fast GPU that wait, not the work, bounds
 * a small batch's step, so with 'auto' K grows until a read comes about every READ_TARGET_MS of
 * training, from the time the last window took per step; on a slow device (SwiftShader) K stays 1.
 * The environment variable LAYERBENCH_WEBGPU_READ_EVERY pins K for a run (tests, benches).
 */
import { performance } from 'node:perf_hooks';
import { DomainError } from '../../../../../../contract';

/** Reads about this often (ms) with 'auto'. */
export const READ_TARGET_MS = 15;
/** The most steps between reads with 'auto'. */
export const MAX_READ_EVERY = 32;
/** Pins K for the runs of a worker: a whole number of steps, 1 to MAX_PINNED_READ_EVERY. */
export const READ_EVERY_ENV = 'LAYERBENCH_WEBGPU_READ_EVERY';
const MAX_PINNED_READ_EVERY = 1024;
/** What the last-finite weight slots (K + 1 copies of the variables) may take on the device. */
const LAST_FINITE_BUDGET_BYTES = 256 * 2 ** 20;

/** K as LAYERBENCH_WEBGPU_READ_EVERY pins it, or null when it is unset. */
export function pinnedReadEvery(env: NodeJS.ProcessEnv = process.env): number | null {
  const raw = env[READ_EVERY_ENV]?.trim();
  if (!raw) return null;
  const k = Number(raw);
  if (!Number.isInteger(k) || k < 1 || k > MAX_PINNED_READ_EVERY) {
    throw new DomainError('invalid-input', `${READ_EVERY_ENV}=${raw}: give a whole number of steps from 1 to ${MAX_PINNED_READ_EVERY}`);
  }
  return k;
}

export class ReadCadence {
  /** The most steps between reads: the per-step metrics ring has this many slots. */
  readonly max: number;
  private readonly auto: boolean;
  private k: number;
  private cap: number;
  private windowStart = performance.now();

  /** `readEvery`: a fixed K, or 'auto' (K from the step time, up to `maxReadEvery`, starting at 1). */
  constructor(readEvery: number | 'auto', maxReadEvery?: number) {
    this.auto = readEvery === 'auto';
    const fixed = readEvery === 'auto' ? 1 : Math.max(1, Math.floor(readEvery));
    this.max = Math.max(fixed, Math.floor(maxReadEvery ?? (this.auto ? MAX_READ_EVERY : fixed)));
    this.k = fixed;
    this.cap = this.max;
  }

  /** Steps between reads now. */
  get every(): number {
    return Math.min(this.k, this.cap);
  }

  /** Lowers the most steps between reads (never below 1). */
  limit(max: number): void {
    this.cap = Math.max(1, Math.min(this.cap, Math.floor(max)));
  }

  /** A read of `steps` steps' values; `afterStep`: it came with a step (a full window), so its time per step sets K. */
  read(steps: number, afterStep: boolean): void {
    const now = performance.now();
    if (this.auto && afterStep && steps > 0) {
      const stepMs = (now - this.windowStart) / steps;
      this.k = Math.max(1, Math.min(this.cap, Math.floor(READ_TARGET_MS / Math.max(stepMs, 1e-3))));
    }
    this.windowStart = now;
  }
}

/**
 * How many copies of `variablesBytes` the last-finite ring keeps: K + 1 (each step of a window and the
 * step before it), fewer where they would take more than the budget or `maxBufferBytes`, K then
 * lowered to fit; two at least (the weights of the latest step and of the one before).
 */
export function lastFiniteSlots(cadence: ReadCadence, variablesBytes: number, maxBufferBytes: number): number {
  const fit = Math.floor(Math.min(LAST_FINITE_BUDGET_BYTES, maxBufferBytes) / Math.max(variablesBytes, 1));
  const slots = Math.max(2, Math.min(cadence.max + 1, fit));
  cadence.limit(slots - 1);
  return slots;
}
