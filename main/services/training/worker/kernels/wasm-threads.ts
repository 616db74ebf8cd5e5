/**
 * Both cores for TensorFlow.js' wasm backend under Node.
 *
 * tfjs-backend-wasm 4.22 ships a threaded SIMD build (XNNPACK on an Emscripten pthread pool) but
 * never uses it under Node: its `WASM_HAS_MULTITHREAD_SUPPORT` flag returns false when `IS_NODE`
 * (tfjs issue #3830), and its loader could not start the pool there anyway: it hands Emscripten
 * the pthread worker script as a Blob URL (`URL.createObjectURL`), which Node's `worker_threads`
 * cannot load, and the main script as a Blob the workers are to `importScripts`.
 *
 * `registerThreadedWasm(tf, wasmModule)` replaces the registered 'wasm' backend factory (before
 * the backend is first used) with one that builds the threaded module itself:
 *   - the pthread worker script (tfjs' embedded `wasmWorkerContents`, which already speaks Node's
 *     `worker_threads`) is written once to a temp `.cjs` file, so Node runs it as CommonJS;
 *   - the workers load the main script from its real path in node_modules (`mainScriptUrlOrBlob`),
 *     which the worker script reads with `fs` under Node;
 *   - `setThreadsCount(n)` sizes XNNPACK's pool (default 2: this app's machines have 2 cores, and
 *     more threads than cores only spin).
 * The kernels are tfjs' own (registered for 'wasm'; their setup binds to whichever module the
 * backend holds), so results are the same up to float summation order.
 *
 * "The worker never exits": Emscripten keeps each pool worker `ref()`ed while it runs a pthread,
 * and XNNPACK's pool threads run for the module's lifetime, so a Node thread holding the backend
 * keeps its event loop alive. After start-up every pool worker is `unref()`ed (it keeps running;
 * Node terminates a thread's sub-workers when the thread exits), and `disposeThreadedWasm(tf)`
 * ends the pool explicitly (PThread.terminateAllThreads) for a clean shutdown.
 */
import { createRequire } from 'node:module';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import { initialisedBackends } from '../tfjs-adapter';

type Tf = typeof TF;

/** The parts of `@tensorflow/tfjs-backend-wasm` this needs (its public exports). */
export interface WasmBackendModule {
  BackendWasm: new (wasm: never) => TF.KernelBackend;
  setThreadsCount(n: number): void;
  getThreadsCount(): number;
}

export interface ThreadedWasmOptions {
  /** XNNPACK threads (the calling thread included). Default 2. */
  threads?: number;
  /** Folder holding tfjs-backend-wasm's `wasm-out/` (default: resolved from node_modules). */
  packageDir?: string;
}

export interface ThreadedWasmResult {
  registered: boolean;
  reason?: string;
  threads?: number;
}

const PRIORITY = 2;
const STATE = Symbol.for('layerbench.threadedWasm');

interface EmscriptenWorker {
  unref?: () => void;
}
interface ThreadedModule {
  cwrap: (name: string, ret: string | null, args: string[]) => (...args: number[]) => number;
  PThread?: { unusedWorkers: EmscriptenWorker[]; runningWorkers: EmscriptenWorker[]; terminateAllThreads(): void };
  tfjs?: unknown;
}

type State = { module: ThreadedModule | null; threads: number };
const holder = globalThis as unknown as { [STATE]?: State };

function unrefPool(module: ThreadedModule): void {
  const pool = module.PThread;
  if (!pool) return;
  for (const worker of [...pool.unusedWorkers, ...pool.runningWorkers]) worker.unref?.();
}

/**
 * Makes the next `tf.setBackend('wasm')` start the threaded SIMD build. Call before the wasm
 * backend is first initialised (before the backend probe). Returns `registered: false` with a
 * reason where it cannot apply (no SharedArrayBuffer, wasm already initialised, files missing);
 * the stock single-threaded backend then stays registered.
 */
