import { describe, expect, it } from 'vitest';
import { checkTask, describeBlocking, trainableOnTask, TASK_LOSS, type Task, type TaskData } from './task-check';
import { plainMlp, presets, seedModel1, seedModel2 } from './presets';
import { summarize } from './summary';
import type { LayerSpec, ModelSpec } from './spec';

const fashion: TaskData = { name: 'Fashion-MNIST', sampleShape: [28, 28], classCount: 10 };
const iris: TaskData = { name: 'iris', sampleShape: [4], classCount: 3 };
const rgb: TaskData = { name: 'pets', sampleShape: [28, 28, 3], classCount: 3 };
const task = (data: TaskData | null): Task => ({ loss: TASK_LOSS, data });

const model = (layers: LayerSpec[]): ModelSpec => ({ class_name: 'Sequential', config: { name: 'm', layers } });
const layer = (class_name: string, name: string, config: Record<string, unknown> = {}): LayerSpec => ({ class_name, config: { name, ...config } });
const dense = (name: string, units: number, activation = 'relu', extra: Record<string, unknown> = {}) => layer('Dense', name, { units, activation, ...extra });

/** Seed model 1 without its Flatten: the builder puts the input shape on the next layer. */
function seedWithoutFlatten(): ModelSpec {
  const spec = structuredClone(seedModel1);
  spec.config.layers.shift();
  spec.config.layers[0]!.config.batch_input_shape = [null, 28, 28];
  return spec;
}

const check = (spec: ModelSpec, data: TaskData | null) => checkTask(spec, task(data));
const brief = (spec: ModelSpec, data: TaskData | null) => check(spec, data).map((p) => [p.kind, p.layerIndex, p.blocking, p.fix?.kind ?? null]);

