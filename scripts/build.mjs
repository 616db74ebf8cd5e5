// Builds every part of Layerbench into out/:
//   out/main/index.js          Electron main process (ESM; lazily loaded parts in chunks beside it)
//   out/preload/index.cjs      preload (CommonJS, so the sandboxed preload can load it)
//   out/cli/index.js           the `layerbench` CLI and `serve` host (plain Node)
//   out/worker/train.worker.js the training worker thread (plain Node, shared by both)
//   out/renderer/              the Svelte renderer (vite)
// Dependencies stay external in the Node bundles so tfjs finds its .wasm files and native addons.
import { build as esbuild } from 'esbuild';
import { build as viteBuild } from 'vite';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
process.chdir(root);
rmSync('out', { recursive: true, force: true });

const node = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
};

await Promise.all([
  // Split, its chunks beside index.js (so import.meta.url-relative paths hold): what is imported lazily
  // (the Redis sweep queue: BullMQ, ioredis) loads only when it is used.
  esbuild({
    ...node,
    format: 'esm',
    entryPoints: { index: 'main/index.ts' },
    outdir: 'out/main',
    splitting: true,
    chunkNames: '[name]-[hash]',
    external: ['electron'],
  }),
  esbuild({ ...node, format: 'esm', entryPoints: ['main/cli/index.ts'], outfile: 'out/cli/index.js' }),
  esbuild({ ...node, format: 'esm', entryPoints: ['main/services/training/worker/worker.ts'], outfile: 'out/worker/train.worker.js' }),
  esbuild({
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    sourcemap: 'inline',
    logLevel: 'warning',
    entryPoints: ['preload/index.ts'],
    outfile: 'out/preload/index.cjs',
    external: ['electron'],
  }),
]);
await viteBuild({ configFile: 'vite.config.ts', logLevel: 'warn' });
console.log('built out/{main,preload,cli,worker,renderer}');
