/**
 * Shared by the fused step's tests (not used by the app): a WebGPU device on SwiftShader, or why the
 * suite is skipped. VK_ICD_FILENAMES is set here, for the test process only, when it is unset and
 * Debian chromium's SwiftShader ICD file is present.
 */
import { existsSync } from 'node:fs';
import { openDawnDevice, SWIFTSHADER_ICD, type DawnDevice } from './dawn-device';

export async function testDevice(): Promise<DawnDevice | { unavailable: string }> {
  if (!process.env.VK_ICD_FILENAMES) {
    if (!existsSync(SWIFTSHADER_ICD)) return { unavailable: `WebGPU tests skipped: no SwiftShader ICD at ${SWIFTSHADER_ICD} (Debian's chromium package brings it)` };
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  }
  const dawn = await openDawnDevice();
  if ('unavailable' in dawn) {
    return {
      unavailable: `WebGPU tests skipped: ${dawn.unavailable}. If libvulkan.so.1 is installed but not found, run ldconfig or set LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu`,
    };
  }
  return dawn;
}
