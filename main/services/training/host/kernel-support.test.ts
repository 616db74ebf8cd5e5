/** Models the wasm backend cannot differentiate train on cpu; BN on a non-last axis is refused. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { defaultTrainingSettings, type TrainingEvent } from '../../../../contract';
import type { ModelSpec } from '../../../../model/spec';
import { TrainingHost } from './host';

const dataDir = mkdtempSync(join(tmpdir(), 'layerbench-kernels-'));
const events: TrainingEvent[] = [];
const host = new TrainingHost({ dataDir, backends: ['wasm'], onEvent: (e) => events.push(e) });
afterAll(async () => {
  await host.dispose();
  rmSync(dataDir, { recursive: true, force: true });
});

const convNet = (bnAxis: number): ModelSpec => ({
  class_name: 'Sequential',
  config: {
    name: 'small_cnn',
    layers: [
      { class_name: 'Reshape', config: { name: 'reshape', target_shape: [28, 28, 1], batch_input_shape: [null, 28, 28] } },
      { class_name: 'Conv2D', config: { name: 'conv2d', filters: 4, kernel_size: [3, 3], activation: 'relu' } },
      { class_name: 'MaxPooling2D', config: { name: 'max_pooling2d' } },
      { class_name: 'BatchNormalization', config: { name: 'batch_normalization', axis: bnAxis } },
      { class_name: 'Flatten', config: { name: 'flatten' } },
      { class_name: 'Dense', config: { name: 'dense', units: 10, activation: 'softmax' } },
    ],
  },
});

it('trains a Conv2D model on cpu when the wasm backend lacks its gradient kernels, and says why', async () => {
  const { runId } = await host.start({ spec: convNet(-1), settings: { ...defaultTrainingSettings, epochs: 1, trainSubset: 128, validationSplit: 0 } });
  while (!events.some((e) => e.runId === runId && ['finished', 'failed', 'stopped'].includes(e.type))) await new Promise((r) => setTimeout(r, 50));
  const mine = events.filter((e) => e.runId === runId);
  expect(mine.at(-1)!.type).toBe('finished');
  expect(mine.find((e) => e.type === 'started')).toMatchObject({ backend: 'cpu' });
  const phase = mine.find((e) => e.type === 'phase' && e.detail?.includes('Conv2DBackpropFilter'));
  expect(phase).toBeDefined();
  // The worker goes back to its own backend for the next job.
  expect((await host.inspect(convNet(-1))).backend).toBe('wasm');
});

it('refuses BatchNormalization on a non-last axis, which tfjs would compute wrongly', async () => {
  await expect(host.start({ spec: convNet(1), settings: defaultTrainingSettings })).rejects.toThrow(
    /batch_normalization\.axis: TensorFlow\.js normalises only along the last axis/,
  );
});
