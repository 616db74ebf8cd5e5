/** The model checked against the loss and the data (issue #14) against the serve host, in Debian's Chromium. */
import { expect, test } from '@playwright/test';
import { startServeHost, type ServeHost } from './serve-host';
import { taskCheckScenario } from './scenarios/task-check';

let host: ServeHost;
test.beforeAll(async () => {
  host = await startServeHost();
});
test.afterAll(async () => {
  await host?.stop();
});

test('removing Flatten from the seed model: not valid, the problem at the layer, one click to fix', async ({ page }, testInfo) => {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  await page.goto(host.url);
  await taskCheckScenario(page, testInfo);
  expect(errors).toEqual([]);
});
