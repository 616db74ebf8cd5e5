/**
 * Which of a run's saved weights to evaluate or export: its final weights (weights/), or, when it
 * has none — a run interrupted by a crash, or one that failed before its end — the best epoch's
 * checkpoint (best/). Callers say which they used.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** The best epoch's checkpoint, inside the run folder. */
export const BEST_CHECKPOINT_DIR = 'best';
export const FINAL_WEIGHTS_DIR = 'weights';

export interface SavedWeights {
  /** The folder holding model.json and weights.bin. */
  dir: string;
  from: 'weights' | 'best';
}

export function findSavedWeights(runDir: string): SavedWeights | null {
  for (const [from, name] of [
    ['weights', FINAL_WEIGHTS_DIR],
    ['best', BEST_CHECKPOINT_DIR],
  ] as const) {
    const dir = join(runDir, name);
    if (existsSync(join(dir, 'model.json'))) return { dir, from };
  }
  return null;
}

/** Said wherever the best epoch's checkpoint stood in for the final weights. */
export const BEST_FALLBACK_NOTE = "the best epoch's checkpoint (best/), as the run saved no final weights (weights/)";
