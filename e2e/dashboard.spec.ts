/** The live dashboard and the Runs view against the serve host, in Debian's Chromium. */
import { expect, test, type WebSocketRoute } from '@playwright/test';
import { collectErrors, useServeHost } from './serve-host';
import { BN_LAYERS, dashboardScenario, openTrain, runsScenario } from './scenarios/dashboard';

const host = useServeHost();
// Tall enough that a full-page screenshot shows the BN panels.
test.use({ viewport: { width: 1440, height: 1900 } });

test.describe.configure({ mode: 'serial' });

test('live dashboard: BN panels move, pause holds the batch counter, resume continues', async ({ page }, testInfo) => {
  const errors = collectErrors(page);
  await page.goto(host.url);
  await dashboardScenario(page, testInfo);
  // The same dashboard in the dark theme: chart axes and the heatmap legend follow the CSS variables.
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.waitForTimeout(300);
  await page.screenshot({ path: testInfo.outputPath('dashboard-dark.png'), fullPage: true });
  expect(errors).toEqual([]);
});

test('runs view: a second run, two runs overlaid, a confusion matrix', async ({ page }, testInfo) => {
  const errors = collectErrors(page);
  await page.goto(host.url);
  await runsScenario(page, testInfo);
  expect(errors).toEqual([]);
});

/**
 * Long runs stay smooth (browser host only: it routes the page's WebSocket). Everything goes to
 * the real host except training.start, which this test answers itself and then streams a
 * synthetic 50-epoch run on all 60,000 images (93,750 batches, statistics every 125 batches) at
 * 20 events a second, the host's own cap, each carrying a fifth of an epoch as a fast machine
 * would. The frame rate late in the run must match the early one, and the charts must hold a
 * bounded number of points.
 */
test('the dashboard stays smooth over a simulated 50-epoch run', async ({ page }, testInfo) => {
  const errors = collectErrors(page);
  const runId = 'run-synthetic-50-epochs';
  const EPOCHS = 50;
  const PER_EPOCH = 1875;
  let stream: (() => Promise<void>) | null = null;
  await page.routeWebSocket(/\/api$/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((raw) => {
      const frame = JSON.parse(String(raw)) as { kind: string; id: number; name: string };
      if (frame.name !== 'training.start') return server.send(raw);
      ws.send(JSON.stringify({ kind: 'response', id: frame.id, result: { ok: true, value: { runId } } }));
      stream = () => streamSyntheticRun(ws, runId, EPOCHS, PER_EPOCH);
    });
  });
  await page.goto(host.url);
  await openTrain(page);
  await page.getByTestId('start').click();
  await expect.poll(() => stream !== null).toBe(true);

  // Every animation frame's time in the page while the stream runs: frames per second afterwards.
  await page.evaluate(() => {
    // The e2e tsconfig has no DOM lib: reach the page's globals through a typed view.
    const w = globalThis as unknown as { frames: number[]; requestAnimationFrame(callback: (t: number) => void): number };
    w.frames = [];
    const tick = (t: number) => {
      w.frames.push(t);
      w.requestAnimationFrame(tick);
    };
    w.requestAnimationFrame(tick);
  });
  await stream!();
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'finished', { timeout: 60_000 });
  const fps = await page.evaluate(() => {
    const frames = (globalThis as unknown as { frames: number[] }).frames;
    const perSecond: number[] = [];
    for (const t of frames) {
      const second = Math.floor((t - frames[0]!) / 1000);
      perSecond[second] = (perSecond[second] ?? 0) + 1;
    }
    return Array.from(perSecond, (n) => n ?? 0);
  });

  const chart = page.getByTestId('metrics-chart');
  await expect(chart).toHaveAttribute('data-points', String(EPOCHS * PER_EPOCH));
  expect(Number(await chart.getAttribute('data-held'))).toBeLessThanOrEqual(5000);
  for (const layer of BN_LAYERS) {
    const panel = page.getByTestId(`bn-panel-${layer}`);
    await expect(panel).toHaveAttribute('data-records', '750');
    const held = (await panel.getAttribute('data-held'))!.split('/').map(Number);
    expect(held[0]).toBeLessThanOrEqual(600);
    expect(held[1]).toBeLessThanOrEqual(480);
  }
  // Skip the first seconds (start-up) and the last (the stream's tail); compare the medians of the
  // first and last thirds. Lenient on purpose: absolute frame rates depend on the machine's load
  // (software raster, shared CPUs); what must not happen is the rate falling as the run grows.
  const steady = fps.slice(2, -1);
  const third = Math.max(1, Math.floor(steady.length / 3));
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  const early = median(steady.slice(0, third));
  const late = median(steady.slice(-third));
  const report = `early median ${early}, late median ${late}; per second: ${fps.join(' ')}`;
  testInfo.annotations.push({ type: 'fps', description: report });
  console.log(`50-epoch stream, frames per second: ${report}`);
  expect(late).toBeGreaterThanOrEqual(Math.min(early * 0.5, 20));
  await page.screenshot({ path: testInfo.outputPath('dashboard-50-epochs.png'), fullPage: true });
  expect(errors).toEqual([]);
});

