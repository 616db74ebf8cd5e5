/**
 * Host-agnostic scenario: build Géron's two BatchNormalization models in the layer builder from an
 * empty canvas, by drag-and-drop from the palette and the property panel, and check Keras' summary
 * numbers; reorder by drag, undo / redo (buttons and keys); break a field with bad values and see the
 * error at the layer, at the field and in the Train view; make sure no value crashes the renderer.
 */
import { expect, type Locator, type Page, type TestInfo } from '@playwright/test';

/** Drags a palette item into the stack: into the empty canvas, or into the gap after layer `after`. */
async function dropLayer(page: Page, class_name: string, after: number | 'empty'): Promise<void> {
  const source = page.getByTestId(`palette-${class_name}`);
  if (after === 'empty') {
    await source.dragTo(page.getByTestId('stack-empty'));
    return;
  }
  const target = page.getByTestId(`layer-${after}`);
  const box = (await target.boundingBox())!;
  // The lower half of a card is the gap after it.
  await source.dragTo(target, { targetPosition: { x: box.width / 2, y: box.height - 4 } });
}

/** Drags layer `from` into the gap before layer `before`. */
async function dragLayerBefore(page: Page, from: number, before: number): Promise<void> {
  await page.getByTestId(`layer-${from}`).dragTo(page.getByTestId(`layer-${before}`), { targetPosition: { x: 60, y: 4 } });
}

async function layerNames(page: Page): Promise<string[]> {
  return page.locator('[data-layer-card]').evaluateAll((cards) => cards.map((c) => c.getAttribute('data-name') ?? ''));
}

async function expectTotals(page: Page, total: string, trainable: string, nonTrainable: string): Promise<void> {
  await expect(page.getByTestId('summary-total')).toHaveText(total);
  await expect(page.getByTestId('summary-trainable')).toHaveText(trainable);
  await expect(page.getByTestId('summary-non-trainable')).toHaveText(nonTrainable);
}

async function select(page: Page, index: number): Promise<void> {
  await page.getByTestId(`layer-${index}`).click();
  await expect(page.getByTestId(`layer-${index}`)).toHaveAttribute('aria-selected', 'true');
}

/** Dense settings through the property panel of the selected layer. */
async function setDense(page: Page, index: number, units: string, activation: string, init?: string, useBias = true): Promise<void> {
  await select(page, index);
  await page.getByTestId('prop-units').fill(units);
  await page.getByTestId('prop-activation').selectOption(activation);
  if (init) await page.getByTestId('prop-kernel_initializer').selectOption(init);
  await page.getByTestId('prop-use_bias').setChecked(useBias);
}

const SEED_1 = ['flatten', 'batch_normalization', 'dense', 'batch_normalization_1', 'dense_1', 'batch_normalization_2', 'dense_2'];
const SEED_2 = ['flatten', 'batch_normalization', 'dense', 'batch_normalization_1', 'activation', 'dense_1', 'batch_normalization_2', 'activation_1', 'dense_2'];

