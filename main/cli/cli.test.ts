/** The built CLI as a user runs it: a real process, real files. */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultTrainingSettings, PROJECT_FORMAT, PROJECT_VERSION } from '../../contract';
import { seedModel1, seedModel2, seluMlp, toKerasTopology } from '../../model';
import { keras2SeedModel1 } from '../../model/keras2-fixture';

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

/** Writes a project file `name` in the test folder; returns its path. */
function writeProject(name: string, model: unknown, training: object = defaultTrainingSettings): string {
  const project = join(dir, name);
  writeFileSync(project, JSON.stringify({ format: PROJECT_FORMAT, version: PROJECT_VERSION, model, training }));
  return project;
}

describe('layerbench summary', () => {
  it('prints the Keras summary of a Keras model.to_json() file with the golden numbers', () => {
    const file = join(dir, 'keras.json');
    writeFileSync(file, JSON.stringify(keras2SeedModel1));
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
    const project = writeProject('p.layerbench.json', seedModel2);
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
    const project = writeProject('train.layerbench.json', seedModel1, { ...defaultTrainingSettings, trainSubset: 320, validationSplit: 0.2, epochs: 3 });
    const out = join(dir, 'workspace');
    const trained = run('train', project, '--epochs', '1', '--out', out, '--data-dir', join(dir, 'data'));
    expect(trained.stderr).toMatch(/epoch 1: loss \d/);
    expect(trained.status).toBe(0);
    const runDir = trained.stdout.trim();
    expect(runDir.startsWith(join(out, 'runs'))).toBe(true);
    const runJson = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8'));
    expect(runJson.summary).toMatchObject({ status: 'finished', epochsDone: 1, batchesDone: 8 });
    const batches = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .filter((l) => l.includes('"batch"'));
    expect(batches).toHaveLength(8);
    expect(existsSync(join(runDir, 'weights', 'model.json'))).toBe(true);

    const onnx = join(dir, 'model.onnx');
    const exported = run('export', runDir, '--format', 'onnx', '--out', onnx);
    expect(exported.status).toBe(0);
    expect(readFileSync(onnx).length).toBeGreaterThan(1_000_000); // ~270k float32 weights
    expect(run('export', runDir, '--format', 'onnx', '--out', onnx).status).toBe(1); // exists, no --force
  });

  it('trains on the backend --backend names (onnxruntime: its step recorded in run.json), and refuses an unknown one', () => {
    const project = writeProject('ort.layerbench.json', seedModel1, { ...defaultTrainingSettings, trainSubset: 128, validationSplit: 0, epochs: 1 });
    const trained = run('train', project, '--backend', 'onnxruntime', '--out', join(dir, 'ort-workspace'), '--data-dir', join(dir, 'data'), '--quiet');
    expect(trained.status, trained.stderr).toBe(0);
    const summary = JSON.parse(readFileSync(join(trained.stdout.trim(), 'run.json'), 'utf8')).summary;
    expect(summary).toMatchObject({ status: 'finished', backend: 'onnxruntime', batchesDone: 4 });
    expect(summary.step).toMatch(/^ONNX Runtime \d+\.\d+\.\d+ \(CPU, 1 thread, 4 steps a run\)/);
    const refused = run('train', project, '--backend', 'tpu');
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/--backend must be auto or one of tensorflow-gpu, webgpu, tensorflow, onnxruntime, wasm, cpu, got tpu/);
  });

  it('warns, and still trains, when a SELU model gets inputs that are not standardized', () => {
    const project = writeProject('selu.layerbench.json', seluMlp, { ...defaultTrainingSettings, trainSubset: 64, validationSplit: 0, epochs: 1 });
    const trained = run('train', project, '--out', join(dir, 'selu-workspace'), '--data-dir', join(dir, 'data'), '--quiet');
    expect(trained.stderr).toContain('layerbench: warning: selu_self_normalizing uses SELU, which self-normalizes only on standardized inputs');
    expect(trained.status).toBe(0);
  });

  it('ends an exploding run (Adam at 1e6) as failed: the diagnosis, the advice once, numbers for people', () => {
    const project = writeProject('explode.layerbench.json', seedModel1, { ...defaultTrainingSettings, trainSubset: 320, validationSplit: 0, epochs: 1 });
    const r = run('train', project, '--optimizer', 'adam', '--lr', '1e6', '--out', join(dir, 'explode'), '--data-dir', join(dir, 'data'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/failed: Training diverged: the loss exploded at epoch 1/);
    expect(r.stderr).toMatch(/likely cause: Learning rate too high: 1,000,000 is far above what Adam tolerates/);
    expect(r.stderr.match(/try /g)).toHaveLength(1);
    expect(r.stderr).toMatch(/try 0\.001\./);
    expect(r.stderr).not.toMatch(/\d\.\d{5,}e[+-]?\d/);
    expect(JSON.parse(readFileSync(join(r.stdout.trim(), 'run.json'), 'utf8')).summary.status).toBe('failed');
  });

  it('takes the batch size, the training subset and the backend from flags', () => {
    const project = writeProject('flags.layerbench.json', seedModel1, { ...defaultTrainingSettings, validationSplit: 0, epochs: 1 });
    const out = join(dir, 'flags');
    const r = run('train', project, '--backend', 'wasm', '--batch-size', '16', '--subset', '48', '--out', out, '--data-dir', join(dir, 'data'), '--quiet');
    expect(r.status, r.stderr).toBe(0);
    const runJson = JSON.parse(readFileSync(join(r.stdout.trim(), 'run.json'), 'utf8'));
    expect(runJson.settings).toMatchObject({ backend: 'wasm', batchSize: 16, trainSubset: 48 });
    expect(runJson.summary).toMatchObject({ status: 'finished', backend: 'wasm', batchesDone: 3 });
    // No GPU: no counters.
    expect(runJson.gpu).toBeUndefined();
  });

  it('refuses a backend that did not start, with the reason it was skipped, before any run folder', () => {
    const project = writeProject('gpu.layerbench.json', seedModel1, { ...defaultTrainingSettings, trainSubset: 64 });
    const out = join(dir, 'no-gpu');
    const r = run('train', project, '--backend', 'tensorflow', '--out', out, '--data-dir', join(dir, 'data'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^layerbench: the tensorflow backend is not available here: .*tfjs-node/m);
    expect(existsSync(join(out, 'runs')) ? readdirSync(join(out, 'runs')) : []).toEqual([]);
    if (!process.env['VK_ICD_FILENAMES']) {
      // No Vulkan driver here: Dawn's own reason.
      const gpu = run('train', project, '--backend', 'webgpu', '--out', out, '--data-dir', join(dir, 'data'));
      expect(gpu.status).toBe(1);
      expect(gpu.stderr).toMatch(/^layerbench: the webgpu backend is not available here: no WebGPU adapter: Dawn: /m);
    }
  });

  it('refuses bad flag values as usage errors', () => {
    const project = writeProject('usage.layerbench.json', seedModel1);
    const backend = run('train', project, '--backend', 'cuda');
    expect(backend.status).toBe(2);
    expect(backend.stderr).toMatch(/--backend must be auto or one of tensorflow-gpu, webgpu, tensorflow, onnxruntime, wasm, cpu, got cuda/);
    expect(run('train', project, '--batch-size', '0').stderr).toMatch(/--batch-size must be an integer from 1 to 65536, got "0"/);
    expect(run('train', project, '--subset', '2.5').stderr).toMatch(/--subset must be an integer from 1 to 100000000, got "2.5"/);
  });

  it('refuses a bare topology, which has no training settings', () => {
    const file = join(dir, 'bare.json');
    writeFileSync(file, JSON.stringify(keras2SeedModel1));
    const r = run('train', file);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/without training settings/);
  });

  it('refuses, before any run, a model that cannot train on the data: the layer and the shapes', () => {
    const noFlatten = structuredClone(seedModel1);
    noFlatten.config.layers.shift();
    noFlatten.config.layers[0]!.config.batch_input_shape = [null, 28, 28];
    const project = writeProject('no-flatten.layerbench.json', noFlatten, { ...defaultTrainingSettings, trainSubset: 320 });
    const out = join(dir, 'no-flatten-runs');
    const r = run('train', project, '--out', out, '--data-dir', join(dir, 'data'));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      "The model cannot be trained on Fashion-MNIST: dense (layer 1): Dense gets (None, 28, 28) and acts on its last axis only, giving (None, 28, 300), so the model's output is (None, 28, 10)",
    );
    expect(existsSync(out)).toBe(false);
  });
});

