/**
 * SwiftShader, Google's CPU implementation of Vulkan, as Debian's chromium-common installs it: the
 * environment that lets Dawn (the `webgpu` package) find it, for the WebGPU tests and an opt-in
 * bench run. The app itself never sets it. Empty where SwiftShader is not installed.
 */
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';

export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/** VK_ICD_FILENAMES and LD_LIBRARY_PATH for a process to start with; {} without SwiftShader. */
export function swiftShaderEnv() {
  if (!existsSync(SWIFTSHADER_ICD)) return {};
  // Chromium ships the Vulkan loader (libvulkan.so.1) beside the driver, and Debian does not install
  // one with it: the loader's folder goes on the library path, which is read when a process starts.
  const folder = dirname(SWIFTSHADER_ICD);
  return { VK_ICD_FILENAMES: SWIFTSHADER_ICD, LD_LIBRARY_PATH: [folder, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') };
}
