/**
 * The shared scenarios against the Electron app (out/main/index.js, after `npm run build`).
 * Skipped, with the reason, where the Electron binary is not installed (it downloads from GitHub).
 */
import { _electron as electron, expect, test, type ElectronApplication, type Page } from '@playwright/test';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findElectron } from '../scripts/find-electron.mjs';
import { trainScenario } from './scenarios/train';

// Found without calling require('electron') when the binary is missing: that would try to download it (and fail offline) in every test worker.
const electronBinary = findElectron();
test.skip(!electronBinary.path, `Electron binary not installed: ${electronBinary.missing ?? ''}`);

let app: ElectronApplication | undefined;
let userData: string | undefined;

test.afterEach(async () => {
  await app?.close();
  app = undefined;
  if (userData) rmSync(userData, { recursive: true, force: true });
  userData = undefined;
});

/** Launches the built app on a fresh profile and data folder; collects page errors. */
async function launch(): Promise<{ page: Page; errors: string[] }> {
  expect(existsSync('out/main/index.js'), 'out/main/index.js (run npm run build)').toBe(true);
  userData = mkdtempSync(join(tmpdir(), 'layerbench-electron-'));
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && key !== 'ELECTRON_RUN_AS_NODE') env[key] = value;
  env.LAYERBENCH_USER_DATA_DIR = userData;
  app = await electron.launch({ executablePath: electronBinary.path, args: ['out/main/index.js'], env });
  const page = await app.firstWindow();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  await page.waitForLoadState('domcontentloaded');
  return { page, errors };
}

test('the window is sandboxed, on the app origin, with only window.layerbench exposed', async () => {
  const { page, errors } = await launch();
  expect(page.url()).toMatch(/^app:\/\/layerbench\//);
  const exposed = await page.evaluate(() => {
    const global = globalThis as unknown as Record<string, unknown> & { layerbench?: Record<string, unknown> };
    return {
      require: typeof global.require,
      process: typeof global.process,
      module: typeof global.module,
      api: global.layerbench ? Object.keys(global.layerbench).sort() : null,
    };
  });
  expect(exposed).toEqual({ require: 'undefined', process: 'undefined', module: 'undefined', api: ['invoke', 'on'] });

  // The API answers over IPC and validates what it gets.
  const info = await page.evaluate(() => (globalThis as unknown as { layerbench: { invoke(name: string, request: unknown): Promise<unknown> } }).layerbench.invoke('app.info', {}));
  expect(info).toMatchObject({ name: 'Layerbench', host: 'electron' });
  const refused = await page.evaluate(() =>
    (globalThis as unknown as { layerbench: { invoke(name: string, request: unknown): Promise<unknown> } }).layerbench.invoke('no.such.command', {}).then(
      () => 'resolved',
      (error: Error) => error.message,
    ),
  );
  expect(refused).toMatch(/Unknown command/);

  // No new windows, no navigation away.
  const opened = await page.evaluate(() => (globalThis as unknown as { open(url: string): unknown }).open('file:///etc/passwd') === null);
  expect(opened).toBe(true);
  await page.evaluate(() => {
    (globalThis as unknown as { location: { href: string } }).location.href = 'file:///etc/passwd';
  });
  await page.waitForTimeout(500);
  expect(page.url()).toMatch(/^app:\/\/layerbench\//);
  expect(await app!.evaluate(({ BrowserWindow }) => BrowserWindow.getAllWindows().length)).toBe(1);
  expect(errors).toEqual([]);
});

// eslint-disable-next-line no-empty-pattern -- Playwright reads the fixtures from this pattern; asking for none keeps a browser page from starting
test('trains the seed preset on a subset with a live chart', async ({}, testInfo) => {
  const { page, errors } = await launch();
  await trainScenario(page, testInfo);
  expect(errors).toEqual([]);
});
