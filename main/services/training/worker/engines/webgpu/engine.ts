/**
 * The fused WebGPU training step: forward, backward and optimizer update of a Flatten / Dense /
 * BatchNormalization / Activation / (Alpha)Dropout stack ending in softmax, as hand-written WGSL
 * kernels (kernels.ts) planned once per spec (layout.ts), on one storage buffer that holds the
 * weights, gradients, optimizer slots, BN moving statistics, the batch and every activation.
 *
 * A step is one writeBuffer (step scalars, batch, labels and keep masks together), one command
 * buffer of compute dispatches (17 for seed model 1) and one submit; no buffer is created in steady
 * state (pipelines once per engine, a uniform buffer and a bind group once per batch size, the arena
 * again only when a batch outgrows it). Loss and accuracy stay on the GPU, summed there, until a
 * read-back: every `readEvery` steps (option, default 1; 'auto': K from the measured step time, see
 * read-cadence.ts) a step also copies the metrics and the model variables into a mapped buffer and
 * waits for it; the other steps return the last values read (`stale: true`) without waiting. Each
 * step's own loss and accuracy go to a ring of K slots on the GPU (a buffer copy in the step's
 * submit), read with the rest: `takeReadSteps()` hands them out in order, so that every step's record
 * is exact whatever K. `readMetrics()` reads on demand (and the means since the last read);
 * `getWeights()` returns the variables as of the last read-back, `readWeights()` reads them now;
 * `readBatchNormStatistics()` reads each BN layer's batch mean and variance.
 *
 * A statistics step (a step with a probe) adds one dispatch to the same pass (statistics.ts: the
 * gradients' sums of squares and the activations' moments and saturation reduced on the GPU into a
 * small buffer), copies it and the BN batch moments into a read-back buffer made once, reads back
 * and hands the probe the values.
 */
/// <reference types="@webgpu/types" />
import { DomainError, type OptimizerSettings } from '../../../../../../contract';
import type { ModelSpec } from '../../../../../../model/spec';
import type { NamedWeights } from '../../../../export/weights';
import type { EngineProbe, EngineStepResult, TrainingEngine } from '../engine';
import { stepInputError, weightsInputError } from '../step-inputs';
import { lastFiniteSlots, ReadCadence } from './read-cadence';
import type { DropoutMask } from '../onnxruntime/step-graph';
import { METRICS } from './kernels';
import { arenaBindGroup, createKernelPipelines, packUniforms, UNIFORM_STRIDE, type KernelPipelines } from './pipelines';
import { planStep, webGpuStepSupport, type StepLayout } from './layout';
import { createStatisticsPipeline, planStatistics, type StatisticsPipeline, type StatisticsPlan } from './statistics';

export interface WebGpuEngineOptions {
  /** Read loss and accuracy back every K steps (1: every step waits for its own values; 'auto': K from the step time). */
  readEvery?: number | 'auto';
  /** The most steps between reads (the per-step metrics ring holds that many); default: readEvery, or 32 with 'auto'. */
  maxReadEvery?: number;
  /** Batch size the buffers are first made for (a larger batch grows them once). */
  capacity?: number;
  /** The adapter, for the description ("SwiftShader", "NVIDIA H100"). */
  adapterName?: string;
}

export interface WebGpuStepResult extends EngineStepResult {
  /** True when this step did not read back: loss and accuracy are the last values read. */
  stale: boolean;
}

export interface WebGpuMetrics {
  /** The last step's mean loss and accuracy. */
  loss: number;
  acc: number;
  /** Means over the steps since the previous read. */
  meanLoss: number;
  meanAcc: number;
  steps: number;
}

const F32 = 4;

/** One batch size's dispatches: uniform blocks and bind group made once; the statistics pass's task table at its first statistics step. */
interface BatchPlan {
  uniforms: GPUBuffer;
  bindGroup: GPUBindGroup;
  dispatches: { pipeline: GPUComputePipeline; offset: number; groups: [number, number] }[];
  statistics?: { tasks: GPUBuffer; bindGroup: GPUBindGroup };
}

