/**
 * The training host with its real worker thread, real tfjs (wasm backend) and real Fashion-MNIST.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { BatchRecord, EpochRecord, TrainingEvent } from '../../../../contract';
import { defaultTrainingSettings } from '../../../../contract';
import { seedModel1 } from '../../../../model/presets';
import { TrainingHost } from './host';

const dataDir = mkdtempSync(join(tmpdir(), 'layerbench-host-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

function collect(host: TrainingHost, events: TrainingEvent[], runId: () => string | null) {
  return new Promise<TrainingEvent>((resolve) => {
    const timer = setInterval(() => {
      const end = events.find((e) => e.runId === runId() && (e.type === 'finished' || e.type === 'failed' || e.type === 'stopped'));
      if (end) {
        clearInterval(timer);
        resolve(end);
      }
    }, 20);
  });
}

describe('TrainingHost', () => {
  const events: TrainingEvent[] = [];
  const host = new TrainingHost({ dataDir, backends: ['wasm'], onEvent: (e) => events.push(e) });
  afterAll(() => host.dispose());

  it('trains the seed preset on 2,000 real images in its worker, loss falling and no tensor leak', async () => {
    const report = await host.backends();
    expect(report.active).toBe('wasm');

    const { runId } = await host.start({
      spec: seedModel1,
      settings: { ...defaultTrainingSettings, epochs: 2, batchSize: 32, learningRate: 0.01, trainSubset: 2000, validationSplit: 0 },
    });
    const end = await collect(host, events, () => runId);
    expect(end).toMatchObject({ type: 'finished', runId });

    const mine = events.filter((e) => e.runId === runId);
    const started = mine.find((e) => e.type === 'started');
    expect(started).toMatchObject({ backend: 'wasm', trainSamples: 2000, batchesPerEpoch: 63, epochs: 2 });

    const batches: BatchRecord[] = mine.flatMap((e) => (e.type === 'batches' ? e.batches : []));
    // Coalescing batches for the UI loses none of them.
    expect(batches.map((b) => b.step)).toEqual(Array.from({ length: 126 }, (_, i) => i));

    const firstEpoch = batches.filter((b) => b.epoch === 0);
    const tenth = Math.ceil(firstEpoch.length / 10);
    const mean = (xs: BatchRecord[]) => xs.reduce((s, b) => s + b.loss, 0) / xs.length;
    expect(mean(firstEpoch.slice(-tenth))).toBeLessThan(mean(firstEpoch.slice(0, tenth)));

    const epochs: EpochRecord[] = mine.flatMap((e) => (e.type === 'epoch' ? [e.record] : []));
    expect(epochs).toHaveLength(2);
    expect(epochs[0]!.numTensors).toBeGreaterThan(0);
    expect(epochs[1]!.numTensors).toBe(epochs[0]!.numTensors);
  });

  it('stops a run on request and takes the next one', async () => {
    const { runId } = await host.start({
      spec: seedModel1,
      settings: { ...defaultTrainingSettings, epochs: 50, trainSubset: 2000, validationSplit: 0.1 },
    });
    await expect(host.start({ spec: seedModel1, settings: defaultTrainingSettings })).rejects.toThrow(/still training/);
    const invalid = structuredClone(seedModel1);
    invalid.config.layers[4]!.config['units'] = -3;
    await expect(host.start({ spec: invalid, settings: defaultTrainingSettings })).rejects.toThrow(/cannot be trained: dense_1\.units: /);
    while (!events.some((e) => e.runId === runId && e.type === 'batches')) await new Promise((r) => setTimeout(r, 20));
    expect(await host.stop(runId)).toEqual({ stopped: true });
    const end = await collect(host, events, () => runId);
    expect(end.type).toBe('stopped');
    const done = events.filter((e) => e.runId === runId && e.type === 'batches').flatMap((e) => (e.type === 'batches' ? e.batches : []));
    expect(done.length).toBeLessThan(50 * 57);
  });

  it('refuses a model that does not fit the data before Start, naming the layer and the shapes, and keeps working', async () => {
    const runsBefore = events.filter((e) => e.type === 'phase').length;
    const bad = structuredClone(seedModel1);
    bad.config.layers[0]!.config['batch_input_shape'] = [null, 30, 30];
    await expect(host.start({ spec: bad, settings: { ...defaultTrainingSettings, trainSubset: 100 } })).rejects.toMatchObject({
      code: 'invalid-input',
      message: "The model cannot be trained on Fashion-MNIST: flatten (layer 0): input shape 30×30 does not match Fashion-MNIST's samples (28×28)",
    });
    // The seed model without its Flatten: Keras builds it, TF.js would fail in the loss.
    const noFlatten = structuredClone(seedModel1);
    noFlatten.config.layers.shift();
    noFlatten.config.layers[0]!.config['batch_input_shape'] = [null, 28, 28];
    const refused = host.start({ spec: noFlatten, settings: { ...defaultTrainingSettings, trainSubset: 100 } });
    await expect(refused).rejects.toMatchObject({ code: 'invalid-input' });
    await expect(refused).rejects.toThrow(/dense \(layer 1\): Dense gets \(None, 28, 28\).*the model's output is \(None, 28, 10\).*Insert a Flatten at the top/);
    expect(events.filter((e) => e.type === 'phase')).toHaveLength(runsBefore);
    expect((await host.backends()).active).toBe('wasm');
  });
});

describe('TrainingHost.inspect', () => {
  const host = new TrainingHost({ dataDir, backends: ['wasm'], onEvent: () => {} });
  afterAll(() => host.dispose());

  it('lists every variable of the seed model with Keras names, trainable flags and value statistics', async () => {
    const inspection = await host.inspect(seedModel1);
    expect(inspection.backend).toBe('wasm');
    const bn = inspection.layers.find((l) => l.name === 'batch_normalization_1')!;
    expect(bn.variables.map((v) => [v.name, v.shape, v.trainable])).toEqual([
      ['batch_normalization_1/gamma', [300], true],
      ['batch_normalization_1/beta', [300], true],
      ['batch_normalization_1/moving_mean', [300], false],
      ['batch_normalization_1/moving_variance', [300], false],
    ]);
    expect(bn.variables[0]).toMatchObject({ mean: 1, std: 0, min: 1, max: 1 });
    const kernel = inspection.layers.find((l) => l.name === 'dense')!.variables[0]!;
    expect(kernel).toMatchObject({ name: 'dense/kernel', shape: [784, 300], trainable: true });
    // He normal: σ = √(2/784) ≈ 0.0505, sampled as Keras does (truncated normal, variance corrected).
    expect(kernel.std).toBeGreaterThan(0.0505 * 0.97);
    expect(kernel.std).toBeLessThan(0.0505 * 1.03);
    expect(Math.abs(kernel.mean)).toBeLessThan(0.005);
  });

  it('reports a spec tfjs cannot build as an error', async () => {
    const bad = structuredClone(seedModel1);
    bad.config.layers[2]!.config['units'] = 0;
    await expect(host.inspect(bad)).rejects.toThrow(/units/);
  });
});
