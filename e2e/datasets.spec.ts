/**
 * Own data, end to end, against the serve host in Debian's Chromium: a CSV of 600 real
 * Fashion-MNIST samples (label + 784 pixel columns, with a header) is imported through the Data
 * view (typed path, label column picked, reshaped to 28×28), previewed (class counts, drawn
 * samples), used for training with Adam and early stopping, and trained until the run ends; a
 * malformed CSV (a ragged row) fails with its file and line shown at the form.
 */
import { expect, test, type Page } from '@playwright/test';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadFashionMnist } from '../main/services/datasets/fashion-mnist';
import { collectErrors, type ServeHost, startServeHost } from './serve-host';

const SAMPLES = 600;
const FASHION_DIR = process.env.LAYERBENCH_FASHION_MNIST_DIR ?? '/usr/share/datasets/fashion-mnist';

let host: ServeHost;
let dir: string;
let csvPath: string;
let raggedPath: string;
let expectedCounts: number[];

test.beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'layerbench-e2e-data-'));
  const { images, labels } = await loadFashionMnist(FASHION_DIR, 'train');
  const header = ['label', ...Array.from({ length: 784 }, (_, i) => `pixel${i}`)].join(',');
  const lines = [header];
  expectedCounts = Array(10).fill(0);
  for (let i = 0; i < SAMPLES; i++) {
    lines.push([labels[i], ...images.subarray(i * 784, (i + 1) * 784)].join(','));
    expectedCounts[labels[i]!]++;
  }
  csvPath = join(dir, 'fashion-600.csv');
  writeFileSync(csvPath, lines.join('\n') + '\n');
  // Line 3 (the second data row) has one column too few.
  raggedPath = join(dir, 'ragged.csv');
  writeFileSync(raggedPath, ['label,a,b,c', '1,0,0,0', '2,5,5', '0,1,2,3', ''].join('\n'));
  host = await startServeHost();
});
test.afterAll(async () => {
  await host?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});
test.use({ viewport: { width: 1440, height: 1000 } });
test.describe.configure({ mode: 'serial' });

async function openData(page: Page): Promise<void> {
  await page.goto(host.url);
  await page.getByTestId('tab-data').click();
  await expect(page.getByTestId('dataset-fashion-mnist')).toBeVisible({ timeout: 60_000 });
}

async function scanCsv(page: Page, path: string): Promise<void> {
  await page.getByTestId('import-kind-csv').click();
  await expect(page.getByTestId('import-kind-csv')).toHaveAttribute('data-checked', 'true');
  await page.getByTestId('import-path').fill(path);
  await page.getByTestId('import-scan').click();
  await expect(page.getByTestId('import-scan-result')).toBeVisible();
}

