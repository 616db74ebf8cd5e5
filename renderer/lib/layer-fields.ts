/**
 * Which editor each Keras config field gets in the property panel. The set and order of fields per
 * layer type come from the model package (`knownLayerFields`, i.e. LAYER_DEFS' required fields and
 * defaults in Keras' get_config order); this table only says how to edit each one.
 */
import { ACTIVATIONS, knownLayerFields, type SupportedLayer } from '../../model';

export type FieldEditor =
  | { kind: 'text' }
  | { kind: 'int' | 'float'; step: number }
  | { kind: 'bool' }
  | { kind: 'select'; options: readonly string[] }
  | { kind: 'pair'; nullable?: string }
  | { kind: 'list'; placeholder: string }
  | { kind: 'input-shape' }
  | { kind: 'initializer' }
  | { kind: 'regularizer' }
  | { kind: 'constraint' };

interface FieldInfo {
  field: string;
  /** One line for the tooltip: what the setting does. */
  hint: string;
  /** Shown under "Advanced" (collapsed): rarely changed in the book's experiments. */
  advanced?: boolean;
}
export type FieldMeta = FieldEditor & FieldInfo;
type MetaEntry = FieldEditor & Omit<FieldInfo, 'field'>;

const PADDINGS = ['valid', 'same'] as const;

const META: Record<string, MetaEntry> = {
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
  axis: { kind: 'int', step: 1, hint: 'The feature axis to normalise (-1: the last one)' },
  momentum: { kind: 'float', step: 0.01, hint: 'Momentum of the moving mean and variance (typically 0.9, 0.99, 0.999)' },
  epsilon: { kind: 'float', step: 0.001, hint: 'Added to the variance to avoid dividing by zero' },
  center: { kind: 'bool', hint: 'Learn an offset beta' },
  scale: { kind: 'bool', hint: 'Learn a scale gamma' },
  gamma_initializer: { kind: 'initializer', hint: 'Initial scale gamma', advanced: true },
  beta_initializer: { kind: 'initializer', hint: 'Initial offset beta', advanced: true },
  moving_mean_initializer: { kind: 'initializer', hint: 'Initial moving mean', advanced: true },
  moving_variance_initializer: { kind: 'initializer', hint: 'Initial moving variance', advanced: true },
  rate: { kind: 'float', step: 0.05, hint: 'Fraction of inputs dropped during training, in [0, 1)' },
  seed: { kind: 'int', step: 1, hint: 'Random seed (empty: none)', advanced: true },
  kernel_size: { kind: 'pair', hint: 'Height and width of the convolution window, e.g. 3, 3' },
  pool_size: { kind: 'pair', hint: 'Height and width of the pooling window, e.g. 2, 2' },
  strides: { kind: 'pair', hint: 'Step along height and width' },
  dilation_rate: { kind: 'pair', hint: 'Dilation along height and width', advanced: true },
  padding: { kind: 'select', options: PADDINGS, hint: "'valid': no padding; 'same': pad so the output keeps the input size (stride 1)" },
  target_shape: { kind: 'list', placeholder: 'e.g. 7, 7, 16 (one may be -1)', hint: 'Output shape without the batch dimension; one entry may be -1' },
};

/** The editable fields of a layer type in Keras' order; the input shape only on the first layer. */
export function fieldsFor(class_name: SupportedLayer, isFirst: boolean): FieldMeta[] {
  const out: FieldMeta[] = [];
  const known = new Set(knownLayerFields(class_name));
  // Dense and Conv2D take a kernel regularizer and max-norm constraint (after the initializers).
  if (class_name === 'Dense' || class_name === 'Conv2D') for (const f of ['kernel_regularizer', 'kernel_constraint']) known.add(f);
  // A required field can also have a default (Dropout's rate): list it once.
  for (const field of known) {
    const meta = META[field];
    if (!meta || (field === 'batch_input_shape' && !isFirst)) continue;
    // MaxPooling2D's strides default to None, meaning "the pool size".
    const m = field === 'strides' && class_name === 'MaxPooling2D' ? { ...meta, nullable: 'pool_size' } : meta;
    out.push({ field, ...m } as FieldMeta);
  }
  return out;
}