describe('Keras .h5 wherever a model is accepted; other files named by type', () => {
  /** Flatten → Dense(10): a model that trains on Fashion-MNIST in a second. */
  const small = {
    class_name: 'Sequential' as const,
    config: {
      name: 'small',
      layers: [
        { class_name: 'Flatten', config: { name: 'flatten', batch_input_shape: [null, 28, 28] } },
        { class_name: 'Dense', config: { name: 'dense', units: 10, activation: 'softmax' } },
      ],
    },
  };
  const adam = { class_name: 'Adam', config: { beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7, clipnorm: null, clipvalue: null } };
  const project = join(dir, 'seed.layerbench.json');
  const h5 = join(dir, 'seed.h5');
  beforeAll(() => {
    writeFileSync(project, JSON.stringify({ format: PROJECT_FORMAT, version: PROJECT_VERSION, model: seedModel1, training: defaultTrainingSettings }));
    const exported = run('export', project, '--format', 'h5', '--out', h5);
    if (exported.status !== 0) throw new Error(exported.stderr);
  });

  it('summary of an exported .h5 is the summary of its project', () => {
    const fromH5 = run('summary', h5, '--json');
    expect(fromH5.status).toBe(0);
    expect(JSON.parse(fromH5.stdout)).toEqual(JSON.parse(run('summary', project, '--json').stdout));
    expect(run('summary', h5).stdout).toBe(run('summary', project).stdout);
  });

  it('train continues from an .h5 with its optimizer: imported as a run, the first batch starts from the trained weights', () => {
    const training = { ...defaultTrainingSettings, optimizer: adam, learningRate: 0.003, trainSubset: 2000, validationSplit: 0.1 };
    const smallProject = writeProject('small.layerbench.json', small, training);
    const workspace = join(dir, 'h5-workspace');
    const data = join(dir, 'data');
    const first = run('train', smallProject, '--epochs', '2', '--out', workspace, '--data-dir', data, '--quiet');
    expect(first.status, first.stderr).toBe(0);
    const trained = join(dir, 'small.h5');
    expect(run('export', first.stdout.trim(), '--format', 'h5', '--out', trained).status).toBe(0);

    const again = run('train', trained, '--epochs', '1', '--out', workspace, '--data-dir', data);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toMatch(new RegExp(`imported ${trained.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} as run import-\\S+; training continues from its weights`));
    const runDir = again.stdout.trim();
    const runJson = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8'));
    expect(runJson.settings).toMatchObject({ optimizer: adam, learningRate: 0.003 });
    const firstBatch = (dirOfRun: string) =>
      JSON.parse(
        readFileSync(join(dirOfRun, 'metrics.jsonl'), 'utf8')
          .split('\n')
          .find((l) => l.includes('"batch"'))!,
      ).loss as number;
    // A fresh Dense(10) starts near ln 10 ≈ 2.3; trained weights start well below.
    expect(firstBatch(first.stdout.trim())).toBeGreaterThan(1.5);
    expect(firstBatch(runDir)).toBeLessThan(1.2);
  });

  it('an ONNX file, a .keras archive, a PNG and random bytes are named, not parsed as JSON', () => {
    const onnx = join(dir, 'seed.onnx');
    expect(run('export', h5, '--format', 'onnx', '--out', onnx, '--force').status).toBe(0);
    for (const command of ['summary', 'train']) {
      const r = run(command, onnx);
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(
        `layerbench: ${onnx}: this is an ONNX file; Layerbench exports ONNX but does not import it (use the Keras .h5 or TF.js export of the same model); expected a Layerbench project, a Keras .h5 model, a Keras model.to_json() file or a TF.js model.json\n`,
      );
    }
    expect(run('export', onnx, '--format', 'h5', '--out', join(dir, 'x.h5')).stderr).toMatch(/this is an ONNX file; Layerbench exports ONNX but does not import it/);

    const keras = join(dir, 'model.keras');
    writeFileSync(keras, Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), Buffer.alloc(26), Buffer.from('metadata.json')]));
    expect(run('summary', keras).stderr).toMatch(/this is a Keras 3 \.keras archive, which Layerbench does not read: save the model with model\.save\('model\.h5'\)/);
    const png = join(dir, 'picture.png');
    writeFileSync(png, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]));
    expect(run('summary', png).stderr).toMatch(/this is a PNG image, not a model file/);

    const noise = join(dir, 'noise.bin');
    writeFileSync(noise, Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7919 + 13) % 256)));
    const r = run('train', noise);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      `layerbench: ${noise}: this is a binary file of an unknown type, not a model file; expected a Layerbench project, a Keras .h5 model, a Keras model.to_json() file or a TF.js model.json\n`,
    );
  });
});
