/** The checkpoint writer writes what saveModel writes (byte for byte, metadata aside), on wasm and cpu, and loads back. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, describe, expect, it } from 'vitest';
import { seedModel1, seluMlp } from '../../../../model/presets';
import { buildModel } from './build-model';
import { CheckpointWriter } from './checkpoint';
import { fileLoadHandler, MODEL_JSON, saveModel, WEIGHTS_BIN, type WeightsMetadata } from './weights-io';

const dir = mkdtempSync(join(tmpdir(), 'layerbench-checkpoint-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const metadata: WeightsMetadata = {
  runId: 'run-x',
  status: 'finished',
  kind: 'best',
  epoch: 2,
  bestEpoch: 2,
  steps: 30,
  batchSize: 32,
  seed: 1,
  backend: 'wasm',
  savedAt: '2026-11-27T00:00:00.000Z',
};

describe('CheckpointWriter', () => {
  for (const backend of ['wasm', 'cpu']) {
    it(`writes saveModel's files (${backend})`, async () => {
      expect(await tf.setBackend(backend)).toBe(true);
      for (const [name, spec] of [
        ['seed1', seedModel1],
        ['selu', seluMlp],
      ] as const) {
        const model = await buildModel(tf, spec, { seed: 3 });
        const writer = new CheckpointWriter(tf, model);
        writer.prepare();
        // Weights changed after prepare() are the ones written.
        model.weights[1]!.write(tf.fill(model.weights[1]!.shape as number[], 0.25));
        const a = join(dir, `${backend}-${name}-save`);
        const b = join(dir, `${backend}-${name}-writer`);
        await saveModel(tf, model, a, metadata);
        await writer.save(b, metadata);
        expect(readFileSync(join(b, WEIGHTS_BIN)).equals(readFileSync(join(a, WEIGHTS_BIN)))).toBe(true);
        expect(JSON.parse(readFileSync(join(b, MODEL_JSON), 'utf8'))).toEqual(JSON.parse(readFileSync(join(a, MODEL_JSON), 'utf8')));
        const loaded = await tf.loadLayersModel(fileLoadHandler(b));
        expect(Array.from(loaded.weights[1]!.read().dataSync())).toEqual(new Array(model.weights[1]!.read().size).fill(0.25));
        loaded.dispose();
        model.dispose();
      }
    });
  }
});
