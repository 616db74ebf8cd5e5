/** Dense: a fully connected layer (kernel, bias, activation). */
import {
  KERNEL_LAYER_NULLS,
  LIMITS,
  checkActivation,
  checkBool,
  checkInitializers,
  checkKernelPenalties,
  checkPositiveInt,
  formatShape,
  kernelLayerDefaults,
  variable,
} from './checks';
import type { Cfg, PythonCall } from './kit';
import { onnxActivation } from './onnx';
import { defineKit } from './registry';

const INITIALIZERS = ['kernel_initializer', 'bias_initializer'];

/** The keyword arguments Dense and Conv2D share, after their own: activation to kernel_constraint. */
export function kernelLayerArgs(cfg: Cfg): PythonCall['args'] {
  return [
    ['activation', cfg.activation],
    ['use_bias', cfg.use_bias],
    ['kernel_initializer', cfg.kernel_initializer],
    ['bias_initializer', cfg.bias_initializer],
    ['kernel_regularizer', cfg.kernel_regularizer ?? null],
    ['kernel_constraint', cfg.kernel_constraint ?? null],
  ];
}

export const dense = defineKit({
  class_name: 'Dense',
  palette: { category: 'core', blurb: 'Fully connected', glyph: 'D' },
  defaults: () => kernelLayerDefaults(),
  required: ['units'],
  starter: { units: 32 },
  caption: (c, f) => [
    f.value(c.units) || '?',
    f.value(c.activation ?? 'linear'),
    f.initializer(c.kernel_initializer ?? 'GlorotUniform'),
    ...(c.use_bias === false ? ['no bias'] : []),
  ],
  shapeFields: ['units', 'use_bias'],
  initializerFields: INITIALIZERS,
  validate: (cfg, report) => {
    checkPositiveInt(cfg, 'units', LIMITS.units, report);
    checkActivation(cfg.activation, 'activation', report, 'Dense');
    checkBool(cfg, 'use_bias', report);
    checkInitializers(INITIALIZERS, cfg, report);
    checkKernelPenalties(cfg, 2, report);
  },
  build: (cfg, input, report) => {
    const last = input[input.length - 1];
    if (input.length < 2 || last === null || last === undefined) {
      report(undefined, `Dense needs an input whose last dimension is known, got ${formatShape(input)}`);
      return null;
    }
    const units = cfg.units as number;
    const variables = [variable(cfg, 'kernel', [last, units], true, 'kernel_initializer')];
    if (cfg.use_bias) variables.push(variable(cfg, 'bias', [units], true, 'bias_initializer'));
    return { output_shape: [...input.slice(0, -1), units], variables };
  },
  kerasNulls: KERNEL_LAYER_NULLS,
  onnx: (cfg, name, e) => {
    const kernel = e.weight('kernel')!;
    const bias = e.weight('bias');
    let out = e.node('MatMul', [e.input, e.floats(`${name}/kernel`, kernel.shape, kernel.data)], `${name}/matmul`);
    if (bias) out = e.node('Add', [out, e.floats(`${name}/bias`, bias.shape, bias.data)], `${name}/bias_add`);
    return onnxActivation(e, out, cfg.activation as string, name);
  },
  pythonCall: (cfg) => ({ class_name: 'Dense', args: [['units', cfg.units], ...kernelLayerArgs(cfg)] }),
});
