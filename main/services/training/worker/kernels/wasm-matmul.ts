/**
 * A faster `BatchMatMul` (and `_FusedMatMul`) for TensorFlow.js' wasm backend.
 *
 * tfjs-backend-wasm 4.22 multiplies plain operands at about 40 GFLOP/s, but as soon as
 * `transposeA` or `transposeB` is set it falls off a cliff (about 3 GFLOP/s, 5–15× slower).
 * Those are exactly the two matmuls of every Dense layer's backward pass (dW = xᵀ·dy,
 * dx = dy·Wᵀ), so a training step spends most of its time there.
 *
 * The override keeps the stock kernel and, when a transpose flag is set, materialises the
 * transposed operand(s) with the stock wasm `Transpose` kernel and calls the stock kernel with
 * both flags off. For `BatchMatMul` it may instead use the identity op(A)·op(B) = (op(B)ᵀ·op(A)ᵀ)ᵀ
 * when that moves fewer elements (e.g. dy·Wᵀ with a small batch: transposing dy and the small
 * result is cheaper than transposing the whole weight matrix W). Temporaries are freed with
 * `backend.disposeData`, so `tf.memory().numTensors` is unchanged by a call.
 *
 * Results equal the stock kernel's up to float32 summation order (≈1e-6 relative).
 */
import type * as TF from '@tensorflow/tfjs';

type Tf = typeof TF;
type KernelConfig = TF.KernelConfig;
type TensorInfo = TF.TensorInfo;
type KernelBackend = TF.KernelBackend;

const BACKEND = 'wasm';
const BATCH_MAT_MUL = 'BatchMatMul';
const FUSED_MAT_MUL = '_FusedMatMul';
const TRANSPOSE = 'Transpose';

/**
 * Our replacement configs carry the stock config under this key. Marking the registered config
 * (rather than keeping module state) keeps install idempotent even when two copies of this module
 * share one tfjs (e.g. a bundle and a test importing the source).
 */
const STOCK = Symbol.for('layerbench.fastWasmMatMul.stock');
const STATS = Symbol.for('layerbench.fastWasmMatMul.stats');

/** How many calls took each path since install (for tests and the benchmark's report). */
export interface FastWasmMatMulStats {
  /** No transpose flag (or an input the stock kernel must handle): passed straight through. */
  passthrough: number;
  /** Flagged operands transposed explicitly, then a plain product. */
  direct: number;
  /** Computed as (op(B)ᵀ·op(A)ᵀ)ᵀ because that moved fewer elements. */
  swapped: number;
}

type FastConfig = KernelConfig & { [STOCK]?: KernelConfig; [STATS]?: FastWasmMatMulStats };

export interface FastWasmMatMulResult {
  /** True when the override is in place after the call (newly installed or already there). */
  installed: boolean;
  /** Why it is not installed (not on wasm, kernel missing…). */
  reason?: string;
  /** The kernels now wrapped, e.g. ['BatchMatMul', '_FusedMatMul']. */
  kernels?: string[];
}

export interface FastWasmMatMulOptions {
  /**
   * For BatchMatMul, allow computing (op(B)ᵀ·op(A)ᵀ)ᵀ when it moves fewer elements than
   * transposing the operands (default true). Off: always transpose the flagged operands.
   */
  allowSwap?: boolean;
}

type Plan = 'direct' | 'swapped';

/** Which formulation moves fewer elements through Transpose. Exported for tests. */
export function planBatchMatMul(aSize: number, bSize: number, outSize: number, transposeA: boolean, transposeB: boolean): { plan: Plan; moved: number } {
  const direct = (transposeA ? aSize : 0) + (transposeB ? bSize : 0);
  // C = op(A)·op(B)  ⇔  Cᵀ = op(B)ᵀ·op(A)ᵀ, where op(B)ᵀ is B itself when B was flagged transposed.
  const swapped = (transposeB ? 0 : bSize) + (transposeA ? 0 : aSize) + outSize;
  return swapped < direct ? { plan: 'swapped', moved: swapped } : { plan: 'direct', moved: direct };
}

function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** The permutation that swaps a rank-r tensor's last two axes. */
function swapLastTwo(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return perm;
}

function broadcastBatch(a: readonly number[], b: readonly number[]): number[] | null {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) return null;
    out.push(da === 1 ? db : da);
  }
  return out;
}

type KernelFunc = KernelConfig['kernelFunc'];
type KernelArgs = Parameters<KernelFunc>[0];

