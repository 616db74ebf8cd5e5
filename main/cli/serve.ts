/** `layerbench serve`: the app in a browser, against the same services as the desktop app. */
import { fileURLToPath } from 'node:url';
import { createServices } from '../services';
import { defaultDataDir } from '../services/paths';
import { startServer } from '../serve/server';
import { intFlag, stringFlag, type ParsedArgs } from './args';

export async function serveCommand(args: ParsedArgs): Promise<void> {
  const dataDir = stringFlag(args, 'data-dir') ?? defaultDataDir();
  const services = createServices({ host: 'browser', dataDir, fashionMnistBaseUrl: stringFlag(args, 'dataset-url') });
  const rendererDir = stringFlag(args, 'renderer-dir') ?? fileURLToPath(new URL('../renderer', import.meta.url));
  const server = await startServer({ services, rendererDir, port: intFlag(args, 'port', 0, 65535) ?? 0 });
  // The URL on its own line, first: scripts and tests read it from stdout.
  process.stdout.write(`Layerbench is running at ${server.url}\n`);
  process.stderr.write(`Data folder: ${dataDir}\nPress Ctrl+C to stop.\n`);
  const shutdown = async () => {
    await server.close();
    await services.dispose();
    process.exit(0);
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}
