/** Fashion-MNIST as a DatasetSummary, so the UI and runs treat it like any other dataset. */
import type { DatasetSummary } from '../../../contract/datasets';
import { FASHION_MNIST_CLASS_NAMES, FASHION_MNIST_FILES, FASHION_MNIST_ID, FASHION_MNIST_TEST_SAMPLES, FASHION_MNIST_TRAIN_SAMPLES, findFashionMnistFile } from './fashion-mnist';

/** The dataset's publication (Xiao, Rasul & Vollgraf, arXiv:1708.07747): stands in for an import date. */
const PUBLISHED = '2017-08-25T00:00:00.000Z';

/** `directory`: where the files are, or null when they are yet to be downloaded on first use. */
export function fashionMnistSummary(directory: string | null): DatasetSummary {
  return {
    id: FASHION_MNIST_ID,
    name: 'Fashion-MNIST',
    kind: 'builtin',
    sampleShape: [28, 28],
    count: FASHION_MNIST_TRAIN_SAMPLES,
    testCount: FASHION_MNIST_TEST_SAMPLES,
    classNames: [...FASHION_MNIST_CLASS_NAMES],
    dtype: 'uint8',
    valueRange: { min: 0, max: 255 }, // bytes, and the real files use the full range
    sizeBytes: (FASHION_MNIST_TRAIN_SAMPLES + FASHION_MNIST_TEST_SAMPLES) * 28 * 28,
    // Gzipped files allow no random reads, and 55 MB fits any budget worth having: always in memory.
    streamed: false,
    source: directory ?? 'downloaded from the official source on first use',
    createdAt: PUBLISHED,
    skipped: 0,
  };
}

export async function isFashionMnistDir(directory: string): Promise<boolean> {
  const found = await Promise.all(FASHION_MNIST_FILES.map((file) => findFashionMnistFile(directory, file.name)));
  return found.every((path) => path !== null);
}
