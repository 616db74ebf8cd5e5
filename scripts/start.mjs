#!/usr/bin/env node
/**
 * `npm start` (after `npm run build`): runs the built app with the Electron binary from the
 * `electron` package. Without the binary (it downloads from GitHub, which some machines cannot
 * reach) it says so, points at `npm run serve`, and exits non-zero.
 * The binary is located by find-electron.mjs, without letting `require('electron')` try a download.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findElectron } from './find-electron.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));

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
