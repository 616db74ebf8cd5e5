/** For tests (not used by the app): `layerbench agent` as a user starts it, from source via tsx. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname, '../../../..');
const cli = join(root, 'main/cli/index.ts');

export interface AgentProcess {
  child: ChildProcess;
  /** Its stdout and stderr so far. */
  log(): string;
  /** Resolves once it waits for jobs; rejects with its output if it exits first. */
  ready: Promise<void>;
  /** Its exit code. */
  exited: Promise<number | null>;
}

export function spawnAgent(args: string[], env: NodeJS.ProcessEnv = {}): AgentProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', cli, 'agent', ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = new Promise<void>((resolve, reject) => {
    const collect = (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes('waiting for jobs')) resolve();
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    void exited.then((code) => reject(new Error(`the agent exited (${code}) before it was ready:\n${log}`)));
  });
  ready.catch(() => {});
  return { child, log: () => log, ready, exited };
}
