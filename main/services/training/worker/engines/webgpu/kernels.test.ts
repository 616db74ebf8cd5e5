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

describe.skipIf('unavailable' in dawn)('WGSL kernels on SwiftShader', () => {
  const { device } = dawn as Exclude<typeof dawn, { unavailable: string }>;
  let kernels: KernelPipelines | null = null;
  afterAll(() => device?.destroy());

  /** Runs one kernel over `arena` and returns the arena afterwards. */
  async function run(kernel: KernelName, arena: Float32Array, params: Record<string, number>, groups: [number, number]): Promise<Float32Array> {
    kernels ??= createKernelPipelines(device);
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
        const arena = new Float32Array(M * K + K * N + M * N);
        arena.set(a, 0);
        arena.set(b, M * K);
        // A stored as [M, K] or, transposed, as [K, M]; B as [K, N] or [N, K].
        const aAt = (i: number, k: number) => (transA ? k * M + i : i * K + k);
        const bAt = (k: number, j: number) => (transB ? j * K + k : k * N + j);
        const out = await run(
          'matmul',
          arena,
          {
            M,
            N,
            K,
            aOff: 0,
            aRs: transA ? 1 : K,
            aCs: transA ? M : 1,
            bOff: M * K,
            bRs: transB ? 1 : N,
            bCs: transB ? K : 1,
            cOff: M * K + K * N,
            onesRow: 0xffffffff,
            biasOff: 0,
            hasBias: 0,
            act: 0,
            backward: 0,
            dOff: 0,
          },
          [Math.ceil(N / 64), Math.ceil(M / 64)],
        );
        let worst = 0;
        for (let i = 0; i < M; i++) {
          for (let j = 0; j < N; j++) {
            let s = 0;
            for (let k = 0; k < K; k++) s += a[aAt(i, k)]! * b[bAt(k, j)]!;
            worst = Math.max(worst, Math.abs(out[M * K + K * N + i * N + j]! - s));
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
    const arena = new Float32Array(n * K + n * N + N + (K + 1) * N);
    arena.set(x, 0);
    arena.set(dz, n * K);
    arena.set(bias, n * K + n * N);
    const cOff = n * K + n * N + N;
    // [x, 1]ᵀ·dz: [K + 1, N], the last row Σ dz.
    const grads = await run(
      'matmul',
      arena,
      { M: K + 1, N, K: n, aOff: 0, aRs: 1, aCs: K, bOff: n * K, bRs: N, bCs: 1, cOff, onesRow: K, biasOff: 0, hasBias: 0, act: 0, backward: 1, dOff: 0 },
      [Math.ceil(N / 64), Math.ceil((K + 1) / 64)],
    );
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
    const forward = new Float32Array(n * K + K * N + N + n * N);
    forward.set(x, 0);
    forward.set(w, n * K);
    forward.set(bias, n * K + K * N);
    const yOff = n * K + K * N + N;
    const y = await run(
      'matmul',
      forward,
      { M: n, N, K, aOff: 0, aRs: K, aCs: 1, bOff: n * K, bRs: N, bCs: 1, cOff: yOff, onesRow: 0xffffffff, biasOff: n * K + K * N, hasBias: 1, act: ACT.elu, backward: 0, dOff: 0 },
      [Math.ceil(N / 64), Math.ceil(n / 64)],
    );
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
