/**
 * Section 3 of `npm run bench`: the UI under streaming.
 *
 * Starts `layerbench serve` exactly as the e2e tests do (e2e/serve-host.ts, on the built out/),
 * opens Debian's Chromium through playwright-core, trains seed model 1 for 20 epochs on a small
 * Fashion-MNIST subset with statistics every 4 batches (every stream on: batches, epochs, BN,
 * gradient and activation statistics) through the Train view's own form (the e2e scenario's
 * helpers), and records in the page:
 *   - every requestAnimationFrame delta while the run trains (p50 / p95 / max, frames over 20 ms
 *     and over 50 ms, overall and per epoch);
 *   - the JS heap (CDP Performance.getMetrics JSHeapUsedSize after a CDP HeapProfiler.collectGarbage)
 *     before the start and after the run, and the page's performance.memory at each epoch's end
 *     (no forced GC there, so it only shows a trend: a GC mid-run would stall frames).
 *
 * Alone (after `npm run build`): `npx tsx bench/ui-stream.ts` (BENCH_UI_SUBSET, BENCH_UI_EPOCHS,
 * BENCH_UI_STATS_EVERY, BENCH_UI_TRACE=path.json to also save a Chromium performance trace,
 * BENCH_UI_SCREENSHOT=path.png for a full-page screenshot mid-run).
 * From bench/run.mjs: bundled with esbuild and called as runUiStream().
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type CDPSession } from 'playwright-core';
import type { Page } from '@playwright/test';
import { startServeHost } from '../e2e/serve-host';
import { fillSettings, openTrain } from '../e2e/scenarios/dashboard';
import { CHROMIUM_ARGS } from '../playwright.config';

export interface UiStreamOptions {
  subset?: number;
  epochs?: number;
  statsEvery?: number;
  /** Save a Chromium trace (CDP Tracing, devtools.timeline categories) of the training span here. */
  tracePath?: string | null;
  /** Save a full-page screenshot here once half the epochs have ended (to look at the charts mid-run). */
  screenshotPath?: string | null;
  log?: (line: string) => void;
}

export interface FrameStats {
  frames: number;
  p50: number | null;
  p95: number | null;
  max: number | null;
  mean: number | null;
  /** Frames longer than the 20 ms target. */
  over20: number;
  /** Frames longer than 50 ms (a visible stall). */
  long: number;
}

export interface UiStreamResult {
  config: { subset: number; epochs: number; statsEvery: number; batchSize: number; validationSplit: number; viewport: { width: number; height: number }; chromium: string };
  trainingSec: number;
  /** CPU seconds per second of the run, by Chromium process type (CDP SystemInfo.getProcessInfo): what drawing costs, whatever the load. */
  chromiumCpu: Record<string, number>;
  /**
   * The page's main thread, seconds per second of the run (CDP Performance.getMetrics deltas):
   * busy = TaskDuration, of which script, layout and style recalculation.
   */
  mainThread: { busy: number; script: number; layout: number; style: number };
  /** Chart and heatmap draws through the redraw scheduler (renderer/dashboard/redraw.ts), per second, and their JS time (ms per second). */
  draws: { perSec: number; msPerSec: number; rounds: number; byChart: Record<string, { draws: number; meanMs: number; maxMs: number }> } | null;
  frames: FrameStats;
  /** Bytes, JSHeapUsedSize after a forced GC. */
  heap: { start: number; end: number; growth: number };
  perEpoch: Array<FrameStats & { epoch: number; heapUsed: number | null; tMs: number }>;
  /** Whether the run reached 'finished' and how many points the chart holds. */
  status: string;
  chartPoints: number | null;
  errors: string[];
  trace: string | null;
}

const VIEWPORT = { width: 1440, height: 1900 };

export function frameStats(deltas: number[]): FrameStats {
  const s = [...deltas].sort((a, b) => a - b);
  const q = (p: number) => (s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))]! : null);
  return {
    frames: s.length,
    p50: q(0.5),
    p95: q(0.95),
    max: s.length ? s[s.length - 1]! : null,
    mean: s.length ? s.reduce((a, b) => a + b, 0) / s.length : null,
    over20: s.filter((d) => d > 20).length,
    long: s.filter((d) => d > 50).length,
  };
}