test('imports a CSV of Fashion-MNIST, previews it and trains on it with Adam and early stopping', async ({ page }, testInfo) => {
  const errors = collectErrors(page);
  await openData(page);
  // Fashion-MNIST is first and in use; its test split is its own.
  await expect(page.getByTestId('dataset-list').locator('li').first()).toHaveAttribute('data-testid', 'dataset-fashion-mnist');
  await expect(page.getByTestId('data-test-split')).toBeDisabled();
  await expect(page.getByTestId('test-split-note')).toContainText('own test set');

  await scanCsv(page, csvPath);
  await expect(page.getByTestId('import-scan-result')).toContainText('785 columns, header detected');
  // The label column is picked from the detected columns ("label" is guessed; pick it explicitly anyway).
  await page.getByTestId('import-label-column').selectOption({ label: 'label (#0)' });
  await expect(page.getByTestId('import-reshape-note')).toContainText('784 features per row');
  await page.getByTestId('import-reshape').fill('28x28');
  await expect(page.getByTestId('import-reshape-note')).toContainText('samples of shape 28×28');
  await expect(page.getByTestId('import-name')).toHaveValue('fashion-600');
  await page.getByTestId('import-name').fill('Fashion 600 (CSV)');
  await page.getByTestId('import-start').click();
  await expect(page.getByTestId('import-done')).toContainText('600 samples, 10 classes', { timeout: 60_000 });

  // The new dataset is listed and previewed.
  const item = page.locator('[data-testid^="dataset-"][data-name="Fashion 600 (CSV)"]');
  await expect(item).toBeVisible();
  const id = (await item.getAttribute('data-testid'))!.replace(/^dataset-/, '');
  const preview = page.getByTestId('dataset-preview');
  await expect(preview).toHaveAttribute('data-dataset', id);
  await expect(page.getByTestId('class-counts')).toHaveAttribute('data-total', String(SAMPLES));
  const counts = await page.getByTestId('class-count').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-count'))));
  expect(counts).toEqual(expectedCounts);
  expect(counts.reduce((a, b) => a + b, 0)).toBe(SAMPLES);
  await expect(page.getByTestId('preview-shape')).toHaveText('28 × 28');
  await expect(page.getByTestId('preview-range')).toContainText('0 … 255');
  const canvases = page.getByTestId('sample-canvas');
  await expect(canvases.first()).toHaveAttribute('data-drawn', 'true');
  expect(await canvases.count()).toBeGreaterThanOrEqual(10);
  // The canvases hold the pixels: not all black.
  const lit = await canvases.first().evaluate((c) => {
    const canvas = c as unknown as {
      width: number;
      height: number;
      getContext(t: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } };
    };
    return canvas
      .getContext('2d')
      .getImageData(0, 0, canvas.width, canvas.height)
      .data.some((v, i) => i % 4 !== 3 && v > 0);
  });
  expect(lit).toBe(true);

  // Use it for training: the run's data settings are chosen here.
  await page.getByTestId('use-for-training').click();
  await expect(page.getByTestId('use-state')).toBeVisible();
  await expect(page.getByTestId(`dataset-${id}`).getByTestId('in-use')).toBeVisible();
  await expect(page.getByTestId('data-test-split')).toBeEnabled();
  await page.getByTestId('data-test-split').fill('0.1');
  await page.getByTestId('data-validation-split').fill('0.2');
  await page.getByTestId('data-normalization').selectOption('scale-255');
  await expect(page.getByTestId('data-input-shape')).toHaveAttribute('data-fits', 'true');
  await page.screenshot({ path: testInfo.outputPath('data-tab.png'), fullPage: true });

  // Train: Adam (Keras' default learning rate offered), early stopping on val_loss.
  await page.getByTestId('tab-train').click();
  await expect(page.getByTestId('settings-dataset')).toHaveAttribute('data-dataset', id);
  await expect(page.getByTestId('validation-split')).toHaveValue('0.2');
  await page.getByTestId('optimizer').selectOption('Adam');
  await expect(page.getByTestId('opt-beta_1')).toHaveValue('0.9');
  await expect(page.getByTestId('opt-beta_2')).toHaveValue('0.999');
  await page.getByTestId('lr-default').click();
  await expect(page.getByTestId('learning-rate')).toHaveValue('0.001');
  await page.getByTestId('epochs').fill('6');
  await page.getByTestId('batch-size').fill('32');
  await page.getByTestId('train-all').check();
  await page.getByTestId('early-stopping').check();
  await expect(page.getByTestId('es-monitor')).toHaveValue('val_loss');
  await page.getByTestId('es-patience').fill('1');
  // No epoch improves val_loss by 5: the run stops after its second epoch (Keras' rule: wait ≥ patience).
  await page.getByTestId('es-min_delta').fill('5');
  // A field error shows at its field and blocks Start, then clears.
  await page.getByTestId('opt-beta_1').fill('1.5');
  await expect(page.getByTestId('error-optimizer.config.beta_1')).toContainText('at most 1');
  await expect(page.getByTestId('start')).toBeDisabled();
  await page.screenshot({ path: testInfo.outputPath('settings-error.png'), fullPage: true });
  await page.getByTestId('opt-beta_1').fill('0.9');
  await expect(page.getByTestId('error-optimizer.config.beta_1')).toHaveCount(0);
  await page.getByTestId('training-settings').screenshot({ path: testInfo.outputPath('settings-form.png') });

  await expect(page.getByTestId('start')).toBeEnabled();
  await page.getByTestId('start').click();
  const status = page.getByTestId('run-status');
  await expect(status).toHaveAttribute('data-status', 'finished', { timeout: 150_000 });
  await expect(page.getByTestId('run-dataset')).toHaveAttribute('data-dataset', id);
  const epochs = await page.getByTestId('epoch-table').locator('tbody tr').count();
  expect(epochs).toBe(2);
  await expect(page.locator('[data-testid="run-note"][data-kind="early-stopping"]')).toHaveAttribute('data-epoch', '1');
  await expect(page.getByTestId('stopped-early')).toBeVisible();
  await expect(page.getByTestId('epoch-lr').first()).toHaveText('1e−3');
  // The learning-rate chart has one point per epoch.
  await expect(page.getByTestId('lr-chart')).toHaveAttribute('data-points', '2');
  await page.screenshot({ path: testInfo.outputPath('trained.png'), fullPage: true });

  // The run folder says what it trained on, and with what.
  const runId = (await page.getByTestId('run-id').textContent())!.trim();
  const run = JSON.parse(readFileSync(join(host.dataDir, 'runs', runId, 'run.json'), 'utf8')) as {
    settings: { dataset: string; optimizer: { class_name: string }; earlyStopping: object | null; learningRate: number };
  };
  expect(run.settings.dataset).toBe(id);
  expect(run.settings.optimizer.class_name).toBe('Adam');
  expect(run.settings.learningRate).toBe(0.001);
  expect(run.settings.earlyStopping).toEqual({ monitor: 'val_loss', patience: 1, min_delta: 5, restore_best_weights: true });
  testInfo.annotations.push({ type: 'epochs', description: `${epochs} epochs before the run ended` });

  // The new settings survive the project's autosave and recovery (a reload stands in for a crash).
  await page.waitForTimeout(1500);
  await page.reload();
  await page.getByTestId('recovery-restore').click();
  await page.getByTestId('tab-train').click();
  await expect(page.getByTestId('settings-dataset')).toHaveAttribute('data-dataset', id);
  await expect(page.getByTestId('optimizer')).toHaveValue('Adam');
  await expect(page.getByTestId('learning-rate')).toHaveValue('0.001');
  await expect(page.getByTestId('early-stopping')).toBeChecked();
  await expect(page.getByTestId('es-patience')).toHaveValue('1');
  await expect(page.getByTestId('validation-split')).toHaveValue('0.2');
  await page.getByTestId('tab-data').click();
  await expect(page.getByTestId('data-test-split')).toHaveValue('0.1');
  expect(errors).toEqual([]);
});

