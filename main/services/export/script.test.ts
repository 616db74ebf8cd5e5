/**
 * Issue #14: the Keras script finds its weights beside itself and refuses a missing one; it feeds
 * inputs as the run was fed (÷255, the run's own standardization statistics, or none) — checked by
 * running the script's own functions in Python against the training pipeline's normalization; and
 * an .h5 converted by `layerbench export` keeps its training_config (read back with h5py).
 * Real files, real python3; no Keras here, so the script runs up to its `import keras`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { defaultTrainingSettings, type TrainingSettings } from '../../../contract/training';
import type { DatasetSummary } from '../../../contract';
import { exportCommand, EXPORT_OPTIONS } from '../../cli/export';
import { parseArgs } from '../../cli/args';
import type { SampleSource } from '../datasets/source';
import { applyNormalization, standardization, type NormalizationState } from '../training/worker/pipeline';
import { exportRun, importModel } from '.';
import { python3, pythonWithH5py, tiny, tinyWeights } from './test-support';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'layerbench-script-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

let n = 0;
const fresh = async () => {
  const d = join(dir, `case-${n++}`);
  await mkdir(d, { recursive: true });
  return d;
};

afterEach(() => vi.restoreAllMocks());
async function cli(...argv: string[]): Promise<{ code: number; stderr: string }> {
  const stderr: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (stderr.push(String(chunk)), true));
  const code = await exportCommand(parseArgs(argv, EXPORT_OPTIONS));
  vi.restoreAllMocks();
  return { code, stderr: stderr.join('') };
}

/** A run folder with `tiny`'s weights, recording `normalization` as the training loop does. */
async function runFolder(d: string, settings: TrainingSettings, normalization?: NormalizationState): Promise<string> {
  const run = join(d, 'run');
  await mkdir(run, { recursive: true });
  await writeFile(join(run, 'run.json'), JSON.stringify({ spec: tiny, settings }));
  await exportRun({ spec: tiny, weights: tinyWeights(), format: 'tfjs', out: join(run, 'weights') });
  if (normalization) {
    const modelJson = join(run, 'weights', 'model.json');
    const json = JSON.parse(await readFile(modelJson, 'utf8'));
    json.userDefinedMetadata = { ...json.userDefinedMetadata, layerbench: { runId: 'r', normalization } };
    await writeFile(modelJson, JSON.stringify(json));
  }
  return run;
}

const python = python3();
const numpyPython = pythonWithH5py();
const hasKeras = python !== null && spawnSync(python, ['-c', 'import keras'], { encoding: 'utf8' }).status === 0;

describe.skipIf(!python || hasKeras)('the script finds its weights', () => {
  it('beside itself, from any working folder; a missing file is named and exits 1', async () => {
    const d = await fresh();
    await exportRun({ spec: tiny, weights: tinyWeights(), format: 'h5', out: join(d, 'weights', 'w.h5') });
    const run = await runFolder(d, defaultTrainingSettings);
    // --weights relative to the working folder at export time; the script stores it relative to itself.
    const cwd = process.cwd();
    process.chdir(d);
    try {
      expect((await cli(run, '--format', 'py', '--out', join('scripts', 'm.py'), '--weights', join('weights', 'w.h5'))).code).toBe(0);
    } finally {
      process.chdir(cwd);
    }
    const script = join(d, 'scripts', 'm.py');
    expect(await readFile(script, 'utf8')).toContain('WEIGHTS_PATH = "../weights/w.h5"');

    const elsewhere = await fresh();
    const found = spawnSync(python!, [script], { cwd: elsewhere, encoding: 'utf8' });
    // The weights check passed: the next step, importing Keras, is what fails on a machine without it.
    expect(found.stderr).toMatch(/No module named 'keras'/);
    expect(found.stderr).not.toMatch(/no weights file/);

    const override = spawnSync(python!, [script, 'other.h5'], { cwd: elsewhere, encoding: 'utf8' });
    expect(override.status).toBe(1);
    expect(override.stderr).toBe(`m.py: no weights file at ${join(elsewhere, 'other.h5')}\n`);

    await rm(join(d, 'weights', 'w.h5'));
    const missing = spawnSync(python!, [script], { cwd: elsewhere, encoding: 'utf8' });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe(`m.py: no weights file at ${join(d, 'scripts', '..', 'weights', 'w.h5')}\n`);
  });

  it('the export refuses a --weights file that is missing or not HDF5, and writes nothing', async () => {
    const d = await fresh();
    const run = await runFolder(d, defaultTrainingSettings);
    await expect(cli(run, '--format', 'py', '--out', join(d, 'm.py'), '--weights', join(d, 'nope.h5'))).rejects.toThrow(`${join(d, 'nope.h5')}: no such weights file`);
    await writeFile(join(d, 'text.h5'), 'not hdf5');
    await expect(cli(run, '--format', 'py', '--out', join(d, 'm.py'), '--weights', join(d, 'text.h5'))).rejects.toThrow(/text\.h5: not an HDF5 file/);
    expect(existsSync(join(d, 'm.py'))).toBe(false);
  });
});

