/** The live view of remote runs, fed the events an agent streams (real sweep jobs of the tiny MLP). */
import { expect, it } from 'vitest';
import { LiveRemoteRuns } from './live-remote-runs';
import { gridJobs } from './remote/test-jobs';

const [job] = gridJobs('live-1', [0.01], ['he_normal'], 1);
const agent = { host: 'gpu-box', backend: 'wasm' };
const batch = (step: number) => ({ epoch: 0, batch: step, step, loss: 2 - step / 10, acc: step / 10 });

it('lists a remote run as it streams, and drops an earlier attempt’s run when the job’s next attempt starts', () => {
  const live = new LiveRemoteRuns();
  live.apply('live-1:a:1', job!, agent, { type: 'phase', runId: 'run-a', phase: 'loading-data' });
  live.apply('live-1:a:1', job!, agent, { type: 'started', runId: 'run-a', backend: 'wasm', epochs: 2, batchesPerEpoch: 8, trainSamples: 256, validationSamples: 64 });
  live.apply('live-1:a:1', job!, agent, { type: 'batches', runId: 'run-a', batches: [batch(0), batch(1)], completedBatches: 2, totalBatches: 16, samplesPerSec: 100 });
  live.apply('live-1:a:1', job!, agent, { type: 'epoch', runId: 'run-a', record: { epoch: 0, loss: 1.5, acc: 0.4, val_loss: 1.6, val_acc: 0.35, durationMs: 10 } });
  expect(live.list()).toEqual([
    expect.objectContaining({ runId: 'run-a', name: job!.name, status: 'running', agent, backend: 'wasm', batchesDone: 2, epochsDone: 1, bestValAcc: 0.35, modelName: 'tiny_mlp' }),
  ]);
  expect(live.get('run-a')).toMatchObject({ batches: [batch(0), batch(1)], epochs: [{ epoch: 0 }], settings: job!.settings, hasWeights: false });
  // Listed runs the store already holds are left out.
  expect(live.list(new Set(['run-a']))).toEqual([]);

  // The agent died; another takes the job as a new run: one live row for the job, the new one.
  live.apply('live-1:a:1', job!, { host: 'other-box', backend: 'wasm' }, { type: 'phase', runId: 'run-b', phase: 'loading-data' });
  expect(live.list().map((r) => [r.runId, r.agent?.host])).toEqual([['run-b', 'other-box']]);
  expect(live.get('run-a')).toBeNull();

  live.apply('live-1:a:1', job!, agent, { type: 'failed', runId: 'run-b', error: 'diverged' });
  expect(live.list()[0]).toMatchObject({ status: 'failed', failure: { error: 'diverged' } });
  live.forgetJob('live-1:a:1');
  expect(live.list()).toEqual([]);
});

it('keeps at most a bounded number of epochs and callbacks of a remote run, however many its agent sends', () => {
  const live = new LiveRemoteRuns();
  for (let epoch = 0; epoch < 12_000; epoch++) {
    live.apply('live-1:a:1', job!, agent, { type: 'epoch', runId: 'run-a', record: { epoch, loss: 1, acc: 0.5, durationMs: 1 } });
    live.apply('live-1:a:1', job!, agent, { type: 'callback', runId: 'run-a', callback: 'checkpoint', epoch, detail: 'saved' });
  }
  const detail = live.get('run-a')!;
  expect(detail.epochs).toHaveLength(10_000);
  expect(detail.epochs[0]!.epoch).toBe(2_000);
  expect(detail.callbacks).toHaveLength(2_000);
  expect(detail.callbacks.at(-1)!.epoch).toBe(11_999);
  expect(detail.summary.epochsDone).toBe(12_000);
});