test('a malformed CSV fails at the form with its file and line; skipping bad rows lists them', async ({ page }, testInfo) => {
  const errors = collectErrors(page);
  await openData(page);
  await scanCsv(page, raggedPath);
  await page.getByTestId('import-start').click();
  const error = page.getByTestId('import-error');
  await expect(error).toContainText('ragged.csv');
  await expect(error).toContainText('line 3');
  await page.screenshot({ path: testInfo.outputPath('import-error.png'), fullPage: true });

  await page.getByTestId('import-skip-bad').check();
  await page.getByTestId('import-start').click();
  await expect(page.getByTestId('import-done')).toContainText('2 samples');
  await expect(page.getByTestId('import-skipped')).toContainText('line 3');
  await expect(page.getByTestId('import-error')).toHaveCount(0);
  const item = page.locator('[data-testid^="dataset-"][data-name="ragged"]');
  const id = (await item.getAttribute('data-testid'))!.replace(/^dataset-/, '');
  await expect(page.getByTestId('sample-table')).toBeVisible();
  await expect(page.getByTestId('preview-shape')).toHaveText('3');

  // Its samples (3 features) and classes (2) do not fit the 28×28 → 10 model: shown at the layers, Start blocked.
  await page.getByTestId('use-for-training').click();
  await expect(page.getByTestId('data-input-shape')).toHaveAttribute('data-fits', 'false');
  await page.getByTestId('data-fix-in-builder').click();
  const inputMismatch = page.getByTestId('dataset-mismatch-0');
  await expect(inputMismatch).toHaveAttribute('data-field', 'batch_input_shape');
  await expect(inputMismatch).toContainText("does not match ragged's samples (3)");
  const unitsMismatch = page.locator('[data-testid^="dataset-mismatch-"][data-field="units"]');
  await expect(unitsMismatch).toContainText('10 units, but ragged has 2 classes');
  await page.screenshot({ path: testInfo.outputPath('builder-mismatch.png') });
  await page.getByTestId('tab-train').click();
  await expect(page.getByTestId('start')).toBeDisabled();
  await expect(page.getByTestId('start-blocked')).toContainText('does not match');
  await page.getByTestId('tab-build').click();
  // One click gives a model that trains on (None, 3) → 2 classes: TF.js refuses a Flatten on a 1-D
  // input, so the input's fix removes it, and sets the output's units too.
  const fixInput = page.getByTestId('fix-batch_input_shape');
  await expect(fixInput).toHaveText('Set input to 3, remove flatten, set units to 2');
  await fixInput.click();
  await expect(page.locator('[data-testid^="dataset-mismatch-"]')).toHaveCount(0);
  await expect(page.getByTestId('layer-0')).toHaveAttribute('data-class', 'BatchNormalization');
  await page.getByTestId('layer-0').click();
  await expect(page.getByTestId('prop-batch_input_shape')).toHaveValue('3');

  // Kernel regularizer and max-norm on a Dense layer.
  await page.getByTestId('layer-1').click();
  await page.getByTestId('prop-kernel_regularizer-l2').fill('0.01');
  await page.getByTestId('prop-kernel_constraint').fill('3');
  await expect(page.locator('[data-testid^="error-kernel"]')).toHaveCount(0);
  await expect(page.getByTestId('model-status')).toHaveAttribute('data-valid', 'true');
  await page.getByTestId('property-panel').screenshot({ path: testInfo.outputPath('regularizer-fields.png') });
  await page.getByTestId('tab-train').click();
  await expect(page.getByTestId('start')).toBeEnabled();

  // Deleting the dataset in use asks first, then falls back to Fashion-MNIST.
  await page.getByTestId('tab-data').click();
  await page.getByTestId(`dataset-delete-${id}`).click();
  await page.getByTestId('dataset-delete-confirm').click();
  await expect(page.getByTestId(`dataset-${id}`)).toHaveCount(0);
  await expect(page.getByTestId('dataset-fashion-mnist').getByTestId('in-use')).toBeVisible();
  // The console error of the failed command is the host's answer, not a page error.
  expect(errors.filter((e) => !/ragged/.test(e))).toEqual([]);
});

