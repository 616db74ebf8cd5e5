/**
 * The WGSL kernels alone on SwiftShader against float64 references: the tiled matmul for shapes that
 * are not multiples of its tiles, with A or B read transposed, the row of ones (dW and db in one
 * product) and both epilogues.
 */
/// <reference types="@webgpu/types" />
import { afterAll, describe, expect, it } from 'vitest';
import type { KernelName } from './kernels';
import { ACT } from './kernels';
import { arenaBindGroup, createKernelPipelines, packUniforms, type KernelPipelines } from './pipelines';
import { testDevice } from './test-device';

const dawn = await testDevice();
if ('unavailable' in dawn) console.warn(dawn.unavailable);

/** Deterministic values in [−1, 1). */
function values(count: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: count }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

const NO_ROW = 0xffffffff;

/** The parts end to end in one arena (a number: that many zeros), and where each starts. */
function packed(...parts: (Float32Array | number)[]): { arena: Float32Array; at: number[] } {
  const at: number[] = [];
  let size = 0;
  for (const part of parts) {
    at.push(size);
    size += typeof part === 'number' ? part : part.length;
  }
  const arena = new Float32Array(size);
  parts.forEach((part, i) => typeof part !== 'number' && arena.set(part, at[i]));
  return { arena, at };
}

describe.skipIf('unavailable' in dawn)('WGSL kernels on SwiftShader', () => {
  const { device } = dawn as Exclude<typeof dawn, { unavailable: string }>;
  let kernels: KernelPipelines | null = null;
  afterAll(() => device?.destroy());

  /** Runs one kernel over `arena` and returns the arena afterwards. */
  async function run(kernel: KernelName, arena: Float32Array, params: Record<string, number>, groups: [number, number]): Promise<Float32Array> {
    kernels ??= await createKernelPipelines(device);
    const buffer = device.createBuffer({ size: arena.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    const read = device.createBuffer({ size: arena.byteLength, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const block = packUniforms([{ kernel, label: kernel, params }]);
    const uniforms = device.createBuffer({ size: block.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(buffer, 0, arena);
    device.queue.writeBuffer(uniforms, 0, block);
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(kernels.pipelines[kernel]);
    pass.setBindGroup(0, arenaBindGroup(device, kernels, buffer, uniforms), [0]);
    pass.dispatchWorkgroups(...groups);
    pass.end();
    encoder.copyBufferToBuffer(buffer, 0, read, 0, arena.byteLength);
    device.queue.submit([encoder.finish()]);
    await read.mapAsync(GPUMapMode.READ);
    const out = new Float32Array(read.getMappedRange().slice(0));
    read.unmap();
    for (const b of [buffer, read, uniforms]) b.destroy();
    return out;
  }

  /** The matmul kernel with the fields not given at neutral values, workgroups from M and N. */
  const matmul = (arena: Float32Array, fields: Record<string, number>) =>
    run('matmul', arena, { aOff: 0, onesRow: NO_ROW, biasOff: 0, hasBias: 0, act: 0, backward: 0, dOff: 0, ...fields }, [Math.ceil(fields.N! / 64), Math.ceil(fields.M! / 64)]);

  const shapes: [string, number, number, number][] = [
    ['1×1·1', 1, 1, 1],
    ['13×300·784 (batch 13, first Dense)', 13, 300, 784],
    ['65×10·100 (one row past a tile)', 65, 10, 100],
    ['100×130·17', 100, 130, 17],
  ];
  for (const [label, M, N, K] of shapes) {
    for (const [transA, transB] of [
      [false, false],
      [true, false],
      [false, true],
    ] as const) {
      it(`C = ${transA ? 'Aᵀ' : 'A'}·${transB ? 'Bᵀ' : 'B'}, ${label}`, async () => {
        const a = values(M * K, 1 + M);
        const b = values(K * N, 2 + N);
        const { arena, at } = packed(a, b, M * N);
        // A stored as [M, K] or, transposed, as [K, M]; B as [K, N] or [N, K].
        const aAt = (i: number, k: number) => (transA ? k * M + i : i * K + k);
        const bAt = (k: number, j: number) => (transB ? j * K + k : k * N + j);
        const out = await matmul(arena, { M, N, K, aRs: transA ? 1 : K, aCs: transA ? M : 1, bOff: at[1]!, bRs: transB ? 1 : N, bCs: transB ? K : 1, cOff: at[2]! });
        let worst = 0;
        for (let i = 0; i < M; i++) {
          for (let j = 0; j < N; j++) {
            let s = 0;
            for (let k = 0; k < K; k++) s += a[aAt(i, k)]! * b[bAt(k, j)]!;
            worst = Math.max(worst, Math.abs(out[at[2]! + i * N + j]! - s));
          }
        }
        expect(worst).toBeLessThan(1e-5 * Math.sqrt(K) + 1e-6);
      });
    }
  }

  it('a row of ones gives the bias gradient under the kernel gradient; the forward epilogue adds the bias and applies ELU', async () => {
    const n = 21;
    const K = 70;
    const N = 67;
    const x = values(n * K, 3);
    const dz = values(n * N, 4);
    const bias = values(N, 5);
    // [x, 1]ᵀ·dz: [K + 1, N], the last row Σ dz.
    const back = packed(x, dz, (K + 1) * N);
    const cOff = back.at[2]!;
    const grads = await matmul(back.arena, { M: K + 1, N, K: n, aRs: 1, aCs: K, bOff: back.at[1]!, bRs: N, bCs: 1, cOff, onesRow: K, backward: 1 });
    let worst = 0;
    for (let j = 0; j < N; j++) {
      let db = 0;
      for (let i = 0; i < n; i++) db += dz[i * N + j]!;
      worst = Math.max(worst, Math.abs(grads[cOff + K * N + j]! - db));
      for (let k = 0; k < K; k++) {
        let s = 0;
        for (let i = 0; i < n; i++) s += x[i * K + k]! * dz[i * N + j]!;
        worst = Math.max(worst, Math.abs(grads[cOff + k * N + j]! - s));
      }
    }
    expect(worst).toBeLessThan(1e-5);
    // x[n, K]·W[K, N] + b, then ELU.
    const w = values(K * N, 6);
    const forward = packed(x, w, bias, n * N);
    const yOff = forward.at[3]!;
    const y = await matmul(forward.arena, { M: n, N, K, aRs: K, aCs: 1, bOff: forward.at[1]!, bRs: N, bCs: 1, cOff: yOff, biasOff: forward.at[2]!, hasBias: 1, act: ACT.elu });
    worst = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < N; j++) {
        let z = bias[j]!;
        for (let k = 0; k < K; k++) z += x[i * K + k]! * w[k * N + j]!;
        worst = Math.max(worst, Math.abs(y[yOff + i * N + j]! - (z >= 0 ? z : Math.expm1(z))));
      }
    }
    expect(worst).toBeLessThan(1e-5);
  });
});
