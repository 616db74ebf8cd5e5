/**
 * Picks the fastest TensorFlow.js backend this machine can run, in a fixed order, and records why
 * each earlier one was skipped (the caught error's message) so the UI can explain the choice.
 * Runs inside the training worker: native tfjs (libtensorflow) may load only once per process,
 * which is why the worker is long-lived and probes once.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as TF from '@tensorflow/tfjs';
import type { BackendCandidate, BackendReport } from '../../../contract';

const require = createRequire(import.meta.url);

type BackendName = BackendCandidate['name'];

export interface BackendLoader {
  name: BackendName;
  package: string;
  /** Registers and activates the backend; throws with a readable reason when it cannot. */
  activate(tf: typeof TF): Promise<void>;
}

async function setBackendOrThrow(tf: typeof TF, name: string): Promise<void> {
  // setBackend resolves false (rather than throwing) when the backend fails to initialise, and
  // tfjs only logs the cause: catch what it logs so the reason reaches the UI.
  const logged: string[] = [];
  const { warn, error } = console;
  console.warn = console.error = (...args: unknown[]) => logged.push(args.map(String).join(' '));
  try {
    if (!(await tf.setBackend(name))) {
      const cause = logged.find((line) => /ENOENT|not found|failed|error/i.test(line)) ?? logged[0];
      throw new Error(`tf.setBackend('${name}') failed to initialise${cause ? `: ${cause.split('\n')[0]}` : ''}`);
    }
    await tf.ready();
  } finally {
    console.warn = warn;
    console.error = error;
  }
}

function hasCudaDevice(): boolean {
  // libtensorflow-gpu silently runs on the CPU when no device is visible; only count a real one.
  if (process.platform === 'linux') return existsSync('/proc/driver/nvidia/version');
  return process.platform === 'win32';
}

export function defaultLoaders(options: { wasmDir?: string } = {}): BackendLoader[] {
  return [
    {
      name: 'tensorflow-gpu',
      package: '@tensorflow/tfjs-node-gpu',
      async activate(tf) {
        require('@tensorflow/tfjs-node-gpu');
        if (!hasCudaDevice()) throw new Error('loaded, but no CUDA GPU is visible (no NVIDIA driver found)');
        await setBackendOrThrow(tf, 'tensorflow');
      },
    },
    {
      name: 'tensorflow',
      package: '@tensorflow/tfjs-node',
      async activate(tf) {
        require('@tensorflow/tfjs-node');
        await setBackendOrThrow(tf, 'tensorflow');
      },
    },
    {
      name: 'wasm',
      package: '@tensorflow/tfjs-backend-wasm',
      async activate(tf) {
        const wasm = await import('@tensorflow/tfjs-backend-wasm');
        if (options.wasmDir !== undefined) {
          // A folder prefix needs its trailing slash, or tfjs appends file names to the last segment.
          wasm.setWasmPaths(options.wasmDir.endsWith('/') ? options.wasmDir : `${options.wasmDir}/`);
        }
        await setBackendOrThrow(tf, 'wasm');
      },
    },
    {
      name: 'cpu',
      package: '@tensorflow/tfjs-backend-cpu',
      async activate(tf) {
        await setBackendOrThrow(tf, 'cpu');
      },
    },
  ];
}

function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  // Node's MODULE_NOT_FOUND message lists the whole require stack: the first line says it all.
  return message.split('\n')[0]!.trim() || 'unknown error';
}

/** Tries each loader in order and stops at the first that activates. */
export async function probeBackends(tf: typeof TF, loaders: BackendLoader[] = defaultLoaders()): Promise<BackendReport> {
  const candidates: BackendCandidate[] = [];
  let active: string | null = null;
  for (const loader of loaders) {
    if (active) {
      candidates.push({ name: loader.name, package: loader.package, status: 'not-tried' });
      continue;
    }
    try {
      await loader.activate(tf);
      active = loader.name;
      candidates.push({ name: loader.name, package: loader.package, status: 'active' });
    } catch (error) {
      candidates.push({ name: loader.name, package: loader.package, status: 'skipped', reason: reasonOf(error) });
    }
  }
  if (!active) throw new Error(`No TensorFlow.js backend could start: ${candidates.map((c) => `${c.name}: ${c.reason}`).join('; ')}`);
  return { active, candidates };
}
