import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { defineConfig } from 'vitest/config';

/**
 * SwiftShader, Google's CPU implementation of Vulkan, as Debian's chromium-common installs it: the
 * WebGPU tests run on it where it is installed (the app itself never sets VK_ICD_FILENAMES).
 */
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
/** Tests that need a WebGPU adapter: they skip, saying why, where SwiftShader is missing. */
const WEBGPU_TESTS = ['**/*.webgpu.test.ts', 'main/services/training/worker/engines/webgpu/**/*.test.ts'];

function swiftShaderEnv(): Record<string, string> {
  if (!existsSync(SWIFTSHADER_ICD)) return {};
  // Chromium ships the Vulkan loader (libvulkan.so.1) beside the driver, and Debian does not install
  // one with it: the loader's folder goes on the library path, which is read when a process starts.
  const folder = dirname(SWIFTSHADER_ICD);
  return { VK_ICD_FILENAMES: SWIFTSHADER_ICD, LD_LIBRARY_PATH: [folder, process.env['LD_LIBRARY_PATH']].filter(Boolean).join(':') };
}

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Training tests are CPU-heavy; two cores run two files at once at most.
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['contract/**/*.test.ts', 'model/**/*.test.ts', 'main/**/*.test.ts', 'renderer/**/*.test.ts'],
          exclude: ['**/node_modules/**', ...WEBGPU_TESTS],
        },
      },
      // Only these processes see SwiftShader: elsewhere the probe finds no adapter, as on most CI machines.
      { extends: true, test: { name: 'webgpu', include: WEBGPU_TESTS, exclude: ['**/node_modules/**'], env: swiftShaderEnv() } },
    ],
  },
});
