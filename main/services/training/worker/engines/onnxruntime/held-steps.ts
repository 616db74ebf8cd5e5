/**
 * The batches of ONNX Runtime's recent steps, held by the engine (engine.ts): the steps queued for the
 * next several-steps run, and those of the last RECENT_RUNS runs, which a restore replays from their
 * start (the unrolled graph keeps no weights between its steps). A batch the feeder may overwrite is
 * copied into a ring of slots: (RECENT_RUNS + 1)·K of them, as the kept runs hold at most K steps each
 * and fewer than K are queued. A batch the feeder leaves alone at least that long (an in-memory
 * source's ring, pipeline.ts' Batch.keptFor) is held as it is: its samples are copied once, not twice.
 */

/**
 * Runs kept for the restores: one call can settle two runs (a statistics step runs the queued steps,
 * then itself), and a NaN at the first step of the first of them puts back the start of the step
 * before it, in the run before those two.
 */
export const RECENT_RUNS = 3;

/** One step's inputs, as it ran or will run. */
export interface HeldStep {
  x: Float32Array;
  y: Int32Array;
  n: number;
  lr: number;
  /** Each dropout layer's keep mask by input name (fresh arrays from the run's generator, not copied). */
  masks: ReadonlyMap<string, Float32Array>;
}

/** The state (variables and optimizer slots) by name: arrays nothing writes into once made (step outputs, copies). */
export type StepState = Map<string, Float32Array>;

/** A run of consecutive steps: the index of its first (since the engine began keeping), the state before it, its steps. */
export interface RanSteps {
  first: number;
  start: StepState;
  steps: HeldStep[];
}

export class HeldSteps {
  private readonly slots: { x: Float32Array; y: Int32Array }[] = [];
  private next = 0;

  constructor(
    private readonly sampleSize: number,
    stepsPerRun: number,
  ) {
    for (let i = 0; i < (RECENT_RUNS + 1) * stepsPerRun; i++) this.slots.push({ x: new Float32Array(0), y: new Int32Array(0) });
  }

  /** Later batches a held batch must outlive: a caller that leaves its batches alone this long need not have them copied. */
  get slotCount(): number {
    return this.slots.length;
  }

  /**
   * A copy of the batch in the next slot (grown when a batch is larger than the slot); or, with
   * `keptFor` ≥ slotCount (the caller leaves the arrays alone that long), the batch itself.
   */
  hold(xs: Float32Array, ys: Int32Array, n: number, lr: number, masks: ReadonlyMap<string, Float32Array>, keptFor = 0): HeldStep {
    const values = n * this.sampleSize;
    if (keptFor >= this.slots.length) return { x: xs.subarray(0, values), y: ys.subarray(0, n), n, lr, masks };
    const slot = this.slots[this.next]!;
    this.next = (this.next + 1) % this.slots.length;
    if (slot.x.length < values) slot.x = new Float32Array(values);
    if (slot.y.length < n) slot.y = new Int32Array(n);
    slot.x.set(xs.subarray(0, values));
    slot.y.set(ys.subarray(0, n));
    return { x: slot.x.subarray(0, values), y: slot.y.subarray(0, n), n, lr, masks };
  }
}

/** The last RECENT_RUNS runs, for the restores: the run holding step `index` (and where in it), or null when not kept. */
export class RecentRuns {
  private runs: RanSteps[] = [];

  add(run: RanSteps): void {
    this.runs = [...this.runs.slice(1 - RECENT_RUNS), run];
  }

  clear(): void {
    this.runs = [];
  }

  find(index: number): { run: RanSteps; offset: number } | null {
    for (const run of this.runs) {
      const offset = index - run.first;
      if (offset >= 0 && offset < run.steps.length) return { run, offset };
    }
    return null;
  }

  /** The indices kept, for an error message. */
  describe(): string {
    if (this.runs.length === 0) return 'none are';
    const first = this.runs[0]!.first;
    const last = this.runs.at(-1)!;
    return `steps ${first} to ${last.first + last.steps.length - 1} are`;
  }
}
