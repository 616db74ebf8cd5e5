/**
 * Counts what a piece of WebGPU work costs on the host by wrapping the API's prototypes: compute
 * dispatches, queue submits and writes, buffers, bind groups and pipelines created. Install it after
 * Dawn's globals are on globalThis (openDawnDevice) and call `restore()` when done.
 */
/// <reference types="@webgpu/types" />

export interface GpuCallCounts {
  dispatches: number;
  submits: number;
  writeBuffers: number;
  buffersCreated: number;
  bindGroupsCreated: number;
  pipelinesCreated: number;
}

export interface GpuCallCounter {
  readonly counts: GpuCallCounts;
  reset(): void;
  restore(): void;
}

type Proto = Record<string, unknown>;

const zero = (): GpuCallCounts => ({ dispatches: 0, submits: 0, writeBuffers: 0, buffersCreated: 0, bindGroupsCreated: 0, pipelinesCreated: 0 });

export function countGpuCalls(): GpuCallCounter {
  const g = globalThis as unknown as Record<string, { prototype: Proto } | undefined>;
  const counts = zero();
  const restores: (() => void)[] = [];
  const wrap = (cls: string, method: string, counter: keyof GpuCallCounts) => {
    const proto = g[cls]?.prototype;
    const original = proto?.[method];
    if (!proto || typeof original !== 'function') throw new Error(`${cls}.prototype.${method} is not there: install Dawn's globals first`);
    proto[method] = function (this: unknown, ...args: unknown[]) {
      counts[counter]++;
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    };
    restores.push(() => (proto[method] = original));
  };
  wrap('GPUComputePassEncoder', 'dispatchWorkgroups', 'dispatches');
  wrap('GPUQueue', 'submit', 'submits');
  wrap('GPUQueue', 'writeBuffer', 'writeBuffers');
  wrap('GPUDevice', 'createBuffer', 'buffersCreated');
  wrap('GPUDevice', 'createBindGroup', 'bindGroupsCreated');
  wrap('GPUDevice', 'createComputePipeline', 'pipelinesCreated');
  wrap('GPUDevice', 'createComputePipelineAsync', 'pipelinesCreated');
  return {
    counts,
    reset: () => Object.assign(counts, zero()),
    restore: () => restores.forEach((r) => r()),
  };
}
