/**
 * The training setup end to end, in the real worker (real tfjs on wasm, real Fashion-MNIST, the real
 * runs workspace): every optimizer and learning-rate schedule trains the seed model with a falling
 * loss; regularization and max-norm act on the weights; early stopping stops a run whose validation
 * loss stops improving and leaves exactly the best epoch's checkpoint as its final weights.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultOptimizer, defaultTrainingSettings, DEFAULT_LEARNING_RATE } from '../../../../contract';
import type { BatchRecord, EpochRecord, OptimizerSettings, TrainingEvent, TrainingSettings } from '../../../../contract';
import { seedModel1 } from '../../../../model/presets';
import type { ModelSpec } from '../../../../model/spec';
import { BEST_CHECKPOINT_DIR } from './host';
import { testHost } from './host-test-support';

const { host, store, events, dispose } = testHost(['wasm']);
afterAll(dispose);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function runToEnd(
  spec: ModelSpec,
  settings: Partial<TrainingSettings>,
): Promise<{ runId: string; end: TrainingEvent; batches: BatchRecord[]; epochs: EpochRecord[]; of: TrainingEvent[] }> {
  const { runId } = await host.start({ spec, settings: { ...defaultTrainingSettings, trainSubset: 2000, validationSplit: 0, epochs: 1, ...settings } });
  const deadline = performance.now() + 120_000;
  for (;;) {
    const end = events.find((e) => e.runId === runId && (e.type === 'finished' || e.type === 'failed' || e.type === 'stopped'));
    if (end) {
      const detail = await store.get(runId);
      return { runId, end, batches: detail.batches, epochs: detail.epochs, of: events.filter((e) => e.runId === runId) };
    }
    if (performance.now() > deadline) throw new Error(`run ${runId} did not end`);
    await sleep(20);
  }
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** The loss of the last tenth of the epoch's batches is clearly below the first tenth's. */
function expectFallingLoss(batches: BatchRecord[]): void {
  const tenth = Math.max(3, Math.floor(batches.length / 10));
  const first = mean(batches.slice(0, tenth).map((b) => b.loss));
  const last = mean(batches.slice(-tenth).map((b) => b.loss));
  expect(last).toBeLessThan(first * 0.8);
}

/** All weights as saved in TF.js format (weights.bin), for comparing two saves byte for byte. */
const weightsBin = (dir: string) => readFileSync(join(dir, 'weights.bin'));

function savedWeight(dir: string, name: string): { values: Float32Array; shape: number[] } {
  const modelJson = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as { weightsManifest: { weights: { name: string; shape: number[] }[] }[] };
  const bin = weightsBin(dir);
  let offset = 0;
  for (const w of modelJson.weightsManifest[0]!.weights) {
    const size = w.shape.reduce((a, b) => a * b, 1);
    if (w.name === name) return { values: new Float32Array(bin.buffer.slice(bin.byteOffset + offset, bin.byteOffset + offset + size * 4)), shape: w.shape };
    offset += size * 4;
  }
  throw new Error(`no weight ${name}`);
}

function withOptimizer(class_name: OptimizerSettings['class_name'], config: Record<string, unknown> = {}): Partial<TrainingSettings> {
  const base = defaultOptimizer(class_name);
  return { optimizer: { ...base, config: { ...base.config, ...config } } as OptimizerSettings, learningRate: DEFAULT_LEARNING_RATE[class_name] };
}

