/** MaxPooling2D: the maximum over 2-D windows of channels_last images. */
import { checkDataFormat, checkPadding, checkPair, pythonArgs, requireRank, spatialOutput } from './checks';
import { DATA_FORMAT_FIELD } from './fields';
import { onnxPadAttrs } from './onnx';
import { defineKit } from './registry';

export const maxPooling2d = defineKit({
  class_name: 'MaxPooling2D',
  palette: { category: 'conv', blurb: 'Max over 2-D windows', glyph: 'MP' },
  defaults: () => ({ pool_size: [2, 2], strides: null, padding: 'valid', data_format: 'channels_last' }),
  required: [],
  caption: (c, f) => [f.pair(c.pool_size ?? [2, 2]), f.value(c.padding ?? 'valid')],
  shapeFields: ['pool_size', 'strides', 'padding', 'data_format'],
  initializerFields: [],
  importAliases: ['MaxPool2D'],
  fields: {
    pool_size: { kind: 'pair', hint: 'Height and width of the pooling window, e.g. 2, 2' },
    // Keras' strides default to None, meaning "the pool size".
    strides: { kind: 'pair', nullable: 'pool_size', hint: 'Step along height and width' },
    data_format: DATA_FORMAT_FIELD,
  },
  validate: (cfg, report) => {
    checkPair(cfg, 'pool_size', report);
    if (cfg.strides !== null) checkPair(cfg, 'strides', report);
    checkPadding(cfg, report);
    checkDataFormat(cfg, report);
  },
  build: (cfg, input, report) => {
    if (!requireRank(input, 4, 'MaxPooling2D', report)) return null;
    const pool = cfg.pool_size as number[];
    const strides = (cfg.strides as number[] | null) ?? pool;
    const spatial = spatialOutput(cfg, input, pool, strides, [1, 1], 'pool_size', report);
    if (!spatial) return null;
    return { output_shape: [input[0]!, ...spatial, input[3]!], variables: [] };
  },
  gradientKernels: ['MaxPoolGrad'],
  onnxLayout: 'nchw',
  onnx: (cfg, name, e) => {
    const pool = cfg.pool_size as number[];
    const strides = (cfg.strides as number[] | null) ?? pool;
    return e.node('MaxPool', [e.input], `${name}/maxpool`, [
      { name: 'kernel_shape', ints: pool },
      { name: 'strides', ints: strides },
      ...onnxPadAttrs(cfg.padding as string, e.input_shape.slice(1, 3), pool, strides, [1, 1]),
    ]);
  },
  pythonCall: (cfg) => ({
    class_name: 'MaxPooling2D',
    args: pythonArgs(cfg, ['pool_size', 'strides', 'padding', 'data_format']),
  }),
});
