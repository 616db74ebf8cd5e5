/** Conv2D: a 2-D convolution over channels_last images. */
import { describeValue } from '../initializers';
import {
  KERNEL_LAYER_NULLS,
  LIMITS,
  checkActivation,
  checkBool,
  checkDataFormat,
  checkInitializers,
  checkKernelPenalties,
  checkPadding,
  checkPair,
  checkPositiveInt,
  formatShape,
  kernelLayerDefaults,
  pythonArgs,
  requireRank,
  spatialOutput,
  variable,
} from './checks';
import { kernelLayerArgs } from './dense';
import { DATA_FORMAT_FIELD } from './fields';
import { onnxActivation, onnxPadAttrs } from './onnx';
import { defineKit } from './registry';

const INITIALIZERS = ['kernel_initializer', 'bias_initializer'];

/** Keras kernel [kh, kw, in, out] → ONNX weight [out, in, kh, kw]. */
function onnxKernel(data: Float32Array, [kh, kw, cin, cout]: number[]): Float32Array {
  const out = new Float32Array(data.length);
  for (let y = 0; y < kh!; y++)
    for (let x = 0; x < kw!; x++)
      for (let i = 0; i < cin!; i++) for (let o = 0; o < cout!; o++) out[((o * cin! + i) * kh! + y) * kw! + x] = data[((y * kw! + x) * cin! + i) * cout! + o]!;
  return out;
}

export const conv2d = defineKit({
  class_name: 'Conv2D',
  palette: { category: 'conv', blurb: '2-D convolution', glyph: 'C' },
  defaults: () => ({
    strides: [1, 1],
    padding: 'valid',
    data_format: 'channels_last',
    dilation_rate: [1, 1],
    groups: 1,
    ...kernelLayerDefaults(),
  }),
  required: ['filters', 'kernel_size'],
  starter: { filters: 32, kernel_size: [3, 3] },
  caption: (c, f) => [f.value(c.filters) || '?', f.pair(c.kernel_size), f.value(c.padding ?? 'valid'), f.value(c.activation ?? 'linear')],
  shapeFields: ['filters', 'kernel_size', 'strides', 'padding', 'data_format', 'dilation_rate', 'groups', 'use_bias'],
  initializerFields: INITIALIZERS,
  importAliases: ['Convolution2D'],
  fields: {
    kernel_size: { kind: 'pair', hint: 'Height and width of the convolution window, e.g. 3, 3' },
    dilation_rate: { kind: 'pair', hint: 'Dilation along height and width', advanced: true },
    data_format: DATA_FORMAT_FIELD,
    groups: { kind: 'int', step: 1, hint: 'Grouped convolution (TF.js has none: must be 1)', hidden: true },
  },
  validate: (cfg, report) => {
    checkPositiveInt(cfg, 'filters', LIMITS.filters, report);
    checkPair(cfg, 'kernel_size', report);
    const stridesOk = checkPair(cfg, 'strides', report);
    checkPadding(cfg, report);
    checkDataFormat(cfg, report);
    const dilationOk = checkPair(cfg, 'dilation_rate', report);
    if (stridesOk && dilationOk && (cfg.strides as number[]).some((s) => s > 1) && (cfg.dilation_rate as number[]).some((d) => d > 1)) {
      report('dilation_rate', `strides > 1 cannot be combined with dilation_rate > 1 (Keras rejects it)`);
    }
    if (cfg.groups !== 1) report('groups', `groups must be 1 (TF.js has no grouped convolutions), got ${describeValue(cfg.groups)}`);
    checkActivation(cfg.activation, 'activation', report, 'Conv2D');
    checkBool(cfg, 'use_bias', report);
    checkInitializers(INITIALIZERS, cfg, report);
    checkKernelPenalties(cfg, 4, report);
  },
  build: (cfg, input, report) => {
    if (!requireRank(input, 4, 'Conv2D', report)) return null;
    const channels = input[3];
    if (channels === null || channels === undefined) {
      report(undefined, `Conv2D needs a known number of input channels, got ${formatShape(input)}`);
      return null;
    }
    const k = cfg.kernel_size as number[];
    const spatial = spatialOutput(cfg, input, k, cfg.strides as number[], cfg.dilation_rate as number[], 'kernel_size', report);
    if (!spatial) return null;
    const filters = cfg.filters as number;
    const variables = [variable(cfg, 'kernel', [k[0]!, k[1]!, channels, filters], true, 'kernel_initializer')];
    if (cfg.use_bias) variables.push(variable(cfg, 'bias', [filters], true, 'bias_initializer'));
    return { output_shape: [input[0]!, ...spatial, filters], variables };
  },
  kerasNulls: KERNEL_LAYER_NULLS,
  gradientKernels: ['Conv2DBackpropFilter', 'Conv2DBackpropInput'],
  onnxLayout: 'nchw',
  onnx: (cfg, name, e) => {
    const k = e.weight('kernel')!;
    const bias = e.weight('bias');
    const [window, strides, dilation] = [cfg.kernel_size, cfg.strides, cfg.dilation_rate] as number[][];
    const inputs = [e.input, e.floats(`${name}/kernel`, [k.shape[3]!, k.shape[2]!, k.shape[0]!, k.shape[1]!], onnxKernel(k.data, k.shape))];
    if (bias) inputs.push(e.floats(`${name}/bias`, bias.shape, bias.data));
    const out = e.node('Conv', inputs, `${name}/conv`, [
      { name: 'kernel_shape', ints: window! },
      { name: 'strides', ints: strides! },
      { name: 'dilations', ints: dilation! },
      { name: 'group', i: 1 },
      ...onnxPadAttrs(cfg.padding as string, e.input_shape.slice(1, 3), window!, strides!, dilation!),
    ]);
    return onnxActivation(e, out, cfg.activation as string, name);
  },
  pythonCall: (cfg) => ({
    class_name: 'Conv2D',
    args: [...pythonArgs(cfg, ['filters', 'kernel_size', 'strides', 'padding', 'data_format', 'dilation_rate', 'groups']), ...kernelLayerArgs(cfg)],
  }),
});
