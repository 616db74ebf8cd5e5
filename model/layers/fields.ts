/**
 * The editor's docs of the config fields layer kits share (a kit may add or override its own), and
 * the JSON type each kind of field has in a kit's zod schema.
 */
import { z } from 'zod';
import { ACTIVATIONS } from './checks';
import type { FieldDoc } from './kit';

const PADDINGS = ['valid', 'same'] as const;

export const SHARED_FIELDS: Record<string, FieldDoc> = {
  name: { kind: 'text', hint: 'Layer name (unique in the model; Keras auto-names dense, dense_1, ...)' },
  trainable: { kind: 'bool', hint: 'When off, every variable of the layer is frozen (counted as non-trainable)' },
  batch_input_shape: { kind: 'input-shape', hint: 'Input shape without the batch dimension, e.g. 28, 28 (the first layer carries it)' },
  units: { kind: 'int', step: 1, hint: 'Number of neurons (output size)' },
  filters: { kind: 'int', step: 1, hint: 'Number of convolution filters (output channels)' },
  activation: { kind: 'select', options: ACTIVATIONS, hint: 'Activation function applied to the output' },
  use_bias: { kind: 'bool', hint: 'Add a bias vector (unnecessary right before BatchNormalization: its beta plays that role)' },
  kernel_initializer: { kind: 'initializer', hint: 'How the kernel (weights) is initialised' },
  bias_initializer: { kind: 'initializer', hint: 'How the bias is initialised' },
  kernel_regularizer: { kind: 'regularizer', hint: 'L1/L2 penalty on the kernel, added to the loss (Keras L1L2); empty: none' },
  kernel_constraint: { kind: 'constraint', hint: "MaxNorm: after each update, rescale each unit's incoming weights to an L2 norm of at most this; empty: none" },
  epsilon: { kind: 'float', step: 0.001, hint: 'Added to the variance to avoid dividing by zero' },
  center: { kind: 'bool', hint: 'Learn an offset beta' },
  scale: { kind: 'bool', hint: 'Learn a scale gamma' },
  gamma_initializer: { kind: 'initializer', hint: 'Initial scale gamma', advanced: true },
  beta_initializer: { kind: 'initializer', hint: 'Initial offset beta', advanced: true },
  rate: { kind: 'float', step: 0.05, hint: 'Fraction of inputs dropped during training, in [0, 1)' },
  seed: { kind: 'int', step: 1, hint: 'Random seed (empty: none)', advanced: true, type: z.number().int().nullable() },
  strides: { kind: 'pair', hint: 'Step along height and width' },
  padding: { kind: 'select', options: PADDINGS, hint: "'valid': no padding; 'same': pad so the output keeps the input size (stride 1)" },
};

/** Bounds that keep a hostile spec small: a tensor's rank, a text field's length, a layer stack's height. */
export const MAX_RANK = 8;
export const MAX_TEXT = 10_000;
export const MAX_LAYERS = 1000;

const text = () => z.string().max(MAX_TEXT);
const scalar = () => z.union([z.number(), text(), z.boolean(), z.null()]);
/**
 * A JSON value at most `depth` objects deep, its lists short lists of scalars: an initializer's,
 * regularizer's or constraint's Keras form (`{module, class_name, config: {...}, registered_name}`),
 * or a setting Layerbench does not know. zod's numbers are finite, so NaN and Infinity fail.
 */
export function boundedJson(depth: number): z.ZodType {
  const leaf = z.union([scalar(), z.array(scalar()).max(MAX_RANK * 8)]);
  return depth === 0 ? leaf : z.union([leaf, z.record(text(), boundedJson(depth - 1))]);
}

/**
 * What the property panel stores while a field is mid-edit (`renderer/lib/field-parse.ts`): a number,
 * the text typed, empty (null), or a list of any length typed (it fits in a text field).
 */
export const DRAFT_VALUE = z.union([z.number(), text(), z.null(), z.array(z.number().nullable()).max(MAX_TEXT)]);

const serialized = () => z.union([text(), z.record(text(), boundedJson(2))]);
const pair = () => z.union([z.number().int(), z.array(z.number().int()).length(2)]);

/**
 * The JSON type a field of this editor kind holds: every form a valid spec may hold (an initializer
 * by name or as an object, a pair as one number). Value ranges (units ≥ 1, rate < 1, ...) are the
 * kit's `validate`, which reports them at the field while the user edits.
 */
export function fieldType(doc: FieldDoc): z.ZodType {
  if (doc.type) return doc.type;
  switch (doc.kind) {
    case 'text':
      return text();
    case 'int':
      return z.number().int();
    case 'float':
      return z.number();
    case 'bool':
      return z.boolean();
    case 'select':
      return z.enum(doc.options as [string, ...string[]]);
    case 'pair':
      return doc.nullable ? pair().nullable() : pair();
    case 'list':
      return z.array(z.number().int()).max(MAX_RANK);
    case 'input-shape':
      return z.array(z.number().int().nullable()).max(MAX_RANK);
    case 'initializer':
      return serialized();
    case 'regularizer':
    case 'constraint':
      return serialized().nullable();
  }
}

/** A normalization axis: a whole number, or a list of one as Keras 2 writes it. */
export const AXIS_TYPE = z.union([z.number().int(), z.tuple([z.number().int()])]);

/** data_format: channels_last is the only layout TF.js trains, so the panel does not show it. */
export const DATA_FORMAT_FIELD: FieldDoc = { kind: 'select', options: ['channels_last'], hint: 'Layout of the input (TF.js trains channels_last only)', hidden: true };
