/** The runs and pause/resume commands as the services dispatch them (no training: no worker starts). */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { commandNames, defaultTrainingSettings } from '../../../../contract';
import { seedModel1 } from '../../../../model/presets';
import { createServices } from '../../index';
import { RunStore } from '../../runs/store';

const dataDir = mkdtempSync(join(tmpdir(), 'layerbench-services-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('services: runs commands', () => {
  it('recovers runs a dead process left running, and answers every runs command', async () => {
    // A run another Layerbench left 'running' when it died (its run.json says so, no owner alive).
    const store = new RunStore(dataDir);
    const writer = await store.create({ runId: 'run-left-running', spec: seedModel1, settings: defaultTrainingSettings, backend: 'wasm' });
    writer.appendBatch({ epoch: 0, batch: 0, step: 0, loss: 2.3, acc: 0.1 });
    await writer.setStatus('stopped');
    const runJson = join(writer.directory, 'run.json');
    const file = JSON.parse(readFileSync(runJson, 'utf8')) as { summary: { status: string; endedAt: string | null }; owner: unknown };
    file.summary.status = 'running';
    file.summary.endedAt = null;
    file.owner = { pid: 2 ** 22 + 12345, hostname: 'elsewhere' };
    writeFileSync(runJson, JSON.stringify(file));

    const services = createServices({ host: 'browser', dataDir });
    try {
      // Every command has a handler (an invalid payload still reaches it: 'invalid-request', not 'unknown-command').
      for (const name of commandNames.filter((n) => n !== 'training.backends')) {
        const result = await services.dispatch(name, {});
        if (!result.ok) expect(result.error.code, name).not.toBe('unknown-command');
      }
      const list = await services.dispatch('runs.list', {});
      expect(list).toMatchObject({ ok: true, value: { runs: [{ runId: 'run-left-running', status: 'interrupted', batchesDone: 1 }] } });
      expect(await services.dispatch('runs.rename', { runId: 'run-left-running', name: 'first try' })).toMatchObject({ ok: true, value: { name: 'first try' } });
      expect(await services.dispatch('runs.get', { runId: 'run-left-running' })).toMatchObject({ ok: true, value: { batches: [{ loss: 2.3 }], hasWeights: false } });
      expect(await services.dispatch('runs.exportCsv', { runId: 'run-left-running' })).toMatchObject({ ok: true, value: { fileName: 'run-left-running-metrics.csv' } });
      expect(await services.dispatch('runs.evaluate', { runId: 'run-left-running' })).toEqual({
        ok: false,
        error: { code: 'not-found', name: 'DomainError', message: 'Run run-left-running has no saved weights to evaluate (neither final weights nor a best-epoch checkpoint)' },
      });
      expect(await services.dispatch('training.pause', { runId: 'run-left-running' })).toEqual({ ok: true, value: { paused: false } });
      expect(await services.dispatch('training.resume', { runId: 'run-left-running' })).toEqual({ ok: true, value: { resumed: false } });
      expect(await services.dispatch('runs.delete', { runId: 'run-left-running' })).toEqual({ ok: true, value: { deleted: true } });
      expect(await services.dispatch('runs.list', {})).toEqual({ ok: true, value: { runs: [] } });
    } finally {
      await services.dispose();
    }
  });
});
