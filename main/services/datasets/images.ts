/**
 * Image decoding and resizing for the image-folder import, pure JS (pngjs, jpeg-js): no native
 * add-on to build for each platform. Resizing is separable: area averaging when shrinking (every
 * source pixel counts, so thin strokes survive, as in PIL's BOX / OpenCV's INTER_AREA) and bilinear
 * with half-pixel centres when enlarging. Transparent pixels are composited onto black.
 */
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

export type ImageKind = 'png' | 'jpeg';

export interface RgbaImage {
  width: number;
  height: number;
  /** width × height × 4 bytes, row-major. */
  data: Uint8Array;
}

/** The format from the first bytes (not the file name): PNG's signature or JPEG's SOI marker. */
export function sniffImage(bytes: Uint8Array): ImageKind | null {
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return null;
}

/**
 * Width and height from the header, before any decoding: PNG's IHDR chunk (right after the
 * signature), or a JPEG's start-of-frame marker (SOF0…SOF15 less DHT, JPG and DAC). Null when the
 * header is not where it must be (the decoder then reports the corruption).
 */
export function imageDimensions(bytes: Uint8Array, kind: ImageKind): { width: number; height: number } | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (kind === 'png') {
    const isIhdr = bytes.length >= 24 && bytes[12] === 0x49 && bytes[13] === 0x48 && bytes[14] === 0x44 && bytes[15] === 0x52;
    return isIhdr ? { width: view.getUint32(16), height: view.getUint32(20) } : null;
  }
  for (let at = 2; at + 9 <= bytes.length;) {
    if (bytes[at] !== 0xff) return null;
    const marker = bytes[at + 1];
    if (marker === 0xff) {
      at++; // fill bytes before a marker
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2; // markers without a length
      continue;
    }
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: view.getUint16(at + 5), width: view.getUint16(at + 7) };
    }
    if (marker === 0xd9 || marker === 0xda) return null; // end of image, or scan data before any frame
    at += 2 + view.getUint16(at + 2);
  }
  return null;
}

/** Decodes PNG or JPEG bytes into RGBA; throws the decoder's error for corrupt data. */
export function decodeImage(bytes: Uint8Array, kind: ImageKind, maxPixels = Number.MAX_SAFE_INTEGER): RgbaImage {
  if (kind === 'png') {
    const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    return { width: png.width, height: png.height, data: png.data };
  }
  // jpeg-js checks its own header too: the same cap, and RGBA plus its working buffers.
  const megapixels = maxPixels / 1e6;
  const decoded = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: megapixels, maxMemoryUsageInMB: Math.max(1024, Math.ceil(megapixels * 16)) });
  return { width: decoded.width, height: decoded.height, data: decoded.data };
}

interface AxisWeights {
  /** For each target index: first source index and the weights of consecutive source indices. */
  start: Int32Array;
  weights: Float32Array[];
}

/** Which source pixels make each target pixel along one axis, and how much each counts. */
export function axisWeights(source: number, target: number): AxisWeights {
  const start = new Int32Array(target);
  const weights: Float32Array[] = [];
  if (target < source) {
    const scale = source / target;
    for (let j = 0; j < target; j++) {
      const from = j * scale;
      const to = (j + 1) * scale;
      const first = Math.floor(from);
      const last = Math.min(source - 1, Math.ceil(to) - 1);
      const w = new Float32Array(last - first + 1);
      for (let i = first; i <= last; i++) w[i - first] = (Math.min(to, i + 1) - Math.max(from, i)) / scale;
      start[j] = first;
      weights.push(w);
    }
  } else {
    const scale = source / target;
    for (let j = 0; j < target; j++) {
      const x = Math.min(Math.max((j + 0.5) * scale - 0.5, 0), source - 1);
      const first = Math.min(Math.floor(x), Math.max(source - 2, 0));
      const frac = x - first;
      start[j] = first;
      weights.push(source === 1 ? Float32Array.of(1) : Float32Array.of(1 - frac, frac));
    }
  }
  return { start, weights };
}

/**
 * Resizes to width × height and converts to the sample's channels: 1 (luma, ITU-R BT.601 weights as
 * PIL's "L") or 3 (RGB). Returns height × width × channels bytes.
 */
export function toSample(image: RgbaImage, width: number, height: number, channels: 1 | 3): Uint8Array {
  // Premultiplied RGB as floats: alpha composited onto black before any averaging.
  const { width: sw, height: sh, data } = image;
  const rgb = new Float32Array(sw * sh * 3);
  for (let p = 0, q = 0; p < sw * sh; p++, q += 4) {
    const a = data[q + 3] / 255;
    rgb[p * 3] = data[q] * a;
    rgb[p * 3 + 1] = data[q + 1] * a;
    rgb[p * 3 + 2] = data[q + 2] * a;
  }
  const horizontal = axisWeights(sw, width);
  const vertical = axisWeights(sh, height);
  const rows = new Float32Array(sh * width * 3);
  for (let y = 0; y < sh; y++) {
    for (let x = 0; x < width; x++) {
      const w = horizontal.weights[x];
      const first = horizontal.start[x];
      let r = 0;
      let g = 0;
      let b = 0;
      for (let k = 0; k < w.length; k++) {
        const s = (y * sw + first + k) * 3;
        r += rgb[s] * w[k];
        g += rgb[s + 1] * w[k];
        b += rgb[s + 2] * w[k];
      }
      const t = (y * width + x) * 3;
      rows[t] = r;
      rows[t + 1] = g;
      rows[t + 2] = b;
    }
  }
  const out = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    const w = vertical.weights[y];
    const first = vertical.start[y];
    for (let x = 0; x < width; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let k = 0; k < w.length; k++) {
        const s = ((first + k) * width + x) * 3;
        r += rows[s] * w[k];
        g += rows[s + 1] * w[k];
        b += rows[s + 2] * w[k];
      }
      const o = (y * width + x) * channels;
      if (channels === 1) out[o] = clampByte(0.299 * r + 0.587 * g + 0.114 * b);
      else {
        out[o] = clampByte(r);
        out[o + 1] = clampByte(g);
        out[o + 2] = clampByte(b);
      }
    }
  }
  return out;
}

function clampByte(value: number): number {
  return value <= 0 ? 0 : value >= 255 ? 255 : Math.round(value);
}
