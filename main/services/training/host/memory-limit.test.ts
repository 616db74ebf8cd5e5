/** The model-size check before a model is built: a real TrainingHost refusing, with no worker started. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultOptimizer, defaultTrainingSettings } from '../../../../contract';
import type { LayerSpec, ModelSpec } from '../../../../model/spec';
import { LIMITS, summarize } from '../../../../model';
import { seedModel1 } from '../../../../model/presets';
import { TrainingHost } from './host';
import { checkModelMemory, modelMemoryLimit, MODEL_MEMORY_ENV } from './memory-limit';

const dataDir = mkdtempSync(join(tmpdir(), 'layerbench-memory-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** Six Dense(14000) layers: each 196 M parameters, under the per-layer limit; 1.18 billion in all. */
function hugeModel(): ModelSpec {
  const width = 14_000;
  const dense = (i: number): LayerSpec => ({
    class_name: 'Dense',
    config: { name: `dense_${i}`, units: width, activation: 'relu', ...(i === 0 ? { batch_input_shape: [null, width] } : {}) },
  });
  return {
    class_name: 'Sequential',
    config: {
      name: 'huge',
      layers: [...Array.from({ length: 6 }, (_, i) => dense(i)), { class_name: 'Dense', config: { name: 'out', units: 10, activation: 'softmax' } }],
    },
  };
}

describe('the model-size check', () => {
  it('passes a real model, refuses one of layers each under the per-layer limit that total over 1e9 parameters', () => {
    const summary = summarize(hugeModel());
    expect(summary.valid).toBe(true);
    expect(Math.max(...summary.layers.map((l) => l.params))).toBeLessThan(LIMITS.layerParams);
    expect(summary.total).toBeGreaterThan(1e9);
    const limit = 16 * 1024 ** 3;
    expect(checkModelMemory(summarize(seedModel1), { batchSize: 32, optimizer: defaultOptimizer('Adam') }, limit).totalBytes).toBeLessThan(10 * 1024 ** 2);
    expect(() => checkModelMemory(summary, { batchSize: 32, optimizer: defaultOptimizer('Adam') }, limit)).toThrow(
      /^The model is too large: training it needs about 18 GiB \(1,176,224,010 parameters: 4\.4 GiB of weights, 4\.4 GiB of gradients, 8\.8 GiB of optimizer state \(2 per weight\), .* of activations for a batch of 32\), more than the limit of 16 GiB/,
    );
  });

  it('takes the limit from the machine (half its memory) or from the environment', () => {
    expect(modelMemoryLimit({}, 32 * 1024 ** 3)).toBe(16 * 1024 ** 3);
    expect(modelMemoryLimit({ [MODEL_MEMORY_ENV]: '1000000' }, 32 * 1024 ** 3)).toBe(1_000_000);
    expect(() => modelMemoryLimit({ [MODEL_MEMORY_ENV]: 'lots' })).toThrow(/LAYERBENCH_MAX_MODEL_MEMORY must be a number of bytes/);
  });

  it('makes the training host refuse such a model at once, before its worker starts or anything is built', async () => {
    // The limit set, so the test does not depend on this machine's memory (half of it by default).
    const saved = process.env[MODEL_MEMORY_ENV];
    process.env[MODEL_MEMORY_ENV] = String(4 * 1024 ** 3);
    const events: unknown[] = [];
    const host = new TrainingHost({ dataDir, onEvent: (e) => events.push(e) });
    const rssBefore = process.memoryUsage().rss;
    const started = performance.now();
    const request = { spec: hugeModel(), settings: { ...defaultTrainingSettings, optimizer: defaultOptimizer('Adam') } };
    try {
      await expect(host.start(request)).rejects.toMatchObject({ code: 'limit', message: expect.stringMatching(/^The model is too large: training it needs about/) });
      await expect(host.inspect(hugeModel())).rejects.toMatchObject({
        code: 'limit',
        message: expect.stringMatching(/^The model is too large: building it needs about 4\.4 GiB .*more than the limit of 4\.0 GiB \(LAYERBENCH_MAX_MODEL_MEMORY\)/),
      });
    } finally {
      if (saved === undefined) delete process.env[MODEL_MEMORY_ENV];
      else process.env[MODEL_MEMORY_ENV] = saved;
    }
    expect(performance.now() - started).toBeLessThan(2000);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(200 * 1024 ** 2);
    expect(host.activeRunId).toBeNull();
    expect(events).toEqual([]);
    await host.dispose();
  });
});
