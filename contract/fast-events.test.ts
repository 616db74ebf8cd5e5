import { describe, expect, it } from 'vitest';
import { TrainingEventSchema } from './training';
import { checkEvent, fastTrainingEvent } from './fast-events';

const summary = (m: number) => ({ mean: m, min: m - 1, max: m + 1, p5: m - 0.9, p50: m, p95: m + 0.9 });

const batches = () => ({
  type: 'batches',
  runId: 'run-1.a_b',
  batches: [
    { epoch: 0, batch: 3, step: 3, loss: 2.1, acc: 0.12 },
    { epoch: 0, batch: 4, step: 4, loss: 2.0, acc: 0.15 },
  ],
  completedBatches: 5,
  totalBatches: 1250,
  samplesPerSec: 3021.5,
});

const stats = () => ({
  type: 'stats',
  runId: 'run-1',
  records: [
    {
      epoch: 1,
      step: 68,
      bn: [
        {
          layer: 'batch_normalization',
          features: 784,
          momentum: 0.99,
          moving_mean: summary(0.1),
          moving_variance: summary(1),
          batch_mean: summary(0.2),
          batch_variance: summary(0.9),
          chosen: { indices: [0, 1, 2, 3], moving_mean: [0.1, 0.2, 0.3, 0.4], moving_variance: [1, 1, 1, 1], batch_mean: [0, 0, 0, 0], batch_variance: [1, 1, 1, 1] },
          moving_mean_bins: Array.from({ length: 128 }, (_, i) => Math.sin(i)),
        },
      ],
      layers: [{ layer: 'dense', grad_norm: 1.5, weight_norm: 20, update_ratio: 1e-3, activation: 'elu', act_mean: 0.2, act_std: 1, saturation: 0.1 }, { layer: 'dense_2' }],
    },
  ],
});

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every path to a value inside `v` (objects' keys and arrays' indices). */
function paths(v: Json, at: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = at.length ? [at] : [];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...at, i])));
  else if (v && typeof v === 'object') for (const k of Object.keys(v)) out.push(...paths(v[k]!, [...at, k]));
  return out;
}

const BREAKS: Array<(old: unknown) => unknown> = [
  () => undefined,
  () => null,
  () => 'x',
  () => -1,
  () => 1.5,
  () => 2 ** 60,
  () => [],
  () => ({}),
  () => true,
  (old) => (typeof old === 'string' ? `${old} with spaces!` : old),
  (old) => (Array.isArray(old) ? [...old, ...old, ...old] : old),
];

function withBroken(event: Json, path: (string | number)[], make: (old: unknown) => unknown): unknown {
  const copy = structuredClone(event) as Record<string | number, unknown>;
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  const value = make(node[last]);
  if (value === undefined) delete node[last];
  else node[last] = value;
  return copy;
}

describe('fastTrainingEvent', () => {
  it('accepts what the contract accepts, unchanged', () => {
    for (const event of [batches(), stats()]) {
      const zod = TrainingEventSchema.safeParse(event);
      expect(zod.success).toBe(true);
      expect(fastTrainingEvent(event)).toBe(event);
      expect(fastTrainingEvent(event)).toEqual(zod.data);
    }
  });

  it('never accepts what the contract rejects: every field broken in turn', () => {
    let rejected = 0;
    for (const event of [batches(), stats()] as Json[]) {
      for (const path of paths(event)) {
        for (const make of BREAKS) {
          const broken = withBroken(event, path, make);
          const zodOk = TrainingEventSchema.safeParse(broken).success;
          const fast = fastTrainingEvent(broken);
          if (!zodOk) {
            rejected++;
            expect(fast, `${JSON.stringify(path)} → ${JSON.stringify(make(undefined))}`).toBeNull();
          }
        }
      }
    }
    expect(rejected).toBeGreaterThan(500);
  });

  it('leaves other event types and empty lists to zod', () => {
    expect(fastTrainingEvent({ type: 'finished', runId: 'run-1' })).toBeNull();
    expect(fastTrainingEvent({ ...batches(), batches: [] })).toBeNull();
    expect(fastTrainingEvent({ ...stats(), records: [] })).toBeNull();
    expect(fastTrainingEvent({ ...batches(), runId: 'no spaces allowed' })).toBeNull();
    expect(fastTrainingEvent(null)).toBeNull();
  });
});

describe('checkEvent, what both renderer bridges run on every event', () => {
  it('passes valid events (the fast path for hot ones, zod for the rest), and says why it drops the others', () => {
    expect(checkEvent('training', batches())).toEqual({ ok: true, payload: batches() });
    expect(checkEvent('training', { type: 'finished', runId: 'run-1' })).toEqual({ ok: true, payload: { type: 'finished', runId: 'run-1' } });
    expect(checkEvent('training', { type: 'failed', runId: 'run-1', error: 'x.bin: size mismatch', code: 'invalid-input', name: 'DatasetError' })).toMatchObject({ ok: true });
    const broken = checkEvent('training', { ...batches(), completedBatches: 'five' });
    expect(broken.ok).toBe(false);
    if (!broken.ok) expect(broken.issues.join('; ')).toMatch(/completedBatches/);
    expect(checkEvent('training', { type: 'failed', runId: 'run-1', error: 'x', code: 'no-such-code' }).ok).toBe(false);
    expect(checkEvent('no.such.event', {})).toMatchObject({ ok: false, issues: [expect.stringMatching(/unknown event name/)] });
  });
});
