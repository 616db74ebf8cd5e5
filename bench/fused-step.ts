/**
 * Micro-benchmark of one training step, general path (loop.ts' trainStep without statistics:
 * forward.ts on the gradient tape + tfjs optimizer, one read-back) against the fused step
 * (main/services/training/fused), seed model 1, SGD, real images, wasm + fast matmul, in this
 * thread. `npx tsx bench/fused-step.ts [batch…]` (default 32 256; FUSED_ONLY=1 skips the general
 * step, STEPS=n timed steps). Prints wall and CPU ms per step (the block with the median CPU time of 5).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { defaultTrainingSettings, type TrainingSettings } from '../contract';
import { seedModel1 } from '../model/presets';
import { loadFashionMnist } from '../main/services/datasets/fashion-mnist';
import { buildModel } from '../main/services/training/worker/build-model';
import { planLayers } from '../main/services/training/worker/forward';
import { installFastWasmMatMul } from '../main/services/training/worker/kernels/wasm-matmul';
import { createOptimizer } from '../main/services/training/worker/optimizers';
import { createFusedStep } from '../main/services/training/worker/fused/fused-step';
import { generalStep } from './general-step';

const batches = process.argv
  .slice(2)
  .map(Number)
  .filter((b) => b > 0);
const sizes = batches.length ? batches : [32, 256];
const STEPS = Number(process.env.STEPS ?? 100);

async function main() {
  if (!(await tf.setBackend('wasm'))) throw new Error('no wasm');
  installFastWasmMatMul(tf);
  const data = await loadFashionMnist('/usr/share/datasets/fashion-mnist', 'train');
  for (const batch of sizes) {
    const xs = new Float32Array(batch * 784 * 8).map((_, i) => data.images[i]! / 255);
    const ys = Int32Array.from(data.labels.subarray(0, batch * 8));
    const settings: TrainingSettings = { ...defaultTrainingSettings, batchSize: batch, backend: 'wasm' };
    const model = await buildModel(tf, seedModel1, { seed: 1 });
    const plans = planLayers(model);
    const optimizer = createOptimizer(tf, settings.optimizer, settings.learningRate);
    const trainable = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const fused = createFusedStep(tf, plans, model, settings, optimizer);
    if ('unsupported' in fused) throw new Error(fused.unsupported);
    const slice = (s: number) => ({ x: xs.subarray((s % 8) * batch * 784, ((s % 8) + 1) * batch * 784), y: ys.subarray((s % 8) * batch, ((s % 8) + 1) * batch) });
    const general = async (s: number) => {
      await generalStep(tf, { plans, optimizer, trainable, inputShape: [28, 28] }, slice(s).x, slice(s).y, batch, s);
    };
    const fusedRun = async (s: number) => {
      const { x, y } = slice(s);
      await fused.step(x, y, batch, { seed: 1, step: s });
    };
    const time = async (f: (s: number) => Promise<void>) => {
      for (let s = 0; s < 10; s++) await f(s);
      const blocks: { wall: number; cpu: number }[] = [];
      for (let b = 0; b < 5; b++) {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        for (let s = 0; s < STEPS / 5; s++) await f(s);
        const wall = (performance.now() - t0) / (STEPS / 5);
        const c = process.cpuUsage(c0);
        blocks.push({ wall, cpu: (c.user + c.system) / 1000 / (STEPS / 5) });
      }
      blocks.sort((a, b) => a.cpu - b.cpu);
      return blocks[2]!;
    };
    const g = process.env.FUSED_ONLY ? { wall: NaN, cpu: NaN } : await time(general);
    const f = await time(fusedRun);
    console.log(
      `batch ${batch}: general ${g.wall.toFixed(2)} ms (cpu ${g.cpu.toFixed(2)}), fused ${f.wall.toFixed(2)} ms (cpu ${f.cpu.toFixed(2)}), ×${(g.cpu / f.cpu).toFixed(2)} cpu`,
    );
    fused.dispose();
    optimizer.dispose();
    model.dispose();
  }
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