/** A matmul call with at least one transpose flag set, as both overrides see it. */
interface FlaggedMatMul {
  args: KernelArgs;
  a: TensorInfo;
  b: TensorInfo;
  transposeA: boolean;
  transposeB: boolean;
  /** Hands the call to the stock kernel unchanged (and counts it). */
  passthrough: () => ReturnType<KernelFunc>;
}

/** Calls without a transpose flag go straight to the stock kernel; the others to `flagged`. */
function overrideFlagged(stock: KernelConfig, stats: FastWasmMatMulStats, flagged: (call: FlaggedMatMul) => ReturnType<KernelFunc>): KernelFunc {
  return (args) => {
    const passthrough = () => {
      stats.passthrough++;
      return stock.kernelFunc(args);
    };
    const a = args.inputs['a'] as TensorInfo;
    const b = args.inputs['b'] as TensorInfo;
    const transposeA = Boolean(args.attrs?.['transposeA']);
    const transposeB = Boolean(args.attrs?.['transposeB']);
    if (!transposeA && !transposeB) return passthrough();
    return flagged({ args, a, b, transposeA, transposeB, passthrough });
  };
}

/**
 * Runs `body` with a `transpose` (the stock kernel, last two axes swapped) whose results, and whatever
 * `body` adds to `temps`, are freed afterwards.
 */
function withTemporaries<T>(backend: KernelArgs['backend'], stockTranspose: KernelConfig, body: (transpose: (x: TensorInfo) => TensorInfo, temps: TensorInfo[]) => T): T {
  const temps: TensorInfo[] = [];
  const transpose = (x: TensorInfo): TensorInfo => {
    const out = stockTranspose.kernelFunc({ inputs: { x }, backend, attrs: { perm: swapLastTwo(x.shape.length) } }) as TensorInfo;
    temps.push(out);
    return out;
  };
  try {
    return body(transpose, temps);
  } finally {
    for (const t of temps) (backend as KernelBackend).disposeData(t.dataId);
  }
}

function makeFastBatchMatMul(stock: KernelConfig, stockTranspose: KernelConfig, allowSwap: boolean, stats: FastWasmMatMulStats): KernelFunc {
  return overrideFlagged(stock, stats, ({ args, a, b, transposeA, transposeB, passthrough }) => {
    const { backend, attrs } = args;
    const aRank = a.shape.length;
    const bRank = b.shape.length;
    // Anything unusual goes to the stock kernel, which raises its own errors.
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || aRank < 2 || bRank < 2) return passthrough();
    const innerA = transposeA ? a.shape[aRank - 2] : a.shape[aRank - 1];
    const innerB = transposeB ? b.shape[bRank - 1] : b.shape[bRank - 2];
    const outerA = transposeA ? a.shape[aRank - 1] : a.shape[aRank - 2];
    const outerB = transposeB ? b.shape[bRank - 2] : b.shape[bRank - 1];
    const batch = broadcastBatch(a.shape.slice(0, -2), b.shape.slice(0, -2));
    if (innerA !== innerB || batch === null) return passthrough();

    const plain = (left: TensorInfo, right: TensorInfo): TensorInfo =>
      stock.kernelFunc({ inputs: { a: left, b: right }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } }) as TensorInfo;

    return withTemporaries(backend, stockTranspose, (transpose, temps) => {
      const outSize = sizeOf(batch) * outerA! * outerB!;
      const { plan } = allowSwap ? planBatchMatMul(sizeOf(a.shape), sizeOf(b.shape), outSize, transposeA, transposeB) : { plan: 'direct' as Plan };
      stats[plan]++;
      if (plan === 'direct') {
        return plain(transposeA ? transpose(a) : a, transposeB ? transpose(b) : b);
      }
      // Cᵀ = op(B)ᵀ · op(A)ᵀ, then C = (Cᵀ)ᵀ.
      const cT = plain(transposeB ? b : transpose(b), transposeA ? a : transpose(a));
      temps.push(cT);
      const c = stockTranspose.kernelFunc({ inputs: { x: cT }, backend, attrs: { perm: swapLastTwo(cT.shape.length) } }) as TensorInfo;
      return c;
    });
  });
}

