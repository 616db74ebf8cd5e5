/**
 * Test inputs built from the real Fashion-MNIST (Debian's dataset-fashion-mnist): CSV files, IDX
 * pairs and PNG/JPEG folders written into a temp dir, so importers run on real files end to end.
 */
import { mkdtempSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { afterAll } from 'vitest';
import { FASHION_MNIST_CLASS_NAMES, FASHION_MNIST_SYSTEM_DIRS, loadFashionMnist, type FashionMnistData } from './fashion-mnist';
import { DatasetStore } from './store';

export const SYSTEM_FMNIST = FASHION_MNIST_SYSTEM_DIRS[0];
export const CLASS_NAMES = [...FASHION_MNIST_CLASS_NAMES];

let cached: Promise<FashionMnistData> | null = null;
/** The real test split (10,000 images), loaded once per test file. */
export function realImages(): Promise<FashionMnistData> {
  cached ??= loadFashionMnist(SYSTEM_FMNIST, 'test');
  return cached;
}

export function imageOf(data: FashionMnistData, i: number): Uint8Array {
  return data.images.subarray(i * 784, (i + 1) * 784);
}

/** IDX bytes (uint8) for the given dims and data, gzipped when asked. */
export function idxBytes(dims: number[], data: Uint8Array, gzip = false): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = 0x08;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  const bytes = Buffer.concat([header, data]);
  return gzip ? gzipSync(bytes) : bytes;
}

/** A CSV of the first `count` real images: header `label,p0…p783`, label = class name or index. */
export async function writeFmnistCsv(path: string, count: number, options: { textLabels?: boolean; delimiter?: string; header?: boolean } = {}): Promise<void> {
  const data = await realImages();
  const d = options.delimiter ?? ',';
  const lines: string[] = [];
  if (options.header ?? true) lines.push(['label', ...Array.from({ length: 784 }, (_, i) => `p${i}`)].join(d));
  for (let i = 0; i < count; i++) {
    const label = options.textLabels ? CLASS_NAMES[data.labels[i]] : String(data.labels[i]);
    lines.push([label, ...imageOf(data, i)].join(d));
  }
  await writeFile(path, `${lines.join('\n')}\n`);
}

/** A PNG (grayscale, or RGB when `rgb`) of h×w pixels given as gray bytes or h×w×3 RGB bytes. */
export function encodePng(width: number, height: number, pixels: Uint8Array, rgb = false): Buffer {
  const png = new PNG({ width, height });
  for (let p = 0; p < width * height; p++) {
    png.data[p * 4] = rgb ? pixels[p * 3] : pixels[p];
    png.data[p * 4 + 1] = rgb ? pixels[p * 3 + 1] : pixels[p];
    png.data[p * 4 + 2] = rgb ? pixels[p * 3 + 2] : pixels[p];
    png.data[p * 4 + 3] = 255;
  }
  return PNG.sync.write(png, { colorType: rgb ? 2 : 0 });
}

export function encodeJpeg(width: number, height: number, gray: Uint8Array, quality = 95): Buffer {
  const data = Buffer.alloc(width * height * 4);
  for (let p = 0; p < width * height; p++) data.fill(gray[p], p * 4, p * 4 + 3).writeUInt8(255, p * 4 + 3);
  return jpeg.encode({ width, height, data }, quality).data;
}

/** `<root>/<class name>/<i>.png` for the first `perClass` images of each of `classes` classes. */
export async function writeFmnistPngFolder(root: string, perClass: number, classes = 10): Promise<Map<string, number[]>> {
  const data = await realImages();
  const used = new Map<string, number[]>();
  for (let i = 0; i < data.count; i++) {
    const label = data.labels[i];
    if (label >= classes) continue;
    const name = CLASS_NAMES[label].replace('/', '-');
    const list = used.get(name) ?? [];
    if (list.length >= perClass) continue;
    list.push(i);
    used.set(name, list);
    await mkdir(join(root, name), { recursive: true });
    await writeFile(join(root, name, `${String(i).padStart(5, '0')}.png`), encodePng(28, 28, imageOf(data, i)));
  }
  return used;
}

/** A temporary folder (removed after the calling suite) and a dataset store in it that sees no system Fashion-MNIST. */
export function scratchStore(prefix: string): { scratch: string; store: DatasetStore } {
  const scratch = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rm(scratch, { recursive: true, force: true }));
  return { scratch, store: new DatasetStore(join(scratch, 'data'), { fashionMnistSystemDirs: [] }) };
}
