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
import { forwardWithLogits, meanCrossEntropy, planLayers } from '../main/services/training/worker/forward';
import { createOptimizer } from '../main/services/training/worker/optimizers';

export interface OrtConvBenchRow {
  batch: number;
  engine: string;
  samplesPerSec: number;
  blocks: number[];
  lossFirst: number;
  lossLast: number;
}

export interface OrtConvBenchOptions {
  datasetDir?: string;
  batches?: number[];
  threads?: number[];
  /** Timed steps per ONNX Runtime engine (5 blocks); tfjs 'cpu' times a tenth of them, at least 5. */
  steps?: number;
  log?: (line: string) => void;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const LR = 0.01;

export async function runOrtConvSection(options: OrtConvBenchOptions = {}): Promise<{ rows: OrtConvBenchRow[]; ratios: { batch: number; ortOverCpu: number }[] }> {
  const log = options.log ?? console.log;
  const steps = options.steps ?? Number(process.env.ORT_STEPS ?? 100);
  const blockSteps = { ort: Math.max(1, Math.round(steps / 5)), cpu: Math.max(1, Math.round(steps / 50)) };
  if (!(await tf.setBackend('cpu'))) throw new Error("the tfjs 'cpu' backend did not start");
  const spec = smallCnn(-1);
  const data = await loadFashionMnist(options.datasetDir ?? '/usr/share/datasets/fashion-mnist', 'train');
  const rows: OrtConvBenchRow[] = [];
  const ratios: { batch: number; ortOverCpu: number }[] = [];
  for (const batch of options.batches ?? [32]) {
    const batchesHeld = 8;
    const xs = new Float32Array(batch * 784 * batchesHeld).map((_, i) => data.images[i]! / 255);
    const ys = Int32Array.from(data.labels.subarray(0, batch * batchesHeld));
    const slice = (s: number) => {
      const k = s % batchesHeld;
      return { x: xs.subarray(k * batch * 784, (k + 1) * batch * 784), y: ys.subarray(k * batch, (k + 1) * batch) };
    };
    const model = await buildModel(tf, spec, { seed: 1 });
    const start = new Map(model.weights.map((w) => [w.originalName, { shape: [...w.shape] as number[], data: w.read().dataSync().slice() as Float32Array }]));
    const plans = planLayers(model, spec);
    const optimizer = createOptimizer(tf, defaultTrainingSettings.optimizer, LR);
    const trainable = model.trainableWeights.map((w) => w.read() as tf.Variable);
    // The general path's step as loop.ts' trainStep computes it (no statistics).
    const cpuStep = async (s: number) => {
      const loss = tf.tidy(() => {
        const { x, y } = slice(s);
        const xb = tf.tensor(x, [batch, 28, 28]);
        const yb = tf.tensor1d(y, 'int32');
        const { value, grads } = optimizer.computeGradients(() => {
          const { output, logits } = forwardWithLogits(tf, plans, xb, { mode: 'train', seed: 1, step: s });
          return meanCrossEntropy(tf, output, yb, logits);
        }, trainable);
        optimizer.applyGradients(grads);
        return value;
      });
      const value = (await loss.data())[0]!;
      loss.dispose();
      return value;
    };
    const engines: { name: string; kind: 'ort' | 'cpu'; step: (s: number) => Promise<number>; dispose: () => Promise<void> | void }[] = [
      { name: "tfjs 'cpu' (general path)", kind: 'cpu', step: cpuStep, dispose: () => {} },
    ];
    for (const threads of options.threads ?? [1, 2]) {
      const ort = await OrtStepEngine.create(spec, defaultTrainingSettings.optimizer, start, { intraOpNumThreads: threads });
      if (!(ort instanceof OrtStepEngine)) throw new Error(`the ONNX Runtime step declined: ${ort.unsupported}`);
      engines.push({
        name: `onnxruntime ${threads} thread${threads > 1 ? 's' : ''}`,
        kind: 'ort',
        step: async (s) => (await ort.step(slice(s).x, slice(s).y, batch, LR)).loss,
        dispose: () => ort.dispose(),
      });
    }
    const state = engines.map(() => ({ blocks: [] as number[], losses: [] as number[], next: 0 }));
    for (const [i, e] of engines.entries()) for (let s = 0; s < (e.kind === 'cpu' ? 2 : 10); s++) state[i]!.losses.push(await e.step(state[i]!.next++));
    for (let block = 0; block < 5; block++) {
      for (const [i, e] of engines.entries()) {
        const st = state[i]!;
        const t0 = performance.now();
        for (let s = 0; s < blockSteps[e.kind]; s++) st.losses.push(await e.step(st.next++));
        st.blocks.push((blockSteps[e.kind] * batch) / ((performance.now() - t0) / 1000));
      }
    }
    for (const [i, e] of engines.entries()) {
      const st = state[i]!;
      const row = { batch, engine: e.name, samplesPerSec: median(st.blocks), blocks: st.blocks, lossFirst: st.losses[0]!, lossLast: st.losses.at(-1)! };
      rows.push(row);
      log(
        `  batch ${String(batch).padStart(3)}  ${e.name.padEnd(26)} ${Math.round(row.samplesPerSec).toLocaleString('en-US').padStart(7)} samples/s  [${Math.round(Math.min(...st.blocks)).toLocaleString('en-US')}–${Math.round(Math.max(...st.blocks)).toLocaleString('en-US')}]  loss ${row.lossFirst.toFixed(3)} → ${row.lossLast.toFixed(3)} (${st.losses.length} steps)`,
      );
      await e.dispose();
    }
    const cpu = rows.find((r) => r.batch === batch && r.engine.startsWith('tfjs'))!;
    const ort1 = rows.find((r) => r.batch === batch && r.engine === 'onnxruntime 1 thread');
    if (ort1) {
      ratios.push({ batch, ortOverCpu: ort1.samplesPerSec / cpu.samplesPerSec });
      log(`  batch ${String(batch).padStart(3)}  Conv2D onnxruntime (1 thread) / tfjs 'cpu': ${(ort1.samplesPerSec / cpu.samplesPerSec).toFixed(1)}× (target ≥ 20×)`);
    }
    optimizer.dispose();
    model.dispose();
  }
  return { rows, ratios };
}

// Run alone (tsx): not when bundled into bench/run.mjs, which imports runOrtConvSection.
if (process.argv[1]?.endsWith('ort-conv-step.ts')) {
  const batches = process.argv
    .slice(2)
    .map(Number)
    .filter((b) => b > 0);
  runOrtConvSection(batches.length ? { batches } : {}).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
