/**
 * Finds which TensorFlow.js backends this machine can run and picks the default one, recording why
 * each backend that could not start was skipped (the caught error's message) so the UI can explain
 * the choice.
 *
 * Probe order: tensorflow-gpu, webgpu, tensorflow, onnxruntime, wasm, cpu. The first of tensorflow-gpu,
 * tensorflow, wasm and cpu that starts becomes the active (default) backend; every later one that
 * starts is 'available', as is webgpu whenever Dawn finds a GPU adapter: WebGPU costs 50–60 ms per
 * training step whatever the batch size, so small batches are faster on wasm and webgpu is never the
 * default — Auto's calibration (./calibrate) picks it where it is faster for the model and batch size.
 * onnxruntime (the step in ONNX Runtime's native CPU library, tfjs on wasm for the rest) is
 * 'available' whenever its library runs, and likewise chosen by name or by calibration.
 *
 * Runs inside the training worker: native tfjs (libtensorflow) may load only once per process,
 * which is why the worker is long-lived, probes once, and never loads both tfjs-node packages.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type * as TF from '@tensorflow/tfjs';
import type { BackendCandidate, BackendReport, GpuAdapter } from '../../../../contract';
import { installGpuCounters } from './gpu-counters';
import { probeOnnxRuntime } from './engines/onnxruntime/probe';

const require = createRequire(import.meta.url);

type BackendName = BackendCandidate['name'];

export interface BackendLoader {
  name: BackendName;
  package: string;
  /**
   * Registers and initialises the backend, leaving it tf's active one; throws with a readable
   * reason when it cannot. May return the GPU adapter it runs on.
   */
  activate(tf: typeof TF): Promise<GpuAdapter | void>;
  /** Never the default backend, only 'available' next to it (webgpu: slower than wasm at small batches). */
  availableOnly?: boolean;
  /** Backends that must not load in the same process once this one has (two native libtensorflows). */
  excludes?: BackendName[];
  /** Whether activate got as far as loading native code, even if it then failed (excludes apply). */
  loadedNative?(): boolean;
  /** What the started backend is, for the badge (onnxruntime: its version and threads); after activate. */
  detail?(): string | undefined;
}

