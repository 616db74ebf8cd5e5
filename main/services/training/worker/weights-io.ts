/**
 * A run's weights on disk in TF.js layers format — `model.json` (topology + weights manifest) and
 * `weights.bin` — as `tf.io` would write them, but with our own file IO: written atomically (each
 * file to a temporary name, then renamed; model.json last, so a model.json always has its weights),
 * and read back for `tf.loadLayersModel` without a file:// router (which needs tfjs-node).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import type { NormalizationState } from './pipeline';
import { FileReadError, limit, LIMITS_ENV, readFileBounded, readJsonBounded } from '../../files/bounded-read';
import { DomainError } from '../../../../contract/wire';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

/** What Layerbench records about the weights, under model.json's `userDefinedMetadata.layerbench`. */
export interface WeightsMetadata {
  runId: string;
  /** Why the run ended when they were saved. */
  status: 'finished' | 'stopped' | 'failed';
  /**
   * 'last-finite': the run diverged and these are the weights before the step that broke them;
   * 'best': the best epoch's checkpoint; 'restored-best': final weights that early stopping reset to the best epoch's.
   */
  kind: 'final' | 'last-finite' | 'best' | 'restored-best';
  /** The epoch whose weights these are, for 'best' and 'restored-best'. */
  bestEpoch?: number;
  /** The dataset and the input normalization the weights were trained with (evaluation applies the same). */
  dataset?: string;
  normalization?: NormalizationState;
  /** The epoch the run was in, and how many steps the weights have been trained for. */
  epoch: number;
  steps: number;
  batchSize: number;
  seed: number;
  backend: string;
  savedAt: string;
}

/** Writes `data` to `path` through a temporary file and a rename: a reader never sees half a file. */
export async function writeAtomically(path: string, data: string | Uint8Array): Promise<void> {
  const temporary = `${path}.${randomUUID().slice(0, 8)}.tmp`;
  try {
    await writeFile(temporary, data);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** Saves `model` into `directory` (created if needed). */
export async function saveModel(tf: typeof TF, model: TF.LayersModel, directory: string, metadata: WeightsMetadata): Promise<void> {
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      await mkdir(directory, { recursive: true });
      const weightData = artifacts.weightData ? tf.io.CompositeArrayBuffer.join(artifacts.weightData) : new ArrayBuffer(0);
      const modelJson = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] }],
        userDefinedMetadata: { layerbench: metadata },
      };
      await writeAtomically(join(directory, WEIGHTS_BIN), new Uint8Array(weightData));
      await writeAtomically(join(directory, MODEL_JSON), JSON.stringify(modelJson));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON({ ...artifacts, weightData }) };
    }),
  );
}

interface ModelJsonFile {
  modelTopology: unknown;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  weightsManifest: { paths: string[]; weights: TF.io.WeightsManifestEntry[] }[];
  userDefinedMetadata?: { layerbench?: WeightsMetadata } & Record<string, unknown>;
}

export async function readModelJson(directory: string): Promise<ModelJsonFile> {
  const path = join(directory, MODEL_JSON);
  let json: ModelJsonFile;
  try {
    json = (await readJsonBounded(path, { what: 'model file' })) as ModelJsonFile;
  } catch (error) {
    if ((error as FileReadError).code === 'not-found') throw new DomainError('not-found', `No saved weights: ${path} does not exist`, { cause: error });
    throw error;
  }
  if (!json || typeof json !== 'object' || !json.modelTopology || !Array.isArray(json.weightsManifest)) {
    throw new DomainError('invalid-input', `${path} is not a TF.js layers model (no modelTopology or weightsManifest)`);
  }
  return json;
}

/** An IO handler that loads a model saved by saveModel (weight files must lie beside model.json). */
export function fileLoadHandler(directory: string): TF.io.IOHandler {
  return {
    async load() {
      const json = await readModelJson(directory);
      const weightSpecs: TF.io.WeightsManifestEntry[] = [];
      const buffers: Uint8Array[] = [];
      for (const group of json.weightsManifest) {
        weightSpecs.push(...group.weights);
        for (const path of group.paths) {
          if (basename(path) !== path) throw new DomainError('invalid-input', `Weights path ${JSON.stringify(path)} in model.json leaves the weights folder`);
          buffers.push(await readFileBounded(join(directory, path), { maxBytes: limit('fileBytes'), limitEnv: LIMITS_ENV.fileBytes.name, what: 'weights file' }));
        }
      }
      const total = buffers.reduce((n, b) => n + b.byteLength, 0);
      const weightData = new Uint8Array(total);
      let at = 0;
      for (const b of buffers) {
        weightData.set(b, at);
        at += b.byteLength;
      }
      return {
        modelTopology: json.modelTopology as TF.io.ModelArtifacts['modelTopology'],
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy ?? null,
        weightSpecs,
        weightData: weightData.buffer,
        userDefinedMetadata: json.userDefinedMetadata as TF.io.ModelArtifacts['userDefinedMetadata'],
      };
    },
  };
}
