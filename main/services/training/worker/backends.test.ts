/**
 * The real probe on this machine: no native TensorFlow and no GPU here (no usable Vulkan driver for
 * Dawn), so webgpu and the native backends are skipped with their reasons, wasm is active, and
 * onnxruntime (ONNX Runtime's own CPU library, which ships in its npm package) and cpu are available. On a machine with a GPU the webgpu expectations say what must hold there instead.
 */
import * as tf from '@tensorflow/tfjs';
import type * as TF from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { BackendReportSchema } from '../../../../contract';
import { dawnMessages, defaultLoaders, gpuAdapterFrom, gpuMemory, isSoftwareAdapter, probeBackends, usableBackends } from './backends';

describe('probeBackends', () => {
  it('skips what cannot start with the reason, activates wasm, and leaves cpu available', async () => {
    const report = await probeBackends(tf);
    expect(BackendReportSchema.parse(report)).toEqual(report);
    expect(report.candidates.map((c) => c.name)).toEqual(['tensorflow-gpu', 'webgpu', 'tensorflow', 'onnxruntime', 'wasm', 'cpu']);
    const [gpu, webgpu, native, ort, wasm, cpu] = report.candidates;
    expect(gpu).toMatchObject({ status: 'skipped', package: '@tensorflow/tfjs-node-gpu' });
    expect(gpu!.reason).toMatch(/tfjs-node-gpu|CUDA|native addon/i);
    expect(native).toMatchObject({ status: 'skipped', package: '@tensorflow/tfjs-node' });
    expect(native!.reason).toMatch(/tfjs-node|native addon/i);
    expect(webgpu!.package).toBe('@tensorflow/tfjs-backend-webgpu');
    if (webgpu!.status === 'skipped') {
      // No adapter: Dawn's own message (here: the Vulkan loader it could not open) is the reason.
      expect(webgpu!.reason).toMatch(/^no WebGPU adapter: /);
      expect(webgpu!.reason).toMatch(/Dawn: .*(Vulkan|vulkan)/);
      expect(webgpu!.reason).not.toMatch(/\n|\bat operator\(\)/);
      expect(report.adapter).toBeNull();
    } else {
      // A GPU machine: webgpu is usable but never the default (small batches are faster on wasm).
      expect(webgpu!.status).toBe('available');
      expect(report.adapter).toMatchObject({ backend: 'webgpu' });
      expect(report.adapter!.vendor).not.toBe('');
    }
    // ONNX Runtime's native CPU library ran a probe graph: available (never the default), named with its version, threads and GPU execution providers.
    expect(ort).toMatchObject({ status: 'available', package: 'onnxruntime-node' });
    expect(ort!.detail).toMatch(/^ONNX Runtime \d+\.\d+\.\d+, native CPU, 1 intra-op thread(?: \(1 or 2 by timing from batch 128\))?; GPU execution providers: /);
    expect(wasm).toMatchObject({ status: 'active' });
    expect(cpu).toMatchObject({ status: 'available' });
    expect(report.active).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(usableBackends(report)).toEqual(webgpu!.status === 'available' ? ['webgpu', 'onnxruntime', 'wasm', 'cpu'] : ['onnxruntime', 'wasm', 'cpu']);
    // The active backend really computes, and the probe left webgpu unregistered when it has no adapter.
    expect(Array.from(await tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]])).data())).toEqual([11]);
    if (webgpu!.status === 'skipped') expect(tf.findBackend('webgpu')).toBeNull();
    // wasm reports no GPU memory.
    expect(gpuMemory(tf)).toBeNull();
  });

  it('reports every failure when nothing can start', async () => {
    const failing = defaultLoaders().filter((l) => l.name === 'tensorflow-gpu' || l.name === 'tensorflow');
    await expect(probeBackends(tf, failing)).rejects.toThrow(/No TensorFlow.js backend could start: tensorflow-gpu: .+; tensorflow: .+/);
  });

  it('marks a backend available next to the active one, and makes an available-only backend active when it is all there is', async () => {
    const loaders = defaultLoaders().filter((l) => l.name === 'wasm' || l.name === 'cpu');
    const cpuFirst = [loaders[1]!, loaders[0]!];
    const report = await probeBackends(tf, cpuFirst);
    expect(report.candidates).toEqual([
      { name: 'cpu', package: '@tensorflow/tfjs-backend-cpu', status: 'active' },
      { name: 'wasm', package: '@tensorflow/tfjs-backend-wasm', status: 'available' },
    ]);
    expect(tf.getBackend()).toBe('cpu');

    const onlyOptional = [{ ...loaders[0]!, availableOnly: true }];
    const alone = await probeBackends(tf, onlyOptional);
    expect(alone).toMatchObject({ active: 'wasm', candidates: [{ name: 'wasm', status: 'active' }] });
    expect(tf.getBackend()).toBe('wasm');
  });

  it('keeps a second native TensorFlow from loading once one has', async () => {
    // No CUDA here: a stand-in registers a backend under tfjs-node's name, 'tensorflow'.
    const Cpu = tf.findBackend('cpu')!.constructor as new () => TF.KernelBackend;
    const standIn = {
      name: 'tensorflow-gpu' as const,
      package: '@tensorflow/tfjs-node-gpu',
      excludes: ['tensorflow' as const],
      async activate() {
        tf.registerBackend('tensorflow', () => new Cpu());
        await tf.setBackend('tensorflow');
      },
    };
    try {
      const report = await probeBackends(tf, [standIn, ...defaultLoaders().filter((l) => l.name === 'tensorflow' || l.name === 'wasm')]);
      expect(report.active).toBe('tensorflow-gpu');
      expect(report.candidates[1]).toMatchObject({ name: 'tensorflow', status: 'not-tried' });
      expect(report.candidates[1]!.reason).toMatch(/native TensorFlow loads once per process/);
      expect(report.candidates[2]).toMatchObject({ name: 'wasm', status: 'available' });
      // tfjs knows tensorflow-gpu as 'tensorflow': the probe left that one active.
      expect(tf.getBackend()).toBe('tensorflow');
    } finally {
      await tf.setBackend('wasm');
      tf.removeBackend('tensorflow');
    }
  });
});