test('a pandas CSV (header 0,1,2,label) imports with its header detected, not as a sample', async ({ page }) => {
  const errors = collectErrors(page);
  const path = join(dir, 'pandas.csv');
  writeFileSync(path, ['0,1,2,label', '0.5,1,2,cat', '1,2,3,dog', '2,3,4,cat', ''].join('\n'));
  await openData(page);
  await scanCsv(page, path);
  await expect(page.getByTestId('import-scan-result')).toContainText('4 columns, header detected');
  await expect(page.getByTestId('import-label-column')).toHaveValue('3');
  await page.getByTestId('import-start').click();
  await expect(page.getByTestId('import-done')).toContainText('3 samples, 2 classes');
  expect(errors).toEqual([]);
});

test('an iris-shaped CSV starts on its text column, keeps its header names, and defaults to standardize', async ({ page }, testInfo) => {
  const errors = collectErrors(page);
  await page.setViewportSize({ width: 1280, height: 800 });
  const path = join(dir, 'iris.csv');
  const species = ['setosa', 'versicolor', 'virginica'];
  const rows = Array.from({ length: 30 }, (_, i) =>
    [(5 + (i % 7) / 5).toFixed(1), (3 - (i % 5) / 4).toFixed(1), ((i % 3) * 2 - 2.4).toFixed(1), ((i % 4) * 0.6).toFixed(1), species[i % 3]].join(','),
  );
  writeFileSync(path, ['sepal_length,sepal_width,petal_length,petal_width,species', ...rows, ''].join('\n'));
  await openData(page);
  await scanCsv(page, path);
  await expect(page.getByTestId('import-scan-result')).toContainText('5 columns, header detected');
  // The label column is the one holding text, and 4 measurements are not offered as a 2×2 image.
  await expect(page.getByTestId('import-label-column')).toHaveValue('4');
  await expect(page.getByTestId('import-reshape-note')).toContainText('4 features per row');
  await expect(page.getByTestId('import-reshape-square')).toHaveCount(0);
  await page.getByTestId('import-start').click();
  await expect(page.getByTestId('import-done')).toContainText('30 samples, 3 classes');

  // The preview's columns carry the header's names.
  const headers = page.getByTestId('sample-table').locator('thead th');
  await expect(headers).toHaveText(['#', 'label', 'sepal_length', 'sepal_width', 'petal_length', 'petal_width']);
  // Picked for training, it is standardized; ÷255 on values below 0 is warned about.
  await page.getByTestId('use-for-training').click();
  await expect(page.getByTestId('data-normalization')).toHaveValue('standardize');
  await expect(page.getByTestId('normalization-warnings')).toHaveCount(0);
  await page.getByTestId('data-normalization').selectOption('scale-255');
  await expect(page.getByTestId('normalization-warnings')).toContainText("÷255 is meant for pixel values 0…255, but iris's values run -2.4…6.2");
  await page.screenshot({ path: testInfo.outputPath('iris-import.png') });
  await page.getByTestId('data-normalization').selectOption('standardize');
  expect(errors).toEqual([]);
});

