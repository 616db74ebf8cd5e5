/**
 * Experiments (#17) in Chromium on the serve host: a chapter comparison over three seeds (the deep
 * plain network, a tiny subset so each run takes seconds) drawn as mean ± band with mean ± sd and
 * Welch's verdict; chart zoom, reset and the log scale; then the same comparison as a sweep built in
 * two clicks, its jobs' progress, the results table and the grouped bars, and its arms overlaid.
 * Screenshots at 1280×800 and 1920×1080, and the layout check on each new view.
 */
import { expect, test, type Page, type TestInfo } from '@playwright/test';
import { useSharedPage } from './serve-host';
import { fillSettings, openTrain } from './scenarios/dashboard';
import { expectNothingClippedAtBothSizes } from './layout-check';

const shared = useSharedPage();
let page: Page;
const errors = shared.errors;
test.beforeAll(() => {
  page = shared.page;
});

/** A screenshot of the view at each size, and no text clipped in it. */
const lookAtBothSizes = (view: string, testInfo: TestInfo) => expectNothingClippedAtBothSizes(page, view, testInfo);

async function openRuns(): Promise<void> {
  await page.getByTestId('tab-runs').click();
  await expect(page.getByTestId('runs-view')).toBeVisible();
}

// eslint-disable-next-line no-empty-pattern -- Playwright reads the fixtures from this pattern; this test uses the shared page
test('a comparison over three seeds: mean ± band overlays, mean ± sd, the seed-noise verdict, zoom and log scale', async ({}, testInfo) => {
  // Two epochs (two validation points per run) on 320 images: six runs of the deep plain network in seconds each.
  await openTrain(page);
  await fillSettings(page, { subset: 320, epochs: 2, statsEvery: 8 });
  await openRuns();

  await expect(page.getByTestId('compare-seeds')).toHaveValue('3');
  await page.getByTestId('compare-he-vs-glorot').click();
  const progress = page.getByTestId('compare-progress');
  await expect(progress).toBeVisible();
  await expect(progress).toContainText(/run \d\/6/);
  await expect(progress).toBeHidden({ timeout: 170_000 });

  // Six runs, two arms: He and Glorot, three seeds each, drawn as their mean with a band.
  const overlay = page.getByTestId('overlay-chart');
  await expect(overlay).toHaveAttribute('data-runs', '6');
  await expect(overlay).toHaveAttribute('data-arms', '2');
  await expect.poll(async () => Number(await overlay.getAttribute('data-points'))).toBeGreaterThan(0);
  const numbers = page.getByTestId('overlay-numbers');
  await expect(numbers.locator('tbody tr')).toHaveCount(2);
  await expect(numbers.locator('tbody tr').first()).toContainText('He normal init');
  await expect(numbers.locator('tbody tr').nth(1)).toContainText('Glorot uniform init');
  // final val acc reads mean ± sd over three seeds.
  await expect(numbers.locator('tbody tr').first()).toContainText(/\d+\.\d\d% ±\s\d+\.\d\d/);
  const verdict = page.getByTestId('seed-verdict');
  await expect(verdict).toContainText(/Glorot uniform init vs He normal init, final val accuracy: (within seed noise|a difference) \(p [=<] [\d.]+\)/);
  await lookAtBothSizes('repeats-minmax', testInfo);

  // ±1 sd instead of min–max.
  await page.getByTestId('band-kind').selectOption('sd');
  await expect(page.getByTestId('band-kind')).toHaveValue('sd');

  // Zoom: a drag across the loss chart zooms into those epochs; reset shows everything again.
  const loss = overlay.locator('canvas[aria-label="comparison loss"]');
  const box = (await loss.boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.35, box.y + box.height * 0.5);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.55, box.y + box.height * 0.55, { steps: 8 });
  await page.mouse.move(box.x + box.width * 0.7, box.y + box.height * 0.6, { steps: 8 });
  await page.mouse.up();
  const reset = overlay.getByTestId('chart-reset-zoom');
  await expect(reset).toHaveCount(1);
  await page.screenshot({ path: testInfo.outputPath('repeats-sd-zoomed.png'), fullPage: true });
  await reset.click();
  await expect(reset).toHaveCount(0);

  // Log scale on the loss chart.
  const log = overlay.getByTestId('chart-log');
  await log.click();
  await expect(log).toHaveAttribute('aria-pressed', 'true');
  // The charts redraw through the shared scheduler (at most ~10 a second): let the new axis land.
  await page.waitForTimeout(600);
  await page.screenshot({ path: testInfo.outputPath('repeats-sd-log.png'), fullPage: true });
  await log.click();
  await expect(log).toHaveAttribute('aria-pressed', 'false');
  expect(errors).toEqual([]);
});

