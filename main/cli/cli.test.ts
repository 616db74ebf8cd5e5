/** The built CLI as a user runs it: a real process, real files. */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultTrainingSettings, PROJECT_FORMAT, PROJECT_VERSION } from '../../contract';
import { seedModel1, seedModel2, toKerasTopology } from '../../model';

const cli = join(import.meta.dirname, '../../out/cli/index.js');
const dir = mkdtempSync(join(tmpdir(), 'layerbench-cli-'));

beforeAll(() => {
  // The CLI is tested as built; build it on demand so `vitest run` alone works too.
  if (!existsSync(cli)) execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: join(import.meta.dirname, '../..'), stdio: 'inherit' });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(...args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
}

/** Seed model 1 as Keras 2.x writes it with model.to_json(): an InputLayer first, Keras spellings. */
const keras2Json = {
  class_name: 'Sequential',
  config: {
    name: 'sequential',
    layers: [
      { class_name: 'InputLayer', config: { batch_input_shape: [null, 28, 28], dtype: 'float32', sparse: false, ragged: false, name: 'flatten_input' } },
      { class_name: 'Flatten', config: { name: 'flatten', trainable: true, dtype: 'float32', batch_input_shape: [null, 28, 28], data_format: 'channels_last' } },
      ...[0, 1, 2].flatMap((i) => {
        const bn = {
          class_name: 'BatchNormalization',
          config: {
            name: i ? `batch_normalization_${i}` : 'batch_normalization',
            trainable: true, dtype: 'float32', axis: [1], momentum: 0.99, epsilon: 0.001, center: true, scale: true,
            beta_initializer: { class_name: 'Zeros', config: {} }, gamma_initializer: { class_name: 'Ones', config: {} },
            moving_mean_initializer: { class_name: 'Zeros', config: {} }, moving_variance_initializer: { class_name: 'Ones', config: {} },
            beta_regularizer: null, gamma_regularizer: null, beta_constraint: null, gamma_constraint: null,
          },
        };
        const units = [300, 100, 10][i]!;
        const dense = {
          class_name: 'Dense',
          config: {
            name: i ? `dense_${i}` : 'dense', trainable: true, dtype: 'float32', units, activation: i === 2 ? 'softmax' : 'elu', use_bias: true,
            kernel_initializer: i === 2 ? { class_name: 'GlorotUniform', config: { seed: null } } : { class_name: 'HeNormal', config: { seed: null } },
            bias_initializer: { class_name: 'Zeros', config: {} },
            kernel_regularizer: null, bias_regularizer: null, activity_regularizer: null, kernel_constraint: null, bias_constraint: null,
          },
        };
        return [bn, dense];
      }),
    ],
  },
  keras_version: '2.13.1',
  backend: 'tensorflow',
};

describe('layerbench summary', () => {
  it('prints the Keras summary of a Keras model.to_json() file with the golden numbers', () => {
    const file = join(dir, 'keras.json');
    writeFileSync(file, JSON.stringify(keras2Json));
    const text = run('summary', file);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/Total params: 271,346/);
    expect(text.stdout).toMatch(/Trainable params: 268,978/);
    expect(text.stdout).toMatch(/Non-trainable params: 2,368/);
    expect(text.stdout).toMatch(/dense \(Dense\)\s+\(None, 300\)\s+235500\n/);

    const json = JSON.parse(run('summary', file, '--json').stdout);
    expect(json.layers.map((l: { params: number }) => l.params)).toEqual([0, 3136, 235500, 1200, 30100, 400, 1010]);
    expect(json.layers[2]).toMatchObject({ name: 'dense', class_name: 'Dense', output_shape: [null, 300], params: 235500 });
    expect(json).toMatchObject({ total: 271346, trainable: 268978, non_trainable: 2368, valid: true });
  });

  it('reads a project file and a TF.js topology the same way', () => {
    const project = join(dir, 'p.layerbench.json');
    writeFileSync(project, JSON.stringify({ format: PROJECT_FORMAT, version: PROJECT_VERSION, model: seedModel2, training: defaultTrainingSettings }));
    expect(JSON.parse(run('summary', project, '--json').stdout)).toMatchObject({ total: 270946, trainable: 268578, non_trainable: 2368 });
    const tfjs = join(dir, 'model.json');
    writeFileSync(tfjs, JSON.stringify({ modelTopology: toKerasTopology(seedModel1), format: 'layers-model' }));
    expect(JSON.parse(run('summary', tfjs, '--json').stdout)).toMatchObject({ total: 271346 });
  });

  it('fails clearly on bad files and bad usage', () => {
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{ nope');
    const r1 = run('summary', broken);
    expect(r1.status).toBe(1);
    expect(r1.stderr).toMatch(/broken\.json: not valid JSON/);
    expect(run('summary', join(dir, 'missing.json')).stderr).toMatch(/missing\.json: no such file/);
    const usage = run('summary');
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/summary takes exactly one file/);
    expect(run('summary', broken, '--bogus').stderr).toMatch(/Unknown option --bogus/);

    const invalid = structuredClone(seedModel1);
    invalid.config.layers[2]!.config['units'] = 0;
    const bad = join(dir, 'invalid.json');
    writeFileSync(bad, JSON.stringify(invalid));
    const r2 = run('summary', bad);
    expect(r2.status).toBe(1);
    expect(r2.stderr).toMatch(/dense\.units/);
  });
});

