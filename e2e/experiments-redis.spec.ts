/**
 * A sweep across machines from the app (#17 item 5) in Chromium on the serve host: its own private
 * redis-server (with a password) and one `layerbench agent` process on loopback. The comparison's
 * sweep is built on the Redis queue (URL and password typed apart), a remote run shows live in the
 * runs list labelled with the agent's host and backend and its chart grows, the jobs name their
 * agent, the results table fills, and the password is never shown. Screenshots at 1280×800 and
 * 1920×1080 with the layout check.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type Page, type TestInfo } from '@playwright/test';
import { useSharedPage } from './serve-host';
import { fillSettings, openTrain } from './scenarios/dashboard';
import { expectNothingClippedAtBothSizes } from './layout-check';
import { startTestRedis, type TestRedis } from '../main/services/experiments/remote/redis-test-server';
import { spawnAgent, type AgentProcess } from '../main/services/experiments/remote/agent-process';

const PASSWORD = 'e2e-queue-secret';
const AGENT = 'e2e-agent';
const shared = useSharedPage();
let page: Page;
let redis: TestRedis;
let agent: AgentProcess;
let agentDir: string;

test.beforeAll(async () => {
  page = shared.page;
  redis = await startTestRedis({ password: PASSWORD });
  agentDir = mkdtempSync(join(tmpdir(), 'layerbench-e2e-agent-'));
  agent = spawnAgent(['--redis', redis.url, '--name', AGENT, '--backend', 'wasm', '--data-dir', agentDir], { TMPDIR: agentDir });
  await agent.ready;
});
test.afterAll(async () => {
  agent?.child.kill('SIGKILL');
  await redis?.stop();
  if (agentDir) rmSync(agentDir, { recursive: true, force: true });
});

/** A screenshot of the view at each size, and no text clipped in it. */
const lookAtBothSizes = (view: string, testInfo: TestInfo) => expectNothingClippedAtBothSizes(page, view, testInfo);

// eslint-disable-next-line no-empty-pattern -- Playwright reads the fixtures from this pattern; this test uses the shared page
test('a sweep on a Redis queue: remote runs live with their agent, the jobs’ agents, the results table', async ({}, testInfo) => {
  // Enough images that a run of the deep plain network lasts a few seconds on the agent: long enough to watch live.
  await openTrain(page);
  await fillSettings(page, { subset: 2400, epochs: 2, statsEvery: 8 });
  await page.getByTestId('tab-runs').click();

  await page.getByTestId('sweep-he-vs-glorot').click();
  const builder = page.getByTestId('sweep-builder');
  await page.getByTestId('sweep-seeds').fill('2');
  await page.getByTestId('sweep-queue-redis').check();
  // A URL that is not Redis's is refused before anything is sent.
  await page.getByTestId('sweep-redis-url').fill(`http://127.0.0.1:${redis.port}`);
  await expect(builder).toContainText('a Redis URL looks like');
  await expect(page.getByTestId('sweep-start')).toBeDisabled();
  await page.getByTestId('sweep-redis-url').fill(`redis://127.0.0.1:${redis.port}`);
  await page.getByTestId('sweep-redis-password').fill(PASSWORD);
  await expect(page.getByTestId('sweep-redis-password')).toHaveAttribute('type', 'password');
  await expect(builder).toContainText('2 arms × 2 seeds = 4 runs');
  await lookAtBothSizes('redis-builder', testInfo);
  await page.getByTestId('sweep-start').click();
  await expect(builder).toBeHidden();

  const panel = page.getByTestId('sweep-panel');
  await expect(panel.getByTestId('sweep-queue')).toHaveText(`Redis queue redis://:***@127.0.0.1:${redis.port}`);
  await expect(panel.getByTestId('sweep-job')).toHaveCount(4);

  // A remote run, live: its row is running and names the agent; opened, its loss chart grows.
  const liveRow = page.locator('[data-testid^="run-row-"][data-status="running"]').filter({ hasText: `on ${AGENT} · wasm` });
  await expect(liveRow).toHaveCount(1, { timeout: 60_000 });
  const runId = (await liveRow.getAttribute('data-testid'))!.replace('run-row-', '');
  await page.getByTestId(`run-open-${runId}`).click();
  await expect(page.getByTestId('run-detail-agent')).toHaveText(AGENT);
  const chart = page.getByTestId('run-detail').getByTestId('metrics-chart');
  const pointsNow = Number(await chart.getAttribute('data-points'));
  await expect.poll(async () => Number(await chart.getAttribute('data-points')), { timeout: 30_000 }).toBeGreaterThan(pointsNow);
  await expect(panel.getByTestId('sweep-job-agent').first()).toHaveText(`${AGENT}/wasm`);
  await page.screenshot({ path: testInfo.outputPath('redis-sweep-running.png'), fullPage: true });

  // The run, stored once its job finished: the same row, not a second one.
  await expect(page.getByTestId(`run-row-${runId}`)).toHaveAttribute('data-status', 'finished', { timeout: 60_000 });
  await expect(page.locator(`[data-testid="run-row-${runId}"]`)).toHaveCount(1);

  await expect(panel).toHaveAttribute('data-status', 'finished', { timeout: 150_000 });
  await expect(panel.locator('[data-testid="sweep-job"][data-status="finished"]')).toHaveCount(4);
  await expect(panel.getByTestId('sweep-job-agent')).toHaveText(Array(4).fill(`${AGENT}/wasm`));
  const table = panel.getByTestId('sweep-results');
  await expect(table.getByTestId('sweep-arm')).toHaveCount(2);
  await expect(table.getByTestId('sweep-arm').first()).toContainText(/\d+\.\d\d% ±\s\d+\.\d\d/);
  // Four runs stored, each labelled with the agent.
  await expect(page.locator('[data-testid^="run-row-"]')).toHaveCount(4);
  await expect(page.locator('[data-testid^="run-agent-"]')).toHaveCount(4);
  await lookAtBothSizes('redis-sweep-results', testInfo);

  expect(await page.content()).not.toContain(PASSWORD);
  expect(shared.errors).toEqual([]);
});
