/**
 * Undo/redo over whole-spec snapshots (JSON strings: cheap to compare, immune to later mutation).
 * Immutable: every operation returns a new History, so a Svelte `$state.raw` holding it stays reactive.
 *
 * Consecutive edits of the same field (typing "300" is three edits) coalesce into one entry when
 * they share a key and follow each other within COALESCE_MS, so one undo restores the old value.
 */
export interface History {
  readonly entries: readonly string[];
  readonly index: number;
  /** The coalescing key of the last recorded edit (null after undo/redo or a keyless edit). */
  readonly key: string | null;
  readonly at: number;
}

export const HISTORY_LIMIT = 200;
export const COALESCE_MS = 1500;

export function startHistory(snapshot: string): History {
  return { entries: [snapshot], index: 0, key: null, at: 0 };
}

export const current = (h: History): string => h.entries[h.index]!;
export const canUndo = (h: History): boolean => h.index > 0;
export const canRedo = (h: History): boolean => h.index < h.entries.length - 1;

/** Records a new state; drops the redo branch; bounded to `limit` entries (oldest go first). */
export function record(h: History, snapshot: string, key?: string, now = Date.now(), limit = HISTORY_LIMIT): History {
  if (snapshot === current(h)) return h;
  const coalesce = key !== undefined && key === h.key && now - h.at < COALESCE_MS && h.index > 0;
  const entries = h.entries.slice(0, coalesce ? h.index : h.index + 1);
  // Typing a value back to what it was before the edit leaves nothing to undo.
  if (entries[entries.length - 1] !== snapshot) entries.push(snapshot);
  const drop = Math.max(0, entries.length - limit);
  const kept = entries.slice(drop);
  return { entries: kept, index: kept.length - 1, key: key ?? null, at: now };
}

export function undo(h: History): History | null {
  return canUndo(h) ? { ...h, index: h.index - 1, key: null } : null;
}

export function redo(h: History): History | null {
  return canRedo(h) ? { ...h, index: h.index + 1, key: null } : null;
}
