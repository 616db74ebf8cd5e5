/**
 * Host-agnostic scenarios for the live dashboard and the Runs view: seed model 1 (three
 * BatchNormalization layers) on a small Fashion-MNIST subset with statistics every 4 batches.
 */
import { expect, type Locator, type Page, type TestInfo } from '@playwright/test';

export const BN_LAYERS = ['batch_normalization', 'batch_normalization_1', 'batch_normalization_2'];

async function numberAttr(locator: Locator, name: string): Promise<number> {
  return Number(await locator.getAttribute(name));
}

/** The Train view, whether or not the app shows it in a tab. */
export async function openTrain(page: Page): Promise<void> {
  // The views (and their tabs) render once the app has connected: wait for that before looking for the tab.
  await expect(page.getByTestId('start')).toBeAttached({ timeout: 60_000 });
  const tab = page.getByTestId('tab-train');
  if (await tab.count()) await tab.click();
  await expect(page.getByTestId('start')).toBeVisible();
}

export async function fillSettings(page: Page, options: { subset: number; epochs?: number; statsEvery?: number; learningRate?: number }): Promise<void> {
  await page.getByTestId('epochs').fill(String(options.epochs ?? 1));
  await page.getByTestId('batch-size').fill('32');
  await page.getByTestId('learning-rate').fill(String(options.learningRate ?? 0.01));
  await page.getByTestId('train-subset').fill(String(options.subset));
  await page.getByTestId('validation-split').fill('0.1');
  await page.getByTestId('stats-every').fill(String(options.statsEvery ?? 4));
  await page.getByTestId('bn-features').fill('0, 1, 2, 3');
}

