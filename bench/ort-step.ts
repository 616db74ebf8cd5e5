/**
 * Section 5 of bench/run.mjs (`BENCH_ONLY=ort node bench/run.mjs`), also runnable alone:
 * `npx tsx bench/ort-step.ts [batch…]`. The ONNX Runtime training step
 * (main/services/training/worker/engines/onnxruntime) against the wasm path measured in the same
 * process: seed model 1, SGD lr 0.01, real Fashion-MNIST images, batch 32 and 256, ONNX Runtime at
 * 1 and 2 intra-op threads, wasm as the fused step (wasm + fast matmul, the worker's fastest wasm
 * path). Per engine: 10 warm-up steps, then 5 blocks of ORT_STEPS/5 steps (ORT_STEPS 100), the
 * median block's wall clock as samples/s; engines alternate block by block so load drifts hit all.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { defaultTrainingSettings, type TrainingSettings } from '../contract';
import { seedModel1 } from '../model/presets';
import { loadFashionMnist } from '../main/services/datasets/fashion-mnist';
import { buildModel } from '../main/services/training/worker/build-model';
import { createFusedStep } from '../main/services/training/worker/fused/fused-step';
import { installFastWasmMatMul } from '../main/services/training/worker/kernels/wasm-matmul';
import { createOptimizer } from '../main/services/training/worker/optimizers';
import { planLayers } from '../main/services/training/worker/forward';
import { ORT_STEPS_PER_RUN, OrtStepEngine } from '../main/services/training/worker/engines/onnxruntime/engine';
import { AFFINE_INPUT_MIN_BATCH } from '../main/services/training/worker/engines/onnxruntime/step-graph';
import { heldBatches, runAlone, timeInterleaved, type EngineRow, type TimedEngine } from './interleaved';

// The Conv2D part of the section, bundled with this file for bench/run.mjs.
export { runOrtConvSection } from './ort-conv-step';

export type OrtBenchRow = EngineRow;

export interface OrtBenchOptions {
  datasetDir?: string;
  batches?: number[];
  threads?: number[];
  steps?: number;
  log?: (line: string) => void;
}

export async function runOrtSection(options: OrtBenchOptions = {}): Promise<OrtBenchRow[]> {
  const log = options.log ?? console.log;
  const steps = options.steps ?? Number(process.env.ORT_STEPS ?? 100);
  const blockSteps = Math.max(1, Math.round(steps / 5));
  if (!(await tf.setBackend('wasm'))) throw new Error('the tfjs wasm backend did not start');
  installFastWasmMatMul(tf);
  const data = await loadFashionMnist(options.datasetDir ?? '/usr/share/datasets/fashion-mnist', 'train');
  const rows: OrtBenchRow[] = [];
  for (const batch of options.batches ?? [32, 256]) {
    const slice = heldBatches(data, batch, 16);
    const settings: TrainingSettings = { ...defaultTrainingSettings, batchSize: batch, backend: 'wasm' };
    const model = await buildModel(tf, seedModel1, { seed: 1 });
    const start = new Map(model.weights.map((w) => [w.originalName, { shape: [...w.shape] as number[], data: w.read().dataSync().slice() as Float32Array }]));
    const optimizer = createOptimizer(tf, settings.optimizer, settings.learningRate);
    const fused = createFusedStep(tf, planLayers(model), model, settings, optimizer);
    if ('unsupported' in fused) throw new Error(`the wasm fused step declined: ${fused.unsupported}`);
    const engines: TimedEngine[] = [
      {
        name: 'wasm (fused step)',
        step: async (s) => (await fused.step(slice(s).x, slice(s).y, batch, { seed: 1, step: s })).loss,
        dispose: () => fused.dispose(),
        warmup: 10,
        blockSteps,
      },
    ];
    // One step a run at 1 and 2 threads; ORT_STEPS_PER_RUN steps a run (as training runs use it); and one
    // step a run with the first BN's gradients through dx (step-graph.ts' affineInputs off), 1 thread.
    const variants = [
      ...(options.threads ?? [1, 2]).map((threads) => ({ threads, stepsPerRun: 1, affineInputs: batch >= AFFINE_INPUT_MIN_BATCH })),
      { threads: 1, stepsPerRun: ORT_STEPS_PER_RUN, affineInputs: batch >= AFFINE_INPUT_MIN_BATCH },
      { threads: 1, stepsPerRun: 1, affineInputs: !(batch >= AFFINE_INPUT_MIN_BATCH) },
    ];
    for (const { threads, stepsPerRun, affineInputs } of variants) {
      const ort = await OrtStepEngine.create(seedModel1, settings.optimizer, start, { intraOpNumThreads: threads, affineInputs, stepsPerRun });
      if (!(ort instanceof OrtStepEngine)) throw new Error(`the ONNX Runtime step declined: ${ort.unsupported}`);
      const label = [
        `${threads} thread${threads > 1 ? 's' : ''}`,
        ...(stepsPerRun > 1 ? [`${stepsPerRun} steps a run`] : []),
        ...(affineInputs ? ['first BN through the Dense'] : []),
      ];
      engines.push({
        name: `onnxruntime ${label.join(', ')}`,
        // Several steps a run: the call that fills the queue runs them (blocks and warm-up are multiples of it).
        step: async (s) => (await ort.step(slice(s).x, slice(s).y, batch, settings.learningRate)).loss,
        dispose: () => ort.dispose(),
        warmup: 12,
        blockSteps: Math.max(stepsPerRun, Math.round(blockSteps / stepsPerRun) * stepsPerRun),
      });
    }
    rows.push(...(await timeInterleaved(engines, batch, log)));
    optimizer.dispose();
    model.dispose();
  }
  return rows;
}

runAlone('ort-step.ts', runOrtSection);
