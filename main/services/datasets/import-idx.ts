/**
 * IDX-pair import (the MNIST family's format): images of rank 2 (count × features) or 3+
 * (count × h × w …) and labels of rank 1, uint8, plain or gzipped. Both files are read whole: gzip
 * allows no random access, and IDX datasets are tens of MB.
 */
import type { ImportSource } from '../../../contract/datasets';
import type { ImportContext } from './context';
import { DatasetError } from './errors';
import { readIdxFile } from './idx';
import type { SampleWriter } from './writer';

type IdxSource = Extract<ImportSource, { kind: 'idx' }>;

const BYTE_LABELS = Array.from({ length: 256 }, (_, i) => String(i));

export async function readIdxPair(source: IdxSource) {
  const [images, labels] = await Promise.all([readIdxFile(source.imagesPath), readIdxFile(source.labelsPath)]);
  if (images.dims.length < 2) {
    throw new DatasetError(
      source.imagesPath,
      `expected images of rank 2 or more (count × …), the header declares ${images.dims.length} dimension (${images.dims.join('×')}); is this the labels file?`,
    );
  }
  if (labels.dims.length !== 1) {
    throw new DatasetError(
      source.labelsPath,
      `expected labels of rank 1 (count), the header declares ${labels.dims.length} dimensions (${labels.dims.join('×')}); is this the images file?`,
    );
  }
  for (const [file, array] of [
    [source.imagesPath, images],
    [source.labelsPath, labels],
  ] as const) {
    const zero = array.dims.indexOf(0);
    if (zero !== -1) {
      throw new DatasetError(file, `the header declares a dimension of size 0 (${array.dims.join('×')}): ${zero === 0 ? 'the file holds no samples' : 'a sample holds no values'}`);
    }
  }
  if (images.dims[0] !== labels.dims[0]) {
    throw new DatasetError(source.imagesPath, `count mismatch: holds ${images.dims[0]} images, but ${source.labelsPath} holds ${labels.dims[0]} labels`);
  }
  return { images, labels, count: images.dims[0], sampleShape: images.dims.slice(1) };
}

export async function importIdx(source: IdxSource, ctx: ImportContext, writer: SampleWriter): Promise<{ sampleShape: number[] }> {
  ctx.progress('reading', 0, null);
  const { images, labels, count, sampleShape } = await readIdxPair(source);
  const size = sampleShape.reduce((a, b) => a * b, 1);
  for (let i = 0; i < count; i++) {
    if ((i & 1023) === 0) ctx.check();
    const flushing = writer.append(images.data.subarray(i * size, (i + 1) * size), BYTE_LABELS[labels.data[i]]);
    if (flushing) await flushing;
    ctx.progress('writing', i + 1, count);
  }
  return { sampleShape };
}
