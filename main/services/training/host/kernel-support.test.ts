/** Models the wasm backend cannot differentiate train on cpu; BN on a non-last axis is refused. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { defaultTrainingSettings, type TrainingEvent } from '../../../../contract';
import { smallCnn } from '../common/small-cnn';
import { TrainingHost } from './host';

const dataDir = mkdtempSync(join(tmpdir(), 'layerbench-kernels-'));
const events: TrainingEvent[] = [];
const host = new TrainingHost({ dataDir, backends: ['wasm'], onEvent: (e) => events.push(e) });
afterAll(async () => {
  await host.dispose();
  rmSync(dataDir, { recursive: true, force: true });
});

it('trains a Conv2D model on cpu when the wasm backend lacks its gradient kernels, and says why', async () => {
  const { runId } = await host.start({ spec: smallCnn(-1), settings: { ...defaultTrainingSettings, epochs: 1, trainSubset: 128, validationSplit: 0 } });
  while (!events.some((e) => e.runId === runId && ['finished', 'failed', 'stopped'].includes(e.type))) await new Promise((r) => setTimeout(r, 50));
  const mine = events.filter((e) => e.runId === runId);
  expect(mine.at(-1)!.type).toBe('finished');
  expect(mine.find((e) => e.type === 'started')).toMatchObject({ backend: 'cpu' });
  const phase = mine.find((e) => e.type === 'phase' && e.detail?.includes('Conv2DBackpropFilter'));
  expect(phase).toBeDefined();
  // The worker goes back to its own backend for the next job.
  expect((await host.inspect(smallCnn(-1))).backend).toBe('wasm');
});

it('refuses BatchNormalization on a non-last axis, which tfjs would compute wrongly', async () => {
  await expect(host.start({ spec: smallCnn(1), settings: defaultTrainingSettings })).rejects.toThrow(
    /batch_normalization\.axis: TensorFlow\.js normalises only along the last axis/,
  );
});
