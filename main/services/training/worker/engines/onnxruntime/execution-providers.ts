/**
 * ONNX Runtime's GPU execution providers: which this platform could use (CUDA on Linux x64,
 * DirectML on Windows), whether each starts here (a tiny session on it, with a timeout), and the
 * opt-in that asks the engine for one. Never chosen automatically: nothing here has measured the
 * step on a GPU, so the engine runs on the CPU unless $LAYERBENCH_ORT_EP names a provider.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as Ort from 'onnxruntime-node';
import { DomainError } from '../../../../../../contract';

const require = createRequire(import.meta.url);

export type GpuExecutionProvider = 'cuda' | 'dml';

/** The environment variable that asks the onnxruntime engine for a GPU execution provider ('cuda', 'dml'; 'cpu' or unset: none). */
export const ORT_EP_ENV = 'LAYERBENCH_ORT_EP';

/** How long one provider's probe session may take to start and run before it counts as skipped. */
export const EP_PROBE_TIMEOUT_MS = 10_000;

const PROVIDER_NAMES: Record<GpuExecutionProvider, string> = { cuda: 'CUDA', dml: 'DirectML' };

export interface ExecutionProviderProbe {
  name: GpuExecutionProvider;
  status: 'available' | 'skipped';
  /** Why a skipped provider did not start: ONNX Runtime's message, first line. */
  reason?: string;
}

/** The GPU execution providers onnxruntime-node offers on this platform (its CUDA add-on is Linux x64 only; DirectML is Windows only). */
export function gpuExecutionProvidersFor(platform: NodeJS.Platform = process.platform, arch: string = process.arch): GpuExecutionProvider[] {
  if (platform === 'linux' && arch === 'x64') return ['cuda'];
  if (platform === 'win32') return ['dml'];
  return [];
}

/** The provider $LAYERBENCH_ORT_EP asks for, or null for the CPU; any other value is refused by name. */
export function requestedExecutionProvider(env: NodeJS.ProcessEnv = process.env): GpuExecutionProvider | null {
  const value = env[ORT_EP_ENV]?.trim().toLowerCase();
  if (!value || value === 'cpu') return null;
  if (value === 'cuda' || value === 'dml') return value;
  throw new DomainError('invalid-input', `${ORT_EP_ENV}=${env[ORT_EP_ENV]} names no ONNX Runtime execution provider: use cuda, dml or cpu`);
}

/** A caught error as ONNX Runtime put it, first line only (its native messages carry source paths and stacks below). */
export function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]!.trim() || 'unknown error';
}

/** The session options that put the step on `provider` (ONNX Runtime places on the CPU whatever node the provider lacks). */
export function providerSessionOptions(provider: GpuExecutionProvider | null): Ort.InferenceSession.SessionOptions {
  return provider ? { executionProviders: [provider] } : {};
}

/** Settles with `work`, or rejects after `ms`; a session that starts late is released by `late`. */
async function withTimeout<T>(work: Promise<T>, ms: number, late: (value: T) => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not start within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } catch (error) {
    work.then(late, () => undefined);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** Where onnxruntime-node keeps this platform's native libraries (its CUDA add-on is installed there too). */
function ortBinaryDir(): string | null {
  try {
    return join(dirname(require.resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    return null;
  }
}

/** Whether onnxruntime-node's CUDA add-on (its postinstall downloads it) sits beside its library; null when that folder is unknown. */
export function cudaAddOnInstalled(): boolean | null {
  const dir = ortBinaryDir();
  return dir ? existsSync(join(dir, 'libonnxruntime_providers_cuda.so')) : null;
}

/**
 * Why a provider cannot start, known without asking ONNX Runtime: its library is not installed.
 * (ONNX Runtime would print a red error line for the failed load at every worker start.)
 */
function missingLibrary(name: GpuExecutionProvider): string | null {
  if (name !== 'cuda' || cudaAddOnInstalled() !== false) return null;
  return `onnxruntime-node's CUDA add-on is not installed (no libonnxruntime_providers_cuda.so beside its library)`;
}

/** Starts `model` (a graph with one float input 'x' of two values) on one provider and runs it once. */
async function probeProvider(ort: typeof Ort, model: Uint8Array, name: GpuExecutionProvider, timeoutMs: number): Promise<ExecutionProviderProbe> {
  const missing = missingLibrary(name);
  if (missing) return { name, status: 'skipped', reason: missing };
  try {
    const session = await withTimeout(ort.InferenceSession.create(model, providerSessionOptions(name)), timeoutMs, (s) => void s.release());
    try {
      await withTimeout(session.run({ x: new ort.Tensor('float32', Float32Array.of(-1, 2), [2]) }), timeoutMs, () => undefined);
    } finally {
      await session.release();
    }
    return { name, status: 'available' };
  } catch (error) {
    return { name, status: 'skipped', reason: firstLine(error) };
  }
}

/** Each of this platform's GPU execution providers, tried one after another on `model`. */
export async function probeGpuExecutionProviders(
  ort: typeof Ort,
  model: Uint8Array,
  options: { providers?: GpuExecutionProvider[]; timeoutMs?: number } = {},
): Promise<ExecutionProviderProbe[]> {
  const probes: ExecutionProviderProbe[] = [];
  for (const name of options.providers ?? gpuExecutionProvidersFor()) probes.push(await probeProvider(ort, model, name, options.timeoutMs ?? EP_PROBE_TIMEOUT_MS));
  return probes;
}

/** "GPU execution providers: cuda skipped (…)": what the badge adds to the onnxruntime backend's detail. */
export function describeExecutionProviders(probes: ExecutionProviderProbe[], requested: GpuExecutionProvider | null): string {
  if (probes.length === 0) return 'GPU execution providers: none on this platform';
  const each = probes.map((p) => {
    if (p.status === 'skipped') return `${p.name} skipped (${p.reason})`;
    return requested === p.name ? `${p.name} available, in use (${ORT_EP_ENV}=${p.name})` : `${p.name} available, off (${ORT_EP_ENV}=${p.name} to use it)`;
  });
  return `GPU execution providers: ${each.join(', ')}`;
}

/** "CUDA" for the step's description. */
export const providerLabel = (provider: GpuExecutionProvider): string => PROVIDER_NAMES[provider];