/** Seed model 1 for one epoch: BN panels move, pause holds the batch counter, resume continues. */
export async function dashboardScenario(page: Page, testInfo: TestInfo, options: { subset?: number } = {}): Promise<void> {
  await expect(page).toHaveTitle(/Layerbench/);
  await openTrain(page);
  // Enough images that the epoch outlasts a pause click: with the fast wasm matmul the worker
  // trains ~4,000 images/s here, so 1,280 would finish before the click lands.
  await fillSettings(page, { subset: options.subset ?? 12_000 });

  // The panels are in place before the first statistics arrive: one per BN layer of the model.
  const panels = page.locator('[data-testid^="bn-panel-"]');
  await expect(panels).toHaveCount(3);
  for (const layer of BN_LAYERS) await expect(page.getByTestId(`bn-panel-${layer}`)).toBeVisible();

  const drawsBefore = await page.evaluate<Record<string, number>>(drawCounts);
  await page.getByTestId('start').click();
  const status = page.getByTestId('run-status');
  const progress = page.getByTestId('progress');
  await expect(status).toHaveAttribute('data-status', 'training', { timeout: 60_000 });

  // Pause as soon as statistics have arrived, while most of the epoch is still ahead.
  const first = page.getByTestId(`bn-panel-${BN_LAYERS[0]}`);
  await expect.poll(() => numberAttr(first, 'data-records'), { timeout: 60_000 }).toBeGreaterThanOrEqual(1);
  await page.getByTestId('pause').click();
  await expect(status).toHaveAttribute('data-status', 'paused');
  const pausedAt = await numberAttr(progress, 'data-completed');
  await page.waitForTimeout(1000);
  expect(await numberAttr(progress, 'data-completed')).toBe(pausedAt);
  await expect(page.getByTestId('eta')).toHaveText('paused');

  const before = new Map<string, { records: number; mean: number }>();
  for (const layer of BN_LAYERS) {
    const panel = page.getByTestId(`bn-panel-${layer}`);
    await expect.poll(() => numberAttr(panel, 'data-records')).toBeGreaterThanOrEqual(1);
    before.set(layer, { records: await numberAttr(panel, 'data-records'), mean: await numberAttr(panel, 'data-moving-mean') });
  }
  await page.screenshot({ path: testInfo.outputPath('dashboard-paused.png'), fullPage: true });

  await page.getByTestId('resume').click();
  await expect(status).toHaveAttribute('data-status', /training|finished/);
  await expect.poll(() => numberAttr(progress, 'data-completed')).toBeGreaterThan(pausedAt);
  await expect(status).toHaveAttribute('data-status', 'finished', { timeout: 120_000 });

  // The moving statistics kept moving after the pause: more records, a different moving mean.
  for (const layer of BN_LAYERS) {
    const panel = page.getByTestId(`bn-panel-${layer}`);
    const was = before.get(layer)!;
    expect(await numberAttr(panel, 'data-records')).toBeGreaterThan(was.records);
    expect(await numberAttr(panel, 'data-moving-mean')).not.toBe(was.mean);
  }
  await expect(progress).toHaveAttribute('data-percent', '100');
  const completed = await numberAttr(progress, 'data-completed');
  expect(await numberAttr(page.getByTestId('metrics-chart'), 'data-points')).toBeGreaterThanOrEqual(completed);
  // Gradient flow: every Dense layer has a gradient norm series.
  await expect.poll(() => numberAttr(page.getByTestId('gradient-flow'), 'data-layers')).toBeGreaterThanOrEqual(3);
  await expect(page.getByTestId('epoch-table')).toContainText('1');

  // The charts catch up with the run: soon after it ends, every chart on screen has drawn since the
  // start and none has an update left to draw or paint. The redraw scheduler
  // (renderer/dashboard/redraw.ts) draws between frames and may delay a chart, but starves none.
  type Drawn = { onScreen: string[]; pendingDraws: number; waitingPaints: number };
  const caughtUp = async () => {
    const { onScreen, pendingDraws, waitingPaints } = await page.evaluate<Drawn>(chartsOnScreen);
    const draws = await page.evaluate<Record<string, number>>(drawCounts);
    return { notDrawnSinceStart: onScreen.filter((name) => !((draws[name] ?? 0) > (drawsBefore[name] ?? 0))), pendingDraws, waitingPaints };
  };
  await expect.poll(caughtUp, { timeout: 10_000 }).toEqual({ notDrawnSinceStart: [], pendingDraws: 0, waitingPaints: 0 });
  expect((await page.evaluate<Drawn>(chartsOnScreen)).onScreen.length).toBeGreaterThanOrEqual(4);

  await page.screenshot({ path: testInfo.outputPath('dashboard.png'), fullPage: true });
}

/** In the page: draws so far by chart name (strings: this file is type-checked without the DOM's types). */
const drawCounts = `Object.fromEntries(Object.entries(window.__layerbenchDraws?.byName ?? {}).map(([name, c]) => [name, c.draws]))`;
/** In the page: the names of the charts on screen (canvases with a name), and draws and paints still waiting. */
const chartsOnScreen = `(() => ({
  onScreen: [...document.querySelectorAll('canvas[aria-label]')]
    .filter((canvas) => {
      const r = canvas.getBoundingClientRect();
      return r.width > 0 && r.height > 0 && r.bottom > 0 && r.top < innerHeight;
    })
    .map((canvas) => canvas.getAttribute('aria-label')),
  pendingDraws: window.__layerbenchDraws?.pendingDraws ?? -1,
  waitingPaints: window.__layerbenchDraws?.waitingPaints ?? -1,
}))()`;

/**
 * A second run (a higher learning rate, so the curves differ), then the Runs view: overlay both
 * runs, open one and evaluate it (confusion matrix, test images), rename it, run a one-click
 * comparison, delete a run after confirming.
 */
