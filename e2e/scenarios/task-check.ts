/**
 * Host-agnostic scenario (issue #14): removing Flatten from the seed model leaves a model Keras builds
 * but that cannot train on Fashion-MNIST — output (None, 28, 10). The badge says so, the Dense layer
 * shows why with the shapes, Start is blocked, and one click puts Flatten back.
 */
import { expect, type Page, type TestInfo } from '@playwright/test';

export async function taskCheckScenario(page: Page, testInfo: TestInfo): Promise<void> {
  const status = page.getByTestId('model-status');
  await expect(page.getByTestId('dataset-fashion-mnist')).toBeAttached(); // the dataset list is read: the check knows the data
  await expect(status).toHaveAttribute('data-valid', 'true');

  await page.getByTestId('layer-0').click();
  await page.getByTestId('layer-delete-0').click();
  await expect(page.getByTestId('layer-0')).toHaveAttribute('data-class', 'BatchNormalization');
  await expect(status).toHaveAttribute('data-valid', 'false');
  await expect(status).toContainText('1 problem');
  await expect(page.getByTestId('model-output')).toHaveText('(None, 28, 10)');

  const note = page.getByTestId('dataset-mismatch-1');
  await expect(note).toHaveAttribute('data-blocking', 'true');
  await expect(note).toContainText('Dense gets (None, 28, 28)');
  await expect(note).toContainText("the model's output is (None, 28, 10), but sparse categorical cross-entropy needs (None, 10)");
  const fix = note.getByTestId('fix-output-rank');
  await expect(fix).toHaveText('Insert Flatten at the top');
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.screenshot({ path: testInfo.outputPath('flatten-removed.png') });

  await page.getByTestId('tab-train').click();
  await expect(page.getByTestId('start')).toBeDisabled();
  await expect(page.getByTestId('start-blocked')).toContainText('Insert a Flatten at the top');
  await page.getByTestId('tab-build').click();

  await fix.click();
  await expect(page.getByTestId('layer-0')).toHaveAttribute('data-class', 'Flatten');
  await expect(page.getByTestId('layer-0')).toHaveAttribute('aria-selected', 'true');
  await expect(status).toHaveAttribute('data-valid', 'true');
  await expect(page.locator('[data-testid^="dataset-mismatch-"]')).toHaveCount(0);
  await expect(page.getByTestId('model-output')).toHaveText('(None, 10)');
  await page.screenshot({ path: testInfo.outputPath('flatten-inserted.png') });
}