async function gcHeap(cdp: CDPSession): Promise<number> {
  await cdp.send('HeapProfiler.collectGarbage');
  await cdp.send('HeapProfiler.collectGarbage');
  const { metrics } = await cdp.send('Performance.getMetrics');
  const used = metrics.find((m) => m.name === 'JSHeapUsedSize');
  if (!used) throw new Error('CDP Performance.getMetrics returned no JSHeapUsedSize');
  return used.value;
}

/**
 * In the page, before the app's scripts: note the time and heap of every epoch event on the API
 * socket. A string, not a function: tsx/esbuild's keepNames helpers do not exist in the page.
 */
const EPOCH_PROBE = `(() => {
  window.__bench = { epochs: [], finished: null };
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(url, protocols) {
      super(url, protocols);
      this.addEventListener('message', (message) => {
        const data = typeof message.data === 'string' ? message.data : '';
        if (!data.includes('"name":"training"')) return;
        if (data.includes('"type":"epoch"')) window.__bench.epochs.push({ t: performance.now(), heap: performance.memory ? performance.memory.usedJSHeapSize : null });
        else if (/"type":"(finished|failed|stopped)"/.test(data)) window.__bench.finished = performance.now();
      });
    }
  };
})();`;

/** The page's main-thread time so far, in seconds (CDP Performance.getMetrics; Performance.enable first). */
async function mainThreadMetrics(cdp: CDPSession): Promise<{ busy: number; script: number; layout: number; style: number }> {
  const { metrics } = await cdp.send('Performance.getMetrics');
  const get = (name: string) => metrics.find((m) => m.name === name)?.value ?? 0;
  return { busy: get('TaskDuration'), script: get('ScriptDuration'), layout: get('LayoutDuration'), style: get('RecalcStyleDuration') };
}

interface DrawCounters {
  draws: number;
  ms: number;
  rounds: number;
  byName?: Record<string, { draws: number; ms: number; max: number }>;
}

/** The redraw scheduler's counters (renderer/dashboard/redraw.ts), or null in a build without them. */
const DRAW_COUNTERS = `(() => { const d = window.__layerbenchDraws; return d ? { draws: d.draws, ms: d.ms, rounds: d.rounds, byName: structuredClone(d.byName ?? {}) } : null; })()`;

/** Every animation frame's timestamp, from now until window.__framesOn is cleared. */
const FRAME_RECORDER = `(() => {
  window.__frames = [];
  window.__framesOn = true;
  const tick = (t) => {
    window.__frames.push(t);
    if (window.__framesOn) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})()`;

const FRAME_STOP = `(() => {
  window.__framesOn = false;
  return { frames: window.__frames, epochs: window.__bench.epochs, finished: window.__bench.finished };
})()`;

