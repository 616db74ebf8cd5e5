/**
 * The fused step's WGSL kernels (float32). Every kernel reads and writes one storage buffer, the
 * engine's arena (weights, gradients, optimizer slots, batch, activations, scratch at offsets), and
 * takes its dimensions and offsets from a 256-byte uniform block at a dynamic offset: one bind group
 * layout, one bind group per arena and batch size, no buffer per dispatch.
 *
 * Each kernel's uniform block is a struct of 4-byte fields; `PARAMS` lists them in order so the
 * engine can pack a block by field name (layout.ts).
 */

/** Field names of each kernel's uniform struct, in declaration order (all u32 unless marked f32 in the WGSL). */
export const PARAMS = {
  matmul: ['M', 'N', 'K', 'aOff', 'aRs', 'aCs', 'bOff', 'bRs', 'bCs', 'cOff', 'onesRow', 'biasOff', 'hasBias', 'act', 'backward', 'dOff'],
  bnForward: ['n', 'F', 'xOff', 'yOff', 'gammaOff', 'betaOff', 'hasGamma', 'hasBeta', 'mmOff', 'mvOff', 'meanOff', 'invOff', 'eps', 'decay'],
  bnBackward: ['n', 'F', 'xOff', 'dyOff', 'dxOff', 'gammaOff', 'hasGamma', 'dGammaOff', 'dBetaOff', 'hasBeta', 'meanOff', 'invOff', 'needDx', 'dAct'],
  softmaxCrossEntropy: ['n', 'C', 'zOff', 'labelsOff', 'dzOff', 'metricsOff', 'dAct', 'stepOff'],
  elementwise: ['count', 'xOff', 'yOff', 'dyOff', 'dxOff', 'kind', 'act', 'maskOff', 's1', 's2', 'dAct', 'backward'],
  update: ['count', 'wOff', 'gOff', 's1Off', 's2Off', 'kind', 'stepOff', 'momentum', 'nesterov', 'beta1', 'beta2', 'eps', 'clip', 'hasClip'],
} as const;

export type KernelName = keyof typeof PARAMS;
/** Uniform fields that hold f32 values (all others are u32). */
export const FLOAT_PARAMS = new Set(['eps', 'decay', 's1', 's2', 'momentum', 'beta1', 'beta2', 'clip']);

/** Activation codes shared by the engine and the kernels. */
export const ACT = { linear: 0, relu: 1, elu: 2, selu: 3, tanh: 4, sigmoid: 5 } as const;
export type ActName = keyof typeof ACT;
/** Elementwise layer kinds. */
export const ELEMENTWISE = { activation: 0, dropout: 1, alphaDropout: 2 } as const;
/** Optimizer update kinds. */
export const UPDATE = { sgd: 0, momentum: 1, adam: 2 } as const;
/** Step scalars (written with the batch): lr, 1 − β₁ᵗ, 1 − β₂ᵗ, reset-the-metric-sums flag. */
export const STEP_SCALARS = 4;
/** Metrics: last loss, last accuracy, Σ loss, Σ accuracy, steps summed. */
export const METRICS = 8;

const struct = (name: string, kernel: KernelName) => `struct ${name} {\n${PARAMS[kernel].map((f) => `  ${f}: ${FLOAT_PARAMS.has(f) ? 'f32' : 'u32'},`).join('\n')}\n}`;

