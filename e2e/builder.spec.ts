/** The layer builder scenario against the serve host, in Debian's Chromium. */
import { expect, test } from '@playwright/test';
import { startServeHost, type ServeHost } from './serve-host';
import { builderScenario } from './scenarios/builder';

let host: ServeHost;
test.beforeAll(async () => {
  host = await startServeHost();
});
test.afterAll(async () => {
  await host?.stop();
});

test('builds both BatchNormalization seed models by drag-and-drop, edits, undo and validation', async ({ page }, testInfo) => {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  await page.goto(host.url);
  await builderScenario(page, testInfo);
  expect(errors).toEqual([]);
});
