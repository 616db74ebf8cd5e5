import { describe, expect, it } from 'vitest';
import { BoundedSeries } from './bounded-series';
import { HeatColumns } from './heat-columns';

describe('BoundedSeries', () => {
  it('keeps every point until it is full', () => {
    const s = new BoundedSeries(100);
    for (let i = 0; i < 100; i++) s.push(i, i * 2);
    expect(s.points).toHaveLength(100);
    expect(s.points[42]).toEqual({ x: 42, y: 84 });
  });

  it('stays bounded over a very long run, in order, ending at the newest point', () => {
    const s = new BoundedSeries(5000);
    const n = 94_000;
    for (let i = 0; i < n; i++) s.push(i, Math.sin(i / 1000));
    expect(s.total).toBe(n);
    expect(s.points.length).toBeLessThanOrEqual(5001);
    expect(s.points.length).toBeGreaterThan(2000);
    for (let i = 1; i < s.points.length; i++) expect(s.points[i]!.x).toBeGreaterThan(s.points[i - 1]!.x);
    expect(s.points.at(-1)).toEqual({ x: n - 1, y: Math.sin((n - 1) / 1000) });
    // Kept points are raw samples: exactly on the curve.
    const mid = s.points[Math.floor(s.points.length / 3)]!;
    expect(mid.y).toBe(Math.sin(mid.x / 1000));
  });

  it('is uniform in x from the first kept point to the last (chart.js decimates by index)', () => {
    const s = new BoundedSeries(1000);
    for (let i = 0; i < 50_123; i++) s.push(i, 0);
    const kept = s.points.slice(0, -1); // the last one is the provisional newest point
    const gaps = new Set(kept.slice(1).map((p, i) => p.x - kept[i]!.x));
    expect([...gaps]).toHaveLength(1);
  });
});

describe('HeatColumns', () => {
  it('bounds columns, keeps them uniform in steps and tracks the value range', () => {
    const h = new HeatColumns(100);
    for (let i = 0; i < 10_000; i++) h.push(i, [i, -i, 0]);
    expect(h.columns.length).toBeLessThanOrEqual(100);
    expect(h.rows).toBe(3);
    expect(h.min).toBe(-9999);
    expect(h.max).toBe(9999);
    const gaps = new Set(h.steps.slice(1).map((s, i) => s - h.steps[i]!));
    expect(gaps.size).toBe(1);
    // Columns are means of their records: the first column of stride 128 averages steps 0..127.
    expect(h.columns[0]![0]).toBeCloseTo(63.5, 3);
  });
});