const HEADER = `
@group(0) @binding(0) var<storage, read_write> arena: array<f32>;
const SELU_SCALE: f32 = 1.0507009873554805;
const SELU_ALPHA: f32 = 1.6732632423543772;

// y = f(v), as tfjs computes each activation.
fn act(code: u32, v: f32) -> f32 {
  switch code {
    case 1u: { return select(0.0, v, v > 0.0); }
    case 2u: { return select(exp(v) - 1.0, v, v >= 0.0); }
    case 3u: { return select(SELU_SCALE * SELU_ALPHA * (exp(v) - 1.0), SELU_SCALE * v, v > 0.0); }
    case 4u: { return tanh(clamp(v, -15.0, 15.0)); }
    case 5u: { return 1.0 / (1.0 + exp(-v)); }
    default: { return v; }
  }
}

// f'(x) from y = f(x), as tfjs' gradients take it (ELU: y ≥ 0 ? 1 : y + 1; SELU: y > 0 ? λ : y + λα).
fn dact(code: u32, y: f32) -> f32 {
  switch code {
    case 1u: { return select(0.0, 1.0, y > 0.0); }
    case 2u: { return select(y + 1.0, 1.0, y >= 0.0); }
    case 3u: { return select(y + SELU_SCALE * SELU_ALPHA, SELU_SCALE, y > 0.0); }
    case 4u: { return 1.0 - y * y; }
    case 5u: { return y * (1.0 - y); }
    default: { return 1.0; }
  }
}
`;

/**
 * C[M, N] = A[M, K]·B[K, N] with A and B read through row/column strides (so Aᵀ and Bᵀ are the same
 * kernel), 64×64 output tiles in workgroup memory, 4×4 outputs a thread, bounds-checked for any
 * shape. Row `onesRow` of A reads as ones: with the bias stored right after the kernel, dW and db
 * come out of one product ([x, 1]ᵀ·dz). Forward epilogue: + bias, activation; backward epilogue:
 * × f′ of the layer below, read from its output at `dOff`.
 */
const MATMUL = `${HEADER}
${struct('Params', 'matmul')}
@group(0) @binding(1) var<uniform> p: Params;
var<workgroup> As: array<f32, 1024>;
var<workgroup> Bs: array<f32, 1024>;

fn loadA(i: u32, k: u32) -> f32 {
  if (i >= p.M || k >= p.K) { return 0.0; }
  if (i == p.onesRow) { return 1.0; }
  return arena[p.aOff + i * p.aRs + k * p.aCs];
}
fn loadB(k: u32, j: u32) -> f32 {
  if (k >= p.K || j >= p.N) { return 0.0; }
  return arena[p.bOff + k * p.bRs + j * p.bCs];
}

@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let row0 = wid.y * 64u;
  let col0 = wid.x * 64u;
  let t = lid.y * 16u + lid.x;
  // Rows lid.y + 16r, columns lid.x + 16c: acc[r][c]. vec4 registers, no private arrays (SwiftShader spills those).
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var k0 = 0u; k0 < p.K; k0 += 16u) {
    for (var e = 0u; e < 4u; e++) {
      let idx = t + e * 256u;
      As[idx] = loadA(row0 + idx % 64u, k0 + idx / 64u);
      Bs[idx] = loadB(k0 + idx / 64u, col0 + idx % 64u);
    }
    workgroupBarrier();
    for (var k = 0u; k < 16u; k++) {
      let at = k * 64u;
      let b = vec4<f32>(Bs[at + lid.x], Bs[at + lid.x + 16u], Bs[at + lid.x + 32u], Bs[at + lid.x + 48u]);
      acc0 += As[at + lid.y] * b;
      acc1 += As[at + lid.y + 16u] * b;
      acc2 += As[at + lid.y + 32u] * b;
      acc3 += As[at + lid.y + 48u] * b;
    }
    workgroupBarrier();
  }
  let i = row0 + lid.y;
  let j = col0 + lid.x;
  storeRow(i, j, acc0);
  storeRow(i + 16u, j, acc1);
  storeRow(i + 32u, j, acc2);
  storeRow(i + 48u, j, acc3);
}

// Row i, columns j, j + 16, j + 32, j + 48 through the epilogue (unrolled: SwiftShader is slow on dynamic vector indices).
fn storeRow(i: u32, j: u32, v: vec4<f32>) {
  if (i >= p.M) { return; }
  store(i, j, v.x);
  store(i, j + 16u, v.y);
  store(i, j + 32u, v.z);
  store(i, j + 48u, v.w);
}

fn store(i: u32, j: u32, acc: f32) {
  if (j >= p.N) { return; }
  var v = acc;
  if (p.backward == 1u) {
    if (p.act != 0u) { v = v * dact(p.act, arena[p.dOff + i * p.N + j]); }
  } else {
    if (p.hasBias == 1u) { v = v + arena[p.biasOff + j]; }
    v = act(p.act, v);
  }
  arena[p.cOff + i * p.N + j] = v;
}
`;

