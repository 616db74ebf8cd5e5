/**
 * The checks both engines (ONNX Runtime's step, the fused WebGPU step) make on a step's inputs and on
 * the weights they are handed: each bad input refused with what is wrong, good ones let through.
 */
import { describe, expect, it } from 'vitest';
import { stepInputError, weightsInputError } from './step-inputs';

const shape = { sampleSize: 4, classes: 3 };
const mask = { layer: 'dropout', input: 'keep/dropout', features: 2 };
const xs = new Float32Array(8);
const ys = Int32Array.of(0, 2);
const keep = new Map([[mask.input, new Float32Array(4)]]);

describe('stepInputError', () => {
  it('lets a whole batch with its labels and masks through', () => {
    expect(stepInputError(xs, ys, 2, shape, keep, [mask])).toBeNull();
  });

  it.each([
    ['no samples', xs, ys, 0, keep, /a step needs 0 samples of 4 values/],
    ['a fraction of a sample', xs, ys, 1.5, keep, /a step needs 1.5 samples/],
    ['too few values', xs.subarray(0, 7), ys, 2, keep, /a step needs 2 samples of 4 values and 2 labels, got 7 values and 2 labels/],
    ['too few labels', xs, ys.subarray(0, 1), 2, keep, /got 8 values and 1 labels/],
    ['a label past the classes', xs, Int32Array.of(0, 3), 2, keep, /label 3 is outside the model's 3 classes/],
    ['a negative label', xs, Int32Array.of(-1, 0), 2, keep, /label -1 is outside/],
    ['a missing mask', xs, ys, 2, new Map<string, Float32Array>(), /layer dropout needs a keep mask of 2 × 2 values/],
    ['a short mask', xs, ys, 2, new Map([[mask.input, new Float32Array(3)]]), /layer dropout needs a keep mask of 2 × 2 values/],
  ])('refuses %s', (_, x, y, n, masks, message) => {
    const error = stepInputError(x, y, n, shape, masks, [mask]);
    expect(error).toMatchObject({ code: 'invalid-input' });
    expect(error?.message).toMatch(message);
  });
});

describe('weightsInputError', () => {
  const variables = [{ name: 'dense/kernel', shape: [4, 3] }];

  it('lets every variable at its size through', () => {
    expect(weightsInputError(new Map([['dense/kernel', { shape: [4, 3], data: new Float32Array(12) }]]), variables)).toBeNull();
  });

  it('refuses a missing variable and one of the wrong size, naming it', () => {
    expect(weightsInputError(new Map(), variables)?.message).toBe("no weights for 'dense/kernel'");
    expect(weightsInputError(new Map([['dense/kernel', { shape: [3, 3], data: new Float32Array(9) }]]), variables)).toMatchObject({
      code: 'invalid-input',
      message: "weight 'dense/kernel' holds 9 values, its shape [4, 3] needs 12",
    });
  });
});
