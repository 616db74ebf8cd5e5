/**
 * The statistics stream of one run, per layer, bounded like the metrics: what the BN panels and
 * the gradient-flow panel draw. Values arrive every K batches; however long the run, each BN
 * series keeps ≤ 600 points (its chart is ~300 px wide), each layer series ≤ 1,500, and each
 * heatmap ≤ 480 columns.
 */
import type { BnStats, LayerStats, StatsRecord, VectorSummary } from '../../contract';
import { BoundedSeries } from './bounded-series';
import { HeatColumns } from './heat-columns';

/** BN mini-charts: two points per pixel is all a 300 px chart can show. */
const MAX = 600;
const LAYER_MAX = 1500;

/** p5, median and p95 of a per-feature vector over time: a band and its centre line. */
export class Band {
  p5 = new BoundedSeries(MAX);
  p50 = new BoundedSeries(MAX);
  p95 = new BoundedSeries(MAX);
  mean = new BoundedSeries(MAX);
  push(x: number, s: VectorSummary): void {
    this.p5.push(x, s.p5);
    this.p50.push(x, s.p50);
    this.p95.push(x, s.p95);
    this.mean.push(x, s.mean);
  }
}

/** One chosen feature: its moving statistics and the batch statistics they track. */
export class FeatureTrack {
  movingMean = new BoundedSeries(MAX);
  batchMean = new BoundedSeries(MAX);
  movingVariance = new BoundedSeries(MAX);
  batchVariance = new BoundedSeries(MAX);
  constructor(readonly index: number) {}
}

export class BnSeries {
  records = 0;
  latest: BnStats | null = null;
  movingMean = new Band();
  movingVariance = new Band();
  batchMean = new Band();
  batchVariance = new Band();
  features: FeatureTrack[] = [];
  heat = new HeatColumns(480);
  constructor(readonly layer: string) {}

  push(step: number, s: BnStats): void {
    const x = step + 1;
    this.records++;
    this.latest = s;
    this.movingMean.push(x, s.moving_mean);
    this.movingVariance.push(x, s.moving_variance);
    this.batchMean.push(x, s.batch_mean);
    this.batchVariance.push(x, s.batch_variance);
    s.chosen.indices.forEach((index, j) => {
      let track = this.features.find((f) => f.index === index);
      if (!track) this.features.push((track = new FeatureTrack(index)));
      track.movingMean.push(x, s.chosen.moving_mean[j] ?? Number.NaN);
      track.batchMean.push(x, s.chosen.batch_mean[j] ?? Number.NaN);
      track.movingVariance.push(x, s.chosen.moving_variance[j] ?? Number.NaN);
      track.batchVariance.push(x, s.chosen.batch_variance[j] ?? Number.NaN);
    });
    this.heat.push(x, s.moving_mean_bins);
  }
}

export class LayerSeries {
  latest: LayerStats | null = null;
  gradNorm = new BoundedSeries(LAYER_MAX);
  weightNorm = new BoundedSeries(LAYER_MAX);
  updateRatio = new BoundedSeries(LAYER_MAX);
  actMean = new BoundedSeries(LAYER_MAX);
  actStd = new BoundedSeries(LAYER_MAX);
  saturation = new BoundedSeries(LAYER_MAX);
  constructor(readonly layer: string) {}

  push(step: number, s: LayerStats): void {
    const x = step + 1;
    this.latest = s;
    const put = (series: BoundedSeries, v: number | undefined) => v !== undefined && series.push(x, v);
    put(this.gradNorm, s.grad_norm);
    put(this.weightNorm, s.weight_norm);
    put(this.updateRatio, s.update_ratio);
    put(this.actMean, s.act_mean);
    put(this.actStd, s.act_std);
    put(this.saturation, s.saturation);
  }
}

/** How often panels hear of new statistics: text, tables and charts re-render on `version`. */
const PUBLISH_MS = 500;
/**
 * The redraw budget of every statistics chart and heatmap (LineChart/Heatmap `minInterval`): a
 * little under the publish interval, so each publish draws once, twice a second.
 */
export const STATS_REDRAW_MS = 450;

/** Appends one layer's statistics to its series, made on the layer's first record; true when it was made. */
function appendToSeries<T extends { layer: string }, S extends { push(step: number, s: T): void }>(
  series: Map<string, S>,
  step: number,
  s: T,
  make: (layer: string) => S,
): boolean {
  const found = series.get(s.layer);
  if (found) {
    found.push(step, s);
    return false;
  }
  const made = make(s.layer);
  series.set(s.layer, made);
  made.push(step, s);
  return true;
}

export class StatsStore {
  /**
   * The panels' cue to re-render, bumped at most every 500 ms (trailing, so the last records always
   * show; on multiples of 500 ms of `performance.now()`). Statistics are meant to be read a few times a second; re-rendering every panel's text
   * and tables at the full event rate cost more main thread than all the charts together.
   */
  version = $state(0);
  /** Layer names in the order they first appeared (model order). */
  bnLayers = $state<string[]>([]);
  layerNames = $state<string[]>([]);
  records = 0;
  lastStep = -1;
  bn = new Map<string, BnSeries>();
  layers = new Map<string, LayerSeries>();
  private timer: ReturnType<typeof setTimeout> | null = null;

  /**
   * At the next multiple of PUBLISH_MS on the page's clock (≤ 500 ms away), where the Train view's
   * progress line (every 250 ms, run-state) publishes too: one layout and repaint for both.
   */
  private publish(): void {
    this.timer ??= setTimeout(
      () => {
        this.timer = null;
        this.version++;
      },
      PUBLISH_MS - (performance.now() % PUBLISH_MS),
    );
  }

  push(records: StatsRecord[]): void {
    if (!records.length) return;
    let newBn = false;
    let newLayer = false;
    for (const r of records) {
      for (const s of r.bn) newBn = appendToSeries(this.bn, r.step, s, (layer) => new BnSeries(layer)) || newBn;
      for (const s of r.layers) newLayer = appendToSeries(this.layers, r.step, s, (layer) => new LayerSeries(layer)) || newLayer;
    }
    if (newBn) this.bnLayers = [...this.bn.keys()];
    if (newLayer) this.layerNames = [...this.layers.keys()];
    this.records += records.length;
    this.lastStep = records[records.length - 1]!.step;
    this.publish();
  }

  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.bn.clear();
    this.layers.clear();
    this.bnLayers = [];
    this.layerNames = [];
    this.records = 0;
    this.lastStep = -1;
    this.version++;
  }
}
