/**
 * A run that explodes (Adam at a learning rate of 1,000,000: finite losses of 10^13 and more, never
 * NaN) ends failed with the diagnosis in the train view, against the serve host in Chromium: the
 * advice appears once, towards the usual rate, with numbers written for people.
 */
import { expect, test } from '@playwright/test';
import { useServeHost } from './serve-host';
import { fillSettings, openTrain } from './scenarios/dashboard';

const host = useServeHost();

test('an exploding run fails with its diagnosis, the advice shown once', async ({ page }, testInfo) => {
  await page.goto(host.url);
  await openTrain(page);
  await fillSettings(page, { subset: 320 });
  await page.getByTestId('optimizer').selectOption('Adam');
  await page.getByTestId('learning-rate').fill('1000000');
  await page.getByTestId('start').click();

  await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'failed', { timeout: 120_000 });
  const alert = page.getByTestId('divergence');
  await expect(alert).toBeVisible();
  await expect(alert).toContainText(/Training diverged at step \d+ \(epoch 1\)/);
  await expect(page.getByTestId('run-error')).toContainText(/the loss exploded/);
  await expect(alert).toContainText('Learning rate too high: 1,000,000 is far above what Adam tolerates here');
  const text = (await alert.textContent()) ?? '';
  expect(text.match(/try /g)).toHaveLength(1);
  expect(text).toContain('try 0.001.');
  expect(text).not.toMatch(/\d\.\d{5,}e[+-]?\d/);
  // The last batch's exploded loss, as people write it (not toFixed's 45974676307968.0000).
  await expect(page.getByTestId('progress')).toContainText(/loss \d(\.\d+)? × 10\^\d+/);
  await page.screenshot({ path: testInfo.outputPath('divergence.png'), fullPage: true });
});
