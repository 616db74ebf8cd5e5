/**
 * A layer's config as its kit gives it: the spec's fields, checked against the kit's schema where
 * the spec entered the worker (`CheckedModelSpecSchema`), with the kit's Keras defaults and canonical
 * forms filled in (`withDefaults`) once, by `planLayers`. A unit kind reads its fields from this by
 * the kit's types, with no defaults of its own.
 */
import { withDefaults } from '../../../../../model/layers';
import type { Cfg } from '../../../../../model/layers/kit';
import type { ConstraintSpec, RegularizerSpec } from '../../../../../model/regularizers';
import type { LayerSpec } from '../../../../../model/spec';

export type KitConfig = Readonly<Cfg>;

/** The layer's config with its kit's defaults. */
export function kitConfig(layer: LayerSpec): KitConfig {
  return withDefaults(layer).config;
}

/** TF.js' names for Keras activations it spells differently (a spec read back from tfjs). */
const TFJS_TO_KERAS_ACTIVATION: Record<string, string> = { swish: 'silu' };

/** A layer's activation in Keras' name ('linear' when none). */
export function activationOf(value: unknown): string {
  return typeof value === 'string' ? (TFJS_TO_KERAS_ACTIVATION[value] ?? value) : 'linear';
}

/** A kernel layer's L1/L2 penalty (kernel_regularizer; null when none or zero) and MaxNorm (kernel_constraint). */
export function kernelPenalties(config: KitConfig): { regularizer: { l1: number; l2: number } | null; maxNorm: { maxValue: number; axis: number } | null } {
  const reg = config['kernel_regularizer'] as RegularizerSpec | null | undefined;
  const constraint = config['kernel_constraint'] as ConstraintSpec | null | undefined;
  return {
    regularizer: reg?.class_name === 'L1L2' && (reg.config.l1 > 0 || reg.config.l2 > 0) ? { l1: reg.config.l1, l2: reg.config.l2 } : null,
    maxNorm: constraint?.class_name === 'MaxNorm' ? { maxValue: constraint.config.max_value, axis: constraint.config.axis } : null,
  };
}
