/**
 * Layout at common window sizes (1280×800, 1920×1080): every view in the states a newcomer meets
 * (the seed model with a Dense card selected, its Variables tab, a finished short run, two runs
 * compared, the run list) must show its labels, headings, cells, buttons and fields whole. A
 * text-bearing element fails when its text overflows its own box or is cut off by a clipping
 * ancestor; the run list's delete button must lie inside its panel. Screenshots of each view at
 * both sizes go to the test's output folder. Plus the small state bugs of the same issue: an
 * informational export toast goes away by itself, a failed start does not show the previous run's
 * figures, a finished run's headline shows the final epoch's accuracy.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, type Page, type TestInfo } from '@playwright/test';
import { useSharedPage, type ServeHost } from './serve-host';
import { fillSettings, openTrain } from './scenarios/dashboard';
import { expectNothingClipped as expectClipFree } from './layout-check';

const shared = useSharedPage();
let host: ServeHost;
let page: Page;
const errors = shared.errors;
test.beforeAll(() => {
  ({ host, page } = shared);
});

// Large first: the layout must also shrink back when a window is made smaller.
const SIZES = [
  { width: 1920, height: 1080 },
  { width: 1280, height: 800 },
];

async function trainShort(learningRate: number): Promise<void> {
  await openTrain(page);
  await fillSettings(page, { subset: 640, epochs: 2, statsEvery: 2, learningRate });
  await page.getByTestId('start').click();
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'finished', { timeout: 120_000 });
}

test('two short runs: the finished headline shows the final epoch, not the last batch', async () => {
  await trainShort(0.01);
  await trainShort(0.05);
  // The headline after the run: the final epoch's figures, labelled so.
  const final = page.getByTestId('final-epoch');
  await expect(final).toContainText('final epoch 2');
  const lastRow = page.getByTestId('epoch-table').locator('tbody tr').last();
  const accCell = (await lastRow.locator('td').nth(2).textContent())!.trim();
  await expect(final).toContainText(`acc ${accCell}`);
  await expect(page.getByTestId('last-batch')).toHaveCount(0);
});

async function expectNothingClipped(view: string, testInfo: TestInfo): Promise<void> {
  await expectClipFree(page, view, testInfo);
}

for (const size of SIZES) {
  // eslint-disable-next-line no-empty-pattern -- Playwright reads the fixtures from this pattern; this test uses the shared page
  test(`at ${size.width}×${size.height} no view clips its text`, async ({}, testInfo) => {
    await page.setViewportSize(size);
    const tag = `${size.width}x${size.height}`;

    // Builder: seed model 2 (its Dense cards say the most: "300 · linear · HeNormal · no bias")
    // with the first Dense card selected, then the Variables tab.
    await page.getByTestId('tab-build').click();
    await page.getByTestId('preset-menu').click();
    await page.getByTestId('preset-bn-before-activation').click();
    await page.getByTestId('layer-2').click();
    await expect(page.getByTestId('layer-2')).toHaveAttribute('aria-selected', 'true');
    await page.getByTestId('inspector-summary').click();
    await expectNothingClipped(`builder-${tag}`, testInfo);
    await page.getByTestId('inspector-variables').click();
    await expect(page.getByTestId('variable-std-dense/kernel')).toHaveText(/\d/, { timeout: 60_000 });
    await expectNothingClipped(`builder-variables-${tag}`, testInfo);

    // Train: the finished run (progress, epochs table, BN charts), top and bottom.
    await openTrain(page);
    // The widest count the field takes (all of Fashion-MNIST), as the next run's setting.
    await page.getByTestId('train-subset').fill('60000');
    await expectNothingClipped(`train-${tag}`, testInfo);
    await page.getByTestId('bn-section').scrollIntoViewIfNeeded();
    await expectNothingClipped(`train-bn-${tag}`, testInfo);

    // Runs: the list, two runs overlaid (the comparison table), one opened.
    await page.getByTestId('tab-runs').click();
    const view = page.getByTestId('runs-view');
    const overlays = view.locator('[data-testid^="run-overlay-"]');
    await expect.poll(() => overlays.count()).toBeGreaterThanOrEqual(2);
    for (const i of [0, 1]) await overlays.nth(i).check();
    await expect(page.getByTestId('overlay-chart')).toHaveAttribute('data-runs', '2');
    await view.locator('[data-testid^="run-open-"]').first().click();
    await expect(page.getByTestId('run-detail')).toHaveAttribute('data-loaded', 'true');
    await expectNothingClipped(`runs-${tag}`, testInfo);

    // The delete buttons lie inside the run list's panel.
    const panel = (await page.getByTestId('runs-side').boundingBox())!;
    for (const button of await view.locator('[data-testid^="run-delete-"]').all()) {
      const box = (await button.boundingBox())!;
      expect(box.x, 'delete button left of the panel').toBeGreaterThanOrEqual(panel.x);
      expect(box.x + box.width, 'delete button past the panel edge').toBeLessThanOrEqual(panel.x + panel.width);
    }
    for (const i of [0, 1]) await overlays.nth(i).uncheck();
    await page.getByTestId('run-detail').getByRole('button', { name: 'Close run' }).click();
    expect(errors).toEqual([]);
  });
}

test('a start refused while another window trains shows the refusal, not the previous run', async ({ browser }) => {
  // This window shows its finished run; a second window starts a long one.
  const other = await browser.newPage();
  try {
    await other.goto(host.url);
    await openTrain(other);
    // All 60,000 images for 5 epochs: still training when this window asks (it is stopped after).
    await fillSettings(other, { subset: 640, epochs: 5 });
    await other.getByTestId('train-all').check();
    await other.getByTestId('start').click();
    await expect(other.getByTestId('run-status')).toHaveAttribute('data-status', 'training', { timeout: 60_000 });

    await openTrain(page);
    await expect(page.getByTestId('run-samples')).toBeVisible();
    await page.getByTestId('start').click();
    await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'failed');
    await expect(page.getByRole('alert')).toContainText('still training');
    // While the other run streams on, nothing of it, nor of this window's previous run, shows here.
    await page.waitForTimeout(1000);
    const progress = page.getByTestId('progress');
    await expect(progress).toHaveAttribute('data-completed', '0');
    await expect(progress).toHaveAttribute('data-total', '0');
    for (const testid of ['run-id', 'run-backend', 'run-samples', 'final-epoch', 'last-batch']) await expect(page.getByTestId(testid)).toHaveCount(0);
    await expect(page.getByTestId('epoch-table')).toHaveCount(0);
    await page.screenshot({ path: test.info().outputPath('refused-start.png') });
  } finally {
    const stop = other.getByTestId('stop');
    if (await stop.isEnabled()) await stop.click();
    await expect(other.getByTestId('run-status')).toHaveAttribute('data-status', /stopped|finished|failed/, { timeout: 60_000 });
    await other.close();
  }
});

test('an export note goes away by itself; an export error stays until dismissed', async () => {
  await page.getByTestId('tab-runs').click();
  await page.locator('[data-testid^="run-open-"]').first().click();
  await expect(page.getByTestId('run-detail')).toHaveAttribute('data-loaded', 'true');
  const exportTo = async (path: string) => {
    await page.getByTestId('export-model').click();
    await page.getByTestId('export-format-py').check();
    await page.getByTestId('export-choose-path').click();
    await page.getByTestId('path-input').fill(path);
    await page.getByTestId('path-submit').click();
  };
  const note = page.getByTestId('export-result');
  await exportTo(join(host.dataDir, 'model.py'));
  await expect(note).toContainText('Exported');
  await expect(note).toBeHidden({ timeout: 10_000 });

  // A folder that is a file: the write fails, and the message waits for the reader.
  writeFileSync(join(host.dataDir, 'not-a-folder'), '');
  await exportTo(join(host.dataDir, 'not-a-folder', 'model.py'));
  await expect(note).toHaveAttribute('role', 'alert');
  await page.waitForTimeout(6000);
  await expect(note).toBeVisible();
  await note.getByRole('button', { name: 'Dismiss' }).click();
  await expect(note).toBeHidden();
  expect(errors).toEqual([]);
});