/** tf.setBackend that throws the reason tfjs only logs when a backend fails to initialise. */
export async function setBackendOrThrow(tf: typeof TF, name: string): Promise<void> {
  // setBackend resolves false (rather than throwing) when the backend fails to initialise, and
  // tfjs only logs the cause: catch what it logs so the reason reaches the UI.
  const logged: string[] = [];
  const { warn, error } = console;
  console.warn = console.error = (...args: unknown[]) => logged.push(args.map(String).join(' '));
  try {
    if (!(await tf.setBackend(name))) {
      const cause = logged.find((line) => /ENOENT|not found|failed|error/i.test(line) && !/^Initialization of backend/.test(line)) ?? logged[0];
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

/** The NVIDIA driver as the kernel module reports it (Linux), for the adapter line of the UI. */
function cudaAdapter(): GpuAdapter {
  let description = 'CUDA device';
  let driver: string | undefined;
  try {
    const version = readFileSync('/proc/driver/nvidia/version', 'utf8').split('\n')[0]!.trim();
    description = version;
    driver = /Kernel Module\s+(?:for \S+\s+)?(\d+(?:\.\d+)+)/.exec(version)?.[1] ?? /(\d+\.\d+(?:\.\d+)?)/.exec(version)?.[1];
  } catch {
    // Windows, or no /proc: the vendor is all we know.
  }
  return { backend: 'tensorflow-gpu', vendor: 'nvidia', architecture: '', device: '', description, ...(driver ? { driver } : {}), software: false };
}

// ---------------------------------------------------------------------------------------------
// WebGPU through Dawn's Node binding (`webgpu` on npm)
// ---------------------------------------------------------------------------------------------

interface DawnModule {
  create(options: string[]): GPU;
  globals: object;
}

let dawn: { module: DawnModule; gpu: GPU } | null = null;

/**
 * Puts Dawn's GPU at `navigator.gpu` (and its GPU* globals on globalThis) once per thread. Must run
 * before `@tensorflow/tfjs-backend-webgpu` is imported: the backend registers itself at import time
 * only if `navigator.gpu` exists then.
 */
async function installDawn(): Promise<GPU> {
  if (dawn) return dawn.gpu;
  const module = (await import('webgpu')) as unknown as DawnModule;
  Object.assign(globalThis, module.globals);
  // Before any device exists, so that every call of a run is counted (run.json's `gpu`).
  installGpuCounters(module.globals);
  const gpu = module.create([]);
  const holder = globalThis as { navigator?: object };
  const existing = holder.navigator;
  // Node 21+ (and Electron's Node) has a navigator of its own: add gpu to it; Node 20 has none.
  if (existing && typeof existing === 'object') {
    try {
      Object.defineProperty(existing, 'gpu', { value: gpu, configurable: true, enumerable: true, writable: true });
    } catch {
      // A frozen navigator: replaced below.
    }
  }
  if ((holder.navigator as { gpu?: GPU } | undefined)?.gpu !== gpu) {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, enumerable: true, writable: true });
  }
  dawn = { module, gpu };
  return gpu;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000} s`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** tfjs' webgpu backend asks for a high-performance adapter: ask for the same one. */
const ADAPTER_OPTIONS: GPURequestAdapterOptions = { powerPreference: 'high-performance' };

/**
 * Dawn prints why it found no adapter (e.g. "Couldn't load Vulkan: libvulkan.so.1: cannot open
 * shared object file") from native code straight to the process' stderr, out of JavaScript's
 * reach. Ask again in a short child process (Node, or Electron run as Node) and read its stderr.
 */
export async function dawnNoAdapterMessage(timeoutMs = 15_000): Promise<string | null> {
  let entry: string;
  try {
    entry = pathToFileURL(require.resolve('webgpu')).href;
  } catch {
    return null;
  }
  const script = [
    'const { create, globals } = await import(process.argv[1]);',
    'Object.assign(globalThis, globals);',
    `const adapter = await create([]).requestAdapter(${JSON.stringify(ADAPTER_OPTIONS)});`,
    'process.stdout.write(adapter ? "adapter" : "none");',
    'process.exit(0);',
  ].join('\n');
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', script, entry],
      { timeout: timeoutMs, env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, windowsHide: true },
      (_error, _stdout, stderr) => resolve(dawnMessages(String(stderr))),
    );
  });
}

/** Dawn's warnings and errors from its stderr, without the native source locations under them. */
export function dawnMessages(stderr: string): string | null {
  const lines = stderr
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !/^at\s/.test(line) && !/^\(Use `node --trace/.test(line) && !/ExperimentalWarning/.test(line));
  const messages = lines.map((line) => line.replace(/^(Warning|Error):\s*/, ''));
  return messages.length ? [...new Set(messages)].join('; ') : null;
}

/** GPUAdapterInfo as Dawn gives it: newer specs moved `isFallbackAdapter` from the adapter into its info. */
type AdapterInfo = Partial<Pick<GPUAdapterInfo, 'vendor' | 'architecture' | 'device' | 'description'>> & { isFallbackAdapter?: boolean };

async function webgpuAdapterInfo(adapter: GPUAdapter): Promise<AdapterInfo | null> {
  const withInfo = adapter as GPUAdapter & { info?: AdapterInfo; requestAdapterInfo?: () => Promise<AdapterInfo>; isFallbackAdapter?: boolean };
  const info = withInfo.info ?? (typeof withInfo.requestAdapterInfo === 'function' ? await withInfo.requestAdapterInfo() : null);
  if (!info) return null;
  // Copied field by field: GPUAdapterInfo's fields are getters of a native object, not own properties.
  const { vendor, architecture, device, description } = info;
  return { vendor, architecture, device, description, isFallbackAdapter: info.isFallbackAdapter ?? withInfo.isFallbackAdapter };
}

