/**
 * Imports of malformed files give clear errors naming the file and the layer or field; writes are
 * atomic (an existing file is not replaced without force; an unwritable path or a full disk names
 * the path and leaves no partial file); and the `layerbench export` command on runs and projects.
 * All on a small real model (Dense → BN → Dense) with real files.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { keras2Bn, keras2Dense } from '../../../model/keras2-fixture';
import { specWithDefaults, toKerasTopology, type ModelSpec } from '../../../model';
import { defaultTrainingSettings, PROJECT_FORMAT, PROJECT_VERSION } from '../../../contract';
import { exportCommand, EXPORT_OPTIONS } from '../../cli/export';
import { parseArgs, UsageError } from '../../cli/args';
import { exportRun, importModel, ExportError } from '.';
import { loadH5wasm } from './h5';
import { RunStore } from '../runs/store';
import { importModelAsRun } from '../runs/import';
import { buildTfModel, loadTfjs, maxAbsDiff, predict, pythonWithH5py, tfWeights, tiny, tinyWeights, useCpuBackend, writeRunFolder } from './test-support';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'layerbench-files-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
const fresh = async () => {
  const d = join(dir, `case-${n++}`);
  await mkdir(d);
  return d;
};

/** Names left in a folder (temp files would show as .name.xxxx.tmp). */
const listing = async (d: string) => (await readdir(d)).sort();

async function rejects(promise: Promise<unknown>): Promise<ExportError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ExportError);
  return error as ExportError;
}

