/**
 * Shared by tests (not used by the app): a real TrainingHost (its worker thread, real tfjs) with a
 * real runs workspace in a temporary folder, every event checked against the contract.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { TrainingEvent } from '../../../../contract';
import { TrainingEventSchema } from '../../../../contract';
import { RunStore } from '../../runs/store';
import { TrainingHost } from './host';

export interface TestHost {
  dataDir: string;
  host: TrainingHost;
  store: RunStore;
  events: TrainingEvent[];
  /** The run's end event (finished, failed or stopped). */
  ended(runId: string, timeoutMs?: number): Promise<TrainingEvent>;
  /** The detail of the run's 'training' phase: which step trains it. */
  stepKind(runId: string): string;
  dispose(): Promise<void>;
}

export function testHost(backends: string[]): TestHost {
  const dataDir = mkdtempSync(join(tmpdir(), 'layerbench-test-host-'));
  const store = new RunStore(dataDir);
  const events: TrainingEvent[] = [];
  const host = new TrainingHost({
    dataDir,
    backends,
    runs: store,
    onEvent: (event) => {
      TrainingEventSchema.parse(event);
      events.push(event);
    },
  });
  const isEnd = (e: TrainingEvent) => e.type === 'finished' || e.type === 'failed' || e.type === 'stopped';
  return {
    dataDir,
    host,
    store,
    events,
    async ended(runId, timeoutMs = 120_000) {
      for (const deadline = Date.now() + timeoutMs; Date.now() < deadline;) {
        const end = events.find((e) => e.runId === runId && isEnd(e));
        if (end) return end;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      throw new Error(`run ${runId} did not end`);
    },
    stepKind(runId) {
      const phase = events.find((e) => e.runId === runId && e.type === 'phase' && e.phase === 'training');
      return phase?.type === 'phase' ? (phase.detail ?? '') : '';
    },
    async dispose() {
      await host.dispose();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The variable names and values of a run's saved weights (weights/model.json's manifest, weights.bin). */
export function savedWeights(runDir: string, folder = 'weights'): Map<string, Float32Array> {
  const modelJson = JSON.parse(readFileSync(join(runDir, folder, 'model.json'), 'utf8')) as { weightsManifest: { weights: { name: string; shape: number[] }[] }[] };
  const bin = readFileSync(join(runDir, folder, 'weights.bin'));
  const weights = new Map<string, Float32Array>();
  let offset = 0;
  for (const w of modelJson.weightsManifest[0]!.weights) {
    const size = w.shape.reduce((a, b) => a * b, 1);
    weights.set(w.name, new Float32Array(bin.buffer.slice(bin.byteOffset + offset, bin.byteOffset + offset + size * 4)));
    offset += size * 4;
  }
  return weights;
}

/** ‖a − b‖ / ‖b‖, the worst variable (the fused step test's measure). */
export function relativeError(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  let worst = 0;
  for (const [name, y] of b) {
    const x = a.get(name)!;
    let diff = 0;
    let norm = 0;
    for (let i = 0; i < y.length; i++) {
      diff += (x[i]! - y[i]!) ** 2;
      norm += y[i]! ** 2;
    }
    worst = Math.max(worst, Math.sqrt(diff / Math.max(norm, 1e-30)));
  }
  return worst;
}

/** Every number in `actual` within `tolerance` (relative, absolute below 1) of the same place in `expected`; everything else equal. */
export function expectClose(actual: unknown, expected: unknown, tolerance: number, path = ''): void {
  if (typeof expected === 'number') {
    expect(typeof actual, path).toBe('number');
    expect(Math.abs((actual as number) - expected), `${path}: ${String(actual)} against ${expected}`).toBeLessThanOrEqual(tolerance * Math.max(1, Math.abs(expected)));
  } else if (expected !== null && typeof expected === 'object') {
    expect(Object.keys(actual as object).sort(), path).toEqual(Object.keys(expected).sort());
    for (const [key, value] of Object.entries(expected)) expectClose((actual as Record<string, unknown>)[key], value, tolerance, `${path}.${key}`);
  } else {
    expect(actual, path).toEqual(expected);
  }
}