/**
 * CPU implementations of a GPU API, by the names their adapters give: Google's SwiftShader, Mesa's
 * llvmpipe (lavapipe is its Vulkan driver) and Microsoft's WARP ("Microsoft Basic Render Driver").
 */
const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|lavapipe|\bwarp\b|microsoft basic render/i;

/** Whether an adapter runs on the CPU: it says so (isFallbackAdapter) or is a known software renderer. */
export function isSoftwareAdapter(info: AdapterInfo | null): boolean {
  if (!info) return false;
  return info.isFallbackAdapter === true || SOFTWARE_ADAPTER.test([info.vendor, info.architecture, info.device, info.description].join(' '));
}

/** The adapter as the contract has it; Dawn puts the driver version in `description` (e.g. "NVIDIA: 580.159.04 580.159.4.0"). */
export function gpuAdapterFrom(info: AdapterInfo | null): GpuAdapter {
  const description = info?.description ?? '';
  const driver = /(\d+\.\d+(?:\.\d+)*)/.exec(description)?.[1];
  return {
    backend: 'webgpu',
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    device: info?.device ?? '',
    description,
    ...(driver ? { driver } : {}),
    software: isSoftwareAdapter(info),
  };
}

async function activateWebGpu(tf: typeof TF, options: { adapterTimeoutMs?: number }): Promise<GpuAdapter> {
  const gpu = await installDawn();
  const adapter = await withTimeout(gpu.requestAdapter(ADAPTER_OPTIONS), options.adapterTimeoutMs ?? 20_000, 'navigator.gpu.requestAdapter()');
  if (!adapter) {
    const why = await dawnNoAdapterMessage();
    throw new Error(`no WebGPU adapter: ${why ? `Dawn: ${why}` : 'Dawn found no GPU with a usable Vulkan, Metal or D3D12 driver'}`);
  }
  const found = gpuAdapterFrom(await webgpuAdapterInfo(adapter));
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!tf.engine().registryFactory['webgpu']) {
    throw new Error('@tensorflow/tfjs-backend-webgpu did not register (it was imported before navigator.gpu existed)');
  }
  await setBackendOrThrow(tf, 'webgpu');
  return found;
}

// ---------------------------------------------------------------------------------------------

export interface LoaderOptions {
  /** Where tfjs-backend-wasm's .wasm files are (a folder). */
  wasmDir?: string;
  /** How long Dawn may take to answer requestAdapter (a broken driver can hang it). */
  adapterTimeoutMs?: number;
}

function requireInstalled(pkg: string): void {
  // Resolving does not load the native addon: say it is missing before looking for a GPU.
  require.resolve(pkg);
}