/** Runs the exported script's normalize() (and standardization()) on `x` in Python, without Keras. */
function scriptNormalize(script: string, x: number[][], fit: number[][]): number[][] {
  const code = `
import importlib.util, json, sys
import numpy as np
spec = importlib.util.spec_from_file_location("exported", sys.argv[1])
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
x, fit = (np.asarray(a, dtype="uint8") for a in json.loads(sys.stdin.read()))
stats = m.standardization(fit) if m.NORMALIZATION == "standardize" else None
print(json.dumps(m.normalize(x, stats).reshape((len(x), -1)).astype(float).tolist()))
`;
  const r = spawnSync(numpyPython!, ['-c', code, script], { input: JSON.stringify([x, fit]), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as number[][];
}

/** The training pipeline's normalization of the same values. */
function pipelineNormalize(state: NormalizationState, x: number[][]): number[][] {
  const flat = Float32Array.from(x.flat());
  applyNormalization(state, flat, 4);
  return x.map((_, i) => Array.from(flat.subarray(i * 4, i * 4 + 4)));
}

function memorySource(x: number[][]): SampleSource {
  return {
    summary: {} as DatasetSummary,
    sampleShape: [4],
    sampleSize: 4,
    count: x.length,
    labels: new Int32Array(x.length),
    classNames: [],
    streamed: false,
    read: async (indices, out) => indices.forEach((i, k) => out.set(x[i]!, k * 4)),
    close: async () => {},
  };
}

const close = (a: number[][], b: number[][]) => {
  expect(a.length).toBe(b.length);
  a.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(b[i]![j]!, 5)));
};

describe.skipIf(!numpyPython)('the script feeds inputs as the run was fed', () => {
  const fit = [
    [0, 10, 255, 7],
    [50, 20, 0, 7],
    [100, 90, 128, 7],
  ];
  const x = [
    [25, 30, 200, 7],
    [255, 0, 1, 9],
  ];

  it("standardize: the run's recorded mean and std", async () => {
    const d = await fresh();
    const state = await standardization(memorySource(fit), Uint32Array.from([0, 1, 2]));
    const run = await runFolder(d, { ...defaultTrainingSettings, normalization: 'standardize' }, state);
    expect((await cli(run, '--format', 'py', '--out', join(d, 'm.py'))).code).toBe(0);
    const script = join(d, 'm.py');
    expect(await readFile(script, 'utf8')).toMatch(/^NORMALIZATION = "standardize"$/m);
    close(scriptNormalize(script, x, [[0, 0, 0, 0]]), pipelineNormalize(state, x));
  });

  it('standardize without recorded statistics (a project): computed from the training split as Layerbench computes them', async () => {
    const d = await fresh();
    await exportRun({ spec: tiny, settings: { ...defaultTrainingSettings, normalization: 'standardize' }, format: 'py', out: join(d, 'm.py') });
    expect(await readFile(join(d, 'm.py'), 'utf8')).toMatch(/^STANDARDIZATION = None$/m);
    const state = await standardization(memorySource(fit), Uint32Array.from([0, 1, 2]));
    // The constant feature (7) gets std 1, as in the pipeline.
    close(scriptNormalize(join(d, 'm.py'), x, fit), pipelineNormalize(state, x));
  });

  it('÷255 and none', async () => {
    for (const normalization of ['scale-255', 'none'] as const) {
      const d = await fresh();
      const run = await runFolder(d, { ...defaultTrainingSettings, normalization }, { kind: normalization });
      expect((await cli(run, '--format', 'py', '--out', join(d, 'm.py'))).code).toBe(0);
      close(scriptNormalize(join(d, 'm.py'), x, fit), pipelineNormalize({ kind: normalization }, x));
    }
  });
});

