/**
 * Pure helpers for the Data view and the builder's dataset checks: import ids, shapes typed as
 * text, preview pixels, and where the model does not fit the dataset chosen for training (with the
 * one-click fix).
 */
import { ApiError, type DatasetSummary } from '../../contract';
import { TASK_LOSS, checkTask, summarize, type ModelSpec, type ModelSummary, type Task } from '../../model';
import { fixForTask } from './task-fix';

/** A fresh id for one import: progress events and cancel refer to it. */
export function newImportId(now = Date.now(), random = Math.random()): string {
  return `import-${now.toString(36)}-${Math.floor(random * 36 ** 6).toString(36)}`;
}

/**
 * Whether an import failed because it was cancelled (the services' ImportCancelledError, which
 * reaches the renderer with code 'cancelled'): only then was nothing kept *because of the cancel*.
 * Any other failure, even one that lands while a cancel is pending, is an error to show.
 */
export function isCancelledImport(error: unknown): boolean {
  return error instanceof ApiError && error.code === 'cancelled';
}

/**
 * The header setting an import sends: the user's explicit choice, else what the scan detected
 * (and showed), so the import reads the file the way the form displayed it.
 */
export function importHeader(choice: 'auto' | 'yes' | 'no', scan: { headerDetected?: boolean } | null): 'yes' | 'no' | 'auto' {
  if (choice !== 'auto') return choice;
  if (scan?.headerDetected === undefined) return 'auto';
  return scan.headerDetected ? 'yes' : 'no';
}

/** "28x28", "28 × 28", "28, 28", "(28, 28, 1)" → [28, 28]; empty → null; anything else → an error message. */
export function parseShapeText(text: string): number[] | null | { error: string } {
  const trimmed = text.trim().replace(/^\(|\)$/g, '');
  if (!trimmed) return null;
  const parts = trimmed.split(/\s*[x×,*]\s*|\s+/i).filter(Boolean);
  if (parts.length > 4) return { error: 'at most 4 dimensions' };
  const dims: number[] = [];
  for (const part of parts) {
    if (!/^\d+$/.test(part) || Number(part) < 1 || Number(part) > 4096) return { error: `"${part}" is not a size from 1 to 4096` };
    dims.push(Number(part));
  }
  return dims;
}

export const formatDims = (shape: readonly (number | null)[]): string => shape.map((d) => (d === null ? 'None' : String(d))).join('×');
export const product = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** [h, w] or [h, w, 1|3]: drawable as an image. */
export function imageShape(sampleShape: readonly number[]): { height: number; width: number; channels: 1 | 3 } | null {
  if (sampleShape.length === 2) return { height: sampleShape[0]!, width: sampleShape[1]!, channels: 1 };
  if (sampleShape.length === 3 && (sampleShape[2] === 1 || sampleShape[2] === 3)) {
    return { height: sampleShape[0]!, width: sampleShape[1]!, channels: sampleShape[2] };
  }
  return null;
}

/** Base64 h×w×channels bytes → RGBA for an ImageData. */
export function pixelsToRgba(base64: string, width: number, height: number, channels: 1 | 3): Uint8ClampedArray<ArrayBuffer> {
  const binary = atob(base64);
  const out = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    const o = i * 4;
    if (channels === 1) {
      const v = binary.charCodeAt(i) || 0;
      out[o] = out[o + 1] = out[o + 2] = v;
    } else {
      out[o] = binary.charCodeAt(i * 3) || 0;
      out[o + 1] = binary.charCodeAt(i * 3 + 1) || 0;
      out[o + 2] = binary.charCodeAt(i * 3 + 2) || 0;
    }
    out[o + 3] = 255;
  }
  return out;
}

/** The model's input shape without the batch dimension, or null when the first layer has none usable. */
export function modelInputShape(spec: ModelSpec): (number | null)[] | null {
  const shape = spec.config.layers[0]?.config.batch_input_shape;
  return Array.isArray(shape) && shape.length >= 2 ? (shape.slice(1) as (number | null)[]) : null;
}

/**
 * Where the model cannot train on the dataset (model/task-check), at the layer it concerns, with
 * the one-click fix when one gives a model that trains (lib/task-fix).
 */
export interface DatasetMismatch {
  layerIndex: number;
  /** The config field concerned, else the problem's kind: names it in test ids and keys. */
  key: string;
  message: string;
  /**
   * Whether training cannot start. A same-size shape (28×28 data into a [28, 28, 1] input) or an
   * output that is not a softmax train as they are, as in Keras: those are shown (with their fix)
   * but do not block.
   */
  blocking: boolean;
  fixLabel?: string;
  fix?: (spec: ModelSpec) => ModelSpec;
}

export type DatasetShape = Pick<DatasetSummary, 'name' | 'sampleShape' | 'classNames'>;

/** The task every run trains: sparse categorical cross-entropy on the dataset (null: not chosen yet). */
export function taskOf(dataset: DatasetShape | null): Task {
  return { loss: TASK_LOSS, data: dataset && { name: dataset.name, sampleShape: dataset.sampleShape, classCount: dataset.classNames.length } };
}

export function datasetMismatches(spec: ModelSpec, dataset: DatasetShape | null, summary: ModelSummary = summarize(spec)): DatasetMismatch[] {
  const task = taskOf(dataset);
  return checkTask(spec, task, summary).map((p) => {
    const fixed = p.fix ? fixForTask(spec, task, p.fix) : null;
    return {
      layerIndex: p.layerIndex,
      key: p.field ?? p.kind,
      message: p.message,
      blocking: p.blocking,
      ...(fixed ? { fixLabel: fixed.label, fix: () => fixed.spec } : {}),
    };
  });
}

/** "1.2 MB" */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let u = 0;
  for (; v >= 1024 && u < units.length - 1; u++) v /= 1024;
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

/** The file name at the end of a path (either separator). */
export function baseName(path: string): string {
  return path.split(/[\\/]/).filter(Boolean).pop() ?? path;
}

/** A dataset name from a source path: the file name without its extension(s). */
export function nameFromPath(path: string): string {
  return baseName(path).replace(/(\.(csv|tsv|txt|gz|idx\d?-ubyte|ubyte))+$/i, '') || 'dataset';
}