// eslint-disable-next-line no-empty-pattern -- as above
test('the comparison as a sweep in two clicks: job progress, the results table, grouped bars, arms overlaid', async ({}, testInfo) => {
  await openRuns();

  // Click one: the builder shows the grid and the number of runs; click two: start.
  await page.getByTestId('sweep-he-vs-glorot').click();
  const builder = page.getByTestId('sweep-builder');
  await expect(builder).toContainText('layers[Dense].kernel_initializer');
  await expect(builder).toContainText('2 arms × 3 seeds = 6 runs');
  await page.getByTestId('sweep-seeds').fill('2');
  await expect(builder).toContainText('2 arms × 2 seeds = 4 runs');
  await page.getByTestId('sweep-start').click();
  await expect(builder).toBeHidden();

  // The sweep opens: a cell per job, filling as its run goes.
  const panel = page.getByTestId('sweep-panel');
  await expect(panel).toBeVisible();
  await expect(panel.getByTestId('sweep-job')).toHaveCount(4);
  // A run of 320 images takes a second or two: catch the sweep under way, whichever job it is at.
  await expect.poll(() => panel.locator('[data-testid="sweep-job"]:not([data-status="queued"])').count(), { timeout: 60_000 }).toBeGreaterThan(0);
  await page.screenshot({ path: testInfo.outputPath('sweep-running.png'), fullPage: true });
  await expect(panel).toHaveAttribute('data-status', 'finished', { timeout: 170_000 });
  await expect(panel.locator('[data-testid="sweep-job"][data-status="finished"]')).toHaveCount(4);

  // The results table: a row per arm, mean ± sd, sortable; the grouped bars.
  const table = panel.getByTestId('sweep-results');
  await expect(table.getByTestId('sweep-arm')).toHaveCount(2);
  await expect(table.getByTestId('sweep-arm').first()).toContainText(/\d+\.\d\d% ±\s\d+\.\d\d/);
  await expect(table).toContainText('best');
  const firstArm = await table.getByTestId('sweep-arm').first().getAttribute('data-arm');
  await table.getByTestId('sort-val_accuracy').click();
  await expect(table.getByTestId('sweep-arm').last()).toHaveAttribute('data-arm', firstArm!);
  await expect(panel.getByTestId('sweep-bars').locator('rect')).toHaveCount(2);
  await expect(page.getByTestId('sweep-list').getByTestId('sweep-row')).toHaveCount(1);
  await lookAtBothSizes('sweep-results', testInfo);

  // Its arms in the overlay: two arms of two runs each, mean ± band.
  await panel.getByTestId('sweep-overlay').click();
  const overlay = page.getByTestId('overlay-chart');
  await expect(overlay).toHaveAttribute('data-arms', '2');
  await expect(overlay).toHaveAttribute('data-runs', '4');
  await expect(page.getByTestId('seed-verdict')).toContainText(/p [=<]/);
  await lookAtBothSizes('sweep-overlay', testInfo);
  expect(errors).toEqual([]);
});

/**
 * The gradient-flow panel tells why (#17): the comparison's runs (20 ReLU layers, three seeds) opened
 * in the Runs view — Glorot's gradient vanishing toward the input, He's reaching it — then the deep
 * preset (ELU, He) trained briefly in the Train view, its diagnosis live.
 */
// eslint-disable-next-line no-empty-pattern -- as above
test('the gradient-flow panel tells why He beats Glorot on the deep plain network', async ({}, testInfo) => {
  await openRuns();
  const view = page.getByTestId('runs-view');
  const detail = page.getByTestId('run-detail');
  const diagnosis = detail.getByTestId('gradient-diagnosis');
  await view.locator('[data-testid^="run-open-"]', { hasText: 'Glorot uniform init' }).first().click();
  await expect(diagnosis).toHaveAttribute('data-kind', 'vanishing');
  await expect(diagnosis).toContainText('Why: the signal fades with depth, and the error toward the input');
  await expect(detail.getByTestId('gradient-why')).toContainText('Glorot uniform gives Var(w) = 2/(fan_in + fan_out) = 2/200 = 0.01; with relu');
  await expect(detail.getByTestId('gradient-suggestion')).toContainText('set kernel_initializer to he_normal');
  // The per-depth chart: the latest gradient norm of each of the 21 Dense layers.
  await expect(diagnosis.locator('canvas[aria-label="gradient norm by depth"]')).toBeVisible();
  await diagnosis.scrollIntoViewIfNeeded();
  await lookAtBothSizes('gradient-why-glorot', testInfo);

  await view.locator('[data-testid^="run-open-"]', { hasText: 'He normal init' }).first().click();
  await expect(diagnosis).toHaveAttribute('data-kind', 'healthy');
  await expect(detail.getByTestId('gradient-why')).toContainText('He normal gives Var(w) = 2/fan_in = 2/100 = 0.02; with relu');
  await expect(detail.getByTestId('gradient-suggestion')).toHaveCount(0);
  await detail.getByRole('button', { name: 'Close run' }).click();
  await expect(detail).toHaveCount(0);

  // The Train view: the deep preset trained briefly, the diagnosis under the gradient chart.
  await page.getByTestId('tab-build').click();
  await page.getByTestId('preset-menu').click();
  await page.getByTestId('preset-deep-plain').click();
  await openTrain(page);
  await expect(page.getByTestId('gradient-diagnosis')).toHaveCount(0);
  await page.getByTestId('start').click();
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'finished', { timeout: 120_000 });
  const live = page.getByTestId('gradient-diagnosis');
  await expect(live).toContainText('Why:');
  await expect(page.getByTestId('gradient-why')).toContainText('He normal gives Var(w) = 2/fan_in = 2/100 = 0.02; with elu');
  await live.scrollIntoViewIfNeeded();
  await lookAtBothSizes('gradient-why-train', testInfo);
  expect(errors).toEqual([]);
});
