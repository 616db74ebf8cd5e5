import { describe, expect, it } from 'vitest';
import { SUPPORTED_LAYERS, seedModel1, seedModel2, summarize, type ModelSpec, type SupportedLayer } from '../../model';
import { canRedo, canUndo, current, record, redo, startHistory, undo } from './history';
import { formatInputShape, formatValue, parseInputShape, parseNumber, parsePair, sameValue } from './field-parse';
import { createLayer, duplicateLayer, emptySpec, insertLayer, moveLayer, moveLayerToGap, removeLayer, setLayerField } from './spec-edit';
import { firstProblem, problemText } from './problems';
import { fieldsFor } from './layer-fields';
import { compact, memorySize, thousands } from './format';

const names = (s: ModelSpec) => s.config.layers.map((l) => l.config.name);

describe('history', () => {
  it('undoes and redoes, and drops the redo branch on a new edit', () => {
    let h = startHistory('a');
    h = record(h, 'b', undefined, 0);
    h = record(h, 'c', undefined, 10_000);
    expect(current(h)).toBe('c');
    h = undo(h)!;
    expect(current(h)).toBe('b');
    expect(canRedo(h)).toBe(true);
    h = record(h, 'd', undefined, 20_000);
    expect(h.entries).toEqual(['a', 'b', 'd']);
    expect(canRedo(h)).toBe(false);
    expect(current(redo(undo(h)!)!)).toBe('d');
  });

  it('coalesces typing in one field and is bounded', () => {
    let h = startHistory('units=32');
    h = record(h, 'units=3', 'dense.units', 0);
    h = record(h, 'units=30', 'dense.units', 100);
    h = record(h, 'units=300', 'dense.units', 200);
    expect(h.entries).toEqual(['units=32', 'units=300']);
    h = record(h, 'units=32', 'dense.units', 300);
    expect(h.entries).toEqual(['units=32']);
    expect(canUndo(h)).toBe(false);
    let b = startHistory('0');
    for (let i = 1; i <= 10; i++) b = record(b, String(i), undefined, i * 10_000, 5);
    expect(b.entries).toEqual(['6', '7', '8', '9', '10']);
  });

  it('ignores a record of the current state', () => {
    const h = startHistory('x');
    expect(record(h, 'x')).toBe(h);
  });
});

describe('field parsing', () => {
  it('keeps what cannot be a number as text, empty as null', () => {
    expect(parseNumber('300')).toBe(300);
    expect(parseNumber(' -1 ')).toBe(-1);
    expect(parseNumber('2.5')).toBe(2.5);
    expect(parseNumber('1e-3')).toBe(0.001);
    expect(parseNumber('')).toBeNull();
    expect(parseNumber('NaN')).toBe('NaN');
    expect(parseNumber('1e400')).toBe('1e400');
    expect(parseNumber('12abc')).toBe('12abc');
  });

  it('reads shapes and pairs', () => {
    expect(parseInputShape('28, 28')).toEqual([null, 28, 28]);
    expect(parseInputShape('(28, 28, 1)')).toEqual([null, 28, 28, 1]);
    expect(parseInputShape('None, 10')).toEqual([null, null, 10]);
    expect(parseInputShape('(784,)')).toEqual([null, 784]);
    expect(parseInputShape('28,,28')).toBe('28,,28');
    expect(parseInputShape('28,,x')).toBe('28,,x');
    expect(parsePair('3')).toEqual([3, 3]);
    expect(parsePair('3x5')).toEqual([3, 5]);
    expect(parsePair('')).toBeNull();
    expect(formatInputShape([null, 28, 28])).toBe('28, 28');
    expect(formatValue([3, 3])).toBe('3, 3');
    expect(sameValue(parsePair('3'), [3, 3])).toBe(true);
  });

  it('never produces a value summarize() throws on', () => {
    const bad = ['0', '-1', '2.5', '', 'NaN', '1e400', '99999999999', 'abc'];
    for (const text of bad) {
      for (const [field, parse] of [
        ['units', parseNumber],
        ['batch_input_shape', parseInputShape],
      ] as const) {
        const index = field === 'units' ? 2 : 0;
        const spec = setLayerField(seedModel1, index, field, parse(text));
        const summary = summarize(spec);
        expect(summary.valid).toBe(false);
        expect(firstProblem(summary)).toMatch(field === 'units' ? /^dense\.units: / : /^flatten\.batch_input_shape: /);
        expect(JSON.parse(JSON.stringify(spec))).toEqual(spec);
      }
    }
  });
});

