/** The model checked against the loss and the data (issue #14) against the serve host, in Debian's Chromium. */
import { expect, test } from '@playwright/test';
import { collectErrors, useServeHost } from './serve-host';
import { taskCheckScenario } from './scenarios/task-check';

const host = useServeHost();

test('removing Flatten from the seed model: not valid, the problem at the layer, one click to fix', async ({ page }, testInfo) => {
  const errors = collectErrors(page);
  await page.goto(host.url);
  await taskCheckScenario(page, testInfo);
  expect(errors).toEqual([]);
});
