/**
 * The seam to the Redis queue (dev/sweeps-redis): `./remote` exports `runRemoteSweep` there. Loaded
 * only when `--redis` is given, so a local sweep never loads BullMQ.
 */
import type { SweepJob, SweepJobState } from '../../../contract/sweeps';

export interface RemoteSweepOptions {
  /** redis:// or rediss:// URL (it may carry a password: never print it). */
  redis: string;
  /** Where the finished runs are stored (`<dataDir>/runs/<runId>`), as local runs are. */
  dataDir: string;
  /** Progress of the remote jobs, shown as it comes. */
  onProgress(progress: unknown): void;
}

export type RunRemoteSweep = (jobs: SweepJob[], options: RemoteSweepOptions) => Promise<SweepJobState[]>;

/** The Redis queue's runRemoteSweep, or null in a build without it. */
export async function loadRemoteSweep(): Promise<RunRemoteSweep | null> {
  const remote: { runRemoteSweep?: unknown } = await import('./remote');
  return typeof remote.runRemoteSweep === 'function' ? (remote.runRemoteSweep as RunRemoteSweep) : null;
}
