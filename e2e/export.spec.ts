/** Export a trained run's model from the UI (serve host: a path the user types) and load the file with ONNX Runtime. */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { startServeHost, type ServeHost } from './serve-host';

let host: ServeHost;
let freshLoss = NaN;
test.beforeAll(async () => {
  host = await startServeHost();
});
test.afterAll(async () => {
  await host?.stop();
});

const epochLoss = async (page: import('@playwright/test').Page) => Number(await page.getByTestId('epoch-table').locator('tbody tr').first().locator('td').nth(1).textContent());

test('exports a trained run as ONNX from the Runs view, asking before replacing', async ({ page }, testInfo) => {
  await page.goto(host.url);
  await page.getByTestId('tab-train').click();
  await page.getByTestId('epochs').fill('1');
  await page.getByTestId('train-subset').fill('320');
  await page.getByTestId('start').click();
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'finished', { timeout: 120_000 });
  freshLoss = await epochLoss(page);

  await page.getByTestId('tab-runs').click();
  await page.locator('[data-testid^="run-open-"]').first().click();
  await expect(page.getByTestId('run-detail')).toHaveAttribute('data-loaded', 'true');
  const out = join(host.dataDir, 'exported.onnx');
  for (const attempt of ['first', 'again']) {
    await page.getByTestId('export-model').click();
    await page.getByTestId('export-format-onnx').check();
    await page.getByTestId('export-choose-path').click();
    await page.getByTestId('path-input').fill(out);
    await page.getByTestId('path-submit').click();
    if (attempt === 'again') {
      await expect(page.getByTestId('export-replace-confirm')).toBeVisible();
      await page.getByTestId('export-replace-yes').click();
    }
    await expect(page.getByTestId('export-result')).toContainText(`Exported ${out}`);
  }
  await page.screenshot({ path: testInfo.outputPath('export.png') });

  expect(existsSync(out)).toBe(true);
  expect(statSync(out).size).toBeGreaterThan(1_000_000);
  // A loader nobody here wrote runs it: ten class probabilities per image.
  const session = await InferenceSession.create(out);
  const input = new Tensor('float32', new Float32Array(2 * 28 * 28).fill(0.5), [2, 28, 28]);
  const output = await session.run({ [session.inputNames[0]!]: input });
  const probs = output[session.outputNames[0]!]!;
  expect(probs.dims).toEqual([2, 10]);
  const first = Array.from(probs.data as Float32Array).slice(0, 10);
  expect(first.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
});

test('imports the trained model as Keras .h5 and fine-tunes from its weights', async ({ page }, testInfo) => {
  await page.goto(host.url);
  await page.getByTestId('tab-runs').click();
  await page.locator('[data-testid^="run-open-"]').first().click();
  await expect(page.getByTestId('run-detail')).toHaveAttribute('data-loaded', 'true');
  const h5 = join(host.dataDir, 'trained.h5');
  await page.getByTestId('export-model').click();
  await page.getByTestId('export-format-h5').check();
  await page.getByTestId('export-choose-path').click();
  await page.getByTestId('path-input').fill(h5);
  await page.getByTestId('path-submit').click();
  await expect(page.getByTestId('export-result')).toContainText(`Exported ${h5}`);

  await page.getByTestId('project-menu').click();
  await page.getByTestId('import-trained').click();
  await page.getByTestId('path-input').fill(h5);
  await page.getByTestId('path-submit').click();
  await expect(page.getByTestId('project-notice')).toContainText('Imported trained.h5 with its weights');

  await page.getByTestId('tab-train').click();
  await expect(page.getByTestId('fine-tune-from')).toContainText('import-');
  await page.getByTestId('epochs').fill('1');
  await page.getByTestId('train-subset').fill('320');
  await page.getByTestId('start').click();
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'finished', { timeout: 120_000 });
  await page.screenshot({ path: testInfo.outputPath('fine-tune.png') });
  // The same epoch on the same images, started from trained weights: a lower loss than from scratch.
  expect(await epochLoss(page)).toBeLessThan(freshLoss);
});