/** Shared by both BN kernels: 16 features × 16 row lanes a workgroup, sums over the batch reduced in workgroup memory. */
const BN_REDUCE = `
var<workgroup> partial: array<f32, 256>;
var<workgroup> partial2: array<f32, 256>;
var<workgroup> total: array<f32, 16>;
var<workgroup> total2: array<f32, 16>;

// Σ over the 16 row lanes of each feature column, into total / total2.
fn reduceColumns(lid: vec3<u32>, a: f32, b: f32) {
  partial[lid.y * 16u + lid.x] = a;
  partial2[lid.y * 16u + lid.x] = b;
  workgroupBarrier();
  if (lid.y == 0u) {
    var s = 0.0;
    var s2 = 0.0;
    for (var q = 0u; q < 16u; q++) {
      s += partial[q * 16u + lid.x];
      s2 += partial2[q * 16u + lid.x];
    }
    total[lid.x] = s;
    total2[lid.x] = s2;
  }
  workgroupBarrier();
}
`;

/** A BN kernel: 16 features (x) × 16 row lanes (y) a workgroup, feature `f` (`valid` when f < F), then `body`. */
function bnKernel(kernel: 'bnForward' | 'bnBackward', body: string): string {
  return `${HEADER}
${struct('Params', kernel)}
@group(0) @binding(1) var<uniform> p: Params;
${BN_REDUCE}

@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let f = wid.x * 16u + lid.x;
  let valid = f < p.F;${body}}
`;
}

/**
 * BatchNormalization forward in training mode: batch mean, biased variance (two passes), the
 * moving statistics moved (moving − (moving − batch)·(1 − momentum)), y = (x − mean)·γ/√(var + ε) + β;
 * mean and 1/√(var + ε) kept for the backward pass, the variance after the mean (F values on) for the dashboard.
 */
const BN_FORWARD = bnKernel(
  'bnForward',
  `
  let nf = f32(p.n);
  var s = 0.0;
  if (valid) { for (var i = lid.y; i < p.n; i += 16u) { s += arena[p.xOff + i * p.F + f]; } }
  reduceColumns(lid, s, 0.0);
  let mean = total[lid.x] / nf;
  var sq = 0.0;
  if (valid) {
    for (var i = lid.y; i < p.n; i += 16u) {
      let d = arena[p.xOff + i * p.F + f] - mean;
      sq += d * d;
    }
  }
  reduceColumns(lid, sq, 0.0);
  if (!valid) { return; }
  let variance = total[lid.x] / nf;
  let inv = 1.0 / sqrt(variance + p.eps);
  var factor = inv;
  if (p.hasGamma == 1u) { factor = inv * arena[p.gammaOff + f]; }
  var shift = 0.0;
  if (p.hasBeta == 1u) { shift = arena[p.betaOff + f]; }
  if (lid.y == 0u) {
    arena[p.meanOff + f] = mean;
    arena[p.meanOff + p.F + f] = variance;
    arena[p.invOff + f] = inv;
    let mm = arena[p.mmOff + f];
    let mv = arena[p.mvOff + f];
    arena[p.mmOff + f] = mm - (mm - mean) * p.decay;
    arena[p.mvOff + f] = mv - (mv - variance) * p.decay;
  }
  for (var i = lid.y; i < p.n; i += 16u) {
    let at = i * p.F + f;
    arena[p.yOff + at] = (arena[p.xOff + at] - mean) * factor + shift;
  }
`,
);

/**
 * BatchNormalization backward: dβ = Σdy, dγ = Σdy·x̂, and dx = γ/√(var + ε)/n·(n·dy − Σdy − x̂·Σdy·x̂)
 * (the batch statistics' own gradients included) × f′ of the layer below.
 */
