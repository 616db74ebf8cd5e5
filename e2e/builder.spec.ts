/** The layer builder scenario against the serve host, in Debian's Chromium. */
import { expect, test } from '@playwright/test';
import { collectErrors, useServeHost } from './serve-host';
import { builderScenario } from './scenarios/builder';

const host = useServeHost();

test('builds both BatchNormalization seed models by drag-and-drop, edits, undo and validation', async ({ page }, testInfo) => {
  const errors = collectErrors(page);
  await page.goto(host.url);
  await builderScenario(page, testInfo);
  expect(errors).toEqual([]);
});
