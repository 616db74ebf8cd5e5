/**
 * `layerbench train --backend webgpu` on SwiftShader (the vitest project 'webgpu' points the Vulkan
 * loader at it): a tiny run of seed model 1 through the built CLI, its worker and the run store,
 * whose run.json records the adapter and the calls per step: the fused WebGPU step's for seed model 1,
 * stock tfjs-webgpu's for a model the fused step declines. Skipped where
 * SwiftShader is not installed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultTrainingSettings, GpuRunCountersSchema, PROJECT_FORMAT, PROJECT_VERSION, type GpuRunCounters } from '../../contract';
import { plainMlp, seedModel1 } from '../../model';

const icd = process.env['VK_ICD_FILENAMES'];
const swiftShader = icd !== undefined && existsSync(icd);
const cli = join(import.meta.dirname, '../../out/cli/index.js');

describe.skipIf(!swiftShader)('layerbench train on WebGPU (SwiftShader; needs VK_ICD_FILENAMES → vk_swiftshader_icd.json, from Debian’s chromium)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'layerbench-cli-webgpu-'));
  beforeAll(() => {
    if (!existsSync(cli)) execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: join(import.meta.dirname, '../..'), stdio: 'inherit' });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Trains `model` for one epoch of 7 batches of 16 on webgpu through the CLI; run.json. */
  function train(name: string, model: object): { summary: Record<string, unknown>; gpu: GpuRunCounters } {
    // Statistics only at the first and last step: the steps between are the plain ones averaged.
    const training = { ...defaultTrainingSettings, validationSplit: 0, epochs: 1, statsEvery: 1000 };
    const project = join(dir, `${name}.layerbench.json`);
    writeFileSync(project, JSON.stringify({ format: PROJECT_FORMAT, version: PROJECT_VERSION, model, training }));
    const r = spawnSync(process.execPath, [cli, 'train', project, '--backend', 'webgpu', '--batch-size', '16', '--subset', '112', '--out', dir, '--data-dir', join(dir, 'data')], {
      encoding: 'utf8',
      timeout: 300_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/backend webgpu/);
    const runJson = JSON.parse(readFileSync(join(r.stdout.trim(), 'run.json'), 'utf8'));
    expect(runJson.summary).toMatchObject({ status: 'finished', backend: 'webgpu', batchesDone: 7 });
    const gpu = GpuRunCountersSchema.parse(runJson.gpu);
    // 7 steps: 3 warm-up, the first and the last gather statistics, 3 plain ones averaged.
    expect(gpu).toMatchObject({ software: true, steps: 3, warmupSteps: 3, adapter: { backend: 'webgpu', architecture: 'swiftshader', software: true } });
    expect(gpu.statisticsSteps).toBeUndefined();
    expect(gpu.hostMsPerStep).toBeGreaterThan(0);
    return { summary: runJson.summary, gpu };
  }

  it('trains seed model 1 in the fused WebGPU step: at most 30 dispatches, one submit and no buffer created a step', () => {
    const { summary, gpu } = train('seed', seedModel1);
    expect(summary['step']).toMatch(/^WebGPU fused step: \d+ dispatches and one submit a step$/);
    // What the meter counted is what the step's plan says it issues.
    expect(gpu.dispatchesPerStep).toBe(Number(/(\d+) dispatches/.exec(String(summary['step']))![1]));
    expect(gpu.dispatchesPerStep).toBeLessThanOrEqual(30);
    expect(gpu.submitsPerStep).toBe(1);
    expect(gpu.buffersCreatedPerStep).toBe(0);
  });

  it('records stock tfjs-webgpu’s calls for a model the fused step declines', () => {
    const swish = structuredClone(plainMlp);
    swish.config.layers[1]!.config.activation = 'swish';
    const { summary, gpu } = train('swish', swish);
    expect(summary['step']).toMatch(/\(no fused WebGPU step: layer dense: activation swish/);
    // Stock tfjs-webgpu: one dispatch per op, buffers still created every step.
    expect(gpu.dispatchesPerStep).toBeGreaterThan(30);
    expect(gpu.submitsPerStep).toBeGreaterThanOrEqual(1);
    expect(gpu.buffersCreatedPerStep).toBeGreaterThan(0);
  });
});
