/**
 * The best epoch's checkpoint, written without tfjs on the hot path: `model.save` (weights-io.ts'
 * saveModel) reads every weight back through the engine, joins copies and serializes the topology
 * each time, and in the training worker each call disturbed the training steps after it (epoch 1
 * of a 4,000-image run cost ~400 ms more CPU with checkpoints than without, most of it on V8's
 * helper threads). Here the topology and the weights manifest are taken once, at the run's start
 * (see `prepare`), and each checkpoint writes the same two files saveModel writes —
 * weights.bin (the weights' float32 values in the manifest's order, read on the wasm heap without a
 * copy where possible) and model.json (the cached topology and manifest, with this checkpoint's
 * metadata) — each through a temporary file and a rename. A model with weights other than float32
 * falls back to saveModel.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import { valuesOf } from './stats';
import { MODEL_JSON, saveModel, WEIGHTS_BIN, writeAtomically, type WeightsMetadata } from './weights-io';

/** Backends whose tensors live on a GPU and are read back asynchronously. */
const GPU_BACKENDS = new Set(['webgpu', 'webgl']);

interface Template {
  /** model.json without its metadata. */
  json: { modelTopology: unknown; format: string; generatedBy?: string; convertedBy: string | null; weightsManifest: { paths: string[]; weights: TF.io.WeightsManifestEntry[] }[] };
  /** The weights in the manifest's order. */
  weights: TF.LayerVariable[];
}

export class CheckpointWriter {
  private template: Template | null | undefined = undefined;
  /** The weights' values, reused from one checkpoint to the next (no new megabytes per epoch). */
  private buffer: Float32Array | null = null;

  constructor(
    private readonly tf: typeof TF,
    private readonly model: TF.LayersModel,
  ) {}

  /**
   * Takes the topology and the manifest as `model.save` would (its modelTopology is
   * `model.toJSON(null, false)`, its weights manifest the model's weights in order, by original
   * name), without calling it: `model.save` reads every weight through the engine, and with one
   * call at a run's start the run's steps measured a few per cent slower per CPU-second (noisy
   * measurements, bench/README.md "Latest full run"); nothing here needs it. Call before training.
   */
  prepare(): void {
    const weights = this.model.weights;
    if (weights.some((w) => w.dtype !== 'float32')) {
      this.template = null;
      return;
    }
    this.template = {
      json: {
        modelTopology: this.model.toJSON(null, false),
        format: 'layers-model',
        generatedBy: `TensorFlow.js tfjs-layers v${this.tf.version_layers}`,
        convertedBy: null,
        weightsManifest: [{ paths: [WEIGHTS_BIN], weights: weights.map((w) => ({ name: w.originalName, shape: [...w.read().shape], dtype: 'float32' as const })) }],
      },
      weights,
    };
  }

  /** Writes the model's current weights into `directory` as saveModel does. */
  async save(directory: string, metadata: WeightsMetadata): Promise<void> {
    if (this.template === undefined) this.prepare();
    const template = this.template;
    if (!template) {
      await saveModel(this.tf, this.model, directory, metadata);
      return;
    }
    // One copy of every weight, taken synchronously (a wasm view is only valid until the next
    // allocation), into the same buffer each time: save() returns only once the file is written.
    // A GPU backend is read asynchronously: webgpu cannot read synchronously under Node.
    const size = template.weights.reduce((sum, w) => sum + w.read().size, 0);
    if (this.buffer?.length !== size) this.buffer = new Float32Array(size);
    const bytes = this.buffer;
    const onGpu = GPU_BACKENDS.has(this.tf.getBackend());
    let at = 0;
    for (const w of template.weights) {
      const values = onGpu ? await w.read().data() : valuesOf(this.tf, w.read());
      bytes.set(values as Float32Array, at);
      at += values.length;
    }
    await mkdir(directory, { recursive: true });
    await writeAtomically(join(directory, WEIGHTS_BIN), new Uint8Array(bytes.buffer));
    await writeAtomically(join(directory, MODEL_JSON), JSON.stringify({ ...template.json, userDefinedMetadata: { layerbench: metadata } }));
  }
}
