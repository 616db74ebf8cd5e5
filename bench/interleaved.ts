/**
 * What section 5's engine comparisons share (bench/ort-step.ts, bench/ort-conv-step.ts): a few real
 * batches held in memory, engines timed block by block in turn so that load drifts hit them all,
 * the median block as samples/s, and one log line per engine.
 */
import type { FashionMnistData } from '../main/services/datasets/fashion-mnist';

export interface TimedEngine {
  name: string;
  /** One training step on step `s`'s batch; returns its loss. */
  step: (s: number) => Promise<number>;
  dispose: () => Promise<void> | void;
  /** Untimed steps first, then 5 timed blocks of `blockSteps` steps. */
  warmup: number;
  blockSteps: number;
}

export interface EngineRow {
  batch: number;
  engine: string;
  samplesPerSec: number;
  blocks: number[];
  lossFirst: number;
  lossLast: number;
}

/** `count` batches of `batch` real training images (scaled to [0, 1]); step `s` gets batch `s mod count`. */
export function heldBatches(data: FashionMnistData, batch: number, count: number): (s: number) => { x: Float32Array; y: Int32Array } {
  const xs = new Float32Array(batch * 784 * count).map((_, i) => data.images[i]! / 255);
  const ys = Int32Array.from(data.labels.subarray(0, batch * count));
  return (s) => {
    const k = s % count;
    return { x: xs.subarray(k * batch * 784, (k + 1) * batch * 784), y: ys.subarray(k * batch, (k + 1) * batch) };
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const count = (x: number) => Math.round(x).toLocaleString('en-US');

/** Times the engines in turn, block by block, logs a line per engine and disposes it. */
export async function timeInterleaved(engines: TimedEngine[], batch: number, log: (line: string) => void): Promise<EngineRow[]> {
  const state = engines.map(() => ({ blocks: [] as number[], losses: [] as number[], next: 0 }));
  for (const [i, e] of engines.entries()) for (let s = 0; s < e.warmup; s++) state[i]!.losses.push(await e.step(state[i]!.next++));
  for (let block = 0; block < 5; block++) {
    for (const [i, e] of engines.entries()) {
      const st = state[i]!;
      const t0 = performance.now();
      for (let s = 0; s < e.blockSteps; s++) st.losses.push(await e.step(st.next++));
      st.blocks.push((e.blockSteps * batch) / ((performance.now() - t0) / 1000));
    }
  }
  const rows: EngineRow[] = [];
  for (const [i, e] of engines.entries()) {
    const st = state[i]!;
    const row = { batch, engine: e.name, samplesPerSec: median(st.blocks), blocks: st.blocks, lossFirst: st.losses[0]!, lossLast: st.losses.at(-1)! };
    rows.push(row);
    log(
      `  batch ${String(batch).padStart(3)}  ${e.name.padEnd(26)} ${count(row.samplesPerSec).padStart(7)} samples/s  [${count(Math.min(...st.blocks))}–${count(Math.max(...st.blocks))}]  loss ${row.lossFirst.toFixed(3)} → ${row.lossLast.toFixed(3)} (${st.losses.length} steps)`,
    );
    await e.dispose();
  }
  return rows;
}

/** Runs a section when its file is run alone with tsx (`npx tsx bench/<file> [batch…]`), not when bundled into bench/run.mjs. */
export function runAlone(file: string, section: (options: { batches?: number[] }) => Promise<unknown>): void {
  if (!process.argv[1]?.endsWith(file)) return;
  const batches = process.argv
    .slice(2)
    .map(Number)
    .filter((b) => b > 0);
  section(batches.length ? { batches } : {}).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