const BN_BACKWARD = bnKernel(
  'bnBackward',
  `
  var mean = 0.0;
  var inv = 0.0;
  if (valid) {
    mean = arena[p.meanOff + f];
    inv = arena[p.invOff + f];
  }
  var sdy = 0.0;
  var sdyx = 0.0;
  if (valid) {
    for (var i = lid.y; i < p.n; i += 16u) {
      let at = i * p.F + f;
      let dy = arena[p.dyOff + at];
      sdy += dy;
      sdyx += dy * (arena[p.xOff + at] - mean) * inv;
    }
  }
  reduceColumns(lid, sdy, sdyx);
  if (!valid) { return; }
  let sumDy = total[lid.x];
  let sumDyX = total2[lid.x];
  if (lid.y == 0u) {
    if (p.hasGamma == 1u) { arena[p.dGammaOff + f] = sumDyX; }
    if (p.hasBeta == 1u) { arena[p.dBetaOff + f] = sumDy; }
  }
  if (p.needDx == 0u) { return; }
  let nf = f32(p.n);
  var gamma = 1.0;
  if (p.hasGamma == 1u) { gamma = arena[p.gammaOff + f]; }
  let scale = gamma * inv / nf;
  for (var i = lid.y; i < p.n; i += 16u) {
    let at = i * p.F + f;
    let x = arena[p.xOff + at];
    let xhat = (x - mean) * inv;
    arena[p.dxOff + at] = scale * (nf * arena[p.dyOff + at] - sumDy - xhat * sumDyX) * dact(p.dAct, x);
  }
`,
);

/**
 * Softmax cross-entropy on the logits, forward and backward in one workgroup: per sample the exact
 * log-softmax, loss −log p[label], a hit when the first arg-max is the label, dz = (p − onehot)/n
 * (× f′ of the layer below); the batch's mean loss and accuracy go to the metrics, and into their
 * sums (reset first when the step's flag says so).
 */
const SOFTMAX_CROSS_ENTROPY = `${HEADER}
${struct('Params', 'softmaxCrossEntropy')}
@group(0) @binding(1) var<uniform> p: Params;
var<workgroup> lossPart: array<f32, 256>;
var<workgroup> hitPart: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_id) lid: vec3<u32>) {
  let t = lid.x;
  let nf = f32(p.n);
  var loss = 0.0;
  var hits = 0.0;
  for (var i = t; i < p.n; i += 256u) {
    let row = p.zOff + i * p.C;
    var best = 0u;
    var mx = arena[row];
    for (var c = 1u; c < p.C; c++) {
      let v = arena[row + c];
      if (v > mx) { mx = v; best = c; }
    }
    var sum = 0.0;
    for (var c = 0u; c < p.C; c++) { sum += exp(arena[row + c] - mx); }
    let lse = mx + log(sum);
    let label = u32(arena[p.labelsOff + i]);
    loss += lse - arena[row + label];
    if (best == label) { hits += 1.0; }
    for (var c = 0u; c < p.C; c++) {
      let prob = exp(arena[row + c] - lse);
      let onehot = select(0.0, 1.0, c == label);
      arena[p.dzOff + i * p.C + c] = (prob - onehot) / nf * dact(p.dAct, arena[row + c]);
    }
  }
  lossPart[t] = loss;
  hitPart[t] = hits;
  workgroupBarrier();
  for (var stride = 128u; stride > 0u; stride = stride / 2u) {
    if (t < stride) {
      lossPart[t] += lossPart[t + stride];
      hitPart[t] += hitPart[t + stride];
    }
    workgroupBarrier();
  }
  if (t == 0u) {
    let m = p.metricsOff;
    let meanLoss = lossPart[0] / nf;
    let meanAcc = hitPart[0] / nf;
    arena[m] = meanLoss;
    arena[m + 1u] = meanAcc;
    if (arena[p.stepOff + 3u] != 0.0) {
      arena[m + 2u] = 0.0;
      arena[m + 3u] = 0.0;
      arena[m + 4u] = 0.0;
    }
    arena[m + 2u] += meanLoss;
    arena[m + 3u] += meanAcc;
    arena[m + 4u] += 1.0;
  }
}
`;

