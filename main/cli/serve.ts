/** `layerbench serve`: the app in a browser, against the same services as the desktop app. */
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createServices } from '../services';
import { defaultDataDir } from '../services/paths';
import { startServer } from '../serve/server';
import { UsageError, intFlag, stringFlag, type ParsedArgs } from './args';

export async function serveCommand(args: ParsedArgs): Promise<void> {
  const dataDir = stringFlag(args, 'data-dir') ?? defaultDataDir();
  const root = stringFlag(args, 'root');
  if (root !== undefined && !statSync(root, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`--root ${root}: not a folder`);
  const services = createServices({ host: 'browser', dataDir, fashionMnistBaseUrl: stringFlag(args, 'dataset-url'), ...(root !== undefined ? { root } : {}) });
  const rendererDir = stringFlag(args, 'renderer-dir') ?? fileURLToPath(new URL('../renderer', import.meta.url));
  const allowedHosts = (stringFlag(args, 'allow-host') ?? '').split(',').filter((name) => name.trim() !== '');
  const server = await startServer({ services, rendererDir, port: intFlag(args, 'port', 0, 65535) ?? 0, allowedHosts });
  // The URL on its own line, first: scripts and tests read it from stdout.
  process.stdout.write(`Layerbench is running at ${server.url}\n`);
  const access = root !== undefined ? `Client paths confined to: ${root}` : 'Client paths: anywhere this user can read and write (confine them with --root DIR)';
  process.stderr.write(`Data folder: ${dataDir}\n${access}\nPress Ctrl+C to stop.\n`);
  const shutdown = async () => {
    await server.close();
    await services.dispose();
    process.exit(0);
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}
