/** The layer kinds the step graph trains, by Keras class name: each contributes its forward and backward nodes. */
import { activationLayer } from './activation';
import { batchNormalizationLayer } from './batch-normalization';
import { conv2dLayer } from './conv2d';
import { denseLayer } from './dense';
import { dropoutLayer } from './dropout';
import type { StepLayer } from './graph';
import { maxPooling2dLayer } from './max-pooling2d';
import { flattenLayer, reshapeLayer } from './reshape';

export const STEP_LAYERS: ReadonlyMap<string, StepLayer> = new Map([
  ['Flatten', flattenLayer],
  ['Reshape', reshapeLayer],
  ['Dense', denseLayer],
  ['Conv2D', conv2dLayer],
  ['MaxPooling2D', maxPooling2dLayer],
  ['BatchNormalization', batchNormalizationLayer],
  ['Activation', activationLayer],
  ['Dropout', dropoutLayer],
  ['AlphaDropout', dropoutLayer],
]);
