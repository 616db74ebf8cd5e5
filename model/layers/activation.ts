/** Activation: an activation function as a layer (leaky_relu travels as TF.js' / Keras 2's LeakyReLU layer). */
import { LEAKY_RELU_SLOPE, checkActivation, identity } from './checks';
import { onnxActivation } from './onnx';
import { defineKit } from './registry';

export const activation = defineKit({
  class_name: 'Activation',
  palette: { category: 'activation', blurb: 'An activation function', glyph: 'ƒ' },
  defaults: () => ({}),
  required: ['activation'],
  starter: { activation: 'relu' },
  caption: (c, f) => [f.value(c.activation)],
  shapeFields: [],
  initializerFields: [],
  validate: (cfg, report) => checkActivation(cfg.activation, 'activation', report, 'Activation'),
  build: identity,
  // TF.js and Keras 2 have no leaky_relu activation function: its layer form, which Keras 3 also reads.
  exportAs: (cfg) => (cfg.activation === 'leaky_relu' ? { class_name: 'LeakyReLU', config: { alpha: LEAKY_RELU_SLOPE } } : null),
  onnxLayout: 'either',
  onnx: (cfg, name, e) => onnxActivation(e, e.input, cfg.activation as string, name),
  pythonCall: (cfg) =>
    cfg.activation === 'leaky_relu' ? { class_name: 'LeakyReLU', positional: [LEAKY_RELU_SLOPE], args: [] } : { class_name: 'Activation', args: [['activation', cfg.activation]] },
});
