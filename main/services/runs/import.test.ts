/**
 * A model trained elsewhere comes in as a run (Keras .h5 here), is evaluated, and fine-tuned:
 * real services, real worker, real Fashion-MNIST.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { defaultTrainingSettings, type TrainingEvent } from '../../../contract';
import { seedModel1 } from '../../../model/presets';
import { createServices } from '..';
import { exportRun } from '../export';

const dir = mkdtempSync(join(tmpdir(), 'layerbench-import-'));
const services = createServices({ host: 'browser', dataDir: join(dir, 'data') });
const events: TrainingEvent[] = [];
services.onEvent((name, payload) => name === 'training' && events.push(payload as TrainingEvent));
afterAll(async () => {
  await services.dispose();
  rmSync(dir, { recursive: true, force: true });
});

async function call(name: string, payload: unknown) {
  const result = await services.dispatch(name, payload);
  if (!result.ok) throw new Error(result.error.message);
  return result.value as never;
}

async function train(extra: Record<string, unknown>): Promise<{ runId: string; firstLoss: number }> {
  const { runId } = await call('training.start', { spec: seedModel1, settings: { ...defaultTrainingSettings, epochs: 1, trainSubset: 2000, validationSplit: 0 }, ...extra });
  while (!events.some((e) => e.runId === runId && ['finished', 'failed', 'stopped'].includes(e.type))) await new Promise((r) => setTimeout(r, 50));
  const end = events.find((e) => e.runId === runId && ['finished', 'failed', 'stopped'].includes(e.type))!;
  if (end.type === 'failed') throw new Error(end.error);
  const first = events.find((e) => e.runId === runId && e.type === 'batches');
  return { runId, firstLoss: first!.type === 'batches' ? first!.batches[0]!.loss : NaN };
}

it('imports a Keras .h5 as a run that evaluates like the original and fine-tunes from its weights', async () => {
  const original = await train({});
  const h5 = join(dir, 'trained.h5');
  await exportRun({ runDir: join(dir, 'data', 'runs', original.runId), format: 'h5', out: h5 });

  const imported = (await call('runs.import', { path: h5 })) as { run: { runId: string; name: string; status: string }; spec: typeof seedModel1 };
  expect(imported.run).toMatchObject({ status: 'finished', name: 'Imported trained.h5' });
  expect(imported.spec.config.layers.map((l) => l.class_name)).toEqual(seedModel1.config.layers.map((l) => l.class_name));

  const a = (await call('runs.evaluate', { runId: original.runId })) as { inference: { acc: number; loss: number } };
  const b = (await call('runs.evaluate', { runId: imported.run.runId })) as { inference: { acc: number; loss: number } };
  expect(b.inference.acc).toBeCloseTo(a.inference.acc, 6);
  expect(b.inference.loss).toBeCloseTo(a.inference.loss, 4);

  // Fine-tuning starts where the trained model left off, far below a fresh model's first loss.
  const tuned = await train({ initialWeightsFrom: imported.run.runId });
  expect(tuned.firstLoss).toBeLessThan(original.firstLoss * 0.6);

  await expect(call('runs.import', { path: join(dir, 'missing.h5') })).rejects.toThrow(/missing\.h5/);
});
