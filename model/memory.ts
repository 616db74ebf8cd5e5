/**
 * What training a model holds in memory, estimated from its summary before anything is built: the
 * weights, their gradients, the optimizer's slots (one or two values per trainable weight), and
 * every layer's activations for a batch, kept for the backward pass beside their gradients. All in
 * float32. An estimate, not a measurement: TF.js' own temporaries come on top.
 */
import type { OptimizerSettings } from './training-config';
import type { ModelSummary } from './summary';

export const BYTES_PER_VALUE = 4;
/** Activations are kept for the backward pass, and their gradients are as large. */
export const BACKWARD_FACTOR = 2;

/** Values the optimizer keeps per trainable weight (Keras' slots: momentum, accumulators, moments). */
export function optimizerSlots(optimizer: OptimizerSettings): number {
  switch (optimizer.class_name) {
    case 'SGD':
      return optimizer.config.momentum > 0 ? 1 : 0;
    case 'Adagrad':
      return 1;
    case 'RMSprop':
      return 1 + (optimizer.config.momentum > 0 ? 1 : 0) + (optimizer.config.centered ? 1 : 0);
    case 'Adam':
    case 'Adamax':
      return 2;
  }
}

export interface MemoryEstimate {
  params: number;
  weightBytes: number;
  /** Gradients and optimizer slots: 0 without an optimizer (a model built to be looked at). */
  gradientBytes: number;
  optimizerBytes: number;
  optimizerSlots: number;
  /** The input and every layer's output for one batch, times BACKWARD_FACTOR when training. */
  activationBytes: number;
  batchSize: number;
  totalBytes: number;
}

/** Values in one sample of a shape with its batch dimension first; unknown dimensions count as 1. */
function sampleValues(shape: readonly (number | null)[] | null): number {
  return shape ? shape.slice(1).reduce<number>((n, d) => n * (d ?? 1), 1) : 0;
}

/**
 * The estimate for training with `optimizer` at `batchSize`, or for building the model alone
 * (no optimizer: weights and one forward batch). Pure arithmetic on the summary: nothing allocated.
 */
export function estimateTrainingMemory(summary: ModelSummary, options: { batchSize: number; optimizer?: OptimizerSettings }): MemoryEstimate {
  const { batchSize, optimizer } = options;
  const slots = optimizer ? optimizerSlots(optimizer) : 0;
  const weightBytes = summary.total * BYTES_PER_VALUE;
  const gradientBytes = optimizer ? summary.trainable * BYTES_PER_VALUE : 0;
  const optimizerBytes = summary.trainable * slots * BYTES_PER_VALUE;
  const perSample = sampleValues(summary.layers[0]?.input_shape ?? null) + summary.layers.reduce((n, layer) => n + sampleValues(layer.output_shape), 0);
  const activationBytes = perSample * batchSize * BYTES_PER_VALUE * (optimizer ? BACKWARD_FACTOR : 1);
  return {
    params: summary.total,
    weightBytes,
    gradientBytes,
    optimizerBytes,
    optimizerSlots: slots,
    activationBytes,
    batchSize,
    totalBytes: weightBytes + gradientBytes + optimizerBytes + activationBytes,
  };
}

/** "12.3 MiB": a size for people (binary units, as the OS reports memory). */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
