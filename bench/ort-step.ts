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
import { OrtStepEngine } from '../main/services/training/worker/engines/onnxruntime/engine';

// The Conv2D part of the section, bundled with this file for bench/run.mjs.
export { runOrtConvSection } from './ort-conv-step';

export interface OrtBenchRow {
  batch: number;
  engine: string;
  samplesPerSec: number;
  blocks: number[];
  lossFirst: number;
  lossLast: number;
}

export interface OrtBenchOptions {
  datasetDir?: string;
  batches?: number[];
  threads?: number[];
  steps?: number;
  log?: (line: string) => void;
}

type StepFn = (s: number) => Promise<number>;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function runOrtSection(options: OrtBenchOptions = {}): Promise<OrtBenchRow[]> {
  const log = options.log ?? console.log;
  const steps = options.steps ?? Number(process.env.ORT_STEPS ?? 100);
  const blockSteps = Math.max(1, Math.round(steps / 5));
  if (!(await tf.setBackend('wasm'))) throw new Error('the tfjs wasm backend did not start');
  installFastWasmMatMul(tf);
  const data = await loadFashionMnist(options.datasetDir ?? '/usr/share/datasets/fashion-mnist', 'train');
  const rows: OrtBenchRow[] = [];
  for (const batch of options.batches ?? [32, 256]) {
    const batchesHeld = 16;
    const xs = new Float32Array(batch * 784 * batchesHeld).map((_, i) => data.images[i]! / 255);
    const ys = Int32Array.from(data.labels.subarray(0, batch * batchesHeld));
    const slice = (s: number) => {
      const k = s % batchesHeld;
      return { x: xs.subarray(k * batch * 784, (k + 1) * batch * 784), y: ys.subarray(k * batch, (k + 1) * batch) };
    };
    const settings: TrainingSettings = { ...defaultTrainingSettings, batchSize: batch, backend: 'wasm' };
    const model = await buildModel(tf, seedModel1, { seed: 1 });
    const start = new Map(model.weights.map((w) => [w.originalName, { shape: [...w.shape] as number[], data: w.read().dataSync().slice() as Float32Array }]));
    const optimizer = createOptimizer(tf, settings.optimizer, settings.learningRate);
    const fused = createFusedStep(tf, planLayers(model), model, settings, optimizer);
    if ('unsupported' in fused) throw new Error(`the wasm fused step declined: ${fused.unsupported}`);
    const engines: { name: string; step: StepFn; dispose: () => Promise<void> | void }[] = [
      { name: 'wasm (fused step)', step: async (s) => (await fused.step(slice(s).x, slice(s).y, batch, { seed: 1, step: s })).loss, dispose: () => fused.dispose() },
    ];
    for (const threads of options.threads ?? [1, 2]) {
      const ort = await OrtStepEngine.create(seedModel1, settings.optimizer, start, { intraOpNumThreads: threads });
      if (!(ort instanceof OrtStepEngine)) throw new Error(`the ONNX Runtime step declined: ${ort.unsupported}`);
      engines.push({
        name: `onnxruntime ${threads} thread${threads > 1 ? 's' : ''}`,
        step: async (s) => (await ort.step(slice(s).x, slice(s).y, batch, settings.learningRate)).loss,
        dispose: () => ort.dispose(),
      });
    }
    const state = engines.map(() => ({ blocks: [] as number[], losses: [] as number[], next: 0 }));
    for (const [i, e] of engines.entries()) for (let s = 0; s < 10; s++) state[i]!.losses.push(await e.step(state[i]!.next++));
    for (let block = 0; block < 5; block++) {
      for (const [i, e] of engines.entries()) {
        const st = state[i]!;
        const t0 = performance.now();
        for (let s = 0; s < blockSteps; s++) st.losses.push(await e.step(st.next++));
        st.blocks.push((blockSteps * batch) / ((performance.now() - t0) / 1000));
      }
    }
    for (const [i, e] of engines.entries()) {
      const st = state[i]!;
      const row = { batch, engine: e.name, samplesPerSec: median(st.blocks), blocks: st.blocks, lossFirst: st.losses[0]!, lossLast: st.losses.at(-1)! };
      rows.push(row);
      log(
        `  batch ${String(batch).padStart(3)}  ${e.name.padEnd(24)} ${Math.round(row.samplesPerSec).toLocaleString('en-US').padStart(7)} samples/s  [${Math.round(Math.min(...st.blocks)).toLocaleString('en-US')}–${Math.round(Math.max(...st.blocks)).toLocaleString('en-US')}]  loss ${row.lossFirst.toFixed(3)} → ${row.lossLast.toFixed(3)}`,
      );
      await e.dispose();
    }
    optimizer.dispose();
    model.dispose();
  }
  return rows;
}

// Run alone (tsx): not when bundled into bench/run.mjs, which imports runOrtSection.
if (process.argv[1]?.endsWith('ort-step.ts')) {
  const batches = process.argv
    .slice(2)
    .map(Number)
    .filter((b) => b > 0);
  runOrtSection(batches.length ? { batches } : {}).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