export async function runUiStream(options: UiStreamOptions = {}): Promise<UiStreamResult> {
  const subset = options.subset ?? 2000;
  const epochs = options.epochs ?? 20;
  const statsEvery = options.statsEvery ?? 4;
  const log = options.log ?? ((line: string) => console.log(line));
  const host = await startServeHost();
  // launch() gives the browser a fresh, empty --user-data-dir of its own (removed on close).
  const browser = await chromium.launch({
    executablePath: process.env.LAYERBENCH_CHROMIUM ?? '/usr/bin/chromium',
    // The e2e flags, plus exact performance.memory numbers for the per-epoch heap trend.
    args: [...CHROMIUM_ARGS, '--enable-precise-memory-info'],
    headless: true,
  });
  const context = await browser.newContext({ viewport: VIEWPORT });
  const browserCdp = await browser.newBrowserCDPSession();
  /** CPU seconds of Chromium's processes by type (renderer, gpu, browser, utility). */
  const processCpu = async (): Promise<Record<string, number>> => {
    const { processInfo } = (await browserCdp.send('SystemInfo.getProcessInfo')) as { processInfo: Array<{ type: string; cpuTime: number }> };
    const out: Record<string, number> = {};
    for (const p of processInfo) out[p.type] = (out[p.type] ?? 0) + p.cpuTime;
    return out;
  };
  const errors: string[] = [];
  try {
    const version = browser.version();
    const page: Page = (await context.newPage()) as unknown as Page;
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    await page.addInitScript({ content: EPOCH_PROBE });
    await page.goto(host.url);
    await openTrain(page);
    await fillSettings(page, { subset, epochs, statsEvery });
    const cdp = await context.newCDPSession(page as never);
    await cdp.send('Performance.enable');
    await page.waitForTimeout(500);
    const heapStart = await gcHeap(cdp);

    let traceDone: Promise<void> | null = null;
    let traceChunks: unknown[] = [];
    if (options.tracePath) {
      cdp.on('Tracing.dataCollected', (e: { value: unknown[] }) => traceChunks.push(...e.value));
      traceDone = new Promise((resolve) => cdp.once('Tracing.tracingComplete', () => resolve()));
      await cdp.send('Tracing.start', {
        transferMode: 'ReportEvents',
        traceConfig: {
          includedCategories: [
            'devtools.timeline',
            'disabled-by-default-devtools.timeline',
            'disabled-by-default-devtools.timeline.frame',
            'v8.execute',
            'disabled-by-default-v8.cpu_profiler',
            'blink.user_timing',
          ],
        },
      } as never);
    }

    // Every animation frame from just before the click to the end of the run.
    await page.evaluate(FRAME_RECORDER);
    const cpu0 = await processCpu();
    const main0 = await mainThreadMetrics(cdp);
    const draws0 = (await page.evaluate(DRAW_COUNTERS)) as DrawCounters | null;
    const t0 = Date.now();
    await page.getByTestId('start').click();
    const status = page.getByTestId('run-status');
    await status.waitFor({ state: 'attached' });
    const deadline = Date.now() + 15 * 60_000;
    let finalStatus = '';
    let shot = !options.screenshotPath;
    for (;;) {
      finalStatus = (await status.getAttribute('data-status')) ?? '';
      if (!shot && ((await page.evaluate('window.__bench.epochs.length')) as number) >= epochs / 2) {
        shot = true;
        await page.screenshot({ path: options.screenshotPath!, fullPage: true });
      }
      if (/finished|failed|stopped|diverged/.test(finalStatus)) break;
      if (Date.now() > deadline) throw new Error(`the run did not finish in 15 minutes (status ${finalStatus})`);
      await page.waitForTimeout(250);
    }
    // One more second of frames: the final epoch's render and the finished state.
    await page.waitForTimeout(1000);
    const trainingSec = (Date.now() - t0) / 1000;
    const cpu1 = await processCpu();
    const main1 = await mainThreadMetrics(cdp);
    const draws1 = (await page.evaluate(DRAW_COUNTERS)) as DrawCounters | null;
    const perSec = (k: keyof typeof main1) => +((main1[k] - main0[k]) / trainingSec).toFixed(3);
    const mainThread = { busy: perSec('busy'), script: perSec('script'), layout: perSec('layout'), style: perSec('style') };
    const draws =
      draws0 && draws1
        ? {
            perSec: +((draws1.draws - draws0.draws) / trainingSec).toFixed(1),
            msPerSec: +((draws1.ms - draws0.ms) / trainingSec).toFixed(1),
            rounds: draws1.rounds - draws0.rounds,
            byChart: Object.fromEntries(
              Object.entries(draws1.byName ?? {}).map(([name, c]) => {
                const before = draws0.byName?.[name] ?? { draws: 0, ms: 0 };
                const n = c.draws - before.draws;
                return [name, { draws: n, meanMs: n ? +((c.ms - before.ms) / n).toFixed(2) : 0, maxMs: +c.max.toFixed(1) }];
              }),
            ),
          }
        : null;
    const chromiumCpu = Object.fromEntries(Object.keys(cpu1).map((k) => [k, +((cpu1[k]! - (cpu0[k] ?? 0)) / trainingSec).toFixed(3)]));
    const recorded = (await page.evaluate(FRAME_STOP)) as { frames: number[]; epochs: Array<{ t: number; heap: number | null }>; finished: number | null };
    if (traceDone) {
      await cdp.send('Tracing.end');
      await traceDone;
      writeFileSync(options.tracePath!, JSON.stringify({ traceEvents: traceChunks }));
      traceChunks = [];
    }
    const chartPoints =
      Number(
        await page
          .getByTestId('metrics-chart')
          .getAttribute('data-points')
          .catch(() => null),
      ) || null;
    await page.waitForTimeout(300);
    const heapEnd = await gcHeap(cdp);

    const times = recorded.frames;
    const deltas = times.slice(1).map((t, i) => t - times[i]!);
    const perEpoch = recorded.epochs.map((e, i) => {
      const from = i === 0 ? times[0]! : recorded.epochs[i - 1]!.t;
      const inEpoch: number[] = [];
      for (let k = 1; k < times.length; k++) if (times[k]! > from && times[k]! <= e.t) inEpoch.push(times[k]! - times[k - 1]!);
      return { epoch: i + 1, tMs: e.t - times[0]!, heapUsed: e.heap, ...frameStats(inEpoch) };
    });
    const result: UiStreamResult = {
      config: { subset, epochs, statsEvery, batchSize: 32, validationSplit: 0.1, viewport: VIEWPORT, chromium: version },
      trainingSec,
      chromiumCpu,
      mainThread,
      draws,
      frames: frameStats(deltas),
      heap: { start: heapStart, end: heapEnd, growth: heapEnd - heapStart },
      perEpoch,
      status: finalStatus,
      chartPoints,
      errors,
      trace: options.tracePath ?? null,
    };
    if (finalStatus !== 'finished') {
      const why = (
        await page
          .locator('[role="alert"]')
          .allInnerTexts()
          .catch(() => [])
      ).join(' | ');
      errors.push(`the run ended '${finalStatus}'${why ? `: ${why}` : ''}`);
      log(`ui: the run ended '${finalStatus}', not 'finished'${why ? `: ${why}` : ''}`);
    }
    return result;
  } finally {
    await browser.close().catch(() => {});
    await host.stop().catch(() => {});
  }
}