export function defaultLoaders(options: LoaderOptions = {}): BackendLoader[] {
  let nativeGpuLoaded = false;
  let ortDetail: string | undefined;
  return [
    {
      name: 'tensorflow-gpu',
      package: '@tensorflow/tfjs-node-gpu',
      excludes: ['tensorflow'],
      loadedNative: () => nativeGpuLoaded,
      async activate(tf) {
        requireInstalled('@tensorflow/tfjs-node-gpu');
        // Checked before loading libtensorflow-gpu, so that tfjs-node may still load when there is no GPU.
        if (!hasCudaDevice()) throw new Error('installed, but no CUDA GPU is visible (no NVIDIA driver found)');
        nativeGpuLoaded = true;
        require('@tensorflow/tfjs-node-gpu');
        await setBackendOrThrow(tf, 'tensorflow');
        return cudaAdapter();
      },
    },
    {
      name: 'webgpu',
      package: '@tensorflow/tfjs-backend-webgpu',
      availableOnly: true,
      activate: (tf) => activateWebGpu(tf, options),
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
      // The training step in ONNX Runtime's native CPU library; tfjs (wasm) runs the rest. Not the
      // default until the Targets are measured: Auto's calibration picks it where it is faster.
      name: 'onnxruntime',
      package: 'onnxruntime-node',
      availableOnly: true,
      async activate() {
        ortDetail = await probeOnnxRuntime();
      },
      detail: () => ortDetail,
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

/**
 * Tries every loader in order. The first that activates (and is not `availableOnly`) becomes the
 * active backend; every other one that starts is 'available'; tf is left on the active one.
 */
export async function probeBackends(tf: typeof TF, loaders: BackendLoader[] = defaultLoaders()): Promise<BackendReport> {
  const candidates: BackendCandidate[] = [];
  const excluded = new Map<BackendName, string>();
  const adapters: GpuAdapter[] = [];
  let active: BackendName | null = null;
  for (const loader of loaders) {
    const exclusion = excluded.get(loader.name);
    if (exclusion) {
      candidates.push({ name: loader.name, package: loader.package, status: 'not-tried', reason: exclusion });
      continue;
    }
    const exclude = () => {
      for (const name of loader.excludes ?? []) excluded.set(name, `native TensorFlow loads once per process, and ${loader.package} is loaded`);
    };
    try {
      const adapter = await loader.activate(tf);
      if (adapter) adapters.push(adapter);
      exclude();
      const detail = loader.detail?.();
      const described = detail ? { detail } : {};
      if (!active && !loader.availableOnly) {
        active = loader.name;
        candidates.push({ name: loader.name, package: loader.package, status: 'active', ...described });
      } else {
        candidates.push({ name: loader.name, package: loader.package, status: 'available', ...described });
      }
    } catch (error) {
      if (loader.loadedNative?.()) exclude();
      candidates.push({ name: loader.name, package: loader.package, status: 'skipped', reason: reasonOf(error) });
    }
  }
  if (!active) {
    // Only an availableOnly backend started (no cpu loader given): it is better than none.
    const fallback = candidates.find((c) => c.status === 'available');
    if (!fallback) throw new Error(`No TensorFlow.js backend could start: ${candidates.map((c) => `${c.name}: ${c.reason}`).join('; ')}`);
    fallback.status = 'active';
    active = fallback.name;
  }
  await useTfjsBackendFor(tf, active);
  const activeAdapter = adapters.find((a) => a.backend === active);
  return { active, candidates, adapter: activeAdapter ?? adapters[0] ?? null };
}

/**
 * The name tfjs registers a backend under (both tfjs-node packages register 'tensorflow'); with
 * onnxruntime, tfjs runs on wasm everything but the step (validation, statistics, checkpoints).
 */
export function tfBackendName(name: BackendName | string): string {
  if (name === 'onnxruntime') return 'wasm';
  return name === 'tensorflow-gpu' ? 'tensorflow' : name;
}

/** Makes tfjs' active backend the one `name` (a contract name) trains on; onnxruntime's is wasm, or cpu where wasm cannot start. */
export async function useTfjsBackendFor(tf: typeof TF, name: BackendName | string): Promise<void> {
  if (name !== 'onnxruntime') return setBackendOrThrow(tf, tfBackendName(name));
  try {
    await setBackendOrThrow(tf, 'wasm');
  } catch {
    await setBackendOrThrow(tf, 'cpu');
  }
}

/** The backends a run may use: the active one and the available ones, in probe order. */
export function usableBackends(report: BackendReport): BackendName[] {
  return report.candidates.filter((c) => c.status === 'active' || c.status === 'available').map((c) => c.name);
}

/** GPU memory the active backend holds, when it is a GPU backend that says (webgpu; webgl). */
export interface GpuMemory {
  /** Bytes in GPU buffers that back live tensors (`tf.memory().numBytesInGPU`). */
  inUseBytes: number;
  /** Bytes the backend has allocated on the GPU, including its pool of free buffers for reuse. */
  allocatedBytes?: number;
}

export function gpuMemory(tf: typeof TF): GpuMemory | null {
  const memory = tf.memory() as TF.MemoryInfo & { numBytesInGPU?: number; numBytesAllocatedInGPU?: number };
  if (typeof memory.numBytesInGPU !== 'number') return null;
  return {
    inUseBytes: memory.numBytesInGPU,
    ...(typeof memory.numBytesAllocatedInGPU === 'number' ? { allocatedBytes: memory.numBytesAllocatedInGPU } : {}),
  };
}
