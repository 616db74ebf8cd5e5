#!/usr/bin/env node
/**
 * `npm start` (after `npm run build`): runs the built app with the Electron binary from the
 * `electron` package. Without the binary (it downloads from GitHub, which some machines cannot
 * reach) it says so, points at `npm run serve`, and exits non-zero.
 *
 * The binary is located the way `require('electron')` does, but checked first without calling it:
 * when the binary is missing, `require('electron')` tries to download it, which on an offline
 * machine only adds a stack trace before failing with "Electron failed to install correctly".
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL('..', import.meta.url));

/** @returns {{ path: string } | { missing: string }} */
function findElectron() {
  let packageDir;
  try {
    packageDir = dirname(require.resolve('electron/package.json'));
  } catch {
    return { missing: 'the electron package is not installed (run npm install)' };
  }
  const pathFile = join(packageDir, 'path.txt');
  const executable = existsSync(pathFile) ? readFileSync(pathFile, 'utf8').trim() : '';
  const override = process.env.ELECTRON_OVERRIDE_DIST_PATH;
  const expected = override ? join(override, executable || 'electron') : executable ? join(packageDir, 'dist', executable) : '';
  if (!expected || !existsSync(expected)) {
    return { missing: `no Electron binary at ${expected || join(packageDir, 'dist')} (its download from GitHub did not happen or failed)` };
  }
  try {
    // With the binary in place this returns its path and downloads nothing.
    const binary = require('electron');
    return typeof binary === 'string' && existsSync(binary) ? { path: binary } : { missing: `require('electron') gave ${String(binary)}` };
  } catch (error) {
    return { missing: error instanceof Error ? error.message : String(error) };
  }
}

const electron = findElectron();
if ('missing' in electron) {
  console.error(
    [
      'Layerbench: the Electron binary is not installed, so the desktop app cannot start.',
      `  (${electron.missing})`,
      '',
      '  npm run serve           opens the same app in your browser (same UI, same services).',
      '  npx install-electron   fetches the binary where github.com is reachable; then npm start again.',
    ].join('\n'),
  );
  process.exit(1);
}

if (!existsSync(join(root, 'out', 'main', 'index.js'))) {
  console.error('Layerbench: out/main/index.js is missing. Run `npm run build` first (npm start does).');
  process.exit(1);
}

// Electron started with ELECTRON_RUN_AS_NODE behaves as plain Node: never pass it on.
const env = { ...process.env };
delete env.ELECTRON_RUN_AS_NODE;

// `electron .` runs package.json's "main" (out/main/index.js) as the app.
const child = spawn(electron.path, ['.', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit', env });
for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM', 'SIGHUP'])) {
  process.on(signal, () => {
    if (child.exitCode === null) child.kill(signal);
  });
}
child.on('error', (error) => {
  console.error(`Layerbench: could not start Electron (${electron.path}): ${error.message}`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  process.exit(code ?? (signal ? 1 : 0));
});
