/**
 * Issue #5: an export counts only when a loader nobody here wrote reads it and gets the same
 * predictions. Two real models — seed model 1 (the BN MLP) and a small Conv2D → MaxPooling2D → BN →
 * Flatten → Dense model — are trained for a few SGD steps on real Fashion-MNIST images with TF.js
 * (wasm backend; cpu for the conv model), saved as a run folder, and exported in every format:
 *   tfjs  → tf.loadLayersModel predicts identically;
 *   onnx  → ONNX Runtime (onnxruntime-node) predicts as TF.js on 100 test images (≤ 1e-4), BN in inference mode;
 *   h5    → h5wasm and h5py (spawned python3, when it has h5py) read Keras' layout with the same names,
 *           shapes and values; importing it back predicts identically in TF.js;
 *   py    → the Keras script compiles (python3 -m py_compile) and declares the same layers.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initializer, seedModel1, specWithDefaults, type ModelSpec } from '../../../model';
import { defaultTrainingSettings } from '../../../contract/training';
import { exportRun, importModel } from '.';
import { loadH5wasm } from './h5';
import {
  buildTfModel,
  fashionImages,
  inputShape,
  loadTfjs,
  maxAbsDiff,
  predict,
  python3,
  pythonWithH5py,
  tf,
  tfWeights,
  trainFewSteps,
  useBackend,
  writeRunFolder,
} from './test-support';

const smallConv: ModelSpec = {
  class_name: 'Sequential',
  config: {
    name: 'small_conv',
    layers: [
      {
        class_name: 'Conv2D',
        config: {
          name: 'conv2d',
          filters: 8,
          kernel_size: [3, 3],
          padding: 'same',
          activation: 'relu',
          kernel_initializer: initializer('HeNormal'),
          batch_input_shape: [null, 28, 28, 1],
        },
      },
      { class_name: 'MaxPooling2D', config: { name: 'max_pooling2d', pool_size: [2, 2] } },
      // A low momentum moves the moving statistics far from (0, 1) in a few steps.
      { class_name: 'BatchNormalization', config: { name: 'batch_normalization', momentum: 0.5 } },
      { class_name: 'Flatten', config: { name: 'flatten' } },
      { class_name: 'Dense', config: { name: 'dense', units: 10, activation: 'softmax' } },
    ],
  },
};

// TF.js' wasm backend has no Conv2D gradient kernels (Conv2DBackpropFilter): the conv model trains on 'cpu'.
const cases = [
  { label: 'seed model 1', spec: seedModel1, backend: 'wasm' as const, train: { samples: 640, batchSize: 64, learningRate: 0.05 } },
  { label: 'small Conv2D model', spec: smallConv, backend: 'cpu' as const, train: { samples: 512, batchSize: 32, learningRate: 0.05 } },
];

const TEST_IMAGES = 100;
const settings = { ...defaultTrainingSettings, learningRate: 0.05 };

describe.each(cases)('$label, trained a few steps on Fashion-MNIST ($backend backend)', ({ spec, backend, train }) => {
  let dir: string;
  let runDir: string;
  let model: tf.LayersModel;
  let x: Float32Array;
  let shape: number[];
  let expected: Float32Array;
  let trainingMode: Float32Array;

  beforeAll(async () => {
    await useBackend(backend);
    dir = await mkdtemp(join(tmpdir(), 'layerbench-export-'));
    runDir = join(dir, 'run');
    model = await buildTfModel(spec);
    const before = tfWeights(model);
    await trainFewSteps(model, spec, train);
    // Training really moved the weights, BN's moving statistics included.
    const after = tfWeights(model);
    for (const name of [...before.keys()].filter((n) => !n.endsWith('/bias') && !n.endsWith('/beta'))) {
      expect(maxAbsDiff(before.get(name)!.data, after.get(name)!.data), name).toBeGreaterThan(1e-4);
    }
    await writeRunFolder(runDir, spec, model, settings);
    x = (await fashionImages('test', TEST_IMAGES)).x;
    shape = [TEST_IMAGES, ...inputShape(spec)];
    expected = predict(model, x, shape);
    // Training-mode BN uses batch statistics (and updates the moving ones): run it on a copy.
    const copy = await loadTfjs(join(runDir, 'weights', 'model.json'));
    trainingMode = predict(copy, x, shape, true);
    copy.dispose();
  });

  afterAll(async () => {
    model?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('tfjs: tf.loadLayersModel loads the export and predicts identically; it imports back to the same spec and weights', async () => {
    const out = join(dir, 'tfjs');
    const result = await exportRun({ runDir, format: 'tfjs', out });
    expect(result.files).toEqual([join(out, 'weights.bin'), join(out, 'model.json')]);
    expect(result.weights).toBe('run');
    const loaded = await loadTfjs(join(out, 'model.json'));
    try {
      expect(loaded.layers.map((l) => l.name)).toEqual(spec.config.layers.map((l) => l.config.name));
      expect(maxAbsDiff(predict(loaded, x, shape), expected)).toBe(0);
    } finally {
      loaded.dispose();
    }
    const imported = await importModel(out);
    expect(imported.format).toBe('tfjs');
    expect(imported.spec).toEqual(specWithDefaults(spec));
    const original = tfWeights(model);
    expect([...imported.weights.keys()].sort()).toEqual([...original.keys()].sort());
    for (const [name, w] of original) {
      expect(imported.weights.get(name)!.shape, name).toEqual(w.shape);
      expect(maxAbsDiff(imported.weights.get(name)!.data, w.data), name).toBe(0);
    }
  });

  it('onnx: ONNX Runtime predicts as TF.js on 100 real test images (max abs diff ≤ 1e-4), BN in inference mode', async () => {
    const out = join(dir, 'model.onnx');
    await exportRun({ runDir, format: 'onnx', out });
    const session = await ort.InferenceSession.create(out);
    try {
      expect(session.inputNames).toEqual(['input']);
      expect(session.outputNames).toEqual(['output']);
      const result = await session.run({ input: new ort.Tensor('float32', x, shape) });
      const output = result.output!;
      expect(output.dims).toEqual([TEST_IMAGES, 10]);
      const got = output.data as Float32Array;
      expect(maxAbsDiff(got, expected)).toBeLessThanOrEqual(1e-4);
      // Training-mode BN (batch statistics) gives other outputs: ONNX used the moving statistics.
      expect(maxAbsDiff(got, trainingMode)).toBeGreaterThan(1e-3);
      // And the predictions are real ones: most test images get their label.
      const labels = (await fashionImages('test', TEST_IMAGES)).y;
      let right = 0;
      for (let i = 0; i < TEST_IMAGES; i++) {
        const row = Array.from(got.subarray(i * 10, i * 10 + 10));
        if (row.indexOf(Math.max(...row)) === labels[i]) right++;
      }
      expect(right).toBeGreaterThan(40);
    } finally {
      await session.release();
    }
  });

  it('h5: h5wasm reads back Keras layout (root attrs, layer_names, weight_names, datasets with the same shapes and values)', async () => {
    const out = join(dir, 'model.h5');
    await exportRun({ runDir, format: 'h5', out });
    const h5 = await loadH5wasm();
    const f = new h5.File(out, 'r');
    try {
      expect(f.attrs.keras_version!.value).toMatch(/^2\./);
      expect(f.attrs.backend!.value).toBe('tensorflow');
      const config = JSON.parse(f.attrs.model_config!.value as string);
      expect(config.class_name).toBe('Sequential');
      expect(config.config.layers.map((l: { class_name: string }) => l.class_name)).toEqual(['InputLayer', ...spec.config.layers.map((l) => l.class_name)]);
      const training = JSON.parse(f.attrs.training_config!.value as string);
      expect(training).toMatchObject({ loss: 'sparse_categorical_crossentropy', optimizer_config: { class_name: 'SGD', config: { learning_rate: 0.05 } } });
      const root = f.get('model_weights') as InstanceType<typeof h5.Group>;
      expect(root.attrs.layer_names!.value).toEqual(spec.config.layers.map((l) => l.config.name));
      const original = tfWeights(model);
      const seen: string[] = [];
      for (const layer of spec.config.layers) {
        const name = layer.config.name;
        const group = root.get(name) as InstanceType<typeof h5.Group>;
        const weightNames = group.attrs.weight_names!.value as string[];
        for (const wn of weightNames) {
          expect(wn).toMatch(new RegExp(`^${name}/(kernel|bias|gamma|beta|moving_mean|moving_variance):0$`));
          const ds = f.get(`model_weights/${name}/${wn}`) as InstanceType<typeof h5.Dataset>;
          const w = original.get(wn.replace(/:0$/, ''))!;
          expect(ds.shape, wn).toEqual(w.shape);
          expect(ds.dtype).toBe('<f');
          expect(maxAbsDiff(ds.value as Float32Array, w.data), wn).toBe(0);
          seen.push(wn.replace(/:0$/, ''));
        }
      }
      expect(seen.sort()).toEqual([...original.keys()].sort());
    } finally {
      f.close();
    }
  });

  const python = pythonWithH5py();
  it.skipIf(!python)('h5: h5py (spawned python3) reads the same names, shapes and values', async () => {
    const out = join(dir, 'model-h5py.h5');
    await exportRun({ runDir, format: 'h5', out });
    const script = `
import base64, json, sys
import h5py
s = lambda v: v.decode("utf8") if isinstance(v, bytes) else str(v)
f = h5py.File(sys.argv[1], "r")
out = {"attrs": {k: s(f.attrs[k]) for k in f.attrs}, "weights": {}, "weight_names": {}}
g = f["model_weights"]
out["layer_names"] = [s(n) for n in g.attrs["layer_names"]]
for ln in out["layer_names"]:
    names = [s(n) for n in g[ln].attrs["weight_names"]]
    out["weight_names"][ln] = names
    for n in names:
        d = g[ln][n]
        out["weights"][n] = {"shape": list(d.shape), "dtype": str(d.dtype), "b64": base64.b64encode(d[()].astype("<f4").tobytes()).decode()}
print(json.dumps(out))
`;
    const r = spawnSync(python!, ['-c', script, out], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const read = JSON.parse(r.stdout);
    expect(Object.keys(read.attrs).sort()).toEqual(['backend', 'keras_version', 'model_config', 'training_config']);
    expect(
      JSON.parse(read.attrs.model_config)
        .config.layers.slice(1)
        .map((l: { config: { name: string } }) => l.config.name),
    ).toEqual(spec.config.layers.map((l) => l.config.name));
    expect(read.layer_names).toEqual(spec.config.layers.map((l) => l.config.name));
    const original = tfWeights(model);
    expect(
      Object.keys(read.weights)
        .map((n) => n.replace(/:0$/, ''))
        .sort(),
    ).toEqual([...original.keys()].sort());
    for (const [name, w] of original) {
      const got = read.weights[`${name}:0`];
      expect(got.shape, name).toEqual(w.shape);
      expect(got.dtype).toBe('float32');
      const bytes = Buffer.from(got.b64, 'base64');
      expect(maxAbsDiff(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4), w.data), name).toBe(0);
    }
  });

  it('h5: imports back to the same spec and weights, which predict identically in TF.js', async () => {
    const out = join(dir, 'model-import.h5');
    await exportRun({ runDir, format: 'h5', out });
    const imported = await importModel(out);
    expect(imported.format).toBe('h5');
    expect(imported.spec).toEqual(specWithDefaults(spec));
    const rebuilt = await buildTfModel(imported.spec);
    try {
      rebuilt.setWeights(rebuilt.weights.map((w) => tf.tensor(imported.weights.get(w.originalName)!.data, w.shape as number[])));
      expect(maxAbsDiff(predict(rebuilt, x, shape), expected)).toBe(0);
    } finally {
      rebuilt.dispose();
    }
  });

  it.skipIf(!python3())('py: the Keras script compiles and declares the same layers, names and input shape', async () => {
    const out = join(dir, 'model.py');
    await exportRun({ runDir, format: 'h5', out: join(dir, 'for-script.h5'), force: true });
    await exportRun({ runDir, format: 'py', out, weightsH5: join(dir, 'for-script.h5') });
    const compiled = spawnSync('python3', ['-m', 'py_compile', out], { encoding: 'utf8' });
    expect(compiled.stderr).toBe('');
    expect(compiled.status).toBe(0);
    // Python's own parser lists the layers the script adds.
    const listing = spawnSync(
      'python3',
      [
        '-c',
        `
import ast, json, sys
tree = ast.parse(open(sys.argv[1]).read())
calls = []
for node in ast.walk(tree):
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
        if node.func.value.id == "layers":
            kw = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg == "name"}
            calls.append([node.func.attr, kw.get("name"), node.lineno])
        if node.func.value.id == "keras" and node.func.attr == "Input":
            calls.append(["Input", ast.literal_eval(node.keywords[0].value), node.lineno])
print(json.dumps(sorted(calls, key=lambda c: c[2])))
`,
        out,
      ],
      { encoding: 'utf8' },
    );
    expect(listing.status, listing.stderr).toBe(0);
    const calls = JSON.parse(listing.stdout) as [string, unknown, number][];
    expect(calls.map(([cls, name]) => [cls, name])).toEqual([['Input', inputShape(spec)], ...spec.config.layers.map((l) => [l.class_name, l.config.name])]);
    const text = await readFile(out, 'utf8');
    expect(text).toContain(`WEIGHTS_PATH = "for-script.h5"`);
    expect(text).toContain('"learning_rate": 0.05');
  });
});