function makeFastFusedMatMul(stock: KernelConfig, stockTranspose: KernelConfig, stats: FastWasmMatMulStats): KernelFunc {
  return overrideFlagged(stock, stats, ({ args, a, b, transposeA, transposeB, passthrough }) => {
    const { inputs, backend, attrs } = args;
    // The op hands the kernel rank-3 operands; anything else goes to the stock kernel as is.
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length !== 3 || b.shape.length !== 3) return passthrough();
    const innerA = transposeA ? a.shape[1] : a.shape[2];
    const innerB = transposeB ? b.shape[2] : b.shape[1];
    if (innerA !== innerB) return passthrough();
    stats.direct++;
    // Bias and activation apply to C itself, so only the direct form is valid here.
    return withTemporaries(backend, stockTranspose, (transpose) =>
      stock.kernelFunc({
        inputs: { ...inputs, a: transposeA ? transpose(a) : a, b: transposeB ? transpose(b) : b },
        backend,
        attrs: { ...attrs, transposeA: false, transposeB: false },
      }),
    );
  });
}

function newStats(): FastWasmMatMulStats {
  return { passthrough: 0, direct: 0, swapped: 0 };
}

function isFast(config: KernelConfig | undefined): config is FastConfig & { [STOCK]: KernelConfig } {
  return config !== undefined && (config as FastConfig)[STOCK] !== undefined;
}

function replace(tf: Tf, stock: KernelConfig, stats: FastWasmMatMulStats, kernelFunc: KernelConfig['kernelFunc']): void {
  const fast: FastConfig = {
    kernelName: stock.kernelName,
    backendName: stock.backendName,
    kernelFunc,
    // Keep the stock setup/dispose: they initialise the wasm function the stock kernel calls,
    // and tfjs runs them again whenever the wasm backend is (re)activated.
    ...(stock.setupFunc ? { setupFunc: stock.setupFunc } : {}),
    ...(stock.disposeFunc ? { disposeFunc: stock.disposeFunc } : {}),
    [STOCK]: stock,
    [STATS]: stats,
  };
  tf.unregisterKernel(stock.kernelName, stock.backendName);
  tf.registerKernel(fast);
}

/**
 * Installs the fast matmul kernels for the wasm backend. Call once after the wasm backend is
 * active (`await tf.setBackend('wasm')`); calling it again is a no-op. Returns `installed: false`
 * with a reason (and changes nothing) on any other backend.
 */
export function installFastWasmMatMul(tf: Tf, options: FastWasmMatMulOptions = {}): FastWasmMatMulResult {
  const active = tf.getBackend();
  if (active !== BACKEND) return { installed: false, reason: `the active backend is '${active}', not 'wasm'` };
  const transpose = tf.getKernel(TRANSPOSE, BACKEND);
  if (!transpose) return { installed: false, reason: "the wasm backend has no 'Transpose' kernel" };
  const batch = tf.getKernel(BATCH_MAT_MUL, BACKEND);
  if (!batch) return { installed: false, reason: "the wasm backend has no 'BatchMatMul' kernel" };
  const allowSwap = options.allowSwap ?? true;

  const kernels: string[] = [BATCH_MAT_MUL];
  if (!isFast(batch)) {
    const stats = newStats();
    replace(tf, batch, stats, makeFastBatchMatMul(batch, transpose, allowSwap, stats));
  }
  const fused = tf.getKernel(FUSED_MAT_MUL, BACKEND);
  if (fused) {
    if (!isFast(fused)) {
      const stats = newStats();
      replace(tf, fused, stats, makeFastFusedMatMul(fused, transpose, stats));
    }
    kernels.push(FUSED_MAT_MUL);
  }
  return { installed: true, kernels };
}

/** Puts the stock kernels back (tests, A/B benchmarks). Returns whether anything was removed. */
export function uninstallFastWasmMatMul(tf: Tf): boolean {
  let removed = false;
  for (const name of [BATCH_MAT_MUL, FUSED_MAT_MUL]) {
    const current = tf.getKernel(name, BACKEND);
    if (isFast(current)) {
      tf.unregisterKernel(name, BACKEND);
      tf.registerKernel(current[STOCK]);
      removed = true;
    }
  }
  return removed;
}

/** Whether the override is currently registered for wasm's BatchMatMul. */
export function isFastWasmMatMulInstalled(tf: Tf): boolean {
  return isFast(tf.getKernel(BATCH_MAT_MUL, BACKEND));
}

/** Call counts per path since install, per wrapped kernel; null when not installed. */
export function fastWasmMatMulStats(tf: Tf): Record<string, FastWasmMatMulStats> | null {
  const out: Record<string, FastWasmMatMulStats> = {};
  for (const name of [BATCH_MAT_MUL, FUSED_MAT_MUL]) {
    const config = tf.getKernel(name, BACKEND) as FastConfig | undefined;
    if (config?.[STATS]) out[name] = { ...config[STATS] };
  }
  return Object.keys(out).length ? out : null;
}
