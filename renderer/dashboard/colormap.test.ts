import { describe, expect, it } from 'vitest';
import { LUT_LEVELS, colorLut, colorScale, lutIndex } from './colormap';

describe('colorLut', () => {
  it('matches the scale within a level, clamps the ends, and maps non-finite values low', () => {
    for (const scale of [colorScale(0, 2), colorScale(-1, 3)]) {
      const lut = colorLut(scale);
      expect(lut.length).toBe(LUT_LEVELS * 3);
      for (const v of [scale.lo, scale.hi, (scale.lo + scale.hi) / 2, scale.lo + 0.37 * (scale.hi - scale.lo)]) {
        const k = lutIndex(scale, v) * 3;
        const rgb = scale.rgb(v);
        for (let i = 0; i < 3; i++) expect(Math.abs(lut[k + i]! - rgb[i]!)).toBeLessThanOrEqual(3);
      }
      expect(lutIndex(scale, scale.lo - 10)).toBe(0);
      expect(lutIndex(scale, scale.hi + 10)).toBe(LUT_LEVELS - 1);
      expect(lutIndex(scale, Number.NaN)).toBe(0);
    }
  });
});
