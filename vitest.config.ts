import { configDefaults, defineConfig } from 'vitest/config';
import { swiftShaderEnv } from './scripts/swiftshader.mjs';

/** Tests that need a WebGPU adapter: they skip, saying why, where SwiftShader is missing. */
const WEBGPU_TESTS = ['**/*.webgpu.test.ts', 'main/services/training/worker/engines/webgpu/**/*.test.ts'];

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
          exclude: [...configDefaults.exclude, ...WEBGPU_TESTS],
        },
      },
      // Only these processes see SwiftShader (Debian's chromium-common), where it is installed; the app never sets it.
      { extends: true, test: { name: 'webgpu', include: WEBGPU_TESTS, env: swiftShaderEnv() } },
    ],
  },
});
