/**
 * Colour maps for the heatmap: viridis for values of one sign (perceptually even, readable in
 * both themes), blue–white–red around zero when values cross it.
 */
type RGB = [number, number, number];

const viridis: RGB[] = [
  [68, 1, 84],
  [72, 40, 120],
  [62, 74, 137],
  [49, 104, 142],
  [38, 130, 142],
  [31, 158, 137],
  [53, 183, 121],
  [109, 205, 89],
  [180, 222, 44],
  [253, 231, 37],
];
const diverging: RGB[] = [
  [33, 102, 172],
  [103, 169, 207],
  [209, 229, 240],
  [247, 247, 247],
  [253, 219, 199],
  [239, 138, 98],
  [178, 24, 43],
];

function sample(stops: RGB[], t: number): RGB {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const a = stops[i]!;
  const b = stops[i + 1]!;
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

export interface ColorScale {
  kind: 'sequential' | 'diverging';
  lo: number;
  hi: number;
  rgb(v: number): RGB;
  css(v: number): string;
}

export function colorScale(min: number, max: number): ColorScale {
  if (!Number.isFinite(min) || !Number.isFinite(max)) {
    min = 0;
    max = 1;
  }
  const diverge = min < 0 && max > 0;
  const bound = Math.max(Math.abs(min), Math.abs(max)) || 1;
  const lo = diverge ? -bound : min;
  const hi = diverge ? bound : max > min ? max : min + 1;
  const stops = diverge ? diverging : viridis;
  const rgb = (v: number) => sample(stops, (v - lo) / (hi - lo));
  return {
    kind: diverge ? 'diverging' : 'sequential',
    lo,
    hi,
    rgb,
    css: (v) => {
      const [r, g, b] = rgb(v);
      return `rgb(${Math.round(r)}, ${Math.round(g)}, ${Math.round(b)})`;
    },
  };
}

/** Levels in a colour lookup table: more than the eye tells apart on a 10-stop ramp. */
export const LUT_LEVELS = 256;

/**
 * The scale as a lookup table of LUT_LEVELS RGB triples (lo … hi): a heatmap pixel then costs an
 * index and three byte copies instead of an interpolation and an array.
 */
export function colorLut(scale: ColorScale): Uint8ClampedArray<ArrayBuffer> {
  const lut = new Uint8ClampedArray(LUT_LEVELS * 3);
  for (let i = 0; i < LUT_LEVELS; i++) {
    const [r, g, b] = scale.rgb(scale.lo + ((scale.hi - scale.lo) * i) / (LUT_LEVELS - 1));
    lut[i * 3] = r;
    lut[i * 3 + 1] = g;
    lut[i * 3 + 2] = b;
  }
  return lut;
}

/** The LUT index of `v` on `scale` (non-finite values take the low end, as `rgb` does). */
export function lutIndex(scale: ColorScale, v: number): number {
  const t = (v - scale.lo) / (scale.hi - scale.lo);
  if (!Number.isFinite(t) || t <= 0) return 0;
  if (t >= 1) return LUT_LEVELS - 1;
  return Math.round(t * (LUT_LEVELS - 1));
}
