/**
 * Chart.js set-up shared by every chart: registration (once), colours read from the CSS variables
 * in styles.css so charts follow light/dark, a categorical palette, and a small plugin that draws
 * reference lines (gradient thresholds, the step where a run diverged).
 */
import {
  Chart,
  Decimation,
  Filler,
  Legend,
  LineController,
  LineElement,
  LinearScale,
  LogarithmicScale,
  PointElement,
  ScatterController,
  Tooltip,
  type ChartType,
  type Plugin,
} from 'chart.js';
import zoomPlugin from 'chartjs-plugin-zoom';
import type { Point } from './bounded-series';

/** A horizontal (y) or vertical (x) reference line. */
export interface RefLine {
  axis: 'x' | 'y';
  value: number;
  color: string;
  label?: string;
  /** Tint the region beyond the line (a danger zone). */
  shade?: 'above' | 'below';
}

declare module 'chart.js' {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- an augmentation repeats Chart.js' type parameter
  interface PluginOptionsByType<TType extends ChartType> {
    refLines?: { lines: RefLine[] };
  }
}

/** One line on a chart. `points` is read at each redraw: bounded series replace their arrays when they thin. */
export interface LineSeries {
  label: string;
  color: string;
  points: () => Point[];
  width?: number;
  dash?: number[];
  /** Chart.js fill target, e.g. '+1' to shade down to the next series (a p5–p95 band). */
  fill?: string | false;
  /** Band edges and other helpers stay out of the legend. */
  legend?: boolean;
  /** Band edges stay out of the tooltip too (a band's numbers are in the table). */
  tooltip?: boolean;
  pointRadius?: number;
  showLine?: boolean;
  /** The right-hand axis (accuracy next to loss). */
  right?: boolean;
}

/** Tableau 10, slightly muted: distinguishable in both themes. */
export const palette = ['#4e79a7', '#f28e2b', '#e15759', '#59a14f', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#8f9aa7'];
export const color = (i: number): string => palette[i % palette.length]!;

export function cssVar(name: string, fallback: string): string {
  if (typeof document === 'undefined') return fallback;
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

export interface ThemeColors {
  fg: string;
  muted: string;
  line: string;
  panel: string;
  danger: string;
  warn: string;
}

// getComputedStyle forces a style recalculation: read the variables once per colour scheme.
let cachedTheme: ThemeColors | null = null;
if (typeof matchMedia !== 'undefined') matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => (cachedTheme = null));

export function themeColors(): ThemeColors {
  cachedTheme ??= {
    fg: cssVar('--fg', '#1d2330'),
    muted: cssVar('--muted', '#5d6677'),
    line: cssVar('--line', '#dde1e8'),
    panel: cssVar('--panel', '#ffffff'),
    danger: cssVar('--danger', '#c8361d'),
    warn: cssVar('--warn', '#b5761b'),
  };
  return cachedTheme;
}

/** Hex colour with alpha, for band fills. */
export function withAlpha(hex: string, alpha: number): string {
  const n = Number.parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

const refLinesPlugin: Plugin<'line'> = {
  id: 'refLines',
  // Zones first, under the data; lines and labels after, over it.
  beforeDatasetsDraw(chart, _args, options: { lines?: RefLine[] }) {
    const { ctx, chartArea: area } = chart;
    for (const line of options.lines ?? []) {
      const scale = line.axis === 'y' ? chart.scales['y'] : undefined;
      if (!line.shade || !scale) continue;
      const at = Math.min(area.bottom, Math.max(area.top, scale.getPixelForValue(line.value)));
      const [top, bottom] = line.shade === 'above' ? [area.top, at] : [at, area.bottom];
      if (bottom <= top) continue;
      ctx.save();
      ctx.fillStyle = line.color;
      ctx.globalAlpha = 0.07;
      ctx.fillRect(area.left, top, area.right - area.left, bottom - top);
      ctx.restore();
    }
  },
  afterDatasetsDraw(chart, _args, options: { lines?: RefLine[] }) {
    const lines = options.lines ?? [];
    if (!lines.length) return;
    const { ctx, chartArea: area } = chart;
    ctx.save();
    ctx.font = '10px system-ui, sans-serif';
    for (const line of lines) {
      const scale = line.axis === 'y' ? chart.scales['y'] : chart.scales['x'];
      if (!scale) continue;
      const at = scale.getPixelForValue(line.value);
      if (!Number.isFinite(at)) continue;
      ctx.strokeStyle = line.color;
      ctx.fillStyle = line.color;
      ctx.setLineDash([4, 3]);
      ctx.lineWidth = 1;
      ctx.beginPath();
      if (line.axis === 'y') {
        if (at < area.top || at > area.bottom) continue;
        ctx.moveTo(area.left, at);
        ctx.lineTo(area.right, at);
        ctx.stroke();
        if (line.label) ctx.fillText(line.label, area.left + 4, at - 3);
      } else {
        if (at < area.left || at > area.right) continue;
        ctx.moveTo(at, area.top);
        ctx.lineTo(at, area.bottom);
        ctx.stroke();
        if (line.label) ctx.fillText(line.label, Math.min(at + 4, area.right - ctx.measureText(line.label).width), area.top + 10);
      }
    }
    ctx.restore();
  },
};

let registered = false;
export function registerCharts(): void {
  if (registered) return;
  registered = true;
  Chart.register(LineController, ScatterController, LineElement, PointElement, LinearScale, LogarithmicScale, Legend, Tooltip, Decimation, Filler, refLinesPlugin, zoomPlugin);
  Chart.defaults.font.size = 11;
  Chart.defaults.font.family = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
}

/** Compact number for ticks and tooltips: 0.0123 → 0.0123, 1.2e-6 → 1.2e-6. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(1).replace('e+', 'e');
  return Number(v.toPrecision(3)).toString();
}