describe('layerbench train and export', () => {
  it('trains a project headlessly into a run folder the app can list, then exports it', () => {
    const project = join(dir, 'train.layerbench.json');
    writeFileSync(project, JSON.stringify({ format: PROJECT_FORMAT, version: PROJECT_VERSION, model: seedModel1, training: { ...defaultTrainingSettings, trainSubset: 320, validationSplit: 0.2, epochs: 3 } }));
    const out = join(dir, 'workspace');
    const trained = run('train', project, '--epochs', '1', '--out', out, '--data-dir', join(dir, 'data'));
    expect(trained.stderr).toMatch(/epoch 1: loss \d/);
    expect(trained.status).toBe(0);
    const runDir = trained.stdout.trim();
    expect(runDir.startsWith(join(out, 'runs'))).toBe(true);
    const runJson = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8'));
    expect(runJson.summary).toMatchObject({ status: 'finished', epochsDone: 1, batchesDone: 8 });
    const batches = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').filter((l) => l.includes('"batch"'));
    expect(batches).toHaveLength(8);
    expect(existsSync(join(runDir, 'weights', 'model.json'))).toBe(true);

    const onnx = join(dir, 'model.onnx');
    const exported = run('export', runDir, '--format', 'onnx', '--out', onnx);
    expect(exported.status).toBe(0);
    expect(readFileSync(onnx).length).toBeGreaterThan(1_000_000); // ~270k float32 weights
    expect(run('export', runDir, '--format', 'onnx', '--out', onnx).status).toBe(1); // exists, no --force
  });

  it('ends an exploding run (Adam at 1e6) as failed: the diagnosis, the advice once, numbers for people', () => {
    const project = join(dir, 'explode.layerbench.json');
    writeFileSync(project, JSON.stringify({ format: PROJECT_FORMAT, version: PROJECT_VERSION, model: seedModel1, training: { ...defaultTrainingSettings, trainSubset: 320, validationSplit: 0, epochs: 1 } }));
    const r = run('train', project, '--optimizer', 'adam', '--lr', '1e6', '--out', join(dir, 'explode'), '--data-dir', join(dir, 'data'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/failed: Training diverged: the loss exploded at epoch 1/);
    expect(r.stderr).toMatch(/likely cause: Learning rate too high: 1,000,000 is far above what Adam tolerates/);
    expect(r.stderr.match(/try /g)).toHaveLength(1);
    expect(r.stderr).toMatch(/try 0\.001\./);
    expect(r.stderr).not.toMatch(/\d\.\d{5,}e[+-]?\d/);
    expect(JSON.parse(readFileSync(join(r.stdout.trim(), 'run.json'), 'utf8')).summary.status).toBe('failed');
  });

  it('refuses a bare topology, which has no training settings', () => {
    const file = join(dir, 'bare.json');
    writeFileSync(file, JSON.stringify(keras2Json));
    const r = run('train', file);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/without training settings/);
  });
});
