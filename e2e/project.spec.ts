/** Project files against the serve host, in Debian's Chromium. */
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { useServeHost } from './serve-host';
import { projectScenario } from './scenarios/project';

const host = useServeHost();

test('saves, recovers unsaved edits after a reload, and reopens a project', async ({ page }, testInfo) => {
  const path = join(host.dataDir, 'mlp.layerbench.json');
  await page.goto(host.url);
  await projectScenario(page, testInfo, path);
  const saved = JSON.parse(readFileSync(path, 'utf8'));
  expect(saved).toMatchObject({ format: 'layerbench.project', version: 1, model: { class_name: 'Sequential' } });
});