test('an unreadable dataset is listed with its reason and can be deleted after a confirmation', async ({ page }) => {
  const errors = collectErrors(page);
  const id = 'user-broken-abc123';
  mkdirSync(join(host.dataDir, 'datasets', id), { recursive: true });
  writeFileSync(join(host.dataDir, 'datasets', id, 'meta.json'), '{"formatVersion": 1, "summ');
  await openData(page);
  const item = page.getByTestId(`unreadable-${id}`);
  await expect(item).toContainText('malformed JSON');
  await item.getByTestId(`dataset-delete-${id}`).click();
  await item.getByTestId('dataset-delete-confirm').click();
  await expect(page.getByTestId(`unreadable-${id}`)).toHaveCount(0);
  expect(existsSync(join(host.dataDir, 'datasets', id))).toBe(false);
  expect(errors).toEqual([]);
});

test('imports an IDX pair (gzipped) after a scan shows its shape and count', async ({ page }) => {
  const errors = collectErrors(page);
  await openData(page);
  await page.getByTestId('import-kind-idx').click();
  await expect(page.getByTestId('import-kind-idx')).toHaveAttribute('data-checked', 'true');
  await page.getByTestId('import-images-path').fill(join(FASHION_DIR, 't10k-images-idx3-ubyte.gz'));
  await page.getByTestId('import-labels-path').fill(join(FASHION_DIR, 't10k-labels-idx1-ubyte.gz'));
  await page.getByTestId('import-scan').click();
  await expect(page.getByTestId('import-scan-result')).toHaveText('10,000 samples of shape 28×28');
  await page.getByTestId('import-name').fill('FM test set (IDX)');
  await page.getByTestId('import-start').click();
  await expect(page.getByTestId('import-done')).toContainText('10,000 samples, 10 classes', { timeout: 60_000 });
  await expect(page.getByTestId('class-counts')).toHaveAttribute('data-total', '10000');
  await expect(page.getByTestId('sample-canvas').first()).toHaveAttribute('data-drawn', 'true');
  expect(errors).toEqual([]);
});

test('schedule and callback settings show their problems at the field', async ({ page }, testInfo) => {
  const errors = collectErrors(page);
  await page.goto(host.url);
  await page.getByTestId('tab-train').click();
  await page.getByTestId('lr-schedule').selectOption('PiecewiseConstantDecay');
  await page.getByTestId('sched-boundaries').fill('100, x');
  await expect(page.getByTestId('error-lrSchedule.config.boundaries')).toContainText('"x" is not a number');
  await page.getByTestId('sched-boundaries').fill('100, 50');
  await expect(page.getByTestId('error-lrSchedule.config.boundaries')).toContainText('boundaries must increase');
  await page.getByTestId('sched-boundaries').fill('100, 200');
  await page.getByTestId('sched-values').fill('0.1, 0.01');
  await expect(page.getByTestId('error-lrSchedule.config.values')).toContainText('one more entry than boundaries');
  await page.getByTestId('sched-values').fill('0.1, 0.01, 0.001');
  await expect(page.locator('[data-testid^="error-lrSchedule"]')).toHaveCount(0);

  await page.getByTestId('lr-schedule').selectOption('ReduceLROnPlateau');
  await page.getByTestId('validation-split').fill('0');
  await expect(page.getByTestId('error-lrSchedule.config.monitor')).toContainText('needs a validation split');
  await page.getByTestId('optimizer').selectOption('SGD');
  await page.getByTestId('opt-momentum').fill('0.9');
  await page.getByTestId('opt-nesterov').check();
  await page.getByTestId('clipnorm').fill('1');
  await expect(page.getByTestId('start')).toBeDisabled();
  await page.getByTestId('training-settings').screenshot({ path: testInfo.outputPath('settings-schedule.png') });
  await page.getByTestId('sched-monitor').selectOption('loss');
  await expect(page.getByTestId('start')).toBeEnabled();
  expect(errors).toEqual([]);
});