describe('optimizers and schedules', () => {
  const cases: [string, Partial<TrainingSettings>][] = [
    ['SGD', withOptimizer('SGD')],
    ['SGD with Nesterov momentum 0.9', withOptimizer('SGD', { momentum: 0.9, nesterov: true })],
    ['Adagrad (lr 0.01)', { ...withOptimizer('Adagrad'), learningRate: 0.01 }],
    ['RMSprop', withOptimizer('RMSprop')],
    ['Adam', withOptimizer('Adam')],
    ['Adamax', withOptimizer('Adamax')],
    ['SGD + clipnorm 1', withOptimizer('SGD', { clipnorm: 1 })],
    ['RMSprop + clipvalue 0.5, centered', withOptimizer('RMSprop', { clipvalue: 0.5, centered: true })],
    ['SGD with ExponentialDecay', { ...withOptimizer('SGD'), lrSchedule: { class_name: 'ExponentialDecay', config: { decay_steps: 20, decay_rate: 0.9, staircase: false } } }],
    ['SGD with PiecewiseConstantDecay', { ...withOptimizer('SGD'), lrSchedule: { class_name: 'PiecewiseConstantDecay', config: { boundaries: [30], values: [0.02, 0.005] } } }],
    [
      'Adam with ReduceLROnPlateau (validation 10%)',
      {
        ...withOptimizer('Adam'),
        validationSplit: 0.1,
        lrSchedule: { class_name: 'ReduceLROnPlateau', config: { monitor: 'val_loss', factor: 0.5, patience: 1, min_delta: 1e-4, cooldown: 0, min_lr: 0 } },
      },
    ],
  ];
  it.each(cases)(
    '%s trains seed model 1 for one epoch on 2,000 real images with a falling loss',
    async (_name, settings) => {
      const run = await runToEnd(seedModel1, settings);
      expect(run.end.type).toBe('finished');
      expect(run.batches.length).toBe(Math.ceil((2000 - Math.floor(2000 * (settings.validationSplit ?? 0))) / 32));
      expectFallingLoss(run.batches);
    },
    120_000,
  );

  it('streams the scheduled learning rate per epoch (ExponentialDecay, staircase, per step as Keras)', async () => {
    // 1,000 images, batch 100 → 10 steps an epoch; the rate used in epoch e's last step is 0.1·0.5^floor((10e+9)/10).
    const run = await runToEnd(seedModel1, {
      ...withOptimizer('SGD'),
      learningRate: 0.1,
      trainSubset: 1000,
      batchSize: 100,
      epochs: 3,
      lrSchedule: { class_name: 'ExponentialDecay', config: { decay_steps: 10, decay_rate: 0.5, staircase: true } },
    });
    expect(run.epochs.map((e) => e.learningRate)).toEqual([0.1, 0.05, 0.025]);
  }, 120_000);

  it('ReduceLROnPlateau lowers the rate when the monitored loss stops improving', async () => {
    // An impossible min_delta: no epoch counts as an improvement after the first, so with patience 1
    // the rate halves after every epoch from the second on (Keras' semantics).
    const run = await runToEnd(seedModel1, {
      ...withOptimizer('SGD'),
      trainSubset: 1000,
      batchSize: 100,
      epochs: 4,
      lrSchedule: { class_name: 'ReduceLROnPlateau', config: { monitor: 'loss', factor: 0.5, patience: 1, min_delta: 100, cooldown: 0, min_lr: 0.002 } },
    });
    expect(run.epochs.map((e) => e.learningRate)).toEqual([0.01, 0.01, 0.005, 0.0025]);
    expect(run.of.filter((e) => e.type === 'callback' && e.callback === 'reduce-lr').length).toBe(3);
    expect((await store.get(run.runId)).callbacks.filter((c) => c.callback === 'reduce-lr')).toHaveLength(3);
  }, 120_000);
});

describe('regularization and constraints', () => {
  const regularized = (l2: number) => {
    const spec = structuredClone(seedModel1);
    for (const layer of spec.config.layers) if (layer.class_name === 'Dense') layer.config.kernel_regularizer = { class_name: 'L2', config: { l2 } };
    return spec;
  };
  const firstKernel = seedModel1.config.layers.find((l) => l.class_name === 'Dense')!.config.name;
  const kernelNorm = (runId: string) => Math.sqrt(savedWeight(store.weightsDir(runId), `${firstKernel}/kernel`).values.reduce((a, v) => a + v * v, 0));

  it('an L2 kernel regularizer adds its penalty to the loss (as Keras reports it), which still falls', async () => {
    const plain = await runToEnd(seedModel1, withOptimizer('SGD'));
    const withL2 = await runToEnd(regularized(0.001), withOptimizer('SGD'));
    expect(withL2.end.type).toBe('finished');
    // Same seed, same initial weights and first batch: the losses differ by 0.001·Σw² over the three
    // kernels, about 0.001·(300·2 + 100·2 + 10·2·100/110) ≈ 0.82 for He/Glorot initial weights.
    const penalty = withL2.batches[0]!.loss - plain.batches[0]!.loss;
    expect(penalty).toBeGreaterThan(0.6);
    expect(penalty).toBeLessThan(1.1);
    expectFallingLoss(withL2.batches);
  }, 240_000);

  it('a strong L2 penalty shrinks the kernels compared with the same run without it', async () => {
    const plain = await runToEnd(seedModel1, { ...withOptimizer('SGD'), epochs: 2 });
    const withL2 = await runToEnd(regularized(0.05), { ...withOptimizer('SGD'), epochs: 2 });
    expect(withL2.end.type).toBe('finished');
    // Weight decay of 2·lr·l2 = 0.1% a step over 126 steps: about 12% smaller.
    expect(kernelNorm(withL2.runId)).toBeLessThan(kernelNorm(plain.runId) * 0.92);
  }, 240_000);

  it('MaxNorm keeps every unit’s incoming weight vector within max_value', async () => {
    const spec = structuredClone(seedModel1);
    const dense = spec.config.layers.find((l) => l.class_name === 'Dense')!;
    dense.config.kernel_constraint = { class_name: 'MaxNorm', config: { max_value: 0.5, axis: 0 } };
    const run = await runToEnd(spec, withOptimizer('SGD'));
    expect(run.end.type).toBe('finished');
    const { values, shape } = savedWeight(store.weightsDir(run.runId), `${dense.config.name}/kernel`);
    const [rows, cols] = shape as [number, number];
    let largest = 0;
    for (let c = 0; c < cols; c++) {
      let sq = 0;
      for (let r = 0; r < rows; r++) sq += values[r * cols + c]! ** 2;
      largest = Math.max(largest, Math.sqrt(sq));
    }
    // He-normal columns of 784 inputs start near √2 ≈ 1.4: the constraint must have acted, and held.
    expect(largest).toBeLessThanOrEqual(0.5 + 1e-4);
    expect(largest).toBeGreaterThan(0.45);
  }, 120_000);
});

