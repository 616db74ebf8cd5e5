/**
 * `layerbench sweep` as a user runs it: a real process (the CLI from source through tsx), real
 * Fashion-MNIST, real tfjs training, real files; one process SIGKILLed mid-run and started again.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tinySettings, writeProject } from '../services/experiments/test-support';

const root = join(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'layerbench-sweep-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cliArgs = (...args: string[]) => ['--import', 'tsx', join(root, 'main/cli/index.ts'), ...args];
const run = (...args: string[]) => spawnSync(process.execPath, cliArgs(...args), { encoding: 'utf8', cwd: root, timeout: 120_000 });

function writeSweep(name: string, sweep: object): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(sweep));
  return path;
}

/** A run's epoch records as its metrics.jsonl holds them, read here without the app's code. */
function epochsOf(out: string, runId: string): Record<string, number>[] {
  return readFileSync(join(out, 'runs', runId, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line.includes('"kind":"epoch"'))
    .map((line) => JSON.parse(line) as Record<string, number>);
}

function runStatus(out: string, runId: string): string {
  return (JSON.parse(readFileSync(join(out, 'runs', runId, 'run.json'), 'utf8')) as { summary: { status: string } }).summary.status;
}

const average = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

interface ArmJson {
  armId: string;
  settings: Record<string, unknown>;
  runs: string[];
  mean: Record<string, number>;
  sd: Record<string, number>;
}

describe('layerbench sweep', () => {
  it('runs a 2 × 1 grid × 2 seeds and prints a results table whose means are the stored runs’ means', () => {
    writeProject(dir, 'base.layerbench.json');
    const sweep = writeSweep('lr.json', {
      project: 'base.layerbench.json',
      seeds: 2,
      metric: 'val_accuracy',
      grid: { 'training.learningRate': [0.01, 0.1], 'layers[Dense].kernel_initializer': ['he_normal'] },
    });
    const out = join(dir, 'out-grid');
    const result = run('sweep', sweep, '--out', out, '--json');
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/sweep sweep-\S+: 2 arms × 2 seeds = 4 runs/);
    expect(result.stderr).toMatch(/\[4\/4\] lr=0\.1 · kernel_initializer=he_normal · seed 43: finished · val_accuracy \d+\.\d\d%/);
    const table = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as { arms: ArmJson[] };
    expect(table.arms.map((a) => a.settings)).toEqual([
      { 'training.learningRate': 0.01, 'layers[Dense].kernel_initializer': 'he_normal' },
      { 'training.learningRate': 0.1, 'layers[Dense].kernel_initializer': 'he_normal' },
    ]);
    const runIds = table.arms.flatMap((a) => a.runs);
    expect(new Set(runIds).size).toBe(4);
    expect(readdirSync(join(out, 'runs')).sort()).toEqual([...runIds].sort());
    for (const arm of table.arms) {
      expect(arm.runs).toHaveLength(2);
      const last = arm.runs.map((id) => epochsOf(out, id).at(-1)!);
      expect(arm.mean.val_accuracy).toBeCloseTo(average(last.map((e) => e.val_acc!)), 12);
      expect(arm.mean.val_loss).toBeCloseTo(average(last.map((e) => e.val_loss!)), 12);
      expect(arm.sd.val_accuracy).toBeCloseTo(Math.abs(last[0]!.val_acc! - last[1]!.val_acc!) / Math.SQRT2, 12);
      for (const id of arm.runs) {
        const stored = JSON.parse(readFileSync(join(out, 'runs', id, 'run.json'), 'utf8')) as {
          summary: { status: string; name: string };
          settings: { learningRate: number; seed: number };
        };
        expect(stored.summary.status).toBe('finished');
        expect(stored.settings.learningRate).toBe(arm.settings['training.learningRate']);
        expect(stored.summary.name).toMatch(new RegExp(`^lr=${stored.settings.learningRate} · kernel_initializer=he_normal · seed ${stored.settings.seed}$`));
      }
    }
  });

  it('resumes after the process running it is SIGKILLed mid-run: finished runs kept, the interrupted one rerun, each job finished once', async () => {
    // Two epochs a run, so the kill lands between the second run's first epoch and its end.
    writeProject(dir, 'slow.layerbench.json', undefined, { ...tinySettings, trainSubset: 3000, batchSize: 8, validationSplit: 0.1, epochs: 2 });
    const sweep = writeSweep('resume.json', { project: 'slow.layerbench.json', seeds: 3, grid: {} });
    const out = join(dir, 'out-resume');
    const child: ChildProcess = spawn(process.execPath, cliArgs('sweep', sweep, '--out', out, '--json'), { cwd: root, stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const jobsFile = () => {
      const sweeps = existsSync(join(out, 'sweeps')) ? readdirSync(join(out, 'sweeps')) : [];
      return sweeps.length ? join(out, 'sweeps', sweeps[0]!, 'jobs.json') : null;
    };
    type Jobs = { status: string; jobs: { status: string; runId: string | null; attempt: number; earlierRuns: string[] }[] };
    const readJobs = (): Jobs | null => {
      const file = jobsFile();
      return file && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Jobs) : null;
    };
    let killedRun: string | null = null;
    for (const deadline = Date.now() + 90_000; Date.now() < deadline && !killedRun; await new Promise((r) => setTimeout(r, 10))) {
      const second = readJobs()?.jobs[1];
      if (second?.status === 'finished') throw new Error('the second run finished before the test could kill it');
      if (second?.status === 'running' && second.runId && existsSync(join(out, 'runs', second.runId, 'metrics.jsonl')) && epochsOf(out, second.runId).length === 1) {
        child.kill('SIGKILL');
        killedRun = second.runId;
      }
    }
    expect(killedRun).not.toBeNull();
    await exited;
    const before = readJobs()!;
    expect(before.status).toBe('running');
    expect(before.jobs.map((j) => j.status)).toEqual(['finished', 'running', 'queued']);
    const firstRun = before.jobs[0]!.runId!;

    const again = run('sweep', sweep, '--out', out, '--json');
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toMatch(new RegExp(`run ${killedRun}: its process died; marked interrupted`));
    expect(again.stderr).toMatch(/resuming sweep sweep-\S+ \(1 of 3 runs finished\)/);
    expect(again.stderr).toMatch(/\[2\/3\] seed 43: training run \S+ \(attempt 2\)/);
    const after = readJobs()!;
    expect(after.status).toBe('finished');
    expect(after.jobs.map((j) => [j.status, j.attempt])).toEqual([
      ['finished', 1],
      ['finished', 2],
      ['finished', 1],
    ]);
    expect(after.jobs[0]!.runId).toBe(firstRun);
    expect(after.jobs[1]!.earlierRuns).toEqual([killedRun]);
    expect(after.jobs[1]!.runId).not.toBe(killedRun);
    // Every run once: three finished, the killed one kept as interrupted with its first epoch.
    const runIds = readdirSync(join(out, 'runs'));
    expect(runIds).toHaveLength(4);
    expect(runIds.map((id) => runStatus(out, id)).sort()).toEqual(['finished', 'finished', 'finished', 'interrupted']);
    expect(runStatus(out, killedRun!)).toBe('interrupted');
    expect(epochsOf(out, killedRun!)).toHaveLength(1);
    const table = JSON.parse(again.stdout.trim().split('\n').at(-1)!) as { arms: ArmJson[] };
    expect(table.arms[0]!.runs).toEqual(after.jobs.map((j) => j.runId));
    for (const id of table.arms[0]!.runs) expect(epochsOf(out, id)).toHaveLength(2);
  });

  it('refuses bad input with the place of the problem, and writes nothing', () => {
    writeProject(dir, 'base.layerbench.json');
    const bad = writeSweep('bad-path.json', { project: 'base.layerbench.json', grid: { 'layers[Conv2D].filters': [8] } });
    const refused = run('sweep', bad, '--out', join(dir, 'out-bad'));
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/bad-path\.json: grid key "layers\[Conv2D\]\.filters": the model has no Conv2D layer; its layers are 0: flatten \(Flatten\)/);
    expect(existsSync(join(dir, 'out-bad', 'sweeps'))).toBe(false);
    expect(run('sweep').stderr).toMatch(/sweep takes exactly one sweep file/);
  });

  // The queue itself is tested with a real Redis (services/experiments/remote); here, the CLI's refusal.
  it('--redis with no Redis listening fails with exit 1, the password never printed, no run stored', () => {
    writeProject(dir, 'base.layerbench.json');
    const redis = run(
      'sweep',
      writeSweep('ok.json', { project: 'base.layerbench.json', grid: {} }),
      '--redis',
      'redis://:s3cret-word@127.0.0.1:1',
      '--out',
      join(dir, 'out-redis'),
    );
    expect(redis.status).toBe(1);
    expect(redis.stderr).toMatch(/127\.0\.0\.1:1/);
    expect(redis.stderr + redis.stdout).not.toMatch(/s3cret-word/);
    expect(existsSync(join(dir, 'out-redis', 'runs'))).toBe(false);
  });
});
