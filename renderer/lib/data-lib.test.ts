import { describe, expect, it } from 'vitest';
import { ApiError, defaultTrainingSettings, deserializeError, type TrainingSettings } from '../../contract';
import { seedModel1, summarize } from '../../model';
import { datasetMismatches, imageShape, importHeader, isCancelledImport, modelInputShape, nameFromPath, newImportId, parseShapeText, pixelsToRgba } from './datasets';
import { defaultSchedule, parseNumberList, settingsIssues, switchOptimizer } from './training-settings';

const csv784 = { name: 'fm-csv', sampleShape: [784], classNames: Array.from({ length: 10 }, (_, i) => String(i)) };

describe('dataset helpers', () => {
  it('reads shapes typed as text', () => {
    expect(parseShapeText('28x28')).toEqual([28, 28]);
    expect(parseShapeText(' 28 × 28 ')).toEqual([28, 28]);
    expect(parseShapeText('(32, 32, 3)')).toEqual([32, 32, 3]);
    expect(parseShapeText('')).toBeNull();
    expect(parseShapeText('28x0')).toEqual({ error: '"0" is not a size from 1 to 4096' });
    expect(parseShapeText('1x2x3x4x5')).toEqual({ error: 'at most 4 dimensions' });
  });
  it('an import sends the header decision the scan showed, or the explicit choice', () => {
    expect(importHeader('auto', { headerDetected: true })).toBe('yes');
    expect(importHeader('auto', { headerDetected: false })).toBe('no');
    expect(importHeader('no', { headerDetected: true })).toBe('no');
    expect(importHeader('yes', null)).toBe('yes');
    expect(importHeader('auto', null)).toBe('auto');
  });
  it('an import counts as cancelled by its error code, never by its text', () => {
    // The body the services' ImportCancelledError crosses the wire as (dispatch.test.ts), back on the renderer's side.
    const cancelled = deserializeError({ code: 'cancelled', name: 'ImportCancelledError', message: 'Import import-1 was cancelled' });
    expect(isCancelledImport(cancelled)).toBe(true);
    expect(isCancelledImport(new ApiError({ code: 'invalid-input', message: '/x.csv, line 3: ragged row' }))).toBe(false);
    expect(isCancelledImport(new Error('Import import-1 was cancelled'))).toBe(false);
    expect(isCancelledImport({ code: 'cancelled', message: 'Import import-1 was cancelled' })).toBe(false);
  });
  it('makes ids the contract accepts and names from paths', () => {
    expect(newImportId(0, 0.5)).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    expect(nameFromPath('/tmp/x/fashion-600.csv')).toBe('fashion-600');
    expect(nameFromPath('C:\\data\\train-images-idx3-ubyte.gz')).toBe('train-images-idx3-ubyte');
  });
  it('decodes grey and RGB pixels', () => {
    expect(imageShape([28, 28])).toEqual({ height: 28, width: 28, channels: 1 });
    expect(imageShape([32, 32, 3])).toEqual({ height: 32, width: 32, channels: 3 });
    expect(imageShape([784])).toBeNull();
    const grey = pixelsToRgba(btoa(String.fromCharCode(0, 128, 255, 7)), 2, 2, 1);
    expect([...grey.slice(4, 8)]).toEqual([128, 128, 128, 255]);
    const rgb = pixelsToRgba(btoa(String.fromCharCode(1, 2, 3)), 1, 1, 3);
    expect([...rgb]).toEqual([1, 2, 3, 255]);
  });
  it('finds where the model does not fit the dataset, and fixes it in one edit', () => {
    expect(modelInputShape(seedModel1)).toEqual([28, 28]);
    expect(datasetMismatches(seedModel1, { ...csv784, sampleShape: [28, 28] })).toEqual([]);
    const m = datasetMismatches(seedModel1, { ...csv784, classNames: ['a', 'b', 'c'] });
    // [784] data into a [28, 28] input holds the same 784 values: shown with its fix, it trains. 10
    // outputs for 3 classes block; the input's fix sets them too, as nothing may block after a fix.
    expect(m.map((x) => [x.layerIndex, x.key, x.blocking, x.fixLabel])).toEqual([
      [0, 'batch_input_shape', false, 'Set input to 784, remove flatten, set units to 3'],
      [6, 'units', true, 'Set units to 3'],
    ]);
    const blocking = datasetMismatches(seedModel1, { ...csv784, sampleShape: [14, 14], classNames: Array.from({ length: 12 }, (_, i) => `c${i}`) });
    expect(blocking.map((x) => [x.key, x.blocking])).toEqual([
      ['batch_input_shape', true],
      ['units', true],
    ]);
    const spec = m[0]!.fix!(seedModel1);
    // A Flatten on (None, 784) is refused by TF.js: the input fix removed it, BatchNormalization takes the input.
    expect(spec.config.layers[0]).toMatchObject({ class_name: 'BatchNormalization', config: { batch_input_shape: [null, 784] } });
    expect(spec.config.layers[5]!.config.units).toBe(3);
    expect(datasetMismatches(spec, { ...csv784, classNames: ['a', 'b', 'c'] })).toEqual([]);
    expect(summarize(spec).valid).toBe(true);
    expect(datasetMismatches(seedModel1, null)).toEqual([]);
  });
});

describe('training settings helpers', () => {
  const base = (): TrainingSettings => structuredClone(defaultTrainingSettings);
  it('keys the schema problems by field path, in short words', () => {
    expect(settingsIssues(base()).size).toBe(0);
    const s = base() as unknown as Record<string, unknown>;
    s.epochs = null;
    s.optimizer = { class_name: 'Adam', config: { beta_1: 1.5, beta_2: 0.999, epsilon: 1e-7, clipnorm: null, clipvalue: null } };
    const issues = settingsIssues(s);
    expect(issues.get('epochs')).toEqual(['needs a value']);
    expect(issues.get('optimizer.config.beta_1')).toEqual(['must be at most 1']);
    const es = base();
    es.earlyStopping = { monitor: 'val_loss', patience: 2, min_delta: 0, restore_best_weights: true };
    es.validationSplit = 0;
    expect(settingsIssues(es).get('earlyStopping.monitor')?.[0]).toMatch(/needs a validation split/);
  });
  it('reports a piecewise schedule at its lists', () => {
    const s = base();
    s.lrSchedule = { class_name: 'PiecewiseConstantDecay', config: { boundaries: [100, 50], values: [0.1, 0.01] } };
    const issues = settingsIssues(s);
    expect([...issues.keys()].sort()).toEqual(['lrSchedule.config.boundaries', 'lrSchedule.config.values']);
    s.lrSchedule = defaultSchedule('PiecewiseConstantDecay', 0.01);
    expect(settingsIssues(s).size).toBe(0);
    for (const name of ['Constant', 'ExponentialDecay', 'ReduceLROnPlateau'] as const) {
      s.lrSchedule = defaultSchedule(name, 0.01);
      expect(settingsIssues(s).size).toBe(0);
    }
  });
  it("switches optimizer to Keras' defaults, keeping clipping", () => {
    const sgd = { class_name: 'SGD' as const, config: { momentum: 0.9, nesterov: true, clipnorm: 1, clipvalue: null } };
    expect(switchOptimizer(sgd, 'Adam')).toEqual({ class_name: 'Adam', config: { beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7, clipnorm: 1, clipvalue: null } });
    expect(parseNumberList('1000, 2000')).toEqual([1000, 2000]);
    expect(parseNumberList('1, x')).toEqual({ error: '"x" is not a number' });
  });
});
