/** Starts `layerbench serve` (the built CLI) on a fresh data folder and reads its token URL. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type Page, type TestInfo } from '@playwright/test';
import { waitForServeUrl } from '../main/serve/test-wire';

export interface ServeHost {
  url: string;
  origin: string;
  dataDir: string;
  stop(): Promise<void>;
}

/** `env`: more environment for the server (e.g. SwiftShader's, for WebGPU). */
export async function startServeHost(env: Record<string, string> = {}): Promise<ServeHost> {
  const dataDir = mkdtempSync(join(tmpdir(), 'layerbench-e2e-'));
  const child: ChildProcess = spawn(process.execPath, ['out/cli/index.js', 'serve', '--port', '0', '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const url = await waitForServeUrl(child, 30_000);
  return {
    url,
    origin: new URL(url).origin,
    dataDir,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** One serve host for a spec file's tests: started before the first, stopped after the last. */
export function useServeHost(env: Record<string, string> = {}): ServeHost {
  const host = {} as ServeHost;
  test.beforeAll(async () => {
    Object.assign(host, await startServeHost(env));
  });
  test.afterAll(async () => {
    await host.stop?.();
  });
  return host;
}

/** The page's uncaught exceptions and console errors (into `errors`), for a test to expect none. */
export function collectErrors(page: Page, errors: string[] = []): string[] {
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  return errors;
}

/** A test that opens the app on `host` and runs `scenario`, which must raise no page error. */
export function scenarioTest(host: ServeHost, title: string, scenario: (page: Page, testInfo: TestInfo) => Promise<void>): void {
  test(title, async ({ page }, testInfo) => {
    const errors = collectErrors(page);
    await page.goto(host.url);
    await scenario(page, testInfo);
    expect(errors).toEqual([]);
  });
}

/**
 * A serial spec file's one serve host and one page (opened at `viewport`, its errors collected),
 * opened before the first test and closed after the last; read `host` and `page` inside tests.
 */
export function useSharedPage(viewport = { width: 1280, height: 800 }): { host: ServeHost; page: Page; errors: string[] } {
  const shared = { errors: [] as string[] } as { host: ServeHost; page: Page; errors: string[] };
  test.describe.configure({ mode: 'serial' });
  test.beforeAll(async ({ browser }) => {
    shared.host = await startServeHost();
    shared.page = await browser.newPage({ viewport });
    collectErrors(shared.page, shared.errors);
    await shared.page.goto(shared.host.url);
  });
  test.afterAll(async () => {
    await shared.page?.close();
    await shared.host?.stop();
  });
  return shared;
}