describe('early stopping and the best checkpoint', () => {
  it('stops a run whose validation loss stops improving and restores the best epoch (final weights = best checkpoint)', async () => {
    // 300 images, a third held out, Adam at 0.01: the model overfits within a few epochs and val_loss turns up.
    const patience = 2;
    const run = await runToEnd(seedModel1, {
      ...withOptimizer('Adam'),
      learningRate: 0.01,
      trainSubset: 300,
      validationSplit: 1 / 3,
      batchSize: 20,
      epochs: 40,
      earlyStopping: { monitor: 'val_loss', patience, min_delta: 0, restore_best_weights: true },
      checkpointBest: true,
    });
    expect(run.end.type).toBe('finished');
    const valLoss = run.epochs.map((e) => e.val_loss!);
    expect(valLoss.length).toBeLessThan(40);
    const best = valLoss.indexOf(Math.min(...valLoss));
    // It stopped exactly `patience` epochs after the best one.
    expect(valLoss.length - 1).toBe(best + patience);
    const stop = run.of.find((e) => e.type === 'callback' && e.callback === 'early-stopping');
    expect(stop && stop.type === 'callback' && stop.detail).toMatch(new RegExp(`weights of epoch ${best + 1} \\(the best\\) were restored`));

    const runDir = (await store.get(run.runId)).directory;
    const checkpoint = join(runDir, BEST_CHECKPOINT_DIR);
    expect(existsSync(join(checkpoint, 'model.json'))).toBe(true);
    expect(weightsBin(store.weightsDir(run.runId)).equals(weightsBin(checkpoint))).toBe(true);
    const meta = (dir: string) =>
      (JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as { userDefinedMetadata: { layerbench: { kind: string; bestEpoch: number } } }).userDefinedMetadata.layerbench;
    expect(meta(checkpoint)).toMatchObject({ kind: 'best', bestEpoch: best });
    expect(meta(store.weightsDir(run.runId))).toMatchObject({ kind: 'restored-best', bestEpoch: best });
    expect((await store.get(run.runId)).hasBestCheckpoint).toBe(true);

    // Evaluating the restored weights scores the best epoch's model: its validation loss is reproducible.
    const evaluation = await host.evaluate(run.runId);
    expect(evaluation.samples).toBe(10_000);
  }, 240_000);

  it('restores the best epoch at the end of a run that early stopping did not stop (Keras 3)', async () => {
    const run = await runToEnd(seedModel1, {
      ...withOptimizer('Adam'),
      learningRate: 0.01,
      trainSubset: 300,
      validationSplit: 1 / 3,
      batchSize: 20,
      epochs: 20,
      earlyStopping: { monitor: 'val_loss', patience: 100, min_delta: 0, restore_best_weights: true },
      checkpointBest: true,
    });
    expect(run.end.type).toBe('finished');
    const valLoss = run.epochs.map((e) => e.val_loss!);
    expect(valLoss).toHaveLength(20);
    const best = valLoss.indexOf(Math.min(...valLoss));
    expect(best).toBeLessThan(19); // 200 images for 20 epochs: the model overfits, the last epoch is not the best
    const restored = run.of.find((e) => e.type === 'callback' && e.callback === 'restore-best');
    expect(restored && restored.type === 'callback' && restored.detail).toMatch(new RegExp(`weights of epoch ${best + 1} \\(the best by val_loss\\) were restored`));
    const runDir = (await store.get(run.runId)).directory;
    expect(weightsBin(store.weightsDir(run.runId)).equals(weightsBin(join(runDir, BEST_CHECKPOINT_DIR)))).toBe(true);
  }, 240_000);
});
