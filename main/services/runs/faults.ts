/**
 * A run whose files could not all be written (ENOSPC, EIO, EACCES, …) is not 'finished': it ends
 * 'failed' with code 'io', a reason that names each file and its errno, and the list of files that
 * are missing or incomplete, so that the UI and the CLI can say what is lost.
 */
import type { RunFileFault, RunSummary } from '../../../contract';
import { errnoOf, fsErrorReason } from '../files/atomic';

type Failure = NonNullable<RunSummary['failure']>;

export function faultOf(error: unknown, file: string, state: RunFileFault['state']): RunFileFault {
  return { file, state, errno: errnoOf(error) };
}

/** Adds faults to what `list` holds (one entry per file: the first fault of a file is kept). */
export function mergeFaults(list: RunFileFault[], more: readonly RunFileFault[]): RunFileFault[] {
  const merged = [...list];
  for (const fault of more) if (!merged.some((f) => f.file === fault.file)) merged.push(fault);
  return merged;
}

/**
 * The failure a run ends with when `faults` is not empty: code 'io', every file listed, and a
 * reason naming them; a reason the run failed for besides (a divergence) is kept in front of it.
 * Without faults, `failure` unchanged.
 */
export function withFaults(failure: Failure | null, faults: readonly RunFileFault[], runDir: string): Failure | null {
  const files = mergeFaults(failure?.files ?? [], faults);
  if (files.length === 0) return failure;
  const list = files.map((f) => `${f.file} is ${f.state} (${f.errno}${fsErrorReason(f.errno) ? `: ${fsErrorReason(f.errno)}` : ''})`).join('; ');
  const io = `Some of the run's files could not be written in ${runDir}: ${list}`;
  const other = failure && failure.code !== 'io' ? `${failure.error}. ` : '';
  return { ...failure, error: `${other}${io}`, code: 'io', files };
}
