/** Flatten: the input's feature dimensions as one. */
import { checkDataFormat, product } from './checks';
import { DATA_FORMAT_FIELD } from './fields';
import { defineKit } from './registry';

export const flatten = defineKit({
  class_name: 'Flatten',
  palette: { category: 'reshape', blurb: 'Flattens to a vector', glyph: 'Fl' },
  defaults: () => ({ data_format: 'channels_last' }),
  required: [],
  shapeFields: ['data_format'],
  initializerFields: [],
  fields: { data_format: DATA_FORMAT_FIELD },
  validate: (cfg, report) => checkDataFormat(cfg, report),
  build: (_cfg, input) => {
    const rest = input.slice(1);
    return { output_shape: [input[0]!, rest.some((d) => d === null) ? null : product(rest as number[])], variables: [] };
  },
  onnx: (_cfg, name, e) => e.node('Flatten', [e.input], `${name}/flatten`, [{ name: 'axis', i: 1 }]),
  pythonCall: (cfg) => ({ class_name: 'Flatten', args: [['data_format', cfg.data_format]] }),
});
