/** Starts `layerbench serve` (the built CLI) on a fresh data folder and reads its token URL. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForServeUrl } from '../main/serve/test-wire';

export interface ServeHost {
  url: string;
  origin: string;
  dataDir: string;
  stop(): Promise<void>;
}

export async function startServeHost(): Promise<ServeHost> {
  const dataDir = mkdtempSync(join(tmpdir(), 'layerbench-e2e-'));
  const child: ChildProcess = spawn(process.execPath, ['out/cli/index.js', 'serve', '--port', '0', '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = await waitForServeUrl(child, 30_000);
  return {
    url,
    origin: new URL(url).origin,
    dataDir,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
