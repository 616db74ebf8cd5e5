/**
 * Host-agnostic scenario: train the seed preset on a small Fashion-MNIST subset and watch it live.
 * Runs against the serve host in Chromium and against the Electron app where its binary exists.
 */
import { expect, type Page, type TestInfo } from '@playwright/test';

export async function trainScenario(page: Page, testInfo: TestInfo): Promise<void> {
  await expect(page).toHaveTitle(/Layerbench/);
  // The worker probed its backends; the badge names the active one.
  await expect(page.getByTestId('backend-badge')).toContainText(/backend: \w+/);
  // Training lives in its own view, next to the builder.
  await page.getByTestId('tab-train').click();

  await page.getByTestId('epochs').fill('1');
  await page.getByTestId('batch-size').fill('32');
  await page.getByTestId('train-subset').fill('640');
  await page.getByTestId('validation-split').fill('0.1');
  // The memory estimate follows the batch size (activations are held per sample).
  const estimate = page.getByTestId('memory-estimate');
  await expect(estimate).toHaveText(/^about \d+(\.\d)? MiB to train$/);
  const small = await estimate.textContent();
  await page.getByTestId('batch-size').fill('4096');
  await expect(estimate).not.toHaveText(small!);
  await page.getByTestId('batch-size').fill('32');
  await expect(estimate).toHaveText(small!);
  // A fast backend (ONNX Runtime) trains 576 images in a blink: record every status the page shows,
  // and whether Start was disabled while training, rather than hoping to poll at the right moment.
  await page.evaluate(`(() => {
    const record = { statuses: [], startDisabledWhileTraining: [] };
    window.trainRecord = record;
    new MutationObserver(() => {
      const status = document.querySelector('[data-testid="run-status"]')?.getAttribute('data-status');
      if (!status || record.statuses.at(-1) === status) return;
      record.statuses.push(status);
      if (status === 'training') record.startDisabledWhileTraining.push(document.querySelector('[data-testid="start"]').disabled);
    }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-status'] });
  })()`);
  await page.getByTestId('start').click();

  const status = page.getByTestId('run-status');
  await expect(status).toHaveAttribute('data-status', 'finished', { timeout: 120_000 });
  const record = (await page.evaluate('window.trainRecord')) as { statuses: string[]; startDisabledWhileTraining: boolean[] };
  expect(record.statuses).toContain('training');
  expect(record.statuses.at(-1)).toBe('finished');
  // Stop is live while training; Start is not.
  expect(record.startDisabledWhileTraining).toEqual([true]);

  const progress = page.getByTestId('progress');
  await expect(progress).toHaveAttribute('data-percent', '100');
  const completed = Number(await progress.getAttribute('data-completed'));
  // 640 images less 10% validation = 576 training images = 18 batches of 32.
  expect(completed).toBe(18);
  const points = Number(await page.getByTestId('metrics-chart').getAttribute('data-points'));
  expect(points).toBeGreaterThanOrEqual(completed);
  await expect(page.getByTestId('epoch-table')).toContainText('1');
  await expect(page.getByTestId('samples-per-sec')).not.toHaveText(/^0 samples/);

  await page.screenshot({ path: testInfo.outputPath('train.png'), fullPage: true });
}
