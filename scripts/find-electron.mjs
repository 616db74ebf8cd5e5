/**
 * Where the Electron binary is, found as `require('electron')` finds it, but checked first without
 * calling it: when the binary is missing, `require('electron')` tries to download it, which on an
 * offline machine only adds a stack trace before failing. Used by `npm start` and the Electron e2e.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** @returns {{ path: string } | { missing: string }} */
export function findElectron() {
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