describe('checkTask: the model against the loss and the chosen data', () => {
  it('passes every preset on Fashion-MNIST, and without a dataset', () => {
    for (const p of presets) {
      expect(check(p.spec, fashion), p.id).toEqual([]);
      expect(check(p.spec, null), p.id).toEqual([]);
    }
  });

  it('seed model without Flatten: Keras builds it, but it does not train — at the first Dense, Flatten to insert at the top', () => {
    const spec = seedWithoutFlatten();
    const summary = summarize(spec);
    expect(summary.valid).toBe(true);
    expect(summary.layers.at(-1)!.output_shape).toEqual([null, 28, 10]);
    const problems = check(spec, fashion);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ kind: 'output-rank', layerIndex: 1, layerName: 'dense', blocking: true, fix: { kind: 'insert-flatten', before: 0 } });
    expect(problems[0]!.message).toContain('Dense gets (None, 28, 28)');
    expect(problems[0]!.message).toContain('(None, 28, 300)');
    expect(problems[0]!.message).toContain("the model's output is (None, 28, 10), but sparse categorical cross-entropy needs (None, 10)");
    expect(problems[0]!.message).toContain('Insert a Flatten at the top');
    expect(trainableOnTask(summary, problems)).toBe(false);
    // The same without a dataset: the loss alone needs (None, classes).
    expect(brief(spec, null)).toEqual([['output-rank', 1, true, 'insert-flatten']]);
    expect(describeBlocking(problems)).toMatch(/^dense \(layer 1\): Dense gets \(None, 28, 28\)/);
  });

  it('Dense-first on images: Flatten before it; the input mismatch with RGB data too', () => {
    const spec = model([dense('dense', 64, 'relu', { batch_input_shape: [null, 28, 28] }), dense('dense_1', 3, 'softmax')]);
    expect(check(spec, fashion).map((p) => [p.kind, p.layerIndex, p.fix])).toEqual([['output-rank', 0, { kind: 'insert-flatten', before: 0 }]]);
    expect(brief(spec, rgb)).toEqual([
      ['input-shape', 0, true, 'set-input-shape'],
      ['output-rank', 0, true, 'insert-flatten'],
    ]);
  });

  it('1-D tabular input with a Flatten: TF.js refuses Flatten on (None, 4), and says so at the Flatten', () => {
    const spec = structuredClone(plainMlp);
    spec.config.layers[0]!.config.batch_input_shape = [null, 4];
    spec.config.layers[3]!.config.units = 3;
    const problems = check(spec, iris);
    expect(problems.map((p) => [p.kind, p.layerName, p.blocking, p.fix])).toEqual([['flat-flatten', 'flatten', true, { kind: 'remove-layer', layer: 0 }]]);
    expect(problems[0]!.message).toContain('Flatten gets (None, 4)');
    // Only the Flatten: removing it would leave no model, so no fix is offered.
    expect(check(model([layer('Flatten', 'flatten', { batch_input_shape: [null, 4] })]), iris)[0]).not.toHaveProperty('fix');
  });

  it('Conv2D models: Flatten after the convolutions, not at the top; a model ending in a feature map gets an output', () => {
    const conv = (extra: Record<string, unknown> = {}) => layer('Conv2D', 'conv2d', { filters: 8, kernel_size: [3, 3], activation: 'relu', ...extra });
    const good = model([
      layer('Reshape', 'reshape', { batch_input_shape: [null, 28, 28], target_shape: [28, 28, 1] }),
      conv(),
      layer('MaxPooling2D', 'max_pooling2d'),
      layer('Flatten', 'flatten'),
      dense('dense', 10, 'softmax'),
    ]);
    expect(check(good, fashion)).toEqual([]);
    const noFlatten = structuredClone(good);
    noFlatten.config.layers.splice(3, 1, layer('BatchNormalization', 'batch_normalization'));
    expect(check(noFlatten, fashion).map((p) => [p.kind, p.layerIndex, p.fix])).toEqual([['output-rank', 4, { kind: 'insert-flatten', before: 4 }]]);
    const featureMap = model([conv({ batch_input_shape: [null, 28, 28, 1] }), layer('MaxPooling2D', 'max_pooling2d')]);
    const problems = check(featureMap, fashion);
    expect(problems.map((p) => [p.kind, p.layerIndex, p.blocking, p.fix])).toEqual([
      ['input-shape', 0, false, { kind: 'set-input-shape', shape: [28, 28] }],
      ['output-rank', 1, true, { kind: 'add-output', units: 10, flatten: true }],
    ]);
    expect(problems[1]!.message).toContain('(None, 13, 13, 8)');
    // A [28, 28, 1] input on 28×28 data holds the same values: shown, but it trains.
    expect(brief(good, { ...fashion, sampleShape: [28, 28, 1] })).toEqual([['input-shape', 0, false, 'set-input-shape']]);
  });

  it('wrong class count: the output must have one unit per class; a model ending in Flatten is no classifier', () => {
    const fewer = check(seedModel1, { ...fashion, classCount: 12 });
    expect(fewer.map((p) => [p.kind, p.layerIndex, p.field, p.blocking, p.fix])).toEqual([['output-units', 6, 'units', true, { kind: 'set-units', layer: 6, units: 12 }]]);
    expect(fewer[0]!.message).toBe('10 units, but Fashion-MNIST has 12 classes: the output must be (None, 12)');
    expect(brief(seedModel1, { ...fashion, classCount: 3 })).toEqual([['output-units', 6, true, 'set-units']]);
    // Dropout after the output Dense: still that Dense's units.
    const dropped = structuredClone(seedModel1);
    dropped.config.layers.push(layer('Dropout', 'dropout', { rate: 0.2 }));
    expect(brief(dropped, { ...fashion, classCount: 12 })).toEqual([['output-units', 6, true, 'set-units']]);
    const flatOnly = model([layer('Flatten', 'flatten', { batch_input_shape: [null, 28, 28] })]);
    expect(check(flatOnly, fashion).map((p) => [p.kind, p.blocking, p.fix])).toEqual([['no-classifier', true, { kind: 'add-output', units: 10, flatten: false }]]);
  });

  it('an output that is not a softmax is a warning with its fix; an Activation(softmax) after a linear Dense is fine', () => {
    const linear = structuredClone(seedModel1);
    linear.config.layers[6]!.config.activation = 'linear';
    const problems = check(linear, fashion);
    expect(problems.map((p) => [p.kind, p.field, p.blocking, p.fix])).toEqual([
      ['output-activation', 'activation', false, { kind: 'set-activation', layer: 6, activation: 'softmax' }],
    ]);
    expect(problems[0]!.message).toContain("'linear', not softmax");
    expect(trainableOnTask(summarize(linear), problems)).toBe(true);
    linear.config.layers.push(layer('Activation', 'activation', { activation: 'softmax' }));
    expect(check(linear, fashion)).toEqual([]);
  });

  it('a model Keras cannot build gets only the checks that need no shapes', () => {
    const broken = seedWithoutFlatten();
    broken.config.layers[1]!.config.units = 0;
    expect(summarize(broken).valid).toBe(false);
    expect(check(broken, fashion)).toEqual([]);
    broken.config.layers[0]!.config.batch_input_shape = [null, 3];
    expect(brief(broken, fashion)).toEqual([['input-shape', 0, true, 'set-input-shape']]);
    expect(check(model([]), fashion)).toEqual([]);
    expect(check(seedModel2, { ...fashion, sampleShape: [14, 14] })[0]!.message).toBe("input shape 28×28 does not match Fashion-MNIST's samples (14×14)");
  });
});
