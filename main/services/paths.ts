/** Where Layerbench keeps its data when no host says otherwise: Electron's userData folder, so the
 * desktop app, `layerbench serve` and the CLI share one dataset cache and one runs workspace. */
import { homedir } from 'node:os';
import { join } from 'node:path';

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.LAYERBENCH_DATA_DIR) return env.LAYERBENCH_DATA_DIR;
  const home = homedir();
  switch (process.platform) {
    case 'darwin':
      return join(home, 'Library', 'Application Support', 'Layerbench');
    case 'win32':
      return join(env.APPDATA ?? join(home, 'AppData', 'Roaming'), 'Layerbench');
    default:
      return join(env.XDG_CONFIG_HOME ?? join(home, '.config'), 'Layerbench');
  }
}
