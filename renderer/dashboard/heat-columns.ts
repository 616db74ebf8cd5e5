/**
 * The heatmap's memory: one column of binned values per `stride` statistics records, each the
 * mean of its records; past `maxColumns` neighbouring columns merge and the stride doubles. Like
 * `BoundedSeries`, columns stay uniform in steps, so the heatmap's time axis stays linear.
 */
export class HeatColumns {
  columns: Float32Array[] = [];
  /** The step each column stands for (its records' mean step). */
  steps: number[] = [];
  private stride = 1;
  private pending: Float32Array | null = null;
  private pendingStep = 0;
  private pendingCount = 0;
  /** Value range over everything pushed, for a stable colour scale. */
  min = Infinity;
  max = -Infinity;

  constructor(readonly maxColumns = 480) {}

  get rows(): number {
    return this.columns[0]?.length ?? this.pending?.length ?? 0;
  }

  push(step: number, values: number[]): void {
    if (values.length === 0) return;
    // A different bin count means a different layer shape: start over rather than mix them.
    if (this.rows && values.length !== this.rows) this.clear();
    for (const v of values) {
      if (!Number.isFinite(v)) continue;
      if (v < this.min) this.min = v;
      if (v > this.max) this.max = v;
    }
    this.pending ??= new Float32Array(values.length);
    for (let r = 0; r < values.length; r++) this.pending[r] += values[r]!;
    this.pendingStep += step;
    if (++this.pendingCount < this.stride) return;
    const column = this.pending;
    for (let r = 0; r < column.length; r++) column[r] /= this.pendingCount;
    this.columns.push(column);
    this.steps.push(this.pendingStep / this.pendingCount);
    this.pending = null;
    this.pendingStep = 0;
    this.pendingCount = 0;
    if (this.columns.length > this.maxColumns) this.halve();
  }

  clear(): void {
    this.columns = [];
    this.steps = [];
    this.stride = 1;
    this.pending = null;
    this.pendingStep = 0;
    this.pendingCount = 0;
    this.min = Infinity;
    this.max = -Infinity;
  }

  /**
   * Merges neighbouring columns pairwise and doubles the stride. An odd last column goes back to
   * the pending sum with its weight, to merge with what comes next: every column stays uniform.
   */
  private halve(): void {
    if (this.columns.length % 2) {
      const column = this.columns.pop()!;
      const step = this.steps.pop()!;
      this.pending = column.map((v) => v * this.stride);
      this.pendingStep = step * this.stride;
      this.pendingCount = this.stride;
    }
    const columns: Float32Array[] = [];
    const steps: number[] = [];
    for (let i = 0; i + 1 < this.columns.length; i += 2) {
      const a = this.columns[i]!;
      const b = this.columns[i + 1]!;
      columns.push(a.map((v, r) => (v + b[r]!) / 2));
      steps.push((this.steps[i]! + this.steps[i + 1]!) / 2);
    }
    this.columns = columns;
    this.steps = steps;
    this.stride *= 2;
  }
}
