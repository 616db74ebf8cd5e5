/**
 * A WebGPU device from Dawn's Node binding (`webgpu` on npm), for the fused step's tests and bench.
 * Puts Dawn's GPU* globals (GPUBufferUsage, GPUMapMode, the classes) on globalThis, as the engine
 * and the counters need them. On a machine without a GPU, SwiftShader's Vulkan driver serves when
 * VK_ICD_FILENAMES points at its ICD file (Debian's chromium brings it).
 */
/// <reference types="@webgpu/types" />

/**
 * Dawn's GPU object, held for the life of the process: Dawn's Node binding frees the native instance
 * when the GPU object is garbage-collected, even while a device made from it is in use (a use after
 * free that crashed SwiftShader's threads in mapAsync, about one run in two).
 */
let gpu: GPU | null = null;

export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

export interface DawnDevice {
  device: GPUDevice;
  /** "google swiftshader: SwiftShader driver 5.0.0", "nvidia …". */
  adapterName: string;
}

/** The default adapter's device, or why there is none. */
export async function openDawnDevice(): Promise<DawnDevice | { unavailable: string }> {
  let module: { create(options: string[]): GPU; globals: object };
  try {
    module = (await import('webgpu')) as unknown as typeof module;
  } catch (e) {
    return { unavailable: `the webgpu package did not load: ${(e as Error).message}` };
  }
  Object.assign(globalThis, module.globals);
  gpu ??= module.create([]);
  const adapter = await gpu.requestAdapter();
  if (!adapter) return { unavailable: 'Dawn found no WebGPU adapter (no Vulkan loader or driver; on a CPU-only machine set VK_ICD_FILENAMES to SwiftShader)' };
  const device = await adapter.requestDevice({
    requiredLimits: { maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize, maxBufferSize: adapter.limits.maxBufferSize },
  });
  const info = adapter.info;
  const adapterName = [info.vendor, info.architecture].filter(Boolean).join(' ') + (info.description ? `: ${info.description}` : '');
  return { device, adapterName };
}
