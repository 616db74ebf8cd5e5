/**
 * Host-agnostic scenario: a project is saved, reopened from the recent list, and unsaved edits
 * survive a reload (standing in for a crash) through the autosave.
 */
import { expect, type Page, type TestInfo } from '@playwright/test';

export async function projectScenario(page: Page, testInfo: TestInfo, projectPath: string): Promise<void> {
  const menu = page.getByTestId('project-menu');
  await expect(menu).toContainText('Untitled project');

  // Save as: a new file.
  await menu.click();
  await page.getByTestId('project-save-as').click();
  await page.getByTestId('path-input').fill(projectPath);
  await page.getByTestId('path-submit').click();
  await expect(page.getByTestId('project-notice')).toContainText('Saved');
  await expect(menu).toContainText(projectPath.split('/').pop()!);
  await expect(page.getByTestId('project-dirty')).toHaveCount(0);

  // Saving again under the same name asks before replacing.
  await menu.click();
  await page.getByTestId('project-save-as').click();
  await page.getByTestId('path-submit').click();
  await expect(page.getByTestId('replace-confirm')).toBeVisible();
  await page.getByTestId('replace-yes').click();
  await expect(page.getByTestId('project-notice')).toContainText('Saved');

  // An unsaved edit, then the page goes away before it is saved.
  await page.getByTestId('model-name').fill('edited_model');
  await expect(page.getByTestId('project-dirty')).toBeVisible();
  await page.waitForTimeout(1600); // the autosave runs a second after the last edit
  await page.reload();
  await expect(page.getByTestId('recovery-banner')).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath('recovery.png') });
  await page.getByTestId('recovery-restore').click();
  await expect(page.getByTestId('model-name')).toHaveValue('edited_model');

  // Open the saved file from the recent list: the edit is not in it.
  await menu.click();
  await page.getByRole('menuitem', { name: projectPath.split('/').pop()! }).click();
  await expect(page.getByTestId('project-notice')).toContainText('Opened');
  await expect(page.getByTestId('model-name')).not.toHaveValue('edited_model');
  await expect(page.getByTestId('summary-total')).toHaveText('271,346');
}
