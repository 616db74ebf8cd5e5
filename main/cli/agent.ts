/**
 * `layerbench agent --redis URL [--concurrency N] [--backend B]`: trains the runs of sweeps queued
 * on Redis (`layerbench sweep --redis URL`) until SIGINT/SIGTERM, which stop the runs in progress
 * and give their jobs back to the queue for another agent.
 */
import { BackendNameSchema } from '../../contract';
import { startAgent } from '../services/experiments/remote/agent';
import { UsageError, intFlag, stringFlag, type ParsedArgs } from './args';

export const AGENT_OPTIONS = {
  redis: 'string',
  concurrency: 'string',
  backend: 'string',
  name: 'string',
  'data-dir': 'string',
  'lock-ms': 'string',
  'stalled-check-ms': 'string',
} as const;
export const AGENT_USAGE = `agent --redis URL [--concurrency N] [--backend B] [--name NAME]
                                       train the runs of sweeps queued on Redis (redis:// or rediss://,
                                       password in the URL) until interrupted, which gives the
                                       runs in progress back to the queue; --lock-ms N: a dead
                                       agent's job is retried after N ms (default 30000)`;

export async function agentCommand(args: ParsedArgs): Promise<number> {
  if (args.positionals.length) throw new UsageError('agent takes no file');
  const redis = stringFlag(args, 'redis');
  if (!redis) throw new UsageError('agent needs --redis URL');
  const backendFlag = stringFlag(args, 'backend');
  const backend = backendFlag === undefined ? undefined : BackendNameSchema.safeParse(backendFlag);
  if (backend && !backend.success) throw new UsageError(`--backend must be one of ${BackendNameSchema.options.join(', ')}, got ${backendFlag}`);
  // Listening before the agent starts: a signal while it connects stops it as soon as it can.
  let stopWith: ((signal: string) => void) | null = null;
  let early: string | null = null;
  const onSignal = (signal: string) => (stopWith ? stopWith(signal) : (early ??= signal));
  process.once('SIGINT', () => onSignal('SIGINT'));
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  const agent = await startAgent({
    redis,
    concurrency: intFlag(args, 'concurrency', 1, 64),
    backend: backend?.data,
    name: stringFlag(args, 'name'),
    dataDir: stringFlag(args, 'data-dir'),
    lockDurationMs: intFlag(args, 'lock-ms', 500, 3_600_000),
    stalledIntervalMs: intFlag(args, 'stalled-check-ms', 200, 3_600_000),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  await new Promise<void>((resolve) => {
    stopWith = (signal) => {
      process.stderr.write(`agent ${agent.name}: ${signal}: giving the runs in progress back to the queue\n`);
      void agent.release().then(resolve);
    };
    if (early) stopWith(early);
  });
  process.stderr.write(`agent ${agent.name}: stopped\n`);
  return 0;
}