export async function builderScenario(page: Page, testInfo: TestInfo): Promise<void> {
  await expect(page).toHaveTitle(/Layerbench/);
  await expect(page.getByTestId('builder')).toBeVisible();

  // ---- an empty canvas ----
  await page.getByTestId('preset-menu').click();
  await page.getByTestId('new-empty').click();
  await expect(page.getByTestId('stack-empty')).toBeVisible();
  await expectTotals(page, '0', '0', '0');
  await expect(page.getByTestId('model-status')).toHaveAttribute('data-valid', 'false');

  // ---- seed model 1 by drag-and-drop alone ----
  await dropLayer(page, 'Flatten', 'empty');
  await expect(page.getByTestId('layer-0')).toHaveAttribute('data-class', 'Flatten');
  // The first layer carries the input shape, Fashion-MNIST's 28×28 to start with.
  await expect(page.getByTestId('prop-batch_input_shape')).toHaveValue('28, 28');
  const order = ['BatchNormalization', 'Dense', 'BatchNormalization', 'Dense', 'BatchNormalization', 'Dense'];
  for (const [i, class_name] of order.entries()) {
    await dropLayer(page, class_name, i);
    await expect(page.getByTestId(`layer-${i + 1}`)).toHaveAttribute('data-class', class_name);
    // The dropped layer is selected: its properties are open.
    await expect(page.getByTestId(`layer-${i + 1}`)).toHaveAttribute('aria-selected', 'true');
  }
  expect(await layerNames(page)).toEqual(SEED_1);

  await setDense(page, 2, '300', 'elu', 'HeNormal');
  await setDense(page, 4, '100', 'elu', 'HeNormal');
  await setDense(page, 6, '10', 'softmax');
  await expectTotals(page, '271,346', '268,978', '2,368');
  await expect(page.getByTestId('summary-row-2')).toContainText('dense (Dense)');
  await expect(page.getByTestId('summary-row-2')).toContainText('(None, 300)');
  await expect(page.getByTestId('summary-row-2')).toContainText('235,500');
  await expect(page.getByTestId('model-status')).toHaveAttribute('data-valid', 'true');

  // ---- the initializer panel: He normal on dense's 784×300 kernel, measured on a fresh build ----
  await select(page, 2);
  await expect(page.getByTestId('init-fan-in')).toHaveText('784');
  await expect(page.getByTestId('init-fan-out')).toHaveText('300');
  await expect(page.getByTestId('init-fan-avg')).toHaveText('542');
  await expect(page.getByTestId('init-formula')).toContainText('σ² = 2 / fan_in');
  await expect(page.getByTestId('init-variance')).toHaveText('0.002551');
  await expect(page.getByTestId('init-std')).toHaveText('0.05051');
  const measured = page.getByTestId('init-measured-std');
  await expect(measured).not.toHaveAttribute('data-value', '', { timeout: 60_000 });
  const std = Number(await measured.getAttribute('data-value'));
  expect(std).toBeGreaterThan(0.0505 * 0.97);
  expect(std).toBeLessThan(0.0505 * 1.03);

  // ---- the variables view: BatchNormalization's gamma/beta are trainable, its moving statistics are not ----
  await page.getByTestId('inspector-variables').click();
  await expect(page.getByTestId('variable-batch_normalization_1/gamma')).toHaveAttribute('data-trainable', 'true');
  await expect(page.getByTestId('variable-batch_normalization_1/beta')).toHaveAttribute('data-trainable', 'true');
  await expect(page.getByTestId('variable-batch_normalization_1/moving_mean')).toHaveAttribute('data-trainable', 'false');
  await expect(page.getByTestId('variable-batch_normalization_1/moving_variance')).toHaveAttribute('data-trainable', 'false');
  await expect(page.getByTestId('variable-batch_normalization_1/gamma')).toContainText('(300,)');
  await expect(page.getByTestId('variable-std-dense/kernel')).toHaveText(/^0\.05\d*$/);
  await page.screenshot({ path: testInfo.outputPath('builder-variables.png') });
  await page.getByTestId('inspector-summary').click();
  await select(page, 2);
  await page.screenshot({ path: testInfo.outputPath('builder.png') });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.waitForTimeout(300); // let colour transitions finish
  await page.screenshot({ path: testInfo.outputPath('builder-dark.png') });
  await page.emulateMedia({ colorScheme: 'light' });

  // ---- seed model 2 by editing: no bias and linear, an Activation('elu') after each hidden BN ----
  await setDense(page, 2, '300', 'linear', undefined, false);
  await setDense(page, 4, '100', 'linear', undefined, false);
  await dropLayer(page, 'Activation', 3);
  await expect(page.getByTestId('layer-4')).toHaveAttribute('data-class', 'Activation');
  await page.getByTestId('prop-activation').selectOption('elu');
  await dropLayer(page, 'Activation', 6);
  await expect(page.getByTestId('layer-7')).toHaveAttribute('data-class', 'Activation');
  await page.getByTestId('prop-activation').selectOption('elu');
  expect(await layerNames(page)).toEqual(SEED_2);
  await expectTotals(page, '270,946', '268,578', '2,368');
  await expect(page.getByTestId('summary-row-2')).toContainText('235,200');

  // ---- reorder by drag, undo, redo ----
  await dragLayerBefore(page, 4, 3);
  const moved = [...SEED_2];
  moved.splice(3, 2, 'activation', 'batch_normalization_1');
  expect(await layerNames(page)).toEqual(moved);
  await expect(page.getByTestId('summary-row-3')).toContainText('activation (Activation)');
  await expect(page.getByTestId('summary-row-4')).toContainText('batch_normalization_1 (BatchNormalization)');
  await page.getByTestId('undo').click();
  expect(await layerNames(page)).toEqual(SEED_2);
  await expect(page.getByTestId('summary-row-3')).toContainText('batch_normalization_1 (BatchNormalization)');
  await page.getByTestId('redo').click();
  expect(await layerNames(page)).toEqual(moved);
  await expect(page.getByTestId('summary-row-3')).toContainText('activation (Activation)');

  // ---- the same edits by keyboard: Alt+↓ moves, Ctrl+D duplicates, Delete deletes, Ctrl+Z / Ctrl+Shift+Z / Ctrl+Y ----
  await select(page, 3);
  await page.keyboard.press('Alt+ArrowDown');
  expect(await layerNames(page)).toEqual(SEED_2);
  await expect(page.getByTestId('layer-4')).toHaveAttribute('aria-selected', 'true');
  await page.keyboard.press('Control+d');
  const withCopy = [...SEED_2.slice(0, 5), 'activation_2', ...SEED_2.slice(5)];
  expect(await layerNames(page)).toEqual(withCopy);
  await expect(page.getByTestId('layer-5')).toHaveAttribute('aria-selected', 'true');
  await page.keyboard.press('Delete');
  expect(await layerNames(page)).toEqual(SEED_2);
  await page.keyboard.press('ArrowUp');
  await expect(page.getByTestId('layer-4')).toHaveAttribute('aria-selected', 'true');
  await page.keyboard.press('Delete');
  const withoutActivation = SEED_2.filter((n) => n !== 'activation');
  expect(await layerNames(page)).toEqual(withoutActivation);
  await page.keyboard.press('Control+z');
  expect(await layerNames(page)).toEqual(SEED_2);
  await page.keyboard.press('Control+z');
  expect(await layerNames(page)).toEqual(withCopy);
  await page.keyboard.press('Control+Shift+z');
  expect(await layerNames(page)).toEqual(SEED_2);
  await page.keyboard.press('Control+y');
  expect(await layerNames(page)).toEqual(withoutActivation);
  await page.keyboard.press('Control+z');
  expect(await layerNames(page)).toEqual(SEED_2);
  // Enter on a palette item adds that layer after the selection.
  await select(page, 8);
  await page.getByTestId('palette-Dropout').focus();
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('layer-9')).toHaveAttribute('data-class', 'Dropout');
  await page.getByTestId('undo').click();
  expect(await layerNames(page)).toEqual(SEED_2);
  await expectTotals(page, '270,946', '268,578', '2,368');

  // ---- bad units: the error at the layer and the field, Start blocked with the reason ----
  await select(page, 2);
  const units = page.getByTestId('prop-units');
  for (const bad of ['0', '-1', '2.5', '']) {
    await units.fill(bad);
    await expect(units).toHaveValue(bad);
    await expect(page.getByTestId('layer-error-2')).toContainText('units must be a positive whole number');
    await expect(page.getByTestId('error-units')).toContainText('units must be a positive whole number');
    await expect(page.getByTestId('summary-row-2')).toContainText('error');
    await expect(page.getByTestId('model-status')).toHaveAttribute('data-valid', 'false');
  }
  await page.screenshot({ path: testInfo.outputPath('builder-error.png') });
  await page.getByTestId('tab-train').click();
  await expect(page.getByTestId('start')).toBeDisabled();
  await expect(page.getByRole('note')).toContainText('dense.units: must be a positive whole number');
  await page.getByTestId('tab-build').click();
  await units.fill('300');
  await expect(page.getByTestId('layer-error-2')).toHaveCount(0);
  await expectTotals(page, '270,946', '268,578', '2,368');
  await page.getByTestId('tab-train').click();
  await expect(page.getByTestId('start')).toBeEnabled();
  await expect(page.getByRole('note')).toHaveCount(0);
  await page.getByTestId('tab-build').click();

  // ---- no value crashes the renderer: every text field of every layer type takes anything ----
  await page.getByTestId('preset-menu').click();
  await page.getByTestId('new-empty').click();
  await dropLayer(page, 'Reshape', 'empty');
  await page.getByTestId('prop-target_shape').fill('28, 28, 1');
  for (const class_name of ['Conv2D', 'MaxPooling2D', 'Flatten', 'Dropout', 'AlphaDropout', 'Dense', 'BatchNormalization', 'Activation']) {
    await page.getByTestId(`palette-${class_name}`).click();
  }
  // Valid means trainable on the chosen data: Fashion-MNIST's 10 classes need 10 outputs.
  await expect(page.getByTestId('model-status')).toHaveAttribute('data-valid', 'false');
  await select(page, 6);
  await page.getByTestId('prop-units').fill('10');
  await expect(page.getByTestId('model-status')).toHaveAttribute('data-valid', 'true');
  await page.getByTestId('prop-kernel_initializer').selectOption('VarianceScaling');
  await expect(page.getByTestId('model-status')).toHaveAttribute('data-valid', 'true');
  const bad = ['0', '-1', '2.5', '', 'NaN', '1e400', '99999999999', 'abc'];
  const count = await page.locator('[data-layer-card]').count();
  let fields = 0;
  for (let i = 0; i < count; i++) {
    await select(page, i);
    const advanced = page.getByTestId('advanced-toggle');
    if (await advanced.count()) await advanced.click();
    const inputs: Locator = page.getByTestId('property-panel').locator('input[type="text"]:not([data-testid="prop-name"])');
    for (let k = 0; k < (await inputs.count()); k++) {
      const input = inputs.nth(k);
      const before = await input.inputValue();
      for (const value of bad) {
        await input.fill(value);
        await expect(input).toHaveValue(value);
        await expect(page.getByTestId('summary-total')).toBeVisible();
      }
      await input.fill(before);
      await expect(page.getByTestId('model-status')).toHaveAttribute('data-valid', 'true');
      fields++;
    }
  }
  // Target shape, filters, kernel_size, strides ×2, dilation_rate, pool_size, rate ×2, seed ×2, units, scale, axis, momentum, epsilon.
  expect(fields).toBeGreaterThanOrEqual(16);
}
