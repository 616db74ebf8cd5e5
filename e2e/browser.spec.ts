/** The shared scenarios against the serve host, in Debian's Chromium. */
import { expect, test } from '@playwright/test';
import { scenarioTest, useServeHost } from './serve-host';
import { trainScenario } from './scenarios/train';

const host = useServeHost();

test('a request without the token is refused', async ({ page, request }) => {
  const response = await request.get(`${host.origin}/`);
  expect(response.status()).toBe(403);
  await page.goto(`${host.origin}/`);
  await expect(page.locator('body')).toContainText('Forbidden');
});

scenarioTest(host, 'trains the seed preset on a subset with a live chart', trainScenario);

test('a connection the server closes is shown, and the page stays', async ({ page }) => {
  await page.goto(host.url);
  await expect(page.getByTestId('host-kind')).toContainText('browser');
  await host.stop();
  await expect(page.getByTestId('disconnected')).toContainText('The connection to Layerbench closed');
  await expect(page.getByTestId('tab-build')).toBeVisible();
});
