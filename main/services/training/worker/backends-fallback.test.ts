/** A wasm backend whose binary cannot be found falls back to the pure-JS cpu backend, reason kept.
 * In its own file: tfjs' backend registry is process-global and a failed wasm init must not leak. */
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { defaultLoaders, probeBackends } from './backends';

it('falls back to cpu when the wasm binary is missing, recording why', async () => {
  const emptyDir = mkdtempSync(join(tmpdir(), 'layerbench-nowasm-'));
  const report = await probeBackends(tf, defaultLoaders({ wasmDir: emptyDir }));
  expect(report.active).toBe('cpu');
  const wasm = report.candidates.find((c) => c.name === 'wasm')!;
  expect(wasm.status).toBe('skipped');
  expect(wasm.reason).toMatch(/failed to initialise: .*ENOENT.*tfjs-backend-wasm/);
  expect(tf.getBackend()).toBe('cpu');
});
