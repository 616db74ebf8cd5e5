/**
 * The Electron entry (bundled to out/main/index.js). The paths are relative to the bundle:
 * out/renderer, out/preload/index.cjs and assets/ beside out/ (also inside app.asar).
 */
import { fileURLToPath } from 'node:url';
import { startApp } from './electron/app';

// Run unbundled (main/index.ts) it still uses the built renderer and preload under out/.
const mainDir = import.meta.url.endsWith('.ts') ? new URL('../out/main/', import.meta.url) : new URL('./', import.meta.url);
const path = (relative: string) => fileURLToPath(new URL(relative, mainDir));

startApp({
  rendererDir: path('../renderer'),
  preload: path('../preload/index.cjs'),
  icon: path('../../assets/icon.png'),
});