export class WebGpuStepEngine implements TrainingEngine {
  readonly description: string;
  /** A statistics step feeds the probe from the GPU's reductions (statistics.ts). */
  readonly feedsProbe = true;
  private layout: StepLayout;
  private arena: GPUBuffer;
  private readonly readback: GPUBuffer;
  private statistics: StatisticsPlan;
  /** What the statistics pass writes (STORAGE), and its read-back: those values, then each BN layer's batch mean and variance. */
  private readonly statsBuffer: GPUBuffer;
  private readonly statsReadback: GPUBuffer;
  /** Each step's loss and accuracy since the last read, one slot of two floats a step. */
  private readonly metricsRing: GPUBuffer;
  /** Per-step results read back and not yet taken (takeReadSteps), oldest first. */
  private readSteps: EngineStepResult[] = [];
  private readonly plans = new Map<number, BatchPlan>();
  /** The model variables as last read back (or set). */
  private readonly mirror: Float32Array;
  private upload: Float32Array;
  private readonly cadence: ReadCadence;
  private stepsSinceRead = 0;
  private resetSums = true;
  private last: WebGpuMetrics = { loss: NaN, acc: NaN, meanLoss: NaN, meanAcc: NaN, steps: 0 };
  /** Adam's β₁ᵗ and β₂ᵗ, float32 as tfjs keeps them (start at β, multiplied by β after each step). */
  private powers: [number, number];
  private queue: Promise<unknown> = Promise.resolve();
  /** keepLastFinite: a ring of slots of the variables, each step copies its starting weights into the next (null: off). */
  private backup: GPUBuffer | null = null;
  private backupSlots = 0;
  private backupSteps = 0;
  private disposed = false;

