/**
 * The training host with its real worker thread, real tfjs (wasm backend) and real Fashion-MNIST.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { BatchRecord, EpochRecord, TrainingEvent } from '../../../contract';
import { defaultTrainingSettings } from '../../../contract';
import { seedModel1 } from '../../../model/presets';
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
    while (!events.some((e) => e.runId === runId && e.type === 'batches')) await new Promise((r) => setTimeout(r, 20));
    expect(await host.stop(runId)).toEqual({ stopped: true });
    const end = await collect(host, events, () => runId);
    expect(end.type).toBe('stopped');
    const done = events.filter((e) => e.runId === runId && e.type === 'batches').flatMap((e) => (e.type === 'batches' ? e.batches : []));
    expect(done.length).toBeLessThan(50 * 57);
  });

  it('reports a model that does not fit the data as a failed run, and keeps working', async () => {
    const bad = structuredClone(seedModel1);
    bad.config.layers[0]!.config['batch_input_shape'] = [null, 30, 30];
    const { runId } = await host.start({ spec: bad, settings: { ...defaultTrainingSettings, trainSubset: 100 } });
    const end = await collect(host, events, () => runId);
    expect(end).toMatchObject({ type: 'failed' });
    expect(end.type === 'failed' && end.error).toMatch(/input shape \[30, 30\].*784/);
    expect((await host.backends()).active).toBe('wasm');
  });
});
