/** Flatten and Reshape: the row-major values stay as they are; only the shape changes, so no unit runs. */
import { sizeOf, type UnitKind } from './unit';

export interface ReshapeConfig {
  /** Reshape's target shape; null for Flatten (one axis). */
  targetShape: number[] | null;
}

export const flatten: UnitKind<ReshapeConfig> = {
  classNames: ['Flatten', 'Reshape'],
  config: (c, className) => ({ targetShape: className === 'Reshape' ? (c['target_shape'] as number[]) : null }),
  supports(config, site) {
    if (!config.targetShape) return null;
    const size = sizeOf(site.shape);
    const known = config.targetShape.filter((d) => d !== -1);
    return known.length >= config.targetShape.length - 1 && size % sizeOf(known) === 0 ? null : `layer ${site.name}: target shape [${config.targetShape.join(', ')}] does not fit`;
  },
  create(config, site) {
    const size = sizeOf(site.shape);
    if (!config.targetShape) return { unit: null, shape: [size] };
    const known = sizeOf(config.targetShape.filter((d) => d !== -1));
    return { unit: null, shape: config.targetShape.map((d) => (d === -1 ? size / known : d)) };
  },
};
