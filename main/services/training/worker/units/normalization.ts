/** What BatchNormalization and LayerNormalization share: their config reads and the last-axis rule. */
import { batchNormAxis } from '../../common/kernel-support';
import { numberOr } from './config';
import { rankOneInput, type UnitSite } from './unit';

export interface NormalizationConfig {
  /** As written (Keras 2's list of one unwrapped): negative counts from the end. */
  axis: number;
  epsilon: number;
  center: boolean;
  scale: boolean;
}

/** The axis, epsilon, center and scale of a config with Keras' defaults filled in. */
export function normalizationConfig(c: Record<string, unknown>): NormalizationConfig {
  return {
    axis: Array.isArray(c['axis']) ? Number(c['axis'][0]) : numberOr(c['axis'], -1),
    epsilon: numberOr(c['epsilon'], 0.001),
    center: c['center'] !== false,
    scale: c['scale'] !== false,
  };
}

/** Why a normalization over `config.axis` is not over the last axis of a vector input, or null. */
export function lastAxisDecline(config: NormalizationConfig, site: UnitSite, className: string): string | null {
  const rank = rankOneInput(site);
  if (rank) return rank;
  const axis = batchNormAxis(config.axis, 2);
  return axis === 1 ? null : `layer ${site.name}: ${className} on axis ${axis}`;
}