describe('Dawn output and adapter info', () => {
  it("keeps Dawn's messages and drops its native source locations", () => {
    const stderr = [
      "Warning: Couldn't load Vulkan: libvulkan.so.1: cannot open shared object file: No such file or directory",
      '    at operator() (/home/runner/work/node-webgpu/node-webgpu/third_party/dawn/src/dawn/native/vulkan/BackendVk.cpp:368)',
      '',
    ].join('\n');
    expect(dawnMessages(stderr)).toBe("Couldn't load Vulkan: libvulkan.so.1: cannot open shared object file: No such file or directory");
    expect(dawnMessages('')).toBeNull();
  });

  it('reads the driver version out of the adapter description', () => {
    expect(gpuAdapterFrom({ vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA: 580.159.04 580.159.4.0' })).toEqual({
      backend: 'webgpu',
      vendor: 'nvidia',
      architecture: 'hopper',
      device: '',
      description: 'NVIDIA: 580.159.04 580.159.4.0',
      driver: '580.159.04',
      software: false,
    });
    expect(gpuAdapterFrom(null)).toEqual({ backend: 'webgpu', vendor: '', architecture: '', device: '', description: '', software: false });
  });

  it('labels software adapters, by their own flag or by name', () => {
    const software = (info: Parameters<typeof isSoftwareAdapter>[0]) => isSoftwareAdapter(info);
    expect(software({ vendor: 'google', architecture: 'swiftshader', device: 'swiftshader-device-subzero-', description: 'SwiftShader driver 5.0.0' })).toBe(true);
    expect(software({ vendor: 'mesa', architecture: '', device: 'llvmpipe (LLVM 15.0.6, 256 bits)', description: 'Mesa 22.3.6' })).toBe(true);
    expect(software({ vendor: 'mesa', description: 'lavapipe' })).toBe(true);
    expect(software({ vendor: 'microsoft', description: 'Microsoft Basic Render Driver' })).toBe(true);
    expect(software({ vendor: 'microsoft', architecture: 'warp' })).toBe(true);
    expect(software({ vendor: 'unknown', description: 'a CPU device', isFallbackAdapter: true })).toBe(true);
    expect(software({ vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA: 580.159.04', isFallbackAdapter: false })).toBe(false);
    expect(software({ vendor: 'intel', architecture: 'gen-12lp', description: 'Intel(R) Xe Graphics (Warpath)' })).toBe(false);
    expect(software(null)).toBe(false);
    expect(gpuAdapterFrom({ vendor: 'google', architecture: 'swiftshader', description: 'SwiftShader driver 5.0.0' }).software).toBe(true);
  });
});
