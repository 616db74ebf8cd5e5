import { describe, expect, it } from 'vitest';
import type { GpuAdapter } from '../../contract';
import { softwareAdapterLabel } from './adapter-label';

const adapter = (fields: Partial<GpuAdapter>): GpuAdapter => ({ backend: 'webgpu', vendor: '', architecture: '', device: '', description: '', software: false, ...fields });

describe('softwareAdapterLabel', () => {
  it('names software adapters by the API they stand in for, and nothing else', () => {
    expect(softwareAdapterLabel(adapter({ vendor: 'google', architecture: 'swiftshader', description: 'SwiftShader driver 5.0.0', software: true }))).toBe('software Vulkan (CPU)');
    expect(softwareAdapterLabel(adapter({ vendor: 'mesa', device: 'llvmpipe (LLVM 15.0.6, 256 bits)', software: true }))).toBe('software Vulkan (CPU)');
    expect(softwareAdapterLabel(adapter({ vendor: 'microsoft', description: 'Microsoft Basic Render Driver', software: true }))).toBe('software Direct3D (CPU)');
    expect(softwareAdapterLabel(adapter({ vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA: 580.159.04' }))).toBeNull();
    expect(softwareAdapterLabel(null)).toBeNull();
  });
});
