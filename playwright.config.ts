import { defineConfig } from '@playwright/test';

// Debian's Chromium: Playwright's own browser download cannot run here (no internet).
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export default defineConfig({
  testDir: 'e2e',
  testMatch: '**/*.spec.ts',
  timeout: 180_000,
  expect: { timeout: 30_000 },
  workers: 1,
  retries: 0,
  reporter: [['list']],
  outputDir: 'test-results',
  use: {
    browserName: 'chromium',
    viewport: { width: 1360, height: 860 },
    launchOptions: {
      executablePath: process.env.LAYERBENCH_CHROMIUM ?? '/usr/bin/chromium',
      // Playwright's launch() already gives every browser a fresh, empty --user-data-dir.
      args: CHROMIUM_ARGS,
    },
  },
});
