/** Reshape: the input's values in a target shape (one entry may be -1). */
import { describeValue } from '../initializers';
import { LIMITS, formatShape, isInt, product } from './checks';
import { defineKit } from './registry';

export const reshape = defineKit({
  class_name: 'Reshape',
  palette: { category: 'reshape', blurb: 'To a target shape', glyph: 'Rs' },
  defaults: () => ({}),
  required: ['target_shape'],
  starter: { target_shape: [-1] },
  caption: (c, f) => [`→ (${f.value(c.target_shape)})`],
  shapeFields: ['target_shape'],
  initializerFields: [],
  fields: { target_shape: { kind: 'list', placeholder: 'e.g. 7, 7, 16 (one may be -1)', hint: 'Output shape without the batch dimension; one entry may be -1' } },
  validate: (cfg, report) => {
    const t = cfg.target_shape;
    if (!Array.isArray(t) || t.length === 0 || !t.every((d) => isInt(d) && (d >= 1 || d === -1))) {
      report('target_shape', `target_shape must be a non-empty list of positive whole numbers (one may be -1), got ${describeValue(t)}`);
    } else if (t.filter((d) => d === -1).length > 1) {
      report('target_shape', `target_shape may contain -1 only once, got ${describeValue(t)}`);
    } else if (t.some((d) => d > LIMITS.dim)) {
      report('target_shape', `target_shape ${describeValue(t)} has a dimension larger than ${LIMITS.dim.toLocaleString('en-US')}`);
    }
  },
  build: (cfg, input, report) => {
    const target = cfg.target_shape as number[];
    const rest = input.slice(1);
    if (rest.some((d) => d === null)) {
      return { output_shape: [input[0]!, ...target.map((d) => (d === -1 ? null : d))], variables: [] };
    }
    const size = product(rest as number[]);
    const known = product(target.filter((d) => d !== -1));
    if (target.includes(-1)) {
      if (size % known !== 0) {
        report('target_shape', `cannot reshape ${formatShape(input)} (${size} values) into ${describeValue(target)}: ${size} is not a multiple of ${known}`);
        return null;
      }
      return { output_shape: [input[0]!, ...target.map((d) => (d === -1 ? size / known : d))], variables: [] };
    }
    if (known !== size) {
      report('target_shape', `cannot reshape ${formatShape(input)} (${size} values) into ${describeValue(target)} (${known} values)`);
      return null;
    }
    return { output_shape: [input[0]!, ...target], variables: [] };
  },
  // TF.js' Reshape does not resolve a -1 when the batch size is unknown: the export writes the resolved size.
  tfjsConfig: (_cfg, info) => ({ target_shape: (info.output_shape as number[]).slice(1) }),
  // 0 copies the batch size; the other sizes are the resolved target shape.
  onnx: (cfg, name, e) => {
    const target = e.output_shape.slice(1).map((d, i) => d ?? (cfg.target_shape as number[])[i]!);
    return e.node('Reshape', [e.input, e.int64s(`${name}/shape`, [0, ...target])], `${name}/reshape`);
  },
  pythonCall: (cfg) => ({ class_name: 'Reshape', args: [['target_shape', cfg.target_shape]] }),
});