describe('importing malformed files', () => {
  let tfjsDir: string;
  let h5: string;

  beforeAll(async () => {
    const d = await fresh();
    tfjsDir = join(d, 'tfjs');
    h5 = join(d, 'model.h5');
    await exportRun({ spec: tiny, weights: tinyWeights(), format: 'tfjs', out: tfjsDir });
    await exportRun({ spec: tiny, weights: tinyWeights(), format: 'h5', out: h5 });
  });

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- model.json as parsed: the edits reach deep into it, by design untyped
  async function tfjsCopy(edit?: (json: Record<string, any>) => void): Promise<string> {
    const d = await fresh();
    await copyFile(join(tfjsDir, 'weights.bin'), join(d, 'weights.bin'));
    const json = JSON.parse(await readFile(join(tfjsDir, 'model.json'), 'utf8'));
    edit?.(json);
    await writeFile(join(d, 'model.json'), JSON.stringify(json));
    return join(d, 'model.json');
  }

  it('reads the good files back exactly', async () => {
    for (const path of [tfjsDir, join(tfjsDir, 'model.json'), h5]) {
      const { spec, weights } = await importModel(path);
      expect(spec).toEqual(specWithDefaults(tiny));
      for (const [name, w] of tinyWeights()) expect(maxAbsDiff(weights.get(name)!.data, w.data), name).toBe(0);
    }
  });

  it('a truncated model.json', async () => {
    const path = await tfjsCopy();
    const text = await readFile(path, 'utf8');
    await writeFile(path, text.slice(0, Math.floor(text.length / 2)));
    const e = await rejects(importModel(path));
    expect(e.code).toBe('invalid-input');
    expect(e.message).toContain(path);
    expect(e.message).toMatch(/not valid JSON .*truncated/);
  });

  it('a missing or truncated weights.bin', async () => {
    const path = await tfjsCopy();
    const bin = join(path, '..', 'weights.bin');
    await truncate(bin, 40);
    let e = await rejects(importModel(path));
    expect(e.code).toBe('invalid-input');
    expect(e.message).toMatch(/weightsManifest\[0\]: the weight files \(weights\.bin\) hold 40 bytes, but weight '.+' ends at byte \d+: the weights file is truncated/);
    await rm(bin);
    e = await rejects(importModel(path));
    expect(e.code).toBe('not-found');
    expect(e.message).toBe(`${bin}: no such file (named in ${path} weightsManifest[0].paths[0])`);
  });

  it('an unknown layer, an unsupported dtype, a graph model, a shape that does not fit the layer', async () => {
    let e = await rejects(importModel(await tfjsCopy((j) => (j.modelTopology.config.layers[1].class_name = 'Attention'))));
    expect(e.code).toBe('unsupported');
    expect(e.message).toMatch(/modelTopology: layers\[1\] \('batch_normalization'\)\.class_name: unsupported layer type 'Attention'/);

    e = await rejects(importModel(await tfjsCopy((j) => (j.weightsManifest[0].weights[2].dtype = 'int32'))));
    expect(e.message).toMatch(/weightsManifest\[0\]\.weights\[2\]\.dtype: weight 'batch_normalization\/gamma': only float32 weights are supported, got dtype "int32"/);

    e = await rejects(importModel(await tfjsCopy((j) => (j.format = 'graph-model'))));
    expect(e.message).toMatch(/format: only TF.js layers models can be read, this is "graph-model"/);

    e = await rejects(
      importModel(
        await tfjsCopy((j) => {
          j.weightsManifest[0].weights[0].shape = [3, 4];
        }),
      ),
    );
    expect(e.message).toMatch(/weight 'dense\/kernel' has shape \[3, 4\], but layer 'dense' needs \[4, 3\]/);

    e = await rejects(importModel(await tfjsCopy((j) => delete j.weightsManifest)));
    expect(e.message).toMatch(/weightsManifest: missing/);
  });

  it('corrupted, truncated and non-HDF5 .h5 files', async () => {
    const d = await fresh();
    const bytes = await readFile(h5);
    const truncated = join(d, 'truncated.h5');
    await writeFile(truncated, bytes.subarray(0, 1000));
    let e = await rejects(importModel(truncated));
    expect(e.code).toBe('invalid-input');
    expect(e.message).toMatch(new RegExp(`^${truncated}: corrupted or truncated HDF5 file \\(.*truncated file.*\\)`));

    const garbage = join(d, 'garbage.h5');
    await writeFile(garbage, 'this is not HDF5 at all, just text');
    e = await rejects(importModel(garbage));
    expect(e.message).toBe(`${garbage}: not an HDF5 file (no HDF5 signature): expected a Keras .h5 model`);

    // Bytes overwritten in the middle: the superblock is fine, the object headers are not.
    const smashed = join(d, 'smashed.h5');
    const copy = Buffer.from(bytes);
    copy.fill(0xff, 96, copy.length);
    await writeFile(smashed, copy);
    e = await rejects(importModel(smashed));
    expect(e.message).toMatch(new RegExp(`^${smashed}: corrupted`));
  });

  it('a Keras .h5 with an unknown layer, or without model_config', async () => {
    const h5wasm = await loadH5wasm();
    const d = await fresh();
    const unknown = join(d, 'unknown.h5');
    await copyFile(h5, unknown);
    let f = new h5wasm.File(unknown, 'a');
    const config = JSON.parse(f.attrs.model_config!.value as string);
    config.config.layers[2].class_name = 'GroupNormalization';
    f.delete_attribute('model_config');
    f.create_attribute('model_config', JSON.stringify(config));
    f.close();
    let e = await rejects(importModel(unknown));
    expect(e.code).toBe('unsupported');
    expect(e.message).toMatch(/model_config: layers\[2\] \('batch_normalization'\)\.class_name: unsupported layer type 'GroupNormalization'/);

    const weightsOnly = join(d, 'weights-only.h5');
    await copyFile(h5, weightsOnly);
    f = new h5wasm.File(weightsOnly, 'a');
    f.delete_attribute('model_config');
    f.close();
    e = await rejects(importModel(weightsOnly));
    expect(e.message).toMatch(/model_config: missing: not a Keras model file/);
  });

  const python = pythonWithH5py();
  it.skipIf(!python)('reads an .h5 written by h5py the way Keras 2 writes it (byte-string attributes, empty weight_names as float64)', async () => {
    const path = join(await fresh(), 'keras2.h5');
    const config = {
      class_name: 'Sequential',
      config: {
        name: 'sequential',
        layers: [
          { class_name: 'InputLayer', config: { batch_input_shape: [null, 2, 2], dtype: 'float32', sparse: false, ragged: false, name: 'flatten_input' } },
          { class_name: 'Flatten', config: { name: 'flatten', trainable: true, dtype: 'float32', batch_input_shape: [null, 2, 2], data_format: 'channels_last' } },
          keras2Dense('dense', 3, 'relu', 'GlorotUniform'),
          keras2Bn('batch_normalization', [1]),
        ],
      },
    };
    const script = `
import json, sys
import h5py, numpy as np
f = h5py.File(sys.argv[1], "w")
f.attrs["keras_version"] = b"2.13.1"
f.attrs["backend"] = b"tensorflow"
f.attrs["model_config"] = sys.argv[2].encode("utf8")
g = f.create_group("model_weights")
g.attrs["layer_names"] = np.array([b"flatten", b"dense", b"batch_normalization"])
g.attrs["backend"] = b"tensorflow"
g.attrs["keras_version"] = b"2.13.1"
g.create_group("flatten").attrs["weight_names"] = np.asarray([])
d = g.create_group("dense")
d.attrs["weight_names"] = np.array([b"dense/kernel:0", b"dense/bias:0"])
d.create_dataset("dense/kernel:0", data=np.arange(12, dtype="float32").reshape(4, 3))
d.create_dataset("dense/bias:0", data=np.array([0.5, -0.5, 1.5], dtype="float32"))
b = g.create_group("batch_normalization")
names = ["gamma", "beta", "moving_mean", "moving_variance"]
b.attrs["weight_names"] = np.array([("batch_normalization/%s:0" % n).encode() for n in names])
for i, n in enumerate(names):
    b.create_dataset("batch_normalization/%s:0" % n, data=np.full((3,), i + 1, dtype="float32"))
f.close()
`;
    const r = spawnSync(python!, ['-c', script, path, JSON.stringify(config)], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const { spec, weights } = await importModel(path);
    expect(spec.config.layers.map((l) => [l.class_name, l.config.name])).toEqual([
      ['Flatten', 'flatten'],
      ['Dense', 'dense'],
      ['BatchNormalization', 'batch_normalization'],
    ]);
    expect(spec.config.layers[0]!.config.batch_input_shape).toEqual([null, 2, 2]);
    expect(weights.get('dense/kernel')).toEqual({ shape: [4, 3], data: Float32Array.from({ length: 12 }, (_, i) => i) });
    expect(weights.get('dense/bias')!.data).toEqual(Float32Array.from([0.5, -0.5, 1.5]));
    expect(weights.get('batch_normalization/moving_variance')!.data).toEqual(Float32Array.from([4, 4, 4]));
  });

  it('names a missing file, and refuses .keras archives and ONNX files', async () => {
    let e = await rejects(importModel(join(dir, 'nope.json')));
    expect(e.code).toBe('not-found');
    const keras = join(await fresh(), 'model.keras');
    await writeFile(keras, 'PK\x03\x04');
    e = await rejects(importModel(keras));
    expect(e.message).toMatch(/Keras 3 .keras archives are not supported/);
    // The app's import of an ONNX file names its type (code 'unsupported', which survives the wire).
    const onnx = join(await fresh(), 'model.onnx');
    await exportRun({ spec: tiny, weights: tinyWeights(), format: 'onnx', out: onnx });
    e = await rejects(importModel(onnx));
    expect(e.code).toBe('unsupported');
    expect(e.message).toBe(
      `${onnx}: this is an ONNX file; Layerbench exports ONNX but does not import it (use the Keras .h5 or TF.js export of the same model); expected a TF.js model.json or a Keras .h5`,
    );
  });
});

describe('exporting what does not fit', () => {
  it('an invalid spec, or weights of another model, give an error naming the layer or weight', async () => {
    const d = await fresh();
    const bad: ModelSpec = {
      ...tiny,
      config: { ...tiny.config, layers: [{ ...tiny.config.layers[0]!, config: { ...tiny.config.layers[0]!.config, units: 0 } }, ...tiny.config.layers.slice(1)] },
    };
    let e = await rejects(exportRun({ spec: bad, weights: tinyWeights(), format: 'onnx', out: join(d, 'x.onnx') }));
    expect(e.code).toBe('invalid-input');
    expect(e.message).toMatch(/layer 0 'dense'\.units: units must be a positive whole number, got 0/);
    const partial = tinyWeights();
    partial.delete('batch_normalization/moving_mean');
    e = await rejects(exportRun({ spec: tiny, weights: partial, format: 'h5', out: join(d, 'x.h5') }));
    expect(e.message).toBe(`weights: no weights for 'batch_normalization/moving_mean' (the weights do not belong to this model)`);
    expect(await listing(d)).toEqual([]);
  });

  it('a spec with a weights folder (model.json + weights.bin): its own weights, or a clear error for another model', async () => {
    const d = await fresh();
    await exportRun({ spec: tiny, weights: tinyWeights(), format: 'tfjs', out: join(d, 'w') });
    const result = await exportRun({ spec: tiny, weightsDir: join(d, 'w'), format: 'h5', out: join(d, 'm.h5') });
    expect(result.weights).toBe('weights-dir');
    expect(maxAbsDiff((await importModel(join(d, 'm.h5'))).weights.get('dense_1/kernel')!.data, tinyWeights().get('dense_1/kernel')!.data)).toBe(0);
    const other: ModelSpec = {
      ...tiny,
      config: { ...tiny.config, layers: tiny.config.layers.map((l) => (l.config.name === 'dense_1' ? { ...l, config: { ...l.config, units: 5 } } : l)) },
    };
    const e = await rejects(exportRun({ spec: other, weightsDir: join(d, 'w'), format: 'onnx', out: join(d, 'm.onnx') }));
    expect(e.message).toBe(`${join(d, 'w', 'model.json')}: weight 'dense_1/kernel' has shape [3, 2], but layer 'dense_1' needs [3, 5]`);
    expect(existsSync(join(d, 'm.onnx'))).toBe(false);
  });
});

describe('atomic writes', () => {
  it('does not replace an existing file without force, and replaces it with force', async () => {
    const d = await fresh();
    const out = join(d, 'model.h5');
    await exportRun({ spec: tiny, weights: tinyWeights(0), format: 'h5', out });
    const before = await readFile(out);
    const e = await rejects(exportRun({ spec: tiny, weights: tinyWeights(1), format: 'h5', out }));
    expect(e.code).toBe('exists');
    expect(e.message).toBe(`${out} already exists (pass force / --force to replace it)`);
    expect((await readFile(out)).equals(before)).toBe(true);
    expect(await listing(d)).toEqual(['model.h5']);

    await exportRun({ spec: tiny, weights: tinyWeights(1), format: 'h5', out, force: true });
    expect((await readFile(out)).equals(before)).toBe(false);
    expect(maxAbsDiff((await importModel(out)).weights.get('dense/kernel')!.data, tinyWeights(1).get('dense/kernel')!.data)).toBe(0);
    expect(await listing(d)).toEqual(['model.h5']);
  });

  it('writes none of a two-file export when one of its files exists', async () => {
    const d = await fresh();
    await writeFile(join(d, 'model.json'), 'mine');
    const e = await rejects(exportRun({ spec: tiny, weights: tinyWeights(), format: 'tfjs', out: d }));
    expect(e.code).toBe('exists');
    expect(e.message).toContain(join(d, 'model.json'));
    expect(await listing(d)).toEqual(['model.json']);
    expect(await readFile(join(d, 'model.json'), 'utf8')).toBe('mine');
  });

  it('a path through a regular file (fails for root too) names the path and leaves nothing behind', async () => {
    const d = await fresh();
    const file = join(d, 'not-a-folder');
    await writeFile(file, 'x');
    for (const format of ['h5', 'onnx', 'py'] as const) {
      const out = join(file, `model.${format}`);
      const e = await rejects(exportRun({ spec: tiny, weights: tinyWeights(), format, out, force: true }));
      expect(e.code).toBe('io');
      expect(e.message).toBe(`Cannot write ${out}: ${file} is a file, not a folder`);
    }
    const e = await rejects(exportRun({ spec: tiny, weights: tinyWeights(), format: 'tfjs', out: join(file, 'sub', 'tfjs') }));
    expect(e.message).toBe(`Cannot write ${join(file, 'sub', 'tfjs')}: a part of the path is not a folder`);
    expect(await listing(d)).toEqual(['not-a-folder']);
    expect(await readFile(file, 'utf8')).toBe('x');
  });

  it('refuses to write over a folder, even with force', async () => {
    const d = await fresh();
    await mkdir(join(d, 'model.onnx'));
    const e = await rejects(exportRun({ spec: tiny, weights: tinyWeights(), format: 'onnx', out: join(d, 'model.onnx'), force: true }));
    expect(e.message).toBe(`Cannot write ${join(d, 'model.onnx')}: it is a folder`);
  });

  const hasShell = process.platform !== 'win32' && spawnSync('sh', ['-c', 'ulimit -f 64'], { encoding: 'utf8' }).status === 0;
  it.skipIf(!hasShell)('a disk that fills up mid-write (file size limit) names the path and leaves no partial file or new folder', async () => {
    const d = await fresh();
    const out = join(d, 'new', 'tfjs');
    // A model whose weights (≈400 KB) exceed the 32 KB the child process may write.
    const big: ModelSpec = {
      class_name: 'Sequential',
      config: { name: 'big', layers: [{ class_name: 'Dense', config: { name: 'dense', units: 128, batch_input_shape: [null, 784] } }] },
    };
    const child = join(d, 'child.ts');
    await writeFile(
      child,
      `process.on('SIGXFSZ', () => {});
import { exportRun } from ${JSON.stringify(join(import.meta.dirname, 'index.ts'))};
const spec = ${JSON.stringify(big)};
const weights = new Map([['dense/kernel', { shape: [784, 128], data: new Float32Array(784 * 128).fill(0.5) }], ['dense/bias', { shape: [128], data: new Float32Array(128) }]]);
exportRun({ spec, weights, format: 'tfjs', out: ${JSON.stringify(out)} }).then(() => console.log('written'), (e) => console.log(e.code + ': ' + e.message));
`,
    );
    const r = spawnSync('sh', ['-c', `ulimit -f 64; exec "${process.execPath}" --import tsx "${child}"`], { encoding: 'utf8', cwd: join(import.meta.dirname, '../../..') });
    expect(r.stdout.trim()).toMatch(new RegExp(`^io: Cannot write ${join(out, 'weights.bin')}: .*(EFBIG|too large|disk is full)`));
    expect(existsSync(join(d, 'new'))).toBe(false);
    expect(await listing(d)).toEqual(['child.ts']);
  });
});

describe('layerbench export', () => {
  let output: string[];
  beforeAll(async () => {
    await useCpuBackend();
  });
  afterEach(() => vi.restoreAllMocks());
  const cli = async (...argv: string[]) => {
    output = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (output.push(String(chunk)), true));
    return exportCommand(parseArgs(argv, EXPORT_OPTIONS));
  };

  async function project(d: string): Promise<string> {
    const path = join(d, 'tiny.layerbench.json');
    await writeFile(path, JSON.stringify({ format: PROJECT_FORMAT, version: PROJECT_VERSION, model: tiny, training: { ...defaultTrainingSettings, learningRate: 0.02 } }));
    return path;
  }

  it('a run folder: every format from its trained weights', async () => {
    const d = await fresh();
    const model = await buildTfModel(tiny);
    model.setWeights(model.weights.map((w) => w.read().add(0.25)));
    await writeRunFolder(join(d, 'run'), tiny, model);
    for (const [format, out] of [
      ['tfjs', 'tfjs'],
      ['h5', 'm.h5'],
      ['onnx', 'm.onnx'],
      ['py', 'm.py'],
    ]) {
      expect(await cli(join(d, 'run'), '--format', format!, '--out', join(d, out!))).toBe(0);
      expect(output.join('')).toMatch(new RegExp(`^Exported 'tiny' as ${format}:\\n  ${d}`));
    }
    const loaded = await loadTfjs(join(d, 'tfjs', 'model.json'));
    const x = Float32Array.from({ length: 8 }, (_, i) => i / 8);
    expect(maxAbsDiff(predict(loaded, x, [2, 4]), predict(model, x, [2, 4]))).toBe(0);
    const h5 = await importModel(join(d, 'm.h5'));
    for (const [name, w] of tfWeights(model)) expect(maxAbsDiff(h5.weights.get(name)!.data, w.data), name).toBe(0);
    loaded.dispose();
    model.dispose();

    // Without --force an existing output is kept, and the message says how to replace it.
    await expect(cli(join(d, 'run'), '--format', 'onnx', '--out', join(d, 'm.onnx'))).rejects.toThrow(/m\.onnx already exists \(pass force \/ --force to replace it\)/);
    expect(await cli(join(d, 'run'), '--format', 'onnx', '--out', join(d, 'm.onnx'), '--force')).toBe(0);
  });

  it('a run without weights, and a folder that is not a run, say what is missing', async () => {
    const d = await fresh();
    await mkdir(join(d, 'run'));
    await writeFile(join(d, 'run', 'run.json'), JSON.stringify({ spec: tiny, settings: defaultTrainingSettings }));
    await expect(cli(join(d, 'run'), '--format', 'h5', '--out', join(d, 'm.h5'))).rejects.toThrow(
      `${join(d, 'run')} has no saved weights (weights/model.json is missing, and there is no best-epoch checkpoint): the run may still be training, or it ended before saving them`,
    );
    // The script needs no weights; the .h5 it is told to load must exist.
    await expect(cli(join(d, 'run'), '--format', 'py', '--out', join(d, 'm.py'), '--weights', join(d, 'm.h5'))).rejects.toThrow(`${join(d, 'm.h5')}: no such weights file`);
    expect(existsSync(join(d, 'm.py'))).toBe(false);
    expect(await cli(join(d, 'run'), '--format', 'py', '--out', join(d, 'm.py'))).toBe(0);
    await expect(cli(d, '--format', 'h5', '--out', join(d, 'x.h5'))).rejects.toThrow(/not a run folder \(no run\.json\) nor a TF\.js model folder/);
  });

  it('a project: the architecture with fresh weights (tfjs, h5), the script (py), and no ONNX', async () => {
    const d = await fresh();
    const path = await project(d);
    expect(await cli(path, '--format', 'h5', '--out', join(d, 'fresh.h5'))).toBe(0);
    expect(output.join('')).toContain('fresh, untrained weights: a project has no trained weights');
    const imported = await importModel(join(d, 'fresh.h5'));
    expect(imported.spec).toEqual(specWithDefaults(tiny));
    // Initialised as training would: HeNormal kernel, zero bias, BN's ones and zeros.
    expect(Math.max(...imported.weights.get('dense/kernel')!.data.map(Math.abs))).toBeGreaterThan(0);
    expect([...imported.weights.get('batch_normalization/moving_variance')!.data]).toEqual([1, 1, 1]);
    const h5wasm = await loadH5wasm();
    const f = new h5wasm.File(join(d, 'fresh.h5'), 'r');
    expect(JSON.parse(f.attrs.training_config!.value as string).optimizer_config.config.learning_rate).toBe(0.02);
    f.close();

    expect(await cli(path, '--format', 'tfjs', '--out', join(d, 'fresh-tfjs'))).toBe(0);
    (await loadTfjs(join(d, 'fresh-tfjs', 'model.json'))).dispose();
    expect(await cli(path, '--format', 'py', '--out', join(d, 'fresh.py'))).toBe(0);
    expect(await readFile(join(d, 'fresh.py'), 'utf8')).toContain('"learning_rate": 0.02');

    await expect(cli(path, '--format', 'onnx', '--out', join(d, 'x.onnx'))).rejects.toThrow(
      /is a project: it holds the architecture but no trained weights, and an ONNX export needs trained weights\. Export a run folder/,
    );
    expect(existsSync(join(d, 'x.onnx'))).toBe(false);
  });

  it("a Keras .h5's training_config carries the optimizer and schedule into an imported run", async () => {
    const d = await fresh();
    const settings = {
      ...defaultTrainingSettings,
      optimizer: { class_name: 'Adam', config: { beta_1: 0.8, beta_2: 0.99, epsilon: 1e-7, clipnorm: 1, clipvalue: null } },
      learningRate: 0.003,
      lrSchedule: { class_name: 'ExponentialDecay', config: { decay_steps: 50, decay_rate: 0.9, staircase: true } },
    } as const;
    await exportRun({ spec: tiny, weights: tinyWeights(), settings, format: 'h5', out: join(d, 'adam.h5') });
    const imported = await importModel(join(d, 'adam.h5'));
    expect(imported.training).toEqual({ optimizer: settings.optimizer, learningRate: 0.003, lrSchedule: settings.lrSchedule });
    const runs = new RunStore(d);
    const { run } = await importModelAsRun(runs, join(d, 'adam.h5'));
    const detail = await runs.get(run.runId);
    expect(detail.settings).toMatchObject({ optimizer: settings.optimizer, learningRate: 0.003, lrSchedule: settings.lrSchedule });
  });

  it('converts a TF.js model folder or a Keras .h5 with its weights', async () => {
    const d = await fresh();
    await exportRun({ spec: tiny, weights: tinyWeights(), format: 'tfjs', out: join(d, 'in') });
    expect(await cli(join(d, 'in'), '--format', 'h5', '--out', join(d, 'out.h5'))).toBe(0);
    expect(await cli(join(d, 'out.h5'), '--format', 'onnx', '--out', join(d, 'out.onnx'))).toBe(0);
    expect((await stat(join(d, 'out.onnx'))).size).toBeGreaterThan(100);
    const back = await importModel(join(d, 'out.h5'));
    for (const [name, w] of tinyWeights()) expect(maxAbsDiff(back.weights.get(name)!.data, w.data)).toBe(0);
  });

  it('converts a TF.js model.json named as a file with its weights, and a topology without weights with fresh ones', async () => {
    const d = await fresh();
    await exportRun({ spec: tiny, weights: tinyWeights(), format: 'tfjs', out: join(d, 'in') });
    expect(await cli(join(d, 'in', 'model.json'), '--format', 'h5', '--out', join(d, 'out.h5'))).toBe(0);
    const back = await importModel(join(d, 'out.h5'));
    for (const [name, w] of tinyWeights()) expect(maxAbsDiff(back.weights.get(name)!.data, w.data)).toBe(0);
    const topology = join(d, 'topology.json');
    await writeFile(topology, JSON.stringify(toKerasTopology(tiny)));
    expect(await cli(topology, '--format', 'h5', '--out', join(d, 'fresh.h5'))).toBe(0);
    expect(output.join('')).toMatch(/fresh, untrained weights: a model topology without weights has no trained weights/);
    await expect(cli(topology, '--format', 'onnx', '--out', join(d, 'x.onnx'))).rejects.toThrow(
      /a model topology without weights: it holds the architecture but no trained weights/,
    );
  });

  it('usage errors', async () => {
    const d = await fresh();
    const path = await project(d);
    await expect(cli(path, '--out', 'x')).rejects.toThrow(UsageError);
    await expect(cli(path, '--format', 'pt', '--out', 'x')).rejects.toThrow(/--format must be one of tfjs, h5, onnx, py, got "pt"/);
    await expect(cli(path, '--format', 'h5')).rejects.toThrow(/needs --out/);
    await expect(cli('--format', 'h5', '--out', 'x')).rejects.toThrow(/exactly one run folder or project file/);
    await expect(cli(path, '--format', 'h5', '--out', 'x', '--weights', 'w.h5')).rejects.toThrow(/--weights only applies to --format py/);
    await expect(cli(join(d, 'missing.json'), '--format', 'h5', '--out', 'x')).rejects.toThrow(/no such file or folder/);
  });
});