/**
 * Activation, Dropout (x·keep·s1, s1 = 1/(1 − rate)) and AlphaDropout ((x·keep + (1 − keep)·α′)·s1 + s2)
 * layers, forward or backward (dx = dy·dy/dx × f′ of the layer below).
 */
const ELEMENTWISE_KERNEL = `${HEADER}
${struct('Params', 'elementwise')}
@group(0) @binding(1) var<uniform> p: Params;
const ALPHA_PRIME: f32 = -1.7580993408473766;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let k = gid.y * groups.x * 256u + gid.x;
  if (k >= p.count) { return; }
  if (p.backward == 0u) {
    let x = arena[p.xOff + k];
    var y = 0.0;
    if (p.kind == 0u) { y = act(p.act, x); }
    else if (p.kind == 1u) { y = x * arena[p.maskOff + k] * p.s1; }
    else {
      let keep = arena[p.maskOff + k];
      y = (x * keep + (1.0 - keep) * ALPHA_PRIME) * p.s1 + p.s2;
    }
    arena[p.yOff + k] = y;
    return;
  }
  var d = 1.0;
  if (p.kind == 0u) { d = dact(p.act, arena[p.yOff + k]); }
  else { d = arena[p.maskOff + k] * p.s1; }
  arena[p.dxOff + k] = arena[p.dyOff + k] * d * dact(p.dAct, arena[p.xOff + k]);
}
`;

/**
 * One update pass over every trainable value (they sit side by side, their gradients and slots in
 * parallel ranges), in tfjs' forms: SGD; momentum v = m·v + g, w −= lr·v (Nesterov: lr·(g + m·v));
 * Adam with β powers fed as 1 − βᵗ. clipvalue clips each gradient first.
 */
const UPDATE_KERNEL = `${HEADER}
${struct('Params', 'update')}
@group(0) @binding(1) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let k = gid.y * groups.x * 256u + gid.x;
  if (k >= p.count) { return; }
  let lr = arena[p.stepOff];
  var g = arena[p.gOff + k];
  if (p.hasClip == 1u) { g = clamp(g, -p.clip, p.clip); }
  let w = arena[p.wOff + k];
  if (p.kind == 0u) {
    arena[p.wOff + k] = w - lr * g;
  } else if (p.kind == 1u) {
    let v = p.momentum * arena[p.s1Off + k] + g;
    arena[p.s1Off + k] = v;
    var direction = v;
    if (p.nesterov == 1u) { direction = g + p.momentum * v; }
    arena[p.wOff + k] = w - lr * direction;
  } else {
    let m = p.beta1 * arena[p.s1Off + k] + (1.0 - p.beta1) * g;
    let s = p.beta2 * arena[p.s2Off + k] + (1.0 - p.beta2) * g * g;
    arena[p.s1Off + k] = m;
    arena[p.s2Off + k] = s;
    let mHat = m / arena[p.stepOff + 1u];
    let sHat = s / arena[p.stepOff + 2u];
    arena[p.wOff + k] = w - lr * mHat / (sqrt(sHat) + p.eps);
  }
}
`;

export const KERNELS: Record<KernelName, string> = {
  matmul: MATMUL,
  bnForward: BN_FORWARD,
  bnBackward: BN_BACKWARD,
  softmaxCrossEntropy: SOFTMAX_CROSS_ENTROPY,
  elementwise: ELEMENTWISE_KERNEL,
  update: UPDATE_KERNEL,
};

/** Workgroups of the 1-D kernels (256 threads each), spread over y beyond 65,535 groups. */
export function linearGroups(count: number): [number, number] {
  const groups = Math.max(1, Math.ceil(count / 256));
  return groups <= 65535 ? [groups, 1] : [65535, Math.ceil(groups / 65535)];
}
