/**
 * The kernels' compute pipelines on one bind group layout (binding 0: the arena, read-write
 * storage; binding 1: a 256-byte uniform block at a dynamic offset), and the packing of uniform
 * blocks by field name.
 */
/// <reference types="@webgpu/types" />
import { FLOAT_PARAMS, KERNELS, PARAMS, type KernelName } from './kernels';

/** Bytes between two dispatches' uniform blocks (WebGPU's minimum dynamic-offset alignment). */
export const UNIFORM_STRIDE = 256;

export interface KernelPipelines {
  bindGroupLayout: GPUBindGroupLayout;
  pipelines: Record<KernelName, GPUComputePipeline>;
}

/** Throws the device's validation message when a kernel does not compile or validate. */
export async function createKernelPipelines(device: GPUDevice): Promise<KernelPipelines> {
  device.pushErrorScope('validation');
  const bindGroupLayout = device.createBindGroupLayout({
    entries: [
      { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } },
      { binding: 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform', hasDynamicOffset: true, minBindingSize: UNIFORM_STRIDE } },
    ],
  });
  const layout = device.createPipelineLayout({ bindGroupLayouts: [bindGroupLayout] });
  // Made once per engine: synchronous creation keeps it simple.
  const entries = (Object.keys(KERNELS) as KernelName[]).map((name) => {
    const module = device.createShaderModule({ label: name, code: KERNELS[name] });
    return [name, device.createComputePipeline({ label: name, layout, compute: { module, entryPoint: 'main' } })] as const;
  });
  const error = await device.popErrorScope();
  if (error) throw new Error(`the fused WebGPU step's kernels did not compile: ${error.message}`);
  return { bindGroupLayout, pipelines: Object.fromEntries(entries) as Record<KernelName, GPUComputePipeline> };
}

/** Uniform blocks, one per dispatch at UNIFORM_STRIDE, each the kernel's fields in declaration order. */
export function packUniforms(blocks: { kernel: KernelName; label: string; params: Record<string, number> }[]): ArrayBuffer {
  const out = new ArrayBuffer(Math.max(1, blocks.length) * UNIFORM_STRIDE);
  blocks.forEach(({ kernel, label, params }, i) => {
    const view = new DataView(out, i * UNIFORM_STRIDE, UNIFORM_STRIDE);
    PARAMS[kernel].forEach((field, k) => {
      const value = params[field];
      if (value === undefined) throw new Error(`${label}: no value for uniform field ${field}`);
      if (FLOAT_PARAMS.has(field)) view.setFloat32(k * 4, value, true);
      else view.setUint32(k * 4, value, true);
    });
  });
  return out;
}

/** The bind group of an arena and a uniform buffer. */
export function arenaBindGroup(device: GPUDevice, kernels: KernelPipelines, arena: GPUBuffer, uniforms: GPUBuffer): GPUBindGroup {
  return device.createBindGroup({
    layout: kernels.bindGroupLayout,
    entries: [
      { binding: 0, resource: { buffer: arena } },
      { binding: 1, resource: { buffer: uniforms, size: UNIFORM_STRIDE } },
    ],
  });
}
