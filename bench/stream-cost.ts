/**
 * Where the streaming and persistence cost of Layerbench's full path goes (issue #8's a/a0), in this
 * thread: loop.ts' runTraining on seed model 1 (wasm + fast matmul, SGD, Fashion-MNIST subset), with a
 * `post` that timestamps every message. Reports the CPU and wall time of the steps without statistics
 * (fused), of the statistics steps, how many of each, and of the epoch-end work (checkpoint save)
 * between an epoch's last batch and the next epoch's first. Then the host-side cost per message:
 * FromWorkerSchema validation of the recorded messages and the run store's appends.
 *
 *   npx tsx bench/stream-cost.ts            # batch 32, 4000 images, 4 epochs, statistics at the automatic rate
 *   BATCH=256 SUBSET=8000 EPOCHS=3 STATS_EVERY=100000 npx tsx bench/stream-cost.ts
 *   CHECKPOINTS=0 …                         # without the best epoch's checkpoints
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { defaultTrainingSettings, type StartTraining } from '../contract';
import { seedModel1 } from '../model/presets';
import { openDatasetDir } from '../main/services/datasets/open';
import { installFastWasmMatMul } from '../main/services/training/worker/kernels/wasm-matmul';
import { RunControl, runTraining } from '../main/services/training/worker/loop';
import { FromWorkerSchema, type FromWorker } from '../main/services/training/common/protocol';
import { RunStore } from '../main/services/runs/store';

const env = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
const BATCH = env('BATCH', 32);
const SUBSET = env('SUBSET', 4000);
const EPOCHS = env('EPOCHS', 4);
const STATS_EVERY = process.env.STATS_EVERY ? Number(process.env.STATS_EVERY) : null;

const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

async function main() {
  if (!(await tf.setBackend('wasm'))) throw new Error('no wasm backend');
  installFastWasmMatMul(tf);
  const dataDir = mkdtempSync(join(tmpdir(), 'layerbench-stream-cost-'));
  const dataset = await openDatasetDir('/usr/share/datasets/fashion-mnist');
  const request: StartTraining = {
    spec: seedModel1,
    settings: { ...defaultTrainingSettings, epochs: EPOCHS, batchSize: BATCH, trainSubset: SUBSET, validationSplit: 0, seed: 42, backend: 'wasm', statsEvery: STATS_EVERY },
  };
  const log: { message: FromWorker; cpu: number; t: number }[] = [];
  const runId = 'run-stream-cost';
  try {
    await runTraining(tf, {
      runId,
      request,
      weightsDir: join(dataDir, 'weights'),
      checkpointDir: process.env.CHECKPOINTS === '0' ? null : join(dataDir, 'best'),
      backend: 'wasm',
      control: new RunControl(),
      datasetDir: '/usr/share/datasets/fashion-mnist',
      loadData: () => Promise.resolve(dataset),
      post: (message) => log.push({ message, cpu: cpuMs(), t: performance.now() }),
    });
    const end = log.at(-1)!.message;
    if (end.type !== 'finished') throw new Error(`run ended ${end.type}: ${'error' in end ? end.error : ''}`);

    // Step costs, epochs after the first: from one batch message to the next (the step, its post and the yield).
    const fused: { cpu: number; t: number }[] = [];
    const stats: { cpu: number; t: number }[] = [];
    const epochEnd: { cpu: number; t: number }[] = [];
    let prev: { cpu: number; t: number; epoch: number } | null = null;
    for (let i = 0; i < log.length; i++) {
      const { message, cpu, t } = log[i]!;
      if (message.type !== 'batch') continue;
      const withStats = log[i + 1]?.message.type === 'stats';
      if (prev && message.record.epoch >= 1) {
        const d = { cpu: cpu - prev.cpu, t: t - prev.t };
        if (message.record.epoch !== prev.epoch) epochEnd.push(d);
        else (withStats ? stats : fused).push(d);
      }
      prev = { cpu: withStats ? log[i + 1]!.cpu : cpu, t: withStats ? log[i + 1]!.t : t, epoch: message.record.epoch };
    }
    const mean = (xs: { cpu: number; t: number }[]) => ({
      cpu: xs.length ? xs.reduce((s, x) => s + x.cpu, 0) / xs.length : NaN,
      t: xs.length ? xs.reduce((s, x) => s + x.t, 0) / xs.length : NaN,
    });
    const median = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]! : NaN);
    const f = mean(fused);
    const s = mean(stats);
    const e = mean(epochEnd);
    const steps = fused.length + stats.length;
    const total = fused.length * f.cpu + stats.length * s.cpu + epochEnd.length * e.cpu;
    console.log(`batch ${BATCH}, ${SUBSET} images, epochs 2–${EPOCHS} (statsEvery ${STATS_EVERY ?? 'auto'}):`);
    console.log(`  fused steps: ${fused.length}, ${f.cpu.toFixed(2)} CPU-ms (median ${median(fused.map((x) => x.cpu)).toFixed(2)}), ${f.t.toFixed(2)} ms wall`);
    console.log(
      `  statistics steps: ${stats.length}, ${s.cpu.toFixed(2)} CPU-ms (median ${median(stats.map((x) => x.cpu)).toFixed(2)}), ${s.t.toFixed(2)} ms wall; ${(stats.length / (steps / (1000 / f.t))).toFixed(1)} a second at the fused rate`,
    );
    console.log(`  epoch boundary (validation, epoch record, checkpoint, first step): ${e.cpu.toFixed(1)} CPU-ms, ${e.t.toFixed(1)} ms wall, ${epochEnd.length}×`);
    console.log(
      `  shares of the timed CPU: statistics steps beyond a fused step ${((100 * stats.length * (s.cpu - f.cpu)) / total).toFixed(1)}%, epoch boundaries beyond a fused step ${((100 * epochEnd.length * (e.cpu - f.cpu)) / total).toFixed(1)}%`,
    );

    // Host side: validating each recorded message and appending it to a run folder, repeated.
    const messages = log.map((l) => l.message);
    const batchMessages = messages.filter((m) => m.type === 'batch');
    const statsMessages = messages.filter((m) => m.type === 'stats');
    const timeIt = (n: number, f: () => void) => {
      f();
      const c0 = cpuMs();
      for (let i = 0; i < n; i++) f();
      return (cpuMs() - c0) / n;
    };
    const parseBatch = timeIt(20, () => batchMessages.forEach((m) => FromWorkerSchema.parse(m))) / batchMessages.length;
    const parseStats = timeIt(20, () => statsMessages.forEach((m) => FromWorkerSchema.parse(m))) / statsMessages.length;
    const store = new RunStore(dataDir);
    const writer = await store.create({ runId, spec: request.spec, settings: request.settings, backend: 'wasm' });
    const c0 = cpuMs();
    for (let r = 0; r < 20; r++) for (const m of batchMessages) writer.appendBatch(m.record);
    const appendBatch = (cpuMs() - c0) / 20 / batchMessages.length;
    const c1 = cpuMs();
    for (let r = 0; r < 20; r++) for (const m of statsMessages) writer.appendStats(m.record);
    const appendStats = (cpuMs() - c1) / 20 / statsMessages.length;
    await writer.setStatus('finished');
    console.log(
      `  host: FromWorkerSchema.parse ${(parseBatch * 1000).toFixed(1)} µs a batch message, ${(parseStats * 1000).toFixed(0)} µs a stats message; appendBatch ${(appendBatch * 1000).toFixed(1)} µs, appendStats ${(appendStats * 1000).toFixed(0)} µs (CPU, main thread)`,
    );
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
