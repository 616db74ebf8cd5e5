/**
 * Hand-written structural checks for the two hot 'training' events, 'batches' (up to 20 a second)
 * and 'stats' (per BN layer four vector summaries, the chosen features and 128 heatmap bins):
 * jitless zod (renderer/zod-jitless.ts, preload/jitless.ts) walked every field of every record through its generic
 * interpreter, the largest share of the WebSocket handler's time.
 *
 * A check returns true only for payloads that TrainingEventSchema accepts (same types, integer and
 * minimum constraints, lengths); anything else, including events of other types, goes to zod,
 * which still decides and reports the issues. So the contract's meaning is unchanged: the fast
 * path never accepts what zod would reject (fast-events.test.ts checks that against zod on valid
 * payloads and on each field broken in turn), it only skips zod's work for what zod would accept.
 * Numbers must be finite, as zod's z.number() requires (a WebSocket payload comes from JSON.parse;
 * an IPC payload is structured-cloned and could hold NaN). Unknown keys pass through where zod would
 * strip them; nothing reads them. `checkEvent` is the one entry both hosts' renderer side use: the
 * WebSocket client and the preload.
 */
import { events, isEventName, type EventName, type EventPayload } from './api';
import type { TrainingEvent } from './training';
import { formatIssues } from './wire';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const int = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const count = (v: unknown): v is number => int(v) && v >= 0;
const optNum = (v: unknown) => v === undefined || num(v);
const RUN_ID = /^[A-Za-z0-9._-]{1,80}$/;

function numbers(v: unknown): boolean {
  if (!Array.isArray(v)) return false;
  for (let i = 0; i < v.length; i++) if (!num(v[i])) return false;
  return true;
}

function ints(v: unknown): boolean {
  if (!Array.isArray(v)) return false;
  for (let i = 0; i < v.length; i++) if (!int(v[i])) return false;
  return true;
}

function summary(v: unknown): boolean {
  return isObj(v) && num(v.mean) && num(v.min) && num(v.max) && num(v.p5) && num(v.p50) && num(v.p95);
}

/** A BN record's four series: summarized over all features, and listed for the chosen ones. */
const BN_SERIES = ['moving_mean', 'moving_variance', 'batch_mean', 'batch_variance'] as const;

function bnStats(v: unknown): boolean {
  if (!isObj(v)) return false;
  const c = v.chosen;
  return (
    typeof v.layer === 'string' &&
    int(v.features) &&
    num(v.momentum) &&
    BN_SERIES.every((key) => summary(v[key])) &&
    isObj(c) &&
    ints(c.indices) &&
    BN_SERIES.every((key) => numbers(c[key])) &&
    numbers(v.moving_mean_bins) &&
    (v.moving_mean_bins as unknown[]).length <= 128
  );
}

function layerStats(v: unknown): boolean {
  return (
    isObj(v) &&
    typeof v.layer === 'string' &&
    optNum(v.grad_norm) &&
    optNum(v.weight_norm) &&
    optNum(v.update_ratio) &&
    (v.activation === undefined || typeof v.activation === 'string') &&
    optNum(v.act_mean) &&
    optNum(v.act_std) &&
    optNum(v.saturation)
  );
}

function statsRecord(v: unknown): boolean {
  if (!isObj(v) || !count(v.epoch) || !count(v.step) || !Array.isArray(v.bn) || !Array.isArray(v.layers)) return false;
  for (const s of v.bn) if (!bnStats(s)) return false;
  for (const s of v.layers) if (!layerStats(s)) return false;
  return true;
}

function batchRecord(v: unknown): boolean {
  return isObj(v) && count(v.epoch) && count(v.batch) && count(v.step) && num(v.loss) && num(v.acc);
}

function nonEmptyOf(v: unknown, item: (x: unknown) => boolean): boolean {
  if (!Array.isArray(v) || v.length === 0) return false;
  for (let i = 0; i < v.length; i++) if (!item(v[i])) return false;
  return true;
}

/**
 * The payload as a TrainingEvent when it is a 'batches' or 'stats' event that the contract
 * accepts; null otherwise (another type, or not valid: let zod decide and explain).
 */
export function fastTrainingEvent(payload: unknown): TrainingEvent | null {
  if (!isObj(payload) || typeof payload.runId !== 'string' || !RUN_ID.test(payload.runId)) return null;
  if (payload.type === 'batches') {
    const ok = nonEmptyOf(payload.batches, batchRecord) && int(payload.completedBatches) && int(payload.totalBatches) && num(payload.samplesPerSec);
    return ok ? (payload as unknown as TrainingEvent) : null;
  }
  if (payload.type === 'stats') return nonEmptyOf(payload.records, statsRecord) ? (payload as unknown as TrainingEvent) : null;
  return null;
}

export type EventCheck<E extends EventName> = { ok: true; payload: EventPayload<E> } | { ok: false; issues: string[] };

/**
 * An event from the host, checked against the contract: the fast check first for the hot training
 * events, then zod, which decides everything else and says what it rejects. An unknown name is
 * refused too (the caller's listener table is keyed by the contract's names).
 */
export function checkEvent(name: unknown, payload: unknown): EventCheck<EventName> {
  if (!isEventName(name)) return { ok: false, issues: [`unknown event name ${JSON.stringify(name)}`] };
  const fast = name === 'training' ? fastTrainingEvent(payload) : null;
  if (fast) return { ok: true, payload: fast };
  const parsed = events[name].safeParse(payload);
  return parsed.success ? { ok: true, payload: parsed.data } : { ok: false, issues: formatIssues(parsed.error) };
}
