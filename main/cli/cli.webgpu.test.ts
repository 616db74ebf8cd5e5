/**
 * `layerbench train --backend webgpu` on SwiftShader (the vitest project 'webgpu' points the Vulkan
 * loader at it): a tiny run of seed model 1 through the built CLI, its worker and the run store,
 * whose run.json records the adapter and stock tfjs-webgpu's calls per step. Skipped where
 * SwiftShader is not installed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultTrainingSettings, GpuRunCountersSchema, PROJECT_FORMAT, PROJECT_VERSION } from '../../contract';
import { seedModel1 } from '../../model';

const icd = process.env['VK_ICD_FILENAMES'];
const swiftShader = icd !== undefined && existsSync(icd);
const cli = join(import.meta.dirname, '../../out/cli/index.js');

describe.skipIf(!swiftShader)('layerbench train on WebGPU (SwiftShader; needs VK_ICD_FILENAMES → vk_swiftshader_icd.json, from Debian’s chromium)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'layerbench-cli-webgpu-'));
  beforeAll(() => {
    if (!existsSync(cli)) execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: join(import.meta.dirname, '../..'), stdio: 'inherit' });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('records the software adapter and the steady-state GPU calls per step in run.json', () => {
    // Statistics only at the first and last step: the steps between are the plain ones averaged.
    const training = { ...defaultTrainingSettings, validationSplit: 0, epochs: 1, statsEvery: 1000 };
    const project = join(dir, 'seed.layerbench.json');
    writeFileSync(project, JSON.stringify({ format: PROJECT_FORMAT, version: PROJECT_VERSION, model: seedModel1, training }));
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
    // Stock tfjs-webgpu: one dispatch per op (about 190–210 for this model), buffers still created every step.
    expect(gpu.dispatchesPerStep).toBeGreaterThan(100);
    expect(gpu.dispatchesPerStep).toBeLessThan(400);
    expect(gpu.submitsPerStep).toBeGreaterThanOrEqual(1);
    expect(gpu.buffersCreatedPerStep).toBeGreaterThan(0);
    expect(gpu.hostMsPerStep).toBeGreaterThan(0);
  });
});