  private constructor(
    private readonly device: GPUDevice,
    private readonly spec: ModelSpec,
    private readonly optimizer: OptimizerSettings,
    private readonly kernels: KernelPipelines,
    private readonly statisticsPipeline: StatisticsPipeline,
    layout: StepLayout,
    options: WebGpuEngineOptions,
  ) {
    this.layout = layout;
    this.cadence = new ReadCadence(options.readEvery ?? 1, options.maxReadEvery);
    this.arena = this.createArena(layout);
    const ring = 2 * this.cadence.max * F32;
    this.metricsRing = device.createBuffer({ label: 'fused step per-step metrics', size: ring, usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    this.readback = device.createBuffer({ label: 'fused step read-back', size: (this.metricsAt + METRICS) * F32 + ring, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.statistics = planStatistics(layout);
    const statsBytes = this.statistics.outputs * F32;
    const bnBytes = layout.batchNorms.reduce((sum, bn) => sum + 2 * bn.features, 0) * F32;
    this.statsBuffer = device.createBuffer({ label: 'fused step statistics', size: statsBytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
    this.statsReadback = device.createBuffer({ label: 'fused step statistics read-back', size: statsBytes + bnBytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.mirror = new Float32Array(layout.variablesEnd);
    this.upload = new Float32Array(layout.uploadSize);
    this.powers = optimizer.class_name === 'Adam' ? [Math.fround(optimizer.config.beta_1), Math.fround(optimizer.config.beta_2)] : [0, 0];
    const ops = layout.ops.length;
    this.description = `WebGPU fused step${options.adapterName ? ` on ${options.adapterName}` : ''}: ${ops} dispatches and one submit a step`;
  }

  /**
   * The engine for a spec and optimizer on `device`, starting from `weights` (every model variable
   * by its Keras name), or why the fused step cannot train them. Optimizer slots start at zero.
   */
  static async create(
    device: GPUDevice,
    spec: ModelSpec,
    optimizer: OptimizerSettings,
    weights: NamedWeights,
    options: WebGpuEngineOptions = {},
  ): Promise<WebGpuStepEngine | { unsupported: string }> {
    const reason = webGpuStepSupport(spec, optimizer);
    if (reason) return { unsupported: reason };
    const layout = planStep(spec, optimizer, Math.max(1, options.capacity ?? 32));
    const tooBig = arenaLimit(device, layout);
    if (tooBig) return { unsupported: tooBig };
    const kernels = await createKernelPipelines(device);
    const engine = new WebGpuStepEngine(device, spec, optimizer, kernels, await createStatisticsPipeline(device), layout, options);
    engine.setWeights(weights);
    return engine;
  }

  /** Keep masks the caller draws each step (dropoutKeepMasks), by input name. */
  get masks(): DropoutMask[] {
    return this.layout.masks.map((m) => m.mask);
  }

  /** Compute dispatches a step issues (the same for every batch size). */
  get dispatchesPerStep(): number {
    return this.layout.ops.length;
  }

  /** The variables as of the last read-back (every `readEvery` steps, readMetrics, readWeights) or setWeights. */
  getWeights(): NamedWeights {
    const out: NamedWeights = new Map();
    for (const v of this.layout.variables) out.set(v.name, { shape: [...v.shape], data: this.mirror.slice(v.offset, v.offset + v.size) });
    return out;
  }

  /** Reads the variables (and metrics) back now. */
  async readWeights(): Promise<NamedWeights> {
    await this.serial(() => this.readBack());
    return this.getWeights();
  }

  /**
   * From now on each step first copies the variables into a backup slot on the GPU (a
   * copyBufferToBuffer in the step's own command buffer: no dispatch, no buffer created per step),
   * in a ring of K + 1 slots: the weights each step of the window between reads started from, and
   * those of the step before it (K is lowered where K + 1 copies would not fit, see read-cadence.ts).
   */
  keepLastFinite(): void {
    if (this.backup) return;
    this.backupSlots = lastFiniteSlots(this.cadence, this.variablesBytes, Math.min(this.device.limits.maxBufferSize, 2 ** 31));
    this.backup = this.device.createBuffer({
      label: 'fused step last finite weights',
      size: this.backupSlots * this.variablesBytes,
      usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
  }

  /**
   * After a step with a NaN loss (`step`: its index among the steps since keepLastFinite, by default
   * the latest): puts back the weights that step started from when they are all finite (or it was the
   * first step kept), else those the step before started from; the mirror (getWeights) is read back with them.
   */
  async restoreLastFinite(step?: number): Promise<'before' | 'previous'> {
    const at = step ?? this.backupSteps - 1;
    this.checkKept(at);
    return this.serial(async () => {
      this.copyBackup(at);
      await this.readBack();
      if (at === 0 || this.mirror.every(Number.isFinite)) return 'before';
      this.checkKept(at - 1);
      this.copyBackup(at - 1);
      await this.readBack();
      return 'previous';
    });
  }

  /** Puts back the weights step `step` (its index since keepLastFinite) started from: the steps from it on are undone. */
  async restoreStepStart(step: number): Promise<void> {
    this.checkKept(step);
    await this.serial(async () => {
      this.copyBackup(step);
      await this.readBack();
    });
  }

  private checkKept(step: number): void {
    const latest = this.backupSteps - 1;
    if (!this.backup || latest < 0) throw new DomainError('invalid-input', 'no step kept its weights: there are none to restore');
    if (!(Number.isInteger(step) && step >= 0 && step <= latest && latest - step < this.backupSlots)) {
      throw new DomainError('invalid-input', `the weights step ${step} started from are not kept (steps ${Math.max(0, latest - this.backupSlots + 1)} to ${latest} are)`);
    }
  }

  private copyBackup(step: number): void {
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(this.backup!, (step % this.backupSlots) * this.variablesBytes, this.arena, 0, this.variablesBytes);
    this.device.queue.submit([encoder.finish()]);
  }

  /** The loss and accuracy of each step read back since the last call, oldest first (the caller takes them after every step). */
  takeReadSteps(): EngineStepResult[] {
    return this.readSteps.splice(0);
  }

  /** Reads back now when a step ran since the last read (its values then come with takeReadSteps). */
  async flush(): Promise<void> {
    await this.serial(async () => {
      if (this.stepsSinceRead > 0) await this.readBack();
    });
  }

  /** Where the metrics and then the per-step ring sit in the read-back buffer, in floats. */
  private get metricsAt(): number {
    return this.layout.variablesEnd;
  }

  private get variablesBytes(): number {
    return this.layout.variablesEnd * F32;
  }

  /** Replaces every model variable (all must be given, with their sizes); optimizer slots are kept. */
  setWeights(weights: NamedWeights): void {
    const refused = weightsInputError(weights, this.layout.variables);
    if (refused) throw refused;
    for (const v of this.layout.variables) this.mirror.set(weights.get(v.name)!.data, v.offset);
    this.device.queue.writeBuffer(this.arena, 0, this.mirror);
  }

  /**
   * One training step on `n` samples (`xs` row-major [n, …input shape], `ys` class indices) at
   * learning rate `lr`, each dropout layer's keep mask by input name (dropoutKeepMasks with
   * `engine.masks`). Reads back when `options.read` says so, and every K steps (readEvery); a statistics
   * step (with `probe`) always reads back, and hands the probe the GPU's reductions.
   */
  step(
    xs: Float32Array,
    ys: Int32Array,
    n: number,
    lr: number,
    masks: ReadonlyMap<string, Float32Array> = new Map(),
    probe?: EngineProbe,
    options: { read?: boolean } = {},
  ): Promise<WebGpuStepResult> {
    const { inputSize, classes } = this.layout;
    const refused = stepInputError(xs, ys, n, { sampleSize: inputSize, classes }, masks, this.masks);
    if (refused) return Promise.reject(refused);
    if (this.disposed) return Promise.reject(new DomainError('invalid-input', 'the WebGPU step engine was disposed'));
    // The ring holds K steps: a read is due at the K-th whatever `options.read` says.
    const read = probe !== undefined || options.read === true || this.stepsSinceRead + 1 >= this.cadence.every;
    return this.serial(() => this.run(xs, ys, n, lr, masks, read, probe));
  }

  /** Loss and accuracy of the last step and their means since the previous read, read back now. */
  async readMetrics(): Promise<WebGpuMetrics> {
    await this.serial(() => this.readBack());
    return { ...this.last };
  }

  /** Each BN layer's batch mean and biased variance per feature in the last step, by layer name (one copy per layer, read now). */
  async readBatchNormStatistics(): Promise<Map<string, { mean: Float32Array; variance: Float32Array }>> {
    const out = new Map<string, { mean: Float32Array; variance: Float32Array }>();
    if (this.layout.batchNorms.length === 0) return out;
    await this.serial(async () => {
      const encoder = this.device.createCommandEncoder();
      this.copyBatchNormMoments(encoder);
      this.device.queue.submit([encoder.finish()]);
      await this.readStatistics((_, values) => {
        let at = 0;
        for (const bn of this.layout.batchNorms) {
          out.set(bn.layer, { mean: values.slice(at, at + bn.features), variance: values.slice(at + bn.features, at + 2 * bn.features) });
          at += 2 * bn.features;
        }
      });
    });
    return out;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.queue.catch(() => undefined);
    this.destroyPlans();
    this.arena.destroy();
    this.readback.destroy();
    this.metricsRing.destroy();
    this.statsBuffer.destroy();
    this.statsReadback.destroy();
    this.backup?.destroy();
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async run(
    xs: Float32Array,
    ys: Int32Array,
    n: number,
    lr: number,
    masks: ReadonlyMap<string, Float32Array>,
    read: boolean,
    probe: EngineProbe | undefined,
  ): Promise<WebGpuStepResult> {
    if (n > this.layout.capacity) this.grow(n);
    const layout = this.layout;
    const up = this.upload;
    const at = (offset: number) => offset - layout.uploadOffset;
    const [p1, p2] = this.powers;
    up[0] = lr;
    up[1] = Math.fround(1 - p1);
    up[2] = Math.fround(1 - p2);
    up[3] = this.resetSums ? 1 : 0;
    up.set(xs.subarray(0, n * layout.inputSize), at(layout.inputOffset));
    const labelsAt = at(layout.labelsOffset);
    for (let i = 0; i < n; i++) up[labelsAt + i] = ys[i]!;
    for (const { mask, offset } of layout.masks) up.set(masks.get(mask.input)!.subarray(0, n * mask.features), at(offset));
    // Only the first n rows of each range matter; the upload writes the ranges up to the last one used.
    const used = layout.masks.length ? at(layout.masks.at(-1)!.offset) + n * layout.masks.at(-1)!.mask.features : labelsAt + n;
    this.device.queue.writeBuffer(this.arena, layout.uploadOffset * F32, up.buffer, up.byteOffset, used * F32);

    const plan = this.planFor(n);
    const encoder = this.device.createCommandEncoder();
    if (this.backup) encoder.copyBufferToBuffer(this.arena, 0, this.backup, (this.backupSteps++ % this.backupSlots) * this.variablesBytes, this.variablesBytes);
    const pass = encoder.beginComputePass();
    let current: GPUComputePipeline | null = null;
    for (const d of plan.dispatches) {
      if (d.pipeline !== current) pass.setPipeline((current = d.pipeline));
      pass.setBindGroup(0, plan.bindGroup, [d.offset]);
      pass.dispatchWorkgroups(d.groups[0], d.groups[1]);
    }
    // The update leaves the gradients and activations as they were: the statistics pass reads them after it.
    if (probe) {
      const statistics = this.statisticsFor(plan, n);
      pass.setPipeline(this.statisticsPipeline.pipeline);
      pass.setBindGroup(0, statistics.bindGroup);
      pass.dispatchWorkgroups(this.statistics.tasks);
    }
    pass.end();
    encoder.copyBufferToBuffer(this.arena, layout.metricsOffset * F32, this.metricsRing, this.stepsSinceRead * 2 * F32, 2 * F32);
    this.stepsSinceRead++;
    if (read) this.copyForReadBack(encoder);
    if (probe) {
      encoder.copyBufferToBuffer(this.statsBuffer, 0, this.statsReadback, 0, this.statsBuffer.size);
      this.copyBatchNormMoments(encoder);
    }
    this.device.queue.submit([encoder.finish()]);
    this.resetSums = false;
    if (this.optimizer.class_name === 'Adam') this.powers = [Math.fround(p1 * this.optimizer.config.beta_1), Math.fround(p2 * this.optimizer.config.beta_2)];
    if (!read) return { loss: this.last.loss, acc: this.last.acc, stale: true };
    await Promise.all([this.mapReadback(true), probe && this.readStatistics((values, bnMoments) => this.statistics.handToProbe(probe, values, bnMoments, n))]);
    return { loss: this.last.loss, acc: this.last.acc, stale: false };
  }

  /** Each BN layer's batch mean and variance, side by side, into the statistics read-back after the statistics pass's values. */
  private copyBatchNormMoments(encoder: GPUCommandEncoder): void {
    let at = this.statsBuffer.size;
    for (const bn of this.layout.batchNorms) {
      encoder.copyBufferToBuffer(this.arena, bn.offset * F32, this.statsReadback, at, 2 * bn.features * F32);
      at += 2 * bn.features * F32;
    }
  }

  /** Maps the statistics read-back and hands `use` the statistics pass's values and the BN moments (views, valid during the call). */
  private async readStatistics(use: (values: Float32Array, bnMoments: Float32Array) => void): Promise<void> {
    await this.statsReadback.mapAsync(GPUMapMode.READ);
    try {
      const all = new Float32Array(this.statsReadback.getMappedRange());
      use(all.subarray(0, this.statistics.outputs), all.subarray(this.statistics.outputs));
    } finally {
      this.statsReadback.unmap();
    }
  }

  /** The statistics pass's task table and bind group for batch size n, made at its first statistics step. */
  private statisticsFor(plan: BatchPlan, n: number): NonNullable<BatchPlan['statistics']> {
    if (plan.statistics) return plan.statistics;
    const table = this.statistics.table(n);
    const tasks = this.device.createBuffer({ label: `fused step statistics tasks, batch ${n}`, size: table.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    this.device.queue.writeBuffer(tasks, 0, table);
    const bindGroup = this.device.createBindGroup({
      layout: this.statisticsPipeline.bindGroupLayout,
      entries: [
        { binding: 0, resource: { buffer: this.arena } },
        { binding: 1, resource: { buffer: tasks } },
        { binding: 2, resource: { buffer: this.statsBuffer } },
      ],
    });
    return (plan.statistics = { tasks, bindGroup });
  }

  private destroyPlans(): void {
    for (const plan of this.plans.values()) {
      plan.uniforms.destroy();
      plan.statistics?.tasks.destroy();
    }
    this.plans.clear();
  }

  /** A copy-only submit and read (readMetrics, readWeights, flush, restores). */
  private async readBack(): Promise<void> {
    const encoder = this.device.createCommandEncoder();
    this.copyForReadBack(encoder);
    this.device.queue.submit([encoder.finish()]);
    await this.mapReadback(false);
  }

  /** Variables, metrics and the ring's filled slots into the read-back buffer. */
  private copyForReadBack(encoder: GPUCommandEncoder): void {
    encoder.copyBufferToBuffer(this.arena, 0, this.readback, 0, (this.metricsAt + METRICS) * F32);
    if (this.stepsSinceRead > 0) encoder.copyBufferToBuffer(this.metricsRing, 0, this.readback, (this.metricsAt + METRICS) * F32, this.stepsSinceRead * 2 * F32);
  }

  /** `afterStep`: the read came with a step, so the window's time per step tunes K. */
  private async mapReadback(afterStep: boolean): Promise<void> {
    await this.readback.mapAsync(GPUMapMode.READ);
    const values = new Float32Array(this.readback.getMappedRange());
    const m = this.metricsAt;
    this.mirror.set(values.subarray(0, m));
    const steps = values[m + 4]!;
    this.last = { loss: values[m]!, acc: values[m + 1]!, meanLoss: values[m + 2]! / steps, meanAcc: values[m + 3]! / steps, steps };
    const ring = m + METRICS;
    for (let k = 0; k < this.stepsSinceRead; k++) this.readSteps.push({ loss: values[ring + 2 * k]!, acc: values[ring + 2 * k + 1]! });
    this.readback.unmap();
    this.cadence.read(this.stepsSinceRead, afterStep);
    this.stepsSinceRead = 0;
    this.resetSums = true;
  }

  private planFor(n: number): BatchPlan {
    const cached = this.plans.get(n);
    if (cached) return cached;
    const { ops } = this.layout;
    const block = packUniforms(ops.map((op) => ({ kernel: op.kernel, label: op.label, params: op.params(n) })));
    const uniforms = this.device.createBuffer({ label: `fused step uniforms, batch ${n}`, size: block.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.device.queue.writeBuffer(uniforms, 0, block);
    const bindGroup = arenaBindGroup(this.device, this.kernels, this.arena, uniforms);
    const plan: BatchPlan = {
      uniforms,
      bindGroup,
      dispatches: ops.map((op, i) => ({ pipeline: this.kernels.pipelines[op.kernel], offset: i * UNIFORM_STRIDE, groups: op.groups(n) })),
    };
    this.plans.set(n, plan);
    return plan;
  }

  private createArena(layout: StepLayout): GPUBuffer {
    return this.device.createBuffer({
      label: `fused step arena, batch ≤ ${layout.capacity}`,
      size: layout.arenaSize * F32,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
  }

  /** A batch larger than the arena was made for: a new arena, the persistent part copied over, plans remade. */
  private grow(n: number): void {
    const layout = planStep(this.spec, this.optimizer, n);
    const tooBig = arenaLimit(this.device, layout);
    if (tooBig) throw new DomainError('limit', tooBig);
    const arena = this.createArena(layout);
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(this.arena, 0, arena, 0, layout.persistentEnd * F32);
    this.device.queue.submit([encoder.finish()]);
    this.arena.destroy();
    this.destroyPlans();
    this.arena = arena;
    this.layout = layout;
    this.statistics = planStatistics(layout);
    this.upload = new Float32Array(layout.uploadSize);
  }
}

/** Why the arena for this layout does not fit the device's storage binding, or null. */
function arenaLimit(device: GPUDevice, layout: StepLayout): string | null {
  const bytes = layout.arenaSize * F32;
  const max = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
  return bytes > max
    ? `the fused WebGPU step needs ${Math.ceil(bytes / 2 ** 20)} MiB for batch ${layout.capacity}, the device binds at most ${Math.floor(max / 2 ** 20)} MiB`
    : null;
}