describe.skipIf(!numpyPython)('layerbench export of a Keras .h5 keeps its training_config', () => {
  const readAttr = (file: string) => {
    const r = spawnSync(
      numpyPython!,
      ['-c', 'import h5py, sys; v = h5py.File(sys.argv[1], "r").attrs["training_config"]; print(v.decode() if isinstance(v, bytes) else v)', file],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(r.stderr);
    return r.stdout.trim();
  };
  const adam: TrainingSettings = {
    ...defaultTrainingSettings,
    optimizer: { class_name: 'Adam', config: { beta_1: 0.8, beta_2: 0.99, epsilon: 1e-7, clipnorm: 1, clipvalue: null } },
    learningRate: 0.003,
    lrSchedule: { class_name: 'ExponentialDecay', config: { decay_steps: 50, decay_rate: 0.9, staircase: true } },
  };

  it('h5 → h5 and h5 → py carry the optimizer and schedule', async () => {
    const d = await fresh();
    await exportRun({ spec: tiny, weights: tinyWeights(), settings: adam, format: 'h5', out: join(d, 'adam.h5') });
    expect((await cli(join(d, 'adam.h5'), '--format', 'h5', '--out', join(d, 'copy.h5'))).code).toBe(0);
    expect(readAttr(join(d, 'copy.h5'))).toBe(readAttr(join(d, 'adam.h5')));
    expect(JSON.parse(readAttr(join(d, 'copy.h5'))).optimizer_config.config.learning_rate).toMatchObject({ module: 'keras.optimizers.schedules', class_name: 'ExponentialDecay' });
    expect((await importModel(join(d, 'copy.h5'))).training).toEqual({ optimizer: adam.optimizer, learningRate: 0.003, lrSchedule: adam.lrSchedule });

    expect((await cli(join(d, 'adam.h5'), '--format', 'py', '--out', join(d, 'adam.py'))).code).toBe(0);
    const script = await readFile(join(d, 'adam.py'), 'utf8');
    expect(script).toContain('"class_name": "Adam"');
    expect(script).toContain('"initial_learning_rate": 0.003, "decay_steps": 50, "decay_rate": 0.9, "staircase": True');
  });

  it('a training_config Layerbench cannot use (Nadam) is kept verbatim in h5, with a note', async () => {
    const d = await fresh();
    await exportRun({ spec: tiny, weights: tinyWeights(), settings: adam, format: 'h5', out: join(d, 'nadam.h5') });
    const nadam =
      '{"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"], "optimizer_config": {"class_name": "Nadam", "config": {"name": "Nadam", "learning_rate": 0.002}}}';
    const set = spawnSync(numpyPython!, ['-c', 'import h5py, sys; h5py.File(sys.argv[1], "a").attrs["training_config"] = sys.argv[2].encode()', join(d, 'nadam.h5'), nadam], {
      encoding: 'utf8',
    });
    expect(set.status, set.stderr).toBe(0);
    const result = await cli(join(d, 'nadam.h5'), '--format', 'h5', '--out', join(d, 'copy.h5'));
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/note: training_config: optimizer_config\.class_name: unsupported optimizer 'Nadam'.*\(kept as it was in the new file\)/);
    expect(readAttr(join(d, 'copy.h5'))).toBe(nadam);
  });
});
