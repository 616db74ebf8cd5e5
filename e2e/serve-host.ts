/** Starts `layerbench serve` (the built CLI) on a fresh data folder and reads its token URL. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`layerbench serve printed no URL in 30 s. stderr:\n${stderr}`)), 30_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const match = /running at (http:\/\/\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`layerbench serve exited with ${code}:\n${stderr}`)));
  });
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
