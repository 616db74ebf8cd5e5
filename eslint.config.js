// ESLint: typescript-eslint's recommended rules (without type information, to stay fast), Svelte's, and
// the layering rules (scripts/eslint-layers.mjs) that keep each folder to what it may import.
import js from '@eslint/js';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import ts from 'typescript-eslint';
import svelteConfig from './svelte.config.js';
import layers from './scripts/eslint-layers.mjs';

/** Each layer and the folders it may not import; tests exercise a layer with what sits above it, so they are left out. */
const LAYERS = [
  { files: ['model/'], forbid: ['contract/', 'main/', 'renderer/', 'preload/'], reason: 'model/ is the lowest layer (Keras vocabulary)' },
  { files: ['contract/'], forbid: ['main/', 'renderer/', 'preload/'], reason: 'contract/ is the API both sides share' },
  { files: ['renderer/'], forbid: ['main/', 'preload/'], reason: 'the renderer talks to main only through contract/ and its host' },
  { files: ['main/'], forbid: ['renderer/'], reason: 'main does not reach into the UI' },
  {
    files: ['main/services/training/worker/'],
    forbid: ['main/services/training/host/'],
    reason: 'the worker thread does not load the main-thread side of training',
  },
];

/** Packages only some folders may load. */
const PACKAGES = [{ name: 'electron', onlyIn: ['main/electron/', 'preload/'] }];

export default ts.config(
  { ignores: ['out/', 'dist/', 'node_modules/', 'reports/', 'test-results/', 'playwright-report/', 'bench/results/', '.gl/', '.whl/'] },
  js.configs.recommended,
  ts.configs.recommended,
  svelte.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // `_name` marks a parameter or binding kept for its position or shape.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    files: ['renderer/**', 'e2e/**'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: { parserOptions: { parser: ts.parser, extraFileExtensions: ['.svelte'], svelteConfig } },
    rules: {
      // The stores keep plain Maps on purpose and signal changes with a `version` counter: a SvelteMap would make
      // every set() on the streaming path a reactive write. Maps built inside a $derived are fresh values anyway.
      'svelte/prefer-svelte-reactivity': 'off',
      // {'\t'} writes a tab; the escape is the reason for the braces.
      'svelte/no-useless-mustaches': ['error', { ignoreStringEscape: true }],
    },
  },
  {
    files: ['contract/**', 'model/**', 'main/**', 'preload/**', 'renderer/**'],
    plugins: { layers },
    rules: { 'layers/import-boundaries': ['error', { layers: LAYERS, packages: PACKAGES }] },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { globals: { ...globals.commonjs } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['{contract,model,main,preload,renderer}/**/*.test.ts'],
    rules: { 'layers/import-boundaries': ['error', { packages: PACKAGES }] },
  },
);
