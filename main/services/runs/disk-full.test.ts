/**
 * A full disk during a run, on a real small tmpfs: every failed write (metrics, statistics, the
 * best-epoch checkpoint, the final weights) ends the run 'failed' with code 'io', the files and
 * ENOSPC named — never 'finished' — and `layerbench train` exits non-zero saying so.
 * Mounting needs root: the tests are skipped, with the reason, when not root or when mount fails.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statfsSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultTrainingSettings, PROJECT_FORMAT, PROJECT_VERSION, RunSummarySchema, type RunFileFault, type TrainingSettings } from '../../../contract';
import { seedModel1 } from '../../../model/presets';
import { bnStatsEntry } from './fixtures/bn-stats';
import { RunStore } from './store';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'layerbench-diskfull-'));

/** Mounts a tmpfs of `size` bytes; the reason it could not, otherwise. */
function mountTmpfs(dir: string, size: number): string | null {
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root';
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
    return null;
  } catch (error) {
    return `mount -t tmpfs failed: ${String((error as { stderr?: unknown }).stderr ?? error).trim()}`;
  }
}

const mounted: string[] = [];
function tmpfs(name: string, size: number): string | null {
  const dir = join(work, name);
  mkdirSync(dir);
  const reason = mountTmpfs(dir, size);
  if (reason) return null;
  mounted.push(dir);
  return dir;
}
const skipReason = (() => {
  const probe = join(work, 'probe');
  mkdirSync(probe);
  const reason = mountTmpfs(probe, 1 << 20);
  if (!reason) execFileSync('umount', [probe]);
  return reason;
})();
afterAll(() => {
  for (const dir of mounted) spawnSync('umount', [dir]);
  rmSync(work, { recursive: true, force: true });
});

/** Fills the file system at `dir` until only `leave` bytes are free (0: until a write fails with ENOSPC). */
function fill(dir: string, leave: number): void {
  const { bavail, bsize } = statfsSync(dir);
  let left = bavail * bsize - leave;
  const fd = openSync(join(dir, 'filler'), 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    while (left > 0) left -= writeSync(fd, chunk, 0, Math.min(chunk.length, left));
    if (leave === 0) for (;;) writeSync(fd, chunk, 0, 4096);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    closeSync(fd);
  }
}

const runJsonOf = (runDir: string) =>
  JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8')) as {
    summary: { status: string; failure: { error: string; code?: string; files?: RunFileFault[] } | null };
    owner: unknown;
  };

describe.skipIf(skipReason !== null)(`a full disk during a run${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  it('failed appends of metrics and statistics end the run failed (io), listing the files; the reserve lets run.json say so', async () => {
    const disk = tmpfs('store', 1 << 20)!;
    const store = new RunStore(disk);
    const writer = await store.create({ runId: 'run-full', spec: seedModel1, settings: defaultTrainingSettings, backend: 'cpu' });
    const seen: RunFileFault[] = [];
    writer.onFault((fault) => seen.push(fault));
    fill(disk, 0);
    const bins = Array.from({ length: 128 }, (_, i) => i / 128);
    const summary = { mean: 0, min: 0, max: 1, p5: 0, p50: 0.5, p95: 1 };
    for (let step = 0; step < 500; step++) {
      writer.appendBatch({ epoch: 0, batch: step, step, loss: 1, acc: 0.5 });
      writer.appendStats({
        epoch: 0,
        step,
        bn: [bnStatsEntry(summary, bins)],
        layers: [],
      });
    }
    await expect(writer.flush()).rejects.toThrow(/metrics\.jsonl: the disk is full/);
    expect(seen).toEqual([
      { file: 'metrics.jsonl', state: 'incomplete', errno: 'ENOSPC' },
      { file: 'stats.jsonl', state: 'incomplete', errno: 'ENOSPC' },
    ]);

    // Asked to record 'finished', the writer records what is true.
    await writer.setStatus('finished');
    const file = runJsonOf(writer.directory);
    expect(file.summary.status).toBe('failed');
    expect(file.summary.failure).toMatchObject({ code: 'io', files: seen });
    expect(file.summary.failure!.error).toMatch(/metrics\.jsonl is incomplete \(ENOSPC: the disk is full\); stats\.jsonl is incomplete \(ENOSPC/);
    expect(existsSync(join(writer.directory, '.reserve'))).toBe(false);
    const [listed] = await store.list();
    expect(RunSummarySchema.parse(listed)).toMatchObject({ runId: 'run-full', status: 'failed', failure: { code: 'io' } });
  });

  function project(name: string, settings: Partial<TrainingSettings>): string {
    const path = join(work, `${name}.layerbench.json`);
    writeFileSync(
      path,
      JSON.stringify({
        format: PROJECT_FORMAT,
        version: PROJECT_VERSION,
        model: seedModel1,
        training: { ...defaultTrainingSettings, trainSubset: 320, validationSplit: 0.2, epochs: 1, ...settings },
      }),
    );
    return path;
  }

  function train(projectFile: string, dataDir: string) {
    return spawnSync(process.execPath, ['--import', 'tsx', 'main/cli/index.ts', 'train', projectFile, '--data-dir', dataDir], { cwd: root, encoding: 'utf8', timeout: 180_000 });
  }

  it('layerbench train: the checkpoint and the final weights fail with ENOSPC → run failed, exit 1', () => {
    const disk = tmpfs('train', 4 << 20)!;
    // Room for the run's folder and records, not for 1 MB of weights (seed model 1: 271,346 float32).
    fill(disk, 384 * 1024);
    const result = train(project('checkpoint', { checkpointBest: true }), disk);
    expect(result.status, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/failed: .*best\/ is missing \(ENOSPC: the disk is full\)/);
    expect(result.stderr).toMatch(/missing: .*weights\/ \(ENOSPC\)/);
    const runDir = result.stdout.trim();
    const file = runJsonOf(runDir);
    expect(file.summary.status).toBe('failed');
    expect(file.summary.failure!.code).toBe('io');
    expect(file.summary.failure!.files).toEqual(
      expect.arrayContaining([
        { file: 'best/', state: 'missing', errno: 'ENOSPC' },
        { file: 'weights/', state: 'missing', errno: 'ENOSPC' },
      ]),
    );
    expect(file.owner).toBeNull();
    expect(existsSync(join(runDir, 'weights', 'model.json'))).toBe(false);
  });

  it('layerbench train: statistics that no longer fit stop the run at once → failed, exit 1', () => {
    const disk = tmpfs('stats', 4 << 20)!;
    fill(disk, 256 * 1024);
    // Statistics every batch, many epochs: the disk fills long before the run would end.
    const result = train(project('stats', { checkpointBest: false, statsEvery: 1, epochs: 200 }), disk);
    expect(result.status, result.stderr).toBe(1);
    const file = runJsonOf(result.stdout.trim());
    expect(file.summary.status).toBe('failed');
    expect(file.summary.failure!.code).toBe('io');
    expect(file.summary.failure!.files!.map((f) => f.file)).toContain('stats.jsonl');
    expect(file.summary.failure!.files!.every((f) => f.errno === 'ENOSPC')).toBe(true);
    expect(result.stderr).toMatch(/stats\.jsonl is incomplete \(ENOSPC: the disk is full\)/);
    // Stopped when the write failed, not after 200 epochs.
    const epochs = readFileSync(join(result.stdout.trim(), 'metrics.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"kind":"epoch"')).length;
    expect(epochs).toBeLessThan(200);
  });
});
