/**
 * Series that stay small however long a run is. A 50-epoch run on all of Fashion-MNIST has ~94k
 * batches; drawing or even holding all of them would slow the renderer down epoch after epoch.
 *
 * The series is always uniform in x: it keeps one point per `stride` raw points, and when it
 * passes `max` points it keeps every other one and doubles the stride. Uniform matters because
 * chart.js decimates by index: a raw recent tail next to thinned history would crowd into a
 * solid block. Kept points are raw samples (not means), so a noisy batch loss still looks as
 * noisy after 50 epochs as after one. Thinning is O(max), paid once every max/2 kept points.
 */
export interface Point {
  x: number;
  y: number;
}

export class BoundedSeries {
  private kept: Point[] = [];
  private stride = 1;
  /** Raw points since the last kept one. */
  private since = 0;
  private latest: Point | null = null;
  /** Raw points ever pushed (not what is held). */
  total = 0;

  constructor(readonly max = 5000) {}

  push(x: number, y: number): void {
    this.total++;
    this.latest = { x, y };
    if (++this.since < this.stride) return;
    this.since = 0;
    this.kept.push(this.latest);
    if (this.kept.length > this.max) {
      // Keep the newest and every other one back from it: the next kept point then falls exactly
      // one new stride later, and the spacing stays uniform.
      const last = this.kept.length - 1;
      this.kept = this.kept.filter((_, i) => (last - i) % 2 === 0);
      this.stride *= 2;
    }
  }

  /** What to draw: the kept points, and the newest raw point so the line reaches "now". */
  get points(): Point[] {
    return this.since > 0 && this.latest ? [...this.kept, this.latest] : this.kept;
  }

  last(): Point | undefined {
    return this.latest ?? undefined;
  }

  clear(): void {
    this.kept = [];
    this.stride = 1;
    this.since = 0;
    this.latest = null;
    this.total = 0;
  }
}
