/**
 * `layerbench train --backend webgpu` on SwiftShader (the vitest project 'webgpu' points the Vulkan
 * loader at it): a tiny run of seed model 1 through the built CLI, its worker and the run store,
 * whose run.json records the adapter and the calls per step: the fused WebGPU step's for seed model 1,
 * stock tfjs-webgpu's for a model the fused step declines. Loss read back every 4 steps
 * (LAYERBENCH_WEBGPU_READ_EVERY) leaves every step's record, a divergence and the saved weights as
 * every step's read does, with fewer waits. Skipped where SwiftShader is not installed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultTrainingSettings, GpuRunCountersSchema, PROJECT_FORMAT, PROJECT_VERSION, type OptimizerSettings } from '../../contract';
import { plainMlp, seedModel1 } from '../../model';
import { parseMetrics } from '../services/runs/store';
import { relativeError, savedWeights } from '../services/training/host/host-test-support';
import { READ_EVERY_ENV } from '../services/training/worker/engines/webgpu/read-cadence';

const icd = process.env['VK_ICD_FILENAMES'];
const swiftShader = icd !== undefined && existsSync(icd);
const cli = join(import.meta.dirname, '../../out/cli/index.js');

describe.skipIf(!swiftShader)('layerbench train on WebGPU (SwiftShader; needs VK_ICD_FILENAMES → vk_swiftshader_icd.json, from Debian’s chromium)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'layerbench-cli-webgpu-'));
  beforeAll(() => {
    if (!existsSync(cli)) execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: join(import.meta.dirname, '../..'), stdio: 'inherit' });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Trains `model` on webgpu through the CLI (loss read back every `readEvery` steps, default: the engine's choice); the run's folder and run.json. */
  function run(name: string, model: object, options: { readEvery?: number; learningRate?: number; subset?: number; optimizer?: OptimizerSettings } = {}) {
    // Statistics only at the first and last step: the steps between are the plain ones averaged.
    const training = {
      ...defaultTrainingSettings,
      validationSplit: 0,
      epochs: 1,
      statsEvery: 1000,
      learningRate: options.learningRate ?? defaultTrainingSettings.learningRate,
      optimizer: options.optimizer ?? defaultTrainingSettings.optimizer,
    };
    const project = join(dir, `${name}.layerbench.json`);
    writeFileSync(project, JSON.stringify({ format: PROJECT_FORMAT, version: PROJECT_VERSION, model, training }));
    const args = [cli, 'train', project, '--backend', 'webgpu', '--batch-size', '16', '--subset', String(options.subset ?? 112), '--out', dir, '--data-dir', join(dir, 'data')];
    const env = { ...process.env, ...(options.readEvery ? { [READ_EVERY_ENV]: String(options.readEvery) } : {}) };
    const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 300_000, env });
    expect(r.stderr).toMatch(/backend webgpu/);
    const runDir = r.stdout.trim() || /(\/\S+run-[\w-]+)/.exec(r.stderr)?.[1] || '';
    const runJson = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8'));
    return { status: r.status, stderr: r.stderr, runDir, runJson, batches: parseMetrics(readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')).batches };
  }

  /** Trains `model` for one epoch of 7 batches of 16 on webgpu through the CLI; run.json's summary and counters, and the batch records. */
  function train(name: string, model: object, readEvery?: number) {
    const { status, stderr, runJson, batches } = run(name, model, { readEvery });
    expect(status, stderr).toBe(0);
    expect(runJson.summary).toMatchObject({ status: 'finished', backend: 'webgpu', batchesDone: 7 });
    const gpu = GpuRunCountersSchema.parse(runJson.gpu);
    // 7 steps: 3 warm-up, the first and the last gather statistics, 3 plain ones averaged.
    expect(gpu).toMatchObject({ software: true, steps: 3, warmupSteps: 3, adapter: { backend: 'webgpu', architecture: 'swiftshader', software: true } });
    expect(gpu.statisticsSteps).toBeUndefined();
    expect(gpu.hostMsPerStep).toBeGreaterThan(0);
    return { summary: runJson.summary as Record<string, unknown>, gpu, batches };
  }

  let seedRun: ReturnType<typeof train> | null = null;
  /** Seed model 1 with its loss read every step (run once, for two tests). */
  const seedEveryStep = () => (seedRun ??= train('seed', seedModel1, 1));

  it('trains seed model 1 in the fused WebGPU step: at most 30 dispatches, one submit and no buffer created a step', () => {
    const { summary, gpu } = seedEveryStep();
    expect(summary['step']).toMatch(/^WebGPU fused step: \d+ dispatches and one submit a step$/);
    // What the meter counted is what the step's plan says it issues.
    expect(gpu.dispatchesPerStep).toBe(Number(/(\d+) dispatches/.exec(String(summary['step']))![1]));
    expect(gpu.dispatchesPerStep).toBeLessThanOrEqual(30);
    expect(gpu.submitsPerStep).toBe(1);
    expect(gpu.buffersCreatedPerStep).toBe(0);
    // Each step waits for its own loss.
    expect(gpu.readbacksPerStep).toBe(1);
  });

  it('reads loss back every 4 steps: every step’s record as before, fewer waits, the same counters otherwise', () => {
    const every = seedEveryStep();
    const fourth = train('seed-4', seedModel1, 4);
    expect(fourth.batches).toEqual(every.batches);
    expect(fourth.batches.map((b) => b.step)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    // Steps 3 to 5 averaged: step 4 ends a window of 4 (steps 1–4; step 0 and 6 gather statistics and read).
    expect(fourth.gpu.readbacksPerStep).toBeLessThan(1);
    expect(fourth.gpu).toMatchObject({ dispatchesPerStep: every.gpu.dispatchesPerStep, submitsPerStep: 1, buffersCreatedPerStep: 0 });
  });

  it('a NaN loss inside a window of 4 ends the run as reading every step does: the same step, records and restored weights', () => {
    const diverge = (readEvery: number) => run(`nan-${readEvery}`, plainMlp, { readEvery, learningRate: 1e4, subset: 160 });
    const [every, fourth] = [diverge(1), diverge(4)];
    expect(every.runJson.summary).toMatchObject({ status: 'failed' });
    const failedAt = every.runJson.summary.failure.divergence.step as number;
    // Step 0 reads (statistics); the window after it is steps 1–4: the loss turns non-finite inside it, before its end.
    expect(failedAt).toBeGreaterThan(0);
    expect(failedAt).toBeLessThan(4);
    const { runId: _a, createdAt: _b, endedAt: _c, durationMs: _d, ...sameRun } = every.runJson.summary;
    expect(fourth.runJson.summary).toMatchObject(sameRun);
    expect(fourth.batches).toEqual(every.batches);
    // The weights that step started from, though the steps after it ran on the GPU before the read.
    expect(relativeError(savedWeights(fourth.runDir), savedWeights(every.runDir))).toBe(0);
  });

  it('a finite loss that explodes inside a window of 4 ends the run as reading every step does, with the weights its last step left', () => {
    const adam: OptimizerSettings = { class_name: 'Adam', config: { beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7, clipnorm: null, clipvalue: null } };
    const explode = (readEvery: number) => run(`explode-${readEvery}`, plainMlp, { readEvery, learningRate: 10, subset: 320, optimizer: adam });
    const [every, fourth] = [explode(1), explode(4)];
    expect(every.runJson.summary.failure.error).toMatch(/explod|above/);
    const { runId: _a, createdAt: _b, endedAt: _c, durationMs: _d, ...sameRun } = every.runJson.summary;
    expect(fourth.runJson.summary).toMatchObject(sameRun);
    expect(fourth.batches).toEqual(every.batches);
    expect(relativeError(savedWeights(fourth.runDir), savedWeights(every.runDir))).toBe(0);
  });

  it('records stock tfjs-webgpu’s calls for a model the fused step declines', () => {
    const swish = structuredClone(plainMlp);
    swish.config.layers[1]!.config.activation = 'swish';
    const { summary, gpu } = train('swish', swish, 4);
    expect(summary['step']).toMatch(/\(no fused WebGPU step: layer dense: activation swish/);
    // Stock tfjs-webgpu: one dispatch per op, buffers still created every step.
    expect(gpu.dispatchesPerStep).toBeGreaterThan(30);
    expect(gpu.submitsPerStep).toBeGreaterThanOrEqual(1);
    expect(gpu.buffersCreatedPerStep).toBeGreaterThan(0);
  });
});
