/** How the backend badge names a GPU adapter that is really the CPU (SwiftShader, llvmpipe/lavapipe, WARP). */
import type { GpuAdapter } from '../../contract';

/** "software Vulkan (CPU)" (or Direct3D for WARP) for a software adapter; null for a real GPU or none. */
export function softwareAdapterLabel(adapter: GpuAdapter | null): string | null {
  if (!adapter?.software) return null;
  const names = [adapter.vendor, adapter.architecture, adapter.device, adapter.description].join(' ');
  return /\bwarp\b|microsoft basic render/i.test(names) ? 'software Direct3D (CPU)' : 'software Vulkan (CPU)';
}
