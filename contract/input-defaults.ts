/**
 * How a run's inputs should be scaled, judged from the dataset: the normalization a dataset starts
 * with and the warnings when the chosen one does not suit the data or the model. Shared by the Data
 * view (default when a dataset is picked, warnings under the choice) and the CLI (printed warnings).
 */
import type { ModelSpec } from '../model/spec';
import type { DatasetSummary } from './datasets';
import type { Normalization } from './training';

export type InputDataset = Pick<DatasetSummary, 'name' | 'dtype' | 'sampleShape'> & { valueRange?: DatasetSummary['valueRange'] };

/** [h, w] or [h, w, 1 | 3]: a picture. */
export function isImageLike(shape: readonly number[]): boolean {
  return shape.length === 2 || (shape.length === 3 && (shape[2] === 1 || shape[2] === 3));
}

/**
 * ÷255 for byte images (pixels 0…255 to 0…1); per-feature standardization for everything else:
 * float features such as iris' centimetres or already-scaled values (÷255 would squeeze −3.8…6.6
 * into ±0.03, and ten epochs stay near chance).
 */
export function defaultNormalization(dataset: Pick<InputDataset, 'dtype' | 'sampleShape'>): Normalization {
  return dataset.dtype === 'uint8' && isImageLike(dataset.sampleShape) ? 'scale-255' : 'standardize';
}

/** Whether any layer uses SELU, which assumes standardized inputs (self-normalization). */
export function usesSelu(spec: ModelSpec): boolean {
  return spec.config.layers.some((layer) => (layer.config as { activation?: unknown }).activation === 'selu');
}

/** Three significant digits without trailing zeros: float32's -2.4000000953674316 reads -2.4. */
const format = (v: number) => String(Number(v.toPrecision(3)));

/** What is wrong with scaling `dataset` by `normalization` for `spec`, in words; empty when nothing is. */
export function normalizationWarnings(normalization: Normalization, dataset: InputDataset | null, spec: ModelSpec | null): string[] {
  const warnings: string[] = [];
  const range = dataset?.valueRange;
  if (normalization === 'scale-255' && dataset && range && (range.min < 0 || range.max > 255)) {
    warnings.push(`÷255 is meant for pixel values 0…255, but ${dataset.name}'s values run ${format(range.min)}…${format(range.max)}: standardize them instead`);
  }
  if (normalization !== 'standardize' && spec && usesSelu(spec)) {
    warnings.push(`${spec.config.name} uses SELU, which self-normalizes only on standardized inputs (mean 0, std 1): choose "standardize"`);
  }
  return warnings;
}
