/**
 * Every Fix button the builder offers gives a model that trains on the chosen data: Keras builds it
 * (summarize) and the task check finds nothing blocking — over the models of issue #14 and more.
 */
import { describe, expect, it } from 'vitest';
import { checkTask, plainMlp, seedModel1, summarize, type LayerSpec, type ModelSpec } from '../../model';
import { datasetMismatches, taskOf, type DatasetShape } from './datasets';
import { removeLayer, setLayerField } from './spec-edit';

const classes = (n: number) => Array.from({ length: n }, (_, i) => `c${i}`);
const fashion: DatasetShape = { name: 'Fashion-MNIST', sampleShape: [28, 28], classNames: classes(10) };
const iris: DatasetShape = { name: 'iris', sampleShape: [4], classNames: classes(3) };
const rgb: DatasetShape = { name: 'pets', sampleShape: [28, 28, 3], classNames: classes(3) };

const layer = (class_name: string, name: string, config: Record<string, unknown> = {}): LayerSpec => ({ class_name, config: { name, ...config } });
const model = (layers: LayerSpec[]): ModelSpec => ({ class_name: 'Sequential', config: { name: 'm', layers } });

/** Removing layer 0 in the builder: its input shape moves to the next layer. */
const seedWithoutFlatten = removeLayer(seedModel1, 0);
const denseFirst = model([
  layer('Dense', 'dense', { batch_input_shape: [null, 28, 28], units: 64, activation: 'relu' }),
  layer('Dense', 'dense_1', { units: 3, activation: 'softmax' }),
]);
const conv = (extra: Record<string, unknown> = {}) => layer('Conv2D', 'conv2d', { filters: 8, kernel_size: [3, 3], activation: 'relu', ...extra });
const featureMap = model([conv({ batch_input_shape: [null, 28, 28, 1] }), layer('MaxPooling2D', 'max_pooling2d')]);
const convNoFlatten = model([
  conv({ batch_input_shape: [null, 28, 28, 1] }),
  layer('BatchNormalization', 'batch_normalization'),
  layer('Dense', 'dense', { units: 10, activation: 'softmax' }),
]);

const cases: [string, ModelSpec, DatasetShape][] = [
  ['seed without Flatten on Fashion-MNIST', seedWithoutFlatten, fashion],
  ['seed on 1-D data (Flatten on (None, 4))', seedModel1, iris],
  ['Dense-first on RGB images', denseFirst, rgb],
  ['Dense-first on Fashion-MNIST', denseFirst, fashion],
  ['seed on RGB images, 3 classes', seedModel1, rgb],
  ['a feature map as output', featureMap, fashion],
  ['Conv2D, BN, Dense without Flatten', convNoFlatten, fashion],
  ['too few outputs', seedModel1, { ...fashion, classNames: classes(12) }],
  ['only a Flatten', model([layer('Flatten', 'flatten', { batch_input_shape: [null, 28, 28] })]), fashion],
  ['a linear output', setLayerField(plainMlp, 3, 'activation', 'linear'), fashion],
  ['a [784] input on 28×28 data', setLayerField(plainMlp, 0, 'batch_input_shape', [null, 784]), fashion],
];

const trains = (spec: ModelSpec, data: DatasetShape) => summarize(spec).valid && !checkTask(spec, taskOf(data)).some((p) => p.blocking);
const outputOf = (spec: ModelSpec) => summarize(spec).layers.at(-1)!.output_shape;

describe("the builder's Fix buttons", () => {
  it.each(cases)('%s: every button gives a model that trains, with output (None, classes)', (_name, spec, data) => {
    const mismatches = datasetMismatches(spec, data);
    const buttons = mismatches.filter((m) => m.fix);
    expect(buttons.length).toBeGreaterThan(0);
    for (const m of buttons) {
      const fixed = m.fix!(spec);
      expect(trains(fixed, data), `${m.fixLabel} → ${JSON.stringify(checkTask(fixed, taskOf(data)))}`).toBe(true);
      expect(outputOf(fixed), m.fixLabel).toEqual([null, data.classNames.length]);
    }
    // Every blocking problem comes with a button.
    for (const m of mismatches.filter((x) => x.blocking)) expect(m.fix, m.message).toBeDefined();
  });

  it('"Insert Flatten at the top" puts the seed model back together', () => {
    const [m] = datasetMismatches(seedWithoutFlatten, fashion);
    expect(m).toMatchObject({ layerIndex: 1, key: 'output-rank', blocking: true, fixLabel: 'Insert Flatten at the top' });
    const fixed = m!.fix!(seedWithoutFlatten);
    expect(fixed.config.layers.map((l) => l.class_name)).toEqual(seedModel1.config.layers.map((l) => l.class_name));
    expect(fixed.config.layers[0]!.config).toMatchObject({ name: 'flatten', batch_input_shape: [null, 28, 28] });
    expect(fixed.config.layers[1]!.config).not.toHaveProperty('batch_input_shape');
  });

  it('"Set input to 4" also removes the Flatten TF.js refuses on (None, 4)', () => {
    const input = datasetMismatches(seedModel1, iris).find((m) => m.key === 'batch_input_shape')!;
    expect(input).toMatchObject({ blocking: true, fixLabel: 'Set input to 4, remove flatten, set units to 3' });
    const fixed = input.fix!(seedModel1);
    expect(fixed.config.layers[0]).toMatchObject({ class_name: 'BatchNormalization', config: { batch_input_shape: [null, 4] } });
    expect(fixed.config.layers).not.toContainEqual(expect.objectContaining({ class_name: 'Flatten' }));
  });

  it('"Set input to 28×28×3" on a Dense-first model inserts the Flatten it needs', () => {
    const input = datasetMismatches(denseFirst, rgb).find((m) => m.key === 'batch_input_shape')!;
    expect(input.fixLabel).toBe('Set input to 28×28×3, insert Flatten at the top');
    expect(outputOf(input.fix!(denseFirst))).toEqual([null, 3]);
  });

  it('offers no button whose result Keras could not build: [28, 28, 1] conv input on 28×28 data trains as it is', () => {
    const good = model([conv({ batch_input_shape: [null, 28, 28, 1] }), layer('Flatten', 'flatten'), layer('Dense', 'dense', { units: 10, activation: 'softmax' })]);
    expect(datasetMismatches(good, fashion)).toEqual([
      { layerIndex: 0, key: 'batch_input_shape', message: "input shape 28×28×1 does not match Fashion-MNIST's samples (28×28)", blocking: false },
    ]);
  });
});
