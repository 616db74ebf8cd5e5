/**
 * A run interrupted after its best epoch was checkpointed (the training worker killed mid-run: no
 * final weights/) is still evaluated and exported — from best/, and each says so: the evaluation's
 * weightsFrom, the app's export answer, and the CLI's message.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultTrainingSettings, type TrainingEvent } from '../../../../contract';
import { seedModel1 } from '../../../../model/presets';
import { exportRunModel } from '../../export/run-export';
import { RunStore } from '../../runs/store';
import { TrainingHost } from './host';

const root = fileURLToPath(new URL('../../../..', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'layerbench-best-'));
const events: TrainingEvent[] = [];
const store = new RunStore(dataDir);
const host = new TrainingHost({ dataDir, backends: ['wasm'], runs: store, onEvent: (event) => events.push(event) });
afterAll(async () => {
  await host.dispose();
  rmSync(dataDir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function until<T>(find: () => T | undefined, what: string): Promise<T> {
  const deadline = performance.now() + 120_000;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('an interrupted run with only its best-epoch checkpoint', () => {
  it('is evaluated and exported from best/, and says so', async () => {
    const { runId } = await host.start({
      spec: seedModel1,
      settings: { ...defaultTrainingSettings, trainSubset: 300, validationSplit: 1 / 3, batchSize: 20, epochs: 50, checkpointBest: true },
    });
    await until(() => events.find((e) => e.runId === runId && e.type === 'callback' && e.callback === 'checkpoint'), 'the first checkpoint');
    await host.killWorkerForTest();
    await until(() => events.find((e) => e.runId === runId && e.type === 'failed'), 'the run to end');

    const detail = await store.get(runId);
    expect(detail.summary.status).toBe('interrupted');
    expect(detail.hasWeights).toBe(false);
    expect(detail.hasBestCheckpoint).toBe(true);

    const evaluation = await host.evaluate(runId);
    expect(evaluation.weightsFrom).toBe('best');
    expect(evaluation.samples).toBe(10_000);
    expect(evaluation.inference.acc).toBeGreaterThan(0.3); // trained, not fresh weights (~10%)

    const onnx = join(dataDir, 'best.onnx');
    expect(await exportRunModel(detail.directory, { format: 'onnx', path: onnx, overwrite: false })).toEqual({ exported: true, files: [onnx], weightsFrom: 'best' });

    const h5 = join(dataDir, 'best.h5');
    const cli = spawnSync(process.execPath, ['--import', 'tsx', 'main/cli/index.ts', 'export', detail.directory, '--format', 'h5', '--out', h5], { cwd: root, encoding: 'utf8' });
    expect(cli.status, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/\(from the best epoch's checkpoint \(best\/\), as the run saved no final weights \(weights\/\)\)/);
    expect(existsSync(h5)).toBe(true);
  }, 240_000);
});
