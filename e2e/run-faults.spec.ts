/**
 * A run whose files could not all be written (here: its record says the disk filled up, as the
 * runs workspace writes it) opens in the Runs view with the reason and the list of files that are
 * missing or incomplete.
 */
import { expect, test } from '@playwright/test';
import { defaultTrainingSettings } from '../contract';
import { seedModel1 } from '../model/presets';
import { withFaults } from '../main/services/runs/faults';
import { RunStore } from '../main/services/runs/store';
import { startServeHost, type ServeHost } from './serve-host';

let host: ServeHost;
test.beforeAll(async () => {
  host = await startServeHost();
  const writer = await new RunStore(host.dataDir).create({ runId: 'run-disk-full', spec: seedModel1, settings: defaultTrainingSettings, backend: 'wasm' });
  writer.appendBatch({ epoch: 0, batch: 0, step: 0, loss: 2.3, acc: 0.1 });
  const files = [
    { file: 'best/', state: 'missing', errno: 'ENOSPC' },
    { file: 'weights/', state: 'missing', errno: 'ENOSPC' },
  ] as const;
  await writer.setStatus('failed', withFaults(null, [...files], writer.directory));
});
test.afterAll(async () => {
  await host?.stop();
});

test('the run detail says which files a failed run could not write', async ({ page }, testInfo) => {
  await page.goto(host.url);
  await page.getByTestId('tab-runs').click();
  await page.getByTestId('run-open-run-disk-full').click();
  await expect(page.getByTestId('run-detail')).toHaveAttribute('data-loaded', 'true');
  await expect(page.getByTestId('run-error')).toContainText('best/ is missing (ENOSPC: the disk is full)');
  const faults = page.getByTestId('run-file-fault');
  await expect(faults).toHaveCount(2);
  await expect(faults.nth(0)).toHaveAttribute('data-file', 'best/');
  await expect(faults.nth(1)).toContainText('weights/ missing (ENOSPC)');
  // Nothing to evaluate or export: neither final weights nor a checkpoint were written.
  await expect(page.getByTestId('evaluate')).toBeDisabled();
  await page.screenshot({ path: testInfo.outputPath('run-faults.png') });
});