/**
 * Sends a synthetic run: 375 batches per 'batches' event, statistics every 125 batches (750
 * records: past the BN series' and heatmap's caps), an epoch record per epoch, 20 rounds a second.
 */
async function streamSyntheticRun(ws: WebSocketRoute, runId: string, epochs: number, perEpoch: number): Promise<void> {
  const send = (payload: object) => ws.send(JSON.stringify({ kind: 'event', name: 'training', payload: { runId, ...payload } }));
  const total = epochs * perEpoch;
  send({ type: 'phase', phase: 'training' });
  send({ type: 'started', backend: 'synthetic', epochs, batchesPerEpoch: perEpoch, trainSamples: 60_000, validationSamples: 6_000 });
  const features = [784, 300, 100];
  let step = 0;
  let random = 1;
  const noise = () => ((random = (random * 16807) % 2147483647) / 2147483647 - 0.5) * 0.2;
  const summary = (center: number, spread: number) => ({
    mean: center,
    min: center - 2 * spread,
    max: center + 2 * spread,
    p5: center - spread,
    p50: center,
    p95: center + spread,
  });
  const PER_EVENT = 375;
  while (step < total) {
    const batches = [];
    const stats = [];
    const end = Math.min(total, step + PER_EVENT);
    for (; step < end; step++) {
      const epoch = Math.floor(step / perEpoch);
      const progress = 1 - Math.exp(-step / 4000);
      batches.push({ epoch, batch: step % perEpoch, step, loss: 2.3 - 1.9 * progress + noise(), acc: 0.1 + 0.8 * progress + noise() / 2 });
      if (step % 125 === 0) {
        stats.push({
          epoch,
          step,
          bn: features.map((n, i) => ({
            layer: BN_LAYERS[i],
            features: n,
            momentum: 0.99,
            moving_mean: summary(0.3 * progress, 0.1),
            moving_variance: summary(1 + 0.2 * progress, 0.2),
            batch_mean: summary(0.3 + noise(), 0.1),
            batch_variance: summary(1.2 + noise(), 0.2),
            chosen: {
              indices: [0, 1, 2, 3],
              moving_mean: [0.1, 0.2, 0.3, 0.4].map((v) => v * progress),
              moving_variance: [1, 1, 1, 1],
              batch_mean: [0.1, 0.2, 0.3, 0.4].map((v) => v + noise()),
              batch_variance: [1, 1, 1, 1].map((v) => v + noise()),
            },
            moving_mean_bins: Array.from({ length: 128 }, (_, b) => Math.sin(b / 10) * progress),
          })),
          layers: ['dense', 'dense_1', 'dense_2'].map((layer, i) => ({
            layer,
            grad_norm: (3 - i) * (1 - progress / 2) + noise(),
            weight_norm: 20,
            update_ratio: 1e-3,
            act_mean: 0.2,
            act_std: 1,
            saturation: 0.1,
          })),
        });
      }
      if ((step + 1) % perEpoch === 0) {
        send({ type: 'batches', batches: batches.splice(0), completedBatches: step + 1, totalBatches: total, samplesPerSec: 6000 });
        send({
          type: 'epoch',
          record: {
            epoch,
            loss: 2.3 - 1.9 * progress,
            acc: 0.1 + 0.8 * progress,
            val_loss: 2.35 - 1.8 * progress,
            val_acc: 0.1 + 0.78 * progress,
            durationMs: 10_000,
            learningRate: 0.01,
          },
        });
      }
    }
    if (batches.length) send({ type: 'batches', batches, completedBatches: step, totalBatches: total, samplesPerSec: 6000 });
    if (stats.length) send({ type: 'stats', records: stats });
    await new Promise((r) => setTimeout(r, 50));
  }
  send({ type: 'finished' });
}
