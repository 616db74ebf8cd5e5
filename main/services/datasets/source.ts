/**
 * What the training worker reads samples through, whatever the dataset: Fashion-MNIST's IDX files or
 * an imported dataset's binary cache. Labels are always held in memory (4 bytes a sample); sample
 * values are held in memory when the dataset fits the memory budget, else read from disk per batch.
 */
import type { DatasetSummary } from '../../../contract';

export interface SampleSource {
  readonly summary: DatasetSummary;
  /** One sample's shape, e.g. [28, 28] or [32, 32, 3]. */
  readonly sampleShape: number[];
  /** Values per sample (the product of sampleShape). */
  readonly sampleSize: number;
  /** Samples in this source. */
  readonly count: number;
  /** Class index of every sample. */
  readonly labels: Int32Array;
  readonly classNames: string[];
  /** True when values are read from disk per call (the dataset is larger than the memory budget). */
  readonly streamed: boolean;
  /**
   * Copies the stored values of samples `indices` (any order; contiguous runs are read in one go)
   * into `out` as float32, sample after sample: `out` must hold indices.length × sampleSize values.
   */
  read(indices: Uint32Array, out: Float32Array): Promise<void>;
  /** Releases file handles; reads after close fail. */
  close(): Promise<void>;
}

/** The pool runs split into train / validation (/ test), and the separate test set when the dataset has one. */
export interface OpenedDataset {
  pool: SampleSource;
  test: SampleSource | null;
}
