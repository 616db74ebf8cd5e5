/**
 * Section 5's Conv2D part (run by bench/run.mjs after the seed-model rows; alone:
 * `npx tsx bench/ort-conv-step.ts [batch…]`): the ONNX Runtime training step against the general
 * tfjs path on the 'cpu' backend, where the app trains Conv2D models today (tfjs' wasm backend has
 * no Conv2D/MaxPool gradient kernels). Model: small-cnn.ts with BatchNormalization on the channels
 * (Reshape → Conv2D(4, 3×3, relu) → MaxPooling2D → BN → Flatten → Dense(10, softmax)), SGD lr 0.01,
 * real Fashion-MNIST images. Per engine: warm-up steps, then 5 blocks, the median block's wall clock
 * as samples/s, engines alternating block by block; tfjs 'cpu' gets fewer steps per block (it is slow).
 */
import * as tf from '@tensorflow/tfjs';
import { defaultTrainingSettings } from '../contract';
import { loadFashionMnist } from '../main/services/datasets/fashion-mnist';
import { smallCnn } from '../main/services/training/common/small-cnn';
import { buildModel } from '../main/services/training/worker/build-model';
import { OrtStepEngine } from '../main/services/training/worker/engines/onnxruntime/engine';
import { planLayers } from '../main/services/training/worker/forward';
import { createOptimizer } from '../main/services/training/worker/optimizers';
import { generalStep } from './general-step';
import { heldBatches, runAlone, timeInterleaved, type EngineRow, type TimedEngine } from './interleaved';

export interface OrtConvBenchOptions {
  datasetDir?: string;
  batches?: number[];
  threads?: number[];
  /** Timed steps per ONNX Runtime engine (5 blocks); tfjs 'cpu' times a tenth of them, at least 5. */
  steps?: number;
  log?: (line: string) => void;
}

const LR = 0.01;

export async function runOrtConvSection(options: OrtConvBenchOptions = {}): Promise<{ rows: EngineRow[]; ratios: { batch: number; ortOverCpu: number }[] }> {
  const log = options.log ?? console.log;
  const steps = options.steps ?? Number(process.env.ORT_STEPS ?? 100);
  if (!(await tf.setBackend('cpu'))) throw new Error("the tfjs 'cpu' backend did not start");
  const spec = smallCnn(-1);
  const data = await loadFashionMnist(options.datasetDir ?? '/usr/share/datasets/fashion-mnist', 'train');
  const rows: EngineRow[] = [];
  const ratios: { batch: number; ortOverCpu: number }[] = [];
  for (const batch of options.batches ?? [32]) {
    const slice = heldBatches(data, batch, 8);
    const model = await buildModel(tf, spec, { seed: 1 });
    const start = new Map(model.weights.map((w) => [w.originalName, { shape: [...w.shape] as number[], data: w.read().dataSync().slice() as Float32Array }]));
    const general = {
      plans: planLayers(model, spec),
      optimizer: createOptimizer(tf, defaultTrainingSettings.optimizer, LR),
      trainable: model.trainableWeights.map((w) => w.read() as tf.Variable),
      inputShape: [28, 28],
    };
    const engines: TimedEngine[] = [
      {
        name: "tfjs 'cpu' (general path)",
        step: (s) => generalStep(tf, general, slice(s).x, slice(s).y, batch, s),
        dispose: () => {},
        warmup: 2,
        blockSteps: Math.max(1, Math.round(steps / 50)),
      },
    ];
    for (const threads of options.threads ?? [1, 2]) {
      const ort = await OrtStepEngine.create(spec, defaultTrainingSettings.optimizer, start, { intraOpNumThreads: threads });
      if (!(ort instanceof OrtStepEngine)) throw new Error(`the ONNX Runtime step declined: ${ort.unsupported}`);
      engines.push({
        name: `onnxruntime ${threads} thread${threads > 1 ? 's' : ''}`,
        step: async (s) => (await ort.step(slice(s).x, slice(s).y, batch, LR)).loss,
        dispose: () => ort.dispose(),
        warmup: 10,
        blockSteps: Math.max(1, Math.round(steps / 5)),
      });
    }
    const batchRows = await timeInterleaved(engines, batch, log);
    rows.push(...batchRows);
    const cpu = batchRows[0]!;
    const ort1 = batchRows.find((r) => r.engine === 'onnxruntime 1 thread');
    if (ort1) {
      const ratio = ort1.samplesPerSec / cpu.samplesPerSec;
      ratios.push({ batch, ortOverCpu: ratio });
      log(`  batch ${String(batch).padStart(3)}  Conv2D onnxruntime (1 thread) / tfjs 'cpu': ${ratio.toFixed(1)}× (target ≥ 20×)`);
    }
    general.optimizer.dispose();
    model.dispose();
  }
  return { rows, ratios };
}

runAlone('ort-conv-step.ts', runOrtConvSection);
