import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultTrainingSettings, displayNames, RunDetailSchema, RunSummarySchema, type BatchRecord, type StatsRecord } from '../../../contract';
import { plainMlp, seedModel1 } from '../../../model/presets';
import { initializer } from '../../../model/spec';
import { CSV_HEADER, MAX_STATS_RECORDS, RunNotFoundError, RunStore } from './store';

const root = mkdtempSync(join(tmpdir(), 'layerbench-runs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDataDir = () => join(root, `data-${++dirs}`);
const newRun = (runId: string, name?: string) => ({ runId, spec: seedModel1, settings: defaultTrainingSettings, backend: 'cpu', name });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const batch = (step: number, perEpoch = 100): BatchRecord => ({ epoch: Math.floor(step / perEpoch), batch: step % perEpoch, step, loss: 2 / (1 + step), acc: step / 1000 });
const stats = (step: number): StatsRecord => ({ epoch: 0, step, bn: [], layers: [{ layer: 'dense', grad_norm: step }] });

describe('RunStore', () => {
  it("keeps a WebGPU run's GPU counters in run.json and gives them back with the run", async () => {
    const store = new RunStore(freshDataDir());
    const writer = await store.create({ ...newRun('run-gpu'), backend: 'webgpu' });
    const adapter = { backend: 'webgpu' as const, vendor: 'google', architecture: 'swiftshader', device: '', description: 'SwiftShader driver 5.0.0', software: true };
    const gpu = { adapter, software: true, steps: 4, warmupSteps: 3, dispatchesPerStep: 189, submitsPerStep: 13, buffersCreatedPerStep: 29, hostMsPerStep: 2.5 };
    writer.setGpu(gpu);
    await writer.setStatus('finished');
    expect(JSON.parse(readFileSync(join(writer.directory, 'run.json'), 'utf8')).gpu).toEqual(gpu);
    const detail = await store.get('run-gpu');
    expect(RunDetailSchema.parse(detail)).toEqual(detail);
    expect(detail.gpu).toEqual(gpu);
    // A run without a GPU has none.
    const cpu = await store.create(newRun('run-cpu'));
    await cpu.setStatus('finished');
    expect((await store.get('run-cpu')).gpu).toBeUndefined();
  });

  it('records a run: 1,000 batches, epochs, stats, status; lists, renames, exports and deletes it', async () => {
    const store = new RunStore(freshDataDir());
    const writer = await store.create(newRun('run-a'));
    expect(writer.runId).toBe('run-a');
    expect(writer.weightsDir).toBe(store.weightsDir('run-a'));
    const valAccs = [0.61, 0.74, 0.7, 0.81, 0.79, 0.8, 0.77, 0.78, 0.8, 0.805];
    for (let step = 0; step < 1000; step++) {
      writer.appendBatch(batch(step));
      if (step % 100 === 99) {
        const epoch = Math.floor(step / 100);
        writer.appendEpoch({ epoch, loss: 1 / (epoch + 1), acc: 0.5 + epoch / 30, val_loss: 1.1 / (epoch + 1), val_acc: valAccs[epoch], durationMs: 12.5, numTensors: 40 });
      }
      if (step % 2 === 0) writer.appendStats(stats(step));
    }
    // While it runs, list() and get() see the live state.
    const live = (await store.list())[0]!;
    expect(live).toMatchObject({ runId: 'run-a', status: 'running', batchesDone: 1000, epochsDone: 10, bestValAcc: 0.81, name: seedModel1.config.name });
    expect((await store.get('run-a')).batches).toHaveLength(1000);

    await sleep(20);
    await writer.setStatus('finished');
    writer.appendBatch(batch(1000)); // after the end: ignored
    await writer.setStatus('failed', { error: 'late' }); // the first ending is final

    const detail = await store.get('run-a');
    expect(RunDetailSchema.parse(detail)).toEqual(detail);
    expect(detail.batches).toHaveLength(1000);
    expect(detail.batches.map((b) => b.step)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(detail.batches[537]).toEqual(batch(537));
    expect(detail.epochs.map((e) => e.epoch)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(detail.epochs[3]).toEqual({ epoch: 3, loss: 0.25, acc: 0.5 + 3 / 30, val_loss: 1.1 / 4, val_acc: 0.81, durationMs: 12.5, numTensors: 40 });
    expect(detail.stats).toHaveLength(500);
    expect(detail.spec).toEqual(seedModel1);
    expect(detail.settings).toEqual(defaultTrainingSettings);
    expect(detail.hasWeights).toBe(false);
    expect(detail.directory).toBe(writer.directory);
    expect(detail.summary).toMatchObject({
      status: 'finished',
      batchesDone: 1000,
      epochsDone: 10,
      bestValAcc: 0.81,
      failure: null,
      backend: 'cpu',
      modelName: seedModel1.config.name,
    });
    expect(detail.summary.durationMs).toBeGreaterThanOrEqual(20);
    expect(Date.parse(detail.summary.endedAt!)).toBeGreaterThanOrEqual(Date.parse(detail.summary.createdAt));

    mkdirSync(writer.weightsDir, { recursive: true });
    writeFileSync(join(writer.weightsDir, 'model.json'), '{}');
    expect((await store.get('run-a')).hasWeights).toBe(true);

    const listed = await store.list();
    expect(listed).toHaveLength(1);
    expect(RunSummarySchema.parse(listed[0])).toEqual(detail.summary);

    expect(await store.rename('run-a', '  Baseline MLP  ')).toMatchObject({ runId: 'run-a', name: 'Baseline MLP', status: 'finished' });
    expect((await store.list())[0]!.name).toBe('Baseline MLP');
    await expect(store.rename('run-a', '   ')).rejects.toThrow(/name cannot be empty/);
    await expect(store.rename('run-a', 'x'.repeat(201))).rejects.toThrow(/at most 200/);

    const { fileName, csv } = await store.exportCsv('run-a');
    expect(fileName).toBe('run-a-metrics.csv');
    const rows = csv.trimEnd().split('\n');
    expect(rows[0]).toBe(CSV_HEADER);
    expect(rows).toHaveLength(1 + 1000 + 10);
    expect(rows[1]).toBe('batch,0,0,0,2,0,,,,');
    expect(rows[101]).toBe(`epoch,0,,,1,0.5,1.1,0.61,,12.5`);
    expect(rows.filter((r) => r.startsWith('epoch,'))).toHaveLength(10);

    expect(await store.delete('run-a')).toBe(true);
    expect(existsSync(writer.directory)).toBe(false);
    expect(await store.list()).toEqual([]);
    expect(await store.delete('run-a')).toBe(false);
    await expect(store.get('run-a')).rejects.toThrow(RunNotFoundError);
    await expect(store.get('run-a')).rejects.toThrow(/Run run-a does not exist/);
    await expect(store.rename('run-a', 'x')).rejects.toThrow(/run-a/);
    await expect(store.exportCsv('run-a')).rejects.toThrow(/run-a/);
  });

  it('writes appends within the flush interval, without waiting for flush() or a status change', async () => {
    const store = new RunStore(freshDataDir());
    const startedAt = Date.now();
    const writer = await store.create(newRun('run-timer', 'Timer'));
    for (let step = 0; step < 10; step++) writer.appendBatch(batch(step));
    writer.appendStats(stats(0));
    const metricsPath = join(writer.directory, 'metrics.jsonl');
    expect(readFileSync(metricsPath, 'utf8')).toBe(''); // nothing synchronous on the hot path
    await sleep(300);
    expect(readFileSync(metricsPath, 'utf8').trimEnd().split('\n')).toHaveLength(10);
    expect(readFileSync(join(writer.directory, 'stats.jsonl'), 'utf8').trimEnd().split('\n')).toHaveLength(1);
    writer.appendBatch(batch(10));
    await writer.flush();
    expect(readFileSync(metricsPath, 'utf8').trimEnd().split('\n')).toHaveLength(11);

    // Pause and resume are recorded in run.json; the paused time does not count as duration.
    await writer.setStatus('paused');
    expect(JSON.parse(readFileSync(join(writer.directory, 'run.json'), 'utf8')).summary.status).toBe('paused');
    await sleep(150);
    await writer.setStatus('running');
    await writer.setStatus('stopped');
    const wall = Date.now() - startedAt;
    const summary = (await store.get('run-timer')).summary;
    expect(summary).toMatchObject({ name: 'Timer', status: 'stopped', batchesDone: 11, epochsDone: 0, bestValAcc: null });
    expect(summary.durationMs).toBeGreaterThanOrEqual(290);
    expect(summary.durationMs).toBeLessThanOrEqual(wall - 150);
  });

  it('keeps non-finite losses on disk, leaves them out of get() and records the failure', async () => {
    const store = new RunStore(freshDataDir());
    const writer = await store.create(newRun('run-nan'));
    writer.appendBatch(batch(0));
    writer.appendBatch({ ...batch(1), loss: NaN });
    writer.appendEpoch({ epoch: 0, loss: 1, acc: 0.5, val_loss: Infinity, val_acc: 0.4, durationMs: 3 });
    const failure = { error: 'The loss became NaN', divergence: { step: 1, epoch: 0, lastFiniteLoss: 2, likelyCauses: ['learning rate too high'] } };
    await writer.setStatus('failed', failure);
    const detail = RunDetailSchema.parse(await store.get('run-nan'));
    expect(detail.batches.map((b) => b.step)).toEqual([0]);
    expect(detail.epochs).toEqual([{ epoch: 0, loss: 1, acc: 0.5, val_acc: 0.4, durationMs: 3 }]);
    expect(detail.summary).toMatchObject({ status: 'failed', failure, batchesDone: 2, bestValAcc: 0.4 });
    const { csv } = await store.exportCsv('run-nan');
    expect(csv.split('\n')[2]).toBe('batch,0,1,1,NaN,0.001,,,,');
    expect(csv.split('\n')[3]).toBe('epoch,0,,,1,0.5,Infinity,0.4,,3');
  });

  it('thins the statistics stream to about 2,000 records, evenly, keeping the last', async () => {
    const store = new RunStore(freshDataDir());
    const writer = await store.create(newRun('run-stats'));
    for (let step = 0; step < 7001; step++) writer.appendStats(stats(step));
    await writer.setStatus('finished');
    appendFileSync(join(writer.directory, 'stats.jsonl'), '{"epoch":0,"step":7001,"bn":[],"la'); // torn last line
    const steps = (await store.get('run-stats')).stats.map((s) => s.step);
    expect(steps.length).toBeLessThanOrEqual(MAX_STATS_RECORDS);
    expect(steps.length).toBeGreaterThan(1900);
    expect(steps[0]).toBe(0);
    expect(steps.at(-1)).toBe(7000);
    const gaps = steps.slice(1).map((s, i) => s - steps[i]!);
    expect(Math.max(...gaps) - Math.min(...gaps)).toBeLessThanOrEqual(1);
  });

  it('survives a SIGKILL mid-run: recovery marks it interrupted and its metrics stay readable', async () => {
    const dataDir = freshDataDir();
    const script = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script, dataDir, 'run-crash'], {
      cwd: fileURLToPath(new URL('../../..', import.meta.url)),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const progressed = new Promise<void>((resolve, reject) => {
      let startedAt = 0;
      child.stdout.on('data', (chunk: Buffer) => {
        const text = chunk.toString();
        if (text.includes('created')) startedAt = Date.now();
        const counts = [...text.matchAll(/batches (\d+)/g)].map((m) => Number(m[1]));
        // Enough batches, and long enough for several timed flushes.
        if (startedAt && counts.some((n) => n >= 3000) && Date.now() - startedAt > 400) resolve();
      });
      child.on('exit', () => reject(new Error(`the writer exited early: ${stderr}`)));
    });
    await progressed;

    const store = new RunStore(dataDir);
    // The writer is alive: its run is not ours to recover.
    expect(await store.recoverInterrupted()).toEqual([]);
    expect(child.kill('SIGKILL')).toBe(true);
    expect(await exited).toBe('SIGKILL');

    const metricsPath = join(dataDir, 'runs', 'run-crash', 'metrics.jsonl');
    const raw = readFileSync(metricsPath, 'utf8');
    // Make the torn last line certain (a kill mid-write may or may not have left one).
    if (raw.endsWith('\n')) appendFileSync(metricsPath, '{"kind":"batch","epoch":9,"batch":1');

    expect(await store.recoverInterrupted()).toEqual(['run-crash']);
    expect(await store.recoverInterrupted()).toEqual([]);
    const detail = RunDetailSchema.parse(await store.get('run-crash'));
    expect(detail.summary.status).toBe('interrupted');
    expect(detail.batches.length).toBeGreaterThanOrEqual(2000);
    // A prefix of what was written: every step from 0, in order, none missing.
    expect(detail.batches.every((b, i) => b.step === i)).toBe(true);
    expect(detail.summary.batchesDone).toBe(detail.batches.length);
    expect(detail.summary.epochsDone).toBe(detail.epochs.length);
    expect(detail.epochs.length).toBeGreaterThanOrEqual(4);
    expect(detail.summary.bestValAcc).toBeCloseTo(0.7 + (detail.epochs.length - 1) / 100);
    expect(detail.stats.length).toBeGreaterThan(0);
    expect(detail.summary.endedAt).not.toBeNull();
    expect(detail.summary.durationMs).toBeGreaterThan(0);
    expect((await store.list()).map((r) => [r.runId, r.status])).toEqual([['run-crash', 'interrupted']]);
    const csvRows = (await store.exportCsv('run-crash')).csv.trimEnd().split('\n');
    expect(csvRows).toHaveLength(1 + detail.batches.length + detail.epochs.length);

    // The workspace still works: a new run can be created and finished.
    const next = await store.create(newRun('run-after'));
    next.appendBatch(batch(0));
    await next.setStatus('finished');
    expect((await store.list()).map((r) => r.runId).sort()).toEqual(['run-after', 'run-crash']);
  });

  it('lists a damaged run as failed, with the reason, instead of failing the list', async () => {
    const dataDir = freshDataDir();
    const store = new RunStore(dataDir);
    const ok = await store.create(newRun('run-ok'));
    await ok.setStatus('finished');
    const broken = join(dataDir, 'runs', 'run-broken');
    mkdirSync(broken);
    writeFileSync(join(broken, 'run.json'), '{"format": "layerbench.run", "summ');
    mkdirSync(join(dataDir, 'runs', 'run-empty'));
    const wrong = join(dataDir, 'runs', 'run-wrong');
    mkdirSync(wrong);
    writeFileSync(join(wrong, 'run.json'), JSON.stringify({ format: 'layerbench.run', version: 1, summary: { runId: 'run-wrong' } }));
    const newer = join(dataDir, 'runs', 'run-newer');
    mkdirSync(newer);
    writeFileSync(join(newer, 'run.json'), JSON.stringify({ format: 'layerbench.run', version: 99 }));
    writeFileSync(join(dataDir, 'runs', 'stray-file.txt'), 'not a run');
    mkdirSync(join(dataDir, 'runs', '.hidden'));

    const runs = await store.list();
    for (const run of runs) RunSummarySchema.parse(run);
    const byId = Object.fromEntries(runs.map((r) => [r.runId, r]));
    expect(Object.keys(byId).sort()).toEqual(['run-broken', 'run-empty', 'run-newer', 'run-ok', 'run-wrong']);
    expect(byId['run-ok']!.status).toBe('finished');
    expect(byId['run-broken']).toMatchObject({ status: 'failed', failure: { error: expect.stringMatching(/damaged: run\.json is not valid JSON/) } });
    expect(byId['run-empty']!.failure!.error).toMatch(/run\.json is missing/);
    expect(byId['run-wrong']!.failure!.error).toMatch(/run\.json is invalid: summary\./);
    expect(byId['run-newer']!.failure!.error).toMatch(/newer Layerbench/);
    await expect(store.get('run-broken')).rejects.toThrow(/Run run-broken is damaged: run\.json is not valid JSON/);
    expect(await store.recoverInterrupted()).toEqual([]);
    expect(await store.delete('run-broken')).toBe(true);
    expect(existsSync(broken)).toBe(false);
  });

  it('rejects run ids that leave the runs folder or break the id rules', async () => {
    const dataDir = freshDataDir();
    const store = new RunStore(dataDir);
    const outside = join(dataDir, 'precious');
    mkdirSync(outside, { recursive: true });
    writeFileSync(join(outside, 'run.json'), '{}');
    for (const id of ['..', '.', '../precious', '..%2Fprecious', 'a/b', 'a\\b', '/etc', '', '.hidden', 'x'.repeat(81)]) {
      await expect(store.delete(id), id).rejects.toThrow(/Invalid run id/);
      await expect(store.get(id), id).rejects.toThrow(/Invalid run id/);
      await expect(store.rename(id, 'x'), id).rejects.toThrow(/Invalid run id/);
      await expect(store.exportCsv(id), id).rejects.toThrow(/Invalid run id/);
      await expect(store.create(newRun(id)), id).rejects.toThrow(/Invalid run id/);
      expect(() => store.weightsDir(id), id).toThrow(/Invalid run id/);
    }
    expect(existsSync(join(outside, 'run.json'))).toBe(true);
  });

  it('refuses to create a run twice or to delete a live one, and sorts newest first', async () => {
    const store = new RunStore(freshDataDir());
    const first = await store.create(newRun('run-1'));
    await expect(store.create(newRun('run-1'))).rejects.toThrow(/Run run-1 already exists/);
    await expect(store.delete('run-1')).rejects.toThrow(/Run run-1 is still training/);
    await first.setStatus('finished');
    await sleep(5);
    const second = await store.create(newRun('run-2'));
    await second.setStatus('stopped');
    expect((await store.list()).map((r) => r.runId)).toEqual(['run-2', 'run-1']);
    expect(await store.delete('run-1')).toBe(true);
  });
});

describe('RunStore and run names', () => {
  it('lists each run with its traits, live and from run.json, so runs of one model are told apart', async () => {
    const store = new RunStore(freshDataDir());
    const he = await store.create({ runId: 'he', spec: plainMlp, settings: defaultTrainingSettings, backend: 'cpu' });
    await he.setStatus('finished');
    const glorotSpec = structuredClone(plainMlp);
    for (const layer of glorotSpec.config.layers.slice(1, -1)) layer.config.kernel_initializer = initializer('GlorotUniform');
    const glorot = await store.create({ runId: 'glorot', spec: glorotSpec, settings: defaultTrainingSettings, backend: 'cpu' });
    const listed = await store.list(); // "glorot" live in this process, "he" read back from its run.json
    expect(new Map(listed.map((r) => [r.runId, r.traits?.init]))).toEqual(
      new Map([
        ['he', 'he_normal'],
        ['glorot', 'glorot_uniform'],
      ]),
    );
    expect(displayNames(listed)).toEqual(
      new Map([
        ['he', 'he_normal'],
        ['glorot', 'glorot_uniform'],
      ]),
    );
    expect((await store.get('he')).summary.traits).toEqual(listed.find((r) => r.runId === 'he')!.traits);
    await glorot.setStatus('stopped');
  });
});