export function registerThreadedWasm(tf: Tf, wasmBackend: WasmBackendModule, options: ThreadedWasmOptions = {}): ThreadedWasmResult {
  const threads = Math.max(1, Math.floor(options.threads ?? 2));
  if (typeof SharedArrayBuffer === 'undefined') return { registered: false, reason: 'no SharedArrayBuffer in this runtime' };
  if (initialisedBackends(tf)['wasm'])
    return { registered: false, reason: "the 'wasm' backend is already initialised: register the threaded build before the first setBackend('wasm')" };
  const require = createRequire(import.meta.url);
  let packageDir = options.packageDir;
  let factory: (config: object) => Promise<ThreadedModule>;
  let workerContents: string;
  let mainScript: string;
  try {
    packageDir ??= dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
    mainScript = join(packageDir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js');
    const imported = require(mainScript) as ((config: object) => Promise<ThreadedModule>) | { default: (config: object) => Promise<ThreadedModule> };
    factory = typeof imported === 'function' ? imported : imported.default;
    workerContents = (require(join(packageDir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.worker.js')) as { wasmWorkerContents: string }).wasmWorkerContents;
  } catch (error) {
    return { registered: false, reason: `tfjs-backend-wasm's threaded build not found: ${error instanceof Error ? error.message : String(error)}` };
  }
  const wasmFile = join(packageDir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.wasm');
  const state: State = (holder[STATE] ??= { module: null, threads });
  state.threads = threads;

  tf.removeBackend('wasm');
  tf.registerBackend(
    'wasm',
    async () => {
      // The embedded script is a template literal: its "\n" escapes came out as newlines inside
      // string literals. tfjs re-escapes them before making its Blob; so do we.
      const dir = mkdtempSync(join(tmpdir(), 'layerbench-wasm-threads-'));
      const workerFile = join(dir, 'tfjs-backend-wasm-threaded-simd.worker.cjs');
      writeFileSync(workerFile, workerContents.replace(/\n/g, '\\n'));
      // XNNPACK sizes its pool from Emscripten's emscripten_num_logical_cores, which is
      // require('os').cpus().length under Node, read while the module starts and initialises.
      // Report 2 × threads cores during that (only then) so the pool gets `threads`.
      const realCpus = os.cpus;
      const cpus = realCpus();
      os.cpus = () => Array.from({ length: 2 * state.threads }, (_, i) => cpus[i % Math.max(1, cpus.length)]!);
      let module: ThreadedModule;
      try {
        module = await factory({
          locateFile: (path: string, prefix: string) => (path.endsWith('.worker.js') ? workerFile : path.endsWith('.wasm') ? wasmFile : prefix + path),
          mainScriptUrlOrBlob: mainScript,
        });
      } catch (error) {
        os.cpus = realCpus;
        throw error;
      }
      module.tfjs = {
        init: module.cwrap('init', null, []),
        initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
        getThreadsCount: module.cwrap('get_threads_count', 'number', []),
        registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
        disposeData: module.cwrap('dispose_data', null, ['number']),
        dispose: module.cwrap('dispose', null, []),
      };
      wasmBackend.setThreadsCount(state.threads);
      let backend: TF.KernelBackend;
      try {
        backend = new wasmBackend.BackendWasm(module as never);
      } finally {
        os.cpus = realCpus;
      }
      unrefPool(module);
      state.module = module;
      return backend;
    },
    PRIORITY,
  );
  return { registered: true, threads };
}

/** XNNPACK's thread count in the running threaded backend, or null when it is not running. */
export function threadedWasmThreads(wasmBackend: WasmBackendModule): number | null {
  if (!holder[STATE]?.module) return null;
  try {
    return wasmBackend.getThreadsCount();
  } catch {
    return null;
  }
}

/**
 * Ends the pool: disposes the wasm backend (tfjs' BackendWasm.dispose terminates every pthread
 * worker). Call on shutdown; afterwards the thread may exit on its own.
 */
export function disposeThreadedWasm(tf: Tf): void {
  const state = holder[STATE];
  if (!state?.module) return;
  const module = state.module;
  state.module = null;
  try {
    tf.removeBackend('wasm');
  } finally {
    module.PThread?.terminateAllThreads();
  }
}