export async function runsScenario(page: Page, testInfo: TestInfo, options: { subset?: number } = {}): Promise<void> {
  await openTrain(page);
  await fillSettings(page, { subset: options.subset ?? 1280, learningRate: 0.05 });
  await page.getByTestId('start').click();
  const status = page.getByTestId('run-status');
  await expect(status).toHaveAttribute('data-status', 'finished', { timeout: 120_000 });

  // The app mounts RunsView behind a "Runs" tab (renderer/runs/RunsView.svelte).
  const runsTab = page.getByTestId('tab-runs');
  await expect(runsTab, 'the app has no Runs tab (data-testid="tab-runs") mounting RunsView').toBeVisible({ timeout: 10_000 });
  await runsTab.click();
  const view = page.getByTestId('runs-view');
  await expect(view).toBeVisible();
  const rows = view.locator('[data-testid^="run-row-"]');
  await expect.poll(() => rows.count()).toBeGreaterThanOrEqual(2);

  // Overlay the two newest runs.
  const overlays = view.locator('[data-testid^="run-overlay-"]');
  await overlays.nth(0).check();
  await overlays.nth(1).check();
  const overlay = page.getByTestId('overlay-chart');
  await expect(overlay).toHaveAttribute('data-runs', '2');
  await expect.poll(() => numberAttr(overlay, 'data-points')).toBeGreaterThan(0);
  await page.screenshot({ path: testInfo.outputPath('runs-overlay.png'), fullPage: true });

  // Open the newest run and evaluate it: inference vs training mode and the confusion matrix.
  await view.locator('[data-testid^="run-open-"]').first().click();
  await expect(page.getByTestId('run-detail')).toBeVisible();
  await page.getByTestId('evaluate').click();
  const matrix = page.getByTestId('confusion-matrix');
  await expect(matrix).toBeVisible({ timeout: 120_000 });
  await expect(matrix).toContainText('T-shirt/top');
  await expect(page.getByTestId('eval-inference')).toContainText('%');
  await expect(page.getByTestId('eval-training')).toContainText('%');
  await expect(page.locator('[data-testid="example-image"]').first()).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath('runs-evaluation.png'), fullPage: true });

  // Two runs of one model read as what tells them apart, with a column for each setting that differs.
  const newest = view.locator('[data-testid^="run-row-"]').first();
  const newestId = (await newest.getAttribute('data-testid'))!.replace('run-row-', '');
  await expect(page.getByTestId(`run-open-${newestId}`)).toHaveText(/^lr 0\.05\b/);
  await expect(view.getByTestId('run-column-lr')).toHaveText('lr');
  await page.screenshot({ path: testInfo.outputPath('runs-named.png') });

  // Rename in place: Enter commits, the list shows the new name.
  await page.getByTestId(`run-rename-${newestId}`).click();
  await page.getByTestId('run-rename-input').fill('fast lr');
  await page.getByTestId('run-rename-input').press('Enter');
  await expect(page.getByTestId(`run-open-${newestId}`)).toHaveText('fast lr');

  // One click trains both variants in turn and overlays them (one seed each: e2e/experiments.spec.ts runs repeats).
  const before = await rows.count();
  await page.getByTestId('compare-seeds').fill('1');
  await page.getByTestId('compare-with-vs-without-bn').click();
  await expect(page.getByTestId('compare-progress')).toBeVisible();
  await expect(page.getByTestId('compare-progress')).toBeHidden({ timeout: 150_000 });
  await expect(rows).toHaveCount(before + 2);
  await expect(overlay).toHaveAttribute('data-runs', '2');
  await expect(overlay).toContainText('with BN');
  await expect(overlay).toContainText('without BN');
  await page.screenshot({ path: testInfo.outputPath('runs-comparison.png'), fullPage: true });

  // Delete asks first, in the row.
  const oldest = rows.last();
  const oldestId = (await oldest.getAttribute('data-testid'))!.replace('run-row-', '');
  await page.getByTestId(`run-delete-${oldestId}`).click();
  await page.getByTestId(`run-delete-confirm-${oldestId}`).click();
  await expect(page.getByTestId(`run-row-${oldestId}`)).toHaveCount(0);
  await expect(rows).toHaveCount(before + 1);
}
