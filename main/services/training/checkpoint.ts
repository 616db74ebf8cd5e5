/**
 * The best epoch's checkpoint, written without tfjs on the hot path: `model.save` (weights-io.ts'
 * saveModel) reads every weight back through the engine, joins copies and serializes the topology
 * each time, and in the training worker each call disturbed the training steps after it (epoch 1
 * of a 4,000-image run cost ~400 ms more CPU with checkpoints than without, most of it on V8's
 * helper threads). Here the topology and the weights manifest are taken once, at the run's start
 * (one `model.save` into memory), and each checkpoint writes the same two files saveModel writes —
 * weights.bin (the weights' float32 values in the manifest's order, read on the wasm heap without a
 * copy where possible) and model.json (the cached topology and manifest, with this checkpoint's
 * metadata) — each through a temporary file and a rename. A model whose manifest has anything but
 * float32 weights, or names a weight the model does not have, falls back to saveModel.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import { valuesOf } from './stats';
import { MODEL_JSON, saveModel, WEIGHTS_BIN, type WeightsMetadata } from './weights-io';

interface Template {
  /** model.json without its metadata. */
  json: { modelTopology: unknown; format: string; generatedBy?: string; convertedBy: string | null; weightsManifest: { paths: string[]; weights: TF.io.WeightsManifestEntry[] }[] };
  /** The weights in the manifest's order. */
  weights: TF.LayerVariable[];
}

export class CheckpointWriter {
  private template: Template | null | undefined = undefined;

  constructor(
    private readonly tf: typeof TF,
    private readonly model: TF.LayersModel,
  ) {}

  /** Takes the topology and the manifest (one `model.save` into memory); call before training. */
  async prepare(): Promise<void> {
    let captured: TF.io.ModelArtifacts | null = null;
    await this.model.save(
      this.tf.io.withSaveHandler(async (artifacts) => {
        captured = artifacts;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const artifacts = captured as TF.io.ModelArtifacts | null;
    const specs = artifacts?.weightSpecs ?? [];
    const byName = new Map(this.model.weights.map((w) => [w.originalName, w]));
    const weights = specs.map((s) => (s.dtype === 'float32' && !s.quantization ? byName.get(s.name) : undefined));
    if (!artifacts || weights.some((w) => w === undefined)) {
      this.template = null;
      return;
    }
    this.template = {
      json: {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [WEIGHTS_BIN], weights: specs }],
      },
      weights: weights as TF.LayerVariable[],
    };
  }

  /** Writes the model's current weights into `directory` as saveModel does. */
  async save(directory: string, metadata: WeightsMetadata): Promise<void> {
    if (this.template === undefined) await this.prepare();
    const template = this.template;
    if (!template) {
      await saveModel(this.tf, this.model, directory, metadata);
      return;
    }
    // One copy of every weight, taken synchronously (a wasm view is only valid until the next allocation).
    const size = template.weights.reduce((sum, w) => sum + w.read().size, 0);
    const bytes = new Float32Array(size);
    let at = 0;
    for (const w of template.weights) {
      const values = valuesOf(this.tf, w.read());
      bytes.set(values as Float32Array, at);
      at += values.length;
    }
    await mkdir(directory, { recursive: true });
    await writeAtomically(join(directory, WEIGHTS_BIN), new Uint8Array(bytes.buffer));
    await writeAtomically(join(directory, MODEL_JSON), JSON.stringify({ ...template.json, userDefinedMetadata: { layerbench: metadata } }));
  }
}

async function writeAtomically(path: string, data: string | Uint8Array): Promise<void> {
  const temporary = `${path}.${randomUUID().slice(0, 8)}.tmp`;
  try {
    if (typeof data === 'string') await writeFile(temporary, data);
    else {
      const handle = await open(temporary, 'w');
      try {
        await handle.write(data);
      } finally {
        await handle.close();
      }
    }
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}
