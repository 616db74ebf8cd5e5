/**
 * The backend badge on a machine whose only WebGPU adapter is SwiftShader (Debian's chromium-common;
 * the server is started with the Vulkan loader pointed at it): webgpu is available, named a software
 * adapter, and wasm stays the default. Skipped where SwiftShader is not installed.
 */
import { expect, test } from '@playwright/test';
import { swiftShaderEnv } from '../scripts/swiftshader.mjs';
import { collectErrors, useServeHost } from './serve-host';

const env = swiftShaderEnv();
test.skip(!env.VK_ICD_FILENAMES, 'needs SwiftShader (vk_swiftshader_icd.json from Debian’s chromium)');
const host = useServeHost(env);

test('the badge names SwiftShader a software Vulkan adapter next to the wasm default', async ({ page }) => {
  const errors = collectErrors(page);
  await page.goto(host.url);
  const badge = page.getByTestId('backend-badge');
  await expect(badge).toHaveText(/^backend: wasm\s*· webgpu \(software Vulkan \(CPU\)\), onnxruntime available$/);
  await badge.click();
  await expect(page.getByTestId('backend-webgpu')).toContainText('available');
  await expect(page.getByTestId('gpu-adapter')).toContainText('google · swiftshader');
  await expect(page.getByTestId('gpu-software')).toHaveText(/^software Vulkan \(CPU\): /);
  expect(errors).toEqual([]);
});
