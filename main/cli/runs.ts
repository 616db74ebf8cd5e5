/**
 * `layerbench runs list [--data-dir DIR] [--json]`: the runs workspace as the app lists it. Like
 * every start, it first marks runs whose process died as interrupted.
 */
import { resolve } from 'node:path';
import { RunStore } from '../services/runs/store';
import { defaultDataDir } from '../services/paths';
import { UsageError, stringFlag, type ParsedArgs } from './args';

export const RUNS_OPTIONS = { 'data-dir': 'string', json: 'boolean' } as const;
export const RUNS_USAGE = `runs list [--data-dir DIR] [--json]       list the runs (id, status, epochs, best val acc, why one failed)`;

export async function runsCommand(args: ParsedArgs): Promise<number> {
  const [action, ...extra] = args.positionals;
  if (action !== 'list' || extra.length) throw new UsageError('runs takes one action: list');
  const store = new RunStore(resolve(stringFlag(args, 'data-dir') ?? defaultDataDir()));
  await store.recoverInterrupted();
  const runs = await store.list();
  if (args.flags.has('json')) {
    process.stdout.write(`${JSON.stringify(runs, null, 2)}\n`);
    return 0;
  }
  for (const run of runs) {
    const acc = run.bestValAcc === null ? '' : ` · best val acc ${(run.bestValAcc * 100).toFixed(2)}%`;
    process.stdout.write(`${run.runId}  ${run.status}  ${run.epochsDone} epochs${acc}  ${run.name}\n`);
    if (run.failure) process.stdout.write(`  ${run.failure.error}\n`);
  }
  if (runs.length === 0) process.stdout.write(`No runs in ${store.runsDir}\n`);
  return 0;
}