describe('spec edits', () => {
  it('builds seed model 1 from an empty canvas with Keras names and counts', () => {
    let spec = emptySpec();
    const order: SupportedLayer[] = ['Flatten', 'BatchNormalization', 'Dense', 'BatchNormalization', 'Dense', 'BatchNormalization', 'Dense'];
    order.forEach((cls, i) => (spec = insertLayer(spec, i, cls).spec));
    expect(names(spec)).toEqual(names(seedModel1));
    expect(spec.config.layers[0]!.config.batch_input_shape).toEqual([null, 28, 28]);
    for (const [i, units, act] of [
      [2, 300, 'elu'],
      [4, 100, 'elu'],
      [6, 10, 'softmax'],
    ] as const) {
      spec = setLayerField(spec, i, 'units', units);
      spec = setLayerField(spec, i, 'activation', act);
    }
    const s = summarize(spec);
    expect([s.total, s.trainable, s.non_trainable]).toEqual([271_346, 268_978, 2_368]);
  });

  it('keeps the input shape on whichever layer is first', () => {
    const moved = moveLayer(seedModel2, 0, 3).spec;
    expect(moved.config.layers[0]!.config.batch_input_shape).toEqual([null, 28, 28]);
    expect(moved.config.layers.filter((l) => 'batch_input_shape' in l.config)).toHaveLength(1);
    const removed = removeLayer(seedModel2, 0);
    expect(removed.config.layers[0]!.config.name).toBe('batch_normalization');
    expect(removed.config.layers[0]!.config.batch_input_shape).toEqual([null, 28, 28]);
    const inserted = insertLayer(seedModel1, 0, 'Dropout');
    expect(inserted.spec.config.layers[0]!.config.batch_input_shape).toEqual([null, 28, 28]);
    expect('batch_input_shape' in inserted.spec.config.layers[1]!.config).toBe(false);
    // the input spec is not mutated
    expect(seedModel2.config.layers[0]!.config.batch_input_shape).toEqual([null, 28, 28]);
  });

  it('moves into gaps, duplicates under a new name', () => {
    const { spec, index } = moveLayerToGap(seedModel2, 4, 3);
    expect(index).toBe(3);
    expect(names(spec).slice(2, 5)).toEqual(['dense', 'activation', 'batch_normalization_1']);
    expect(moveLayerToGap(seedModel2, 4, 5).spec).toEqual(seedModel2);
    expect(moveLayerToGap(seedModel2, 4, 4).spec).toEqual(seedModel2);
    const dup = duplicateLayer(seedModel1, 2);
    expect(dup.index).toBe(3);
    expect(dup.spec.config.layers[3]!.config.name).toBe('dense_3');
    expect(dup.spec.config.layers[3]!.config.units).toBe(300);
    const dupFirst = duplicateLayer(seedModel1, 0).spec;
    expect('batch_input_shape' in dupFirst.config.layers[1]!.config).toBe(false);
  });

  it('creates valid layers of every type with Keras defaults', () => {
    expect(createLayer(seedModel1, 'Dense').config).toMatchObject({ name: 'dense_3', trainable: true, activation: 'linear', use_bias: true });
    expect(createLayer(seedModel1, 'BatchNormalization').config).toMatchObject({ name: 'batch_normalization_3', momentum: 0.99, epsilon: 0.001, axis: -1 });
  });
});

describe('problems and fields', () => {
  it('says where, then what', () => {
    expect(problemText({ layerIndex: 4, layerName: 'dense_1', field: 'units', message: 'units must be a positive whole number, got 0' })).toBe(
      'dense_1.units: must be a positive whole number, got 0',
    );
    expect(problemText({ layerIndex: -1, layerName: '', message: 'the model has no layers' })).toBe('The model has no layers');
    expect(firstProblem(summarize(seedModel1))).toBeNull();
  });

  it('lists Keras fields in Keras order', () => {
    expect(fieldsFor('Dense', false).map((f) => f.field)).toEqual([
      'name',
      'trainable',
      'units',
      'activation',
      'use_bias',
      'kernel_initializer',
      'bias_initializer',
      'kernel_regularizer',
      'kernel_constraint',
    ]);
    expect(
      fieldsFor('Conv2D', false)
        .filter((f) => f.kind === 'regularizer' || f.kind === 'constraint')
        .map((f) => f.field),
    ).toEqual(['kernel_regularizer', 'kernel_constraint']);
    expect(fieldsFor('Dropout', false).map((f) => f.field)).toEqual(['name', 'trainable', 'rate', 'seed']);
    for (const cls of SUPPORTED_LAYERS) {
      const fields = fieldsFor(cls, true).map((f) => f.field);
      expect(new Set(fields).size).toBe(fields.length);
    }
    expect(fieldsFor('Flatten', true).map((f) => f.field)).toEqual(['name', 'trainable', 'batch_input_shape']);
    expect(fieldsFor('MaxPooling2D', false).find((f) => f.field === 'strides')).toMatchObject({ kind: 'pair', nullable: 'pool_size' });
  });

  it('formats like Keras', () => {
    expect(thousands(271346)).toBe('271,346');
    expect(memorySize(271346)).toBe('1.04 MB');
    expect(memorySize(2368)).toBe('9.25 KB');
    expect(memorySize(0)).toBe('0.00 B');
    expect([compact(0.050512), compact(-0.000128), compact(-3.44e-5), compact(1)]).toEqual(['0.0505', '-1.28e-4', '-3.44e-5', '1']);
  });
});