export function formatUiResult(r: UiStreamResult): string {
  const ms = (x: number | null) => (x == null ? '—' : x.toFixed(1));
  const mb = (x: number | null) => (x == null ? '—' : (x / 2 ** 20).toFixed(1));
  const f = r.frames;
  const lines = [
    `${r.config.epochs} epochs, ${r.config.subset} images (batch ${r.config.batchSize}, validation ${r.config.validationSplit}), statistics every ${r.config.statsEvery} batches, ${r.config.viewport.width}×${r.config.viewport.height}, ${r.config.chromium}; run ${r.status} in ${r.trainingSec.toFixed(1)} s`,
    `frames ${f.frames}: p50 ${ms(f.p50)} ms, p95 ${ms(f.p95)} ms, max ${ms(f.max)} ms, mean ${ms(f.mean)} ms; over 20 ms: ${f.over20}, over 50 ms: ${f.long}   (target p95 ≤ 20 ms: ${f.p95 != null && f.p95 <= 20 ? 'met' : 'NOT met'})`,
    `Chromium CPU per second of training: ${Object.entries(r.chromiumCpu)
      .map(([k, v]) => `${k} ${v.toFixed(2)}`)
      .join(', ')} (cores)`,
    `renderer main thread per second: busy ${r.mainThread.busy.toFixed(3)} s (script ${r.mainThread.script.toFixed(3)}, layout ${r.mainThread.layout.toFixed(3)}, style ${r.mainThread.style.toFixed(3)})${r.draws ? `; chart draws ${r.draws.perSec}/s taking ${r.draws.msPerSec} ms/s` : ''}`,
    ...(r.draws && Object.keys(r.draws.byChart).length
      ? [
          `chart draws by chart (draws, mean ms, max ms): ${Object.entries(r.draws.byChart)
            .sort((a, b) => b[1].draws * b[1].meanMs - a[1].draws * a[1].meanMs)
            .map(([name, c]) => `${name} ${c.draws}×${c.meanMs}/${c.maxMs}`)
            .join(', ')}`,
        ]
      : []),
    `JS heap after GC: start ${mb(r.heap.start)} MB, end ${mb(r.heap.end)} MB, growth ${(r.heap.growth / 2 ** 20).toFixed(2)} MB`,
    `per epoch (p95 ms / max ms / heap MB, no forced GC): ${r.perEpoch.map((e) => `${e.epoch}: ${ms(e.p95)}/${ms(e.max)}/${mb(e.heapUsed)}`).join('  ')}`,
  ];
  if (r.errors.length) lines.push(`page errors: ${r.errors.slice(0, 3).join(' | ')}`);
  return lines.join('\n');
}

// Alone: npx tsx bench/ui-stream.ts
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const env = (name: string) => (process.env[name] ? Number(process.env[name]) : undefined);
  const result = await runUiStream({
    subset: env('BENCH_UI_SUBSET'),
    epochs: env('BENCH_UI_EPOCHS'),
    statsEvery: env('BENCH_UI_STATS_EVERY'),
    tracePath: process.env.BENCH_UI_TRACE ?? null,
    screenshotPath: process.env.BENCH_UI_SCREENSHOT ?? null,
  });
  console.log(formatUiResult(result));
  if (process.env.BENCH_UI_JSON) writeFileSync(process.env.BENCH_UI_JSON, `${JSON.stringify(result, null, 2)}\n`);
}
