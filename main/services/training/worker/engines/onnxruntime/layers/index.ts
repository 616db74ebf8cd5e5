/** The layer kinds the step graph trains, by Keras class name: each contributes its forward and backward nodes. */
import { activationLayer } from './activation';
import { batchNormalizationLayer } from './batch-normalization';
import { denseLayer } from './dense';
import { dropoutLayer } from './dropout';
import { flattenLayer } from './flatten';
import type { StepLayer } from './graph';

export const STEP_LAYERS: ReadonlyMap<string, StepLayer> = new Map([
  ['Flatten', flattenLayer],
  ['Dense', denseLayer],
  ['BatchNormalization', batchNormalizationLayer],
  ['Activation', activationLayer],
  ['Dropout', dropoutLayer],
  ['AlphaDropout', dropoutLayer],
]);
