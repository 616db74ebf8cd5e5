/**
 * The fused WebGPU step's statistics pass: on a statistics step one more dispatch, in the step's own
 * command buffer, reduces what the dashboard's record needs into a small storage buffer, one
 * workgroup a reduction (a task):
 *   - each trainable variable's Σ g², on the gradient before clipping (the update kernel clips as
 *     it reads, and the step declines regularizers, so the arena's gradient is the probe's);
 *   - each activating layer's output mean, biased variance (two passes) and saturated count, by
 *     stats.ts' SATURATION_RULES as float32 thresholds; the softmax's probabilities are recomputed
 *     from its logits as the loss kernel computes them.
 * The BN layers' batch moments already sit in the arena. The engine copies both into a mapped
 * read-back buffer made once, and `handToProbe` gives the probe the values.
 */
/// <reference types="@webgpu/types" />
import { SATURATION_RULES } from '../../stats';
import type { EngineProbe } from '../engine';
import type { StepLayout } from './layout';

/** Task kinds. */
const TASK = { sumOfSquares: 0, moments: 1, softmax: 2 } as const;
/** Which thresholds of a task's saturation rule apply (SaturationEdges). */
const SAT = { below: 1, above: 2, atMost: 4 } as const;
/** u32/f32 words of one task (the WGSL struct Task). */
const TASK_WORDS = 9;
/** Values a task writes: Σ g², or mean, variance, saturated count. */
const MOMENT_VALUES = 3;

const KERNEL = `
struct Task { kind: u32, off: u32, count: u32, features: u32, out: u32, sat: u32, below: f32, above: f32, atMost: f32 }
@group(0) @binding(0) var<storage, read> arena: array<f32>;
@group(0) @binding(1) var<storage, read> tasks: array<Task>;
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;
var<workgroup> part: array<f32, 256>;

// Σ v over the workgroup's threads, for every thread.
fn total(t: u32, v: f32) -> f32 {
  part[t] = v;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s = s / 2u) {
    if (t < s) { part[t] += part[t + s]; }
    workgroupBarrier();
  }
  let sum = part[0];
  workgroupBarrier();
  return sum;
}

fn saturated(task: Task, y: f32) -> f32 {
  let hit = ((task.sat & 1u) != 0u && y < task.below) || ((task.sat & 2u) != 0u && y > task.above) || ((task.sat & 4u) != 0u && y <= task.atMost);
  return select(0.0, 1.0, hit);
}

// Row i of the logits: its largest value and log Σ exp, as the loss kernel computes them.
fn logSumExp(task: Task, i: u32) -> vec2<f32> {
  let row = task.off + i * task.features;
  var mx = arena[row];
  for (var c = 1u; c < task.features; c++) { mx = max(mx, arena[row + c]); }
  var sum = 0.0;
  for (var c = 0u; c < task.features; c++) { sum += exp(arena[row + c] - mx); }
  return vec2<f32>(mx, mx + log(sum));
}

// First pass: Σ g² (sumOfSquares), or Σ y and the saturated count.
fn firstPass(task: Task, t: u32) -> vec2<f32> {
  var s = 0.0;
  var hits = 0.0;
  if (task.kind == ${TASK.softmax}u) {
    for (var i = t; i < task.count; i += 256u) {
      let m = logSumExp(task, i);
      for (var c = 0u; c < task.features; c++) { s += exp(arena[task.off + i * task.features + c] - m.y); }
      hits += select(0.0, 1.0, exp(m.x - m.y) > task.above);
    }
  } else {
    for (var k = t; k < task.count; k += 256u) {
      let y = arena[task.off + k];
      if (task.kind == ${TASK.sumOfSquares}u) { s += y * y; } else {
        s += y;
        hits += saturated(task, y);
      }
    }
  }
  return vec2<f32>(s, hits);
}

// Second pass: Σ (y − mean)².
fn secondPass(task: Task, t: u32, mean: f32) -> f32 {
  var sq = 0.0;
  if (task.kind == ${TASK.softmax}u) {
    for (var i = t; i < task.count; i += 256u) {
      let lse = logSumExp(task, i).y;
      for (var c = 0u; c < task.features; c++) {
        let d = exp(arena[task.off + i * task.features + c] - lse) - mean;
        sq += d * d;
      }
    }
  } else {
    for (var k = t; k < task.count; k += 256u) {
      let d = arena[task.off + k] - mean;
      sq += d * d;
    }
  }
  return sq;
}

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let task = tasks[wid.x];
  let t = lid.x;
  let first = firstPass(task, t);
  let sum = total(t, first.x);
  if (task.kind == ${TASK.sumOfSquares}u) {
    if (t == 0u) { stats[task.out] = sum; }
    return;
  }
  var values = task.count;
  if (task.kind == ${TASK.softmax}u) { values = task.count * task.features; }
  let mean = sum / f32(values);
  let hits = total(t, first.y);
  let variance = total(t, secondPass(task, t, mean)) / f32(values);
  if (t == 0u) {
    stats[task.out] = mean;
    stats[task.out + 1u] = variance;
    stats[task.out + 2u] = hits;
  }
}
`;

export interface StatisticsPipeline {
  pipeline: GPUComputePipeline;
  bindGroupLayout: GPUBindGroupLayout;
}

/** The statistics kernel's pipeline (binding 0: the arena, read-only; 1: the tasks; 2: the statistics buffer). Throws the device's message when it does not compile. */
export async function createStatisticsPipeline(device: GPUDevice): Promise<StatisticsPipeline> {
  device.pushErrorScope('validation');
  const storage = (type: GPUBufferBindingType, binding: number): GPUBindGroupLayoutEntry => ({ binding, visibility: GPUShaderStage.COMPUTE, buffer: { type } });
  const bindGroupLayout = device.createBindGroupLayout({ entries: [storage('read-only-storage', 0), storage('read-only-storage', 1), storage('storage', 2)] });
  const module = device.createShaderModule({ label: 'statistics', code: KERNEL });
  const pipeline = device.createComputePipeline({
    label: 'statistics',
    layout: device.createPipelineLayout({ bindGroupLayouts: [bindGroupLayout] }),
    compute: { module, entryPoint: 'main' },
  });
  const error = await device.popErrorScope();
  if (error) throw new Error(`the fused WebGPU step's statistics kernel did not compile: ${error.message}`);
  return { pipeline, bindGroupLayout };
}

/** A task's fields (the WGSL struct Task). */
interface Task {
  kind: number;
  offset: number;
  count: number;
  features: number;
  out: number;
  sat: number;
  below: number;
  above: number;
  atMost: number;
}

/** What a statistics step reduces for a layout: the tasks for a batch of n, and where each value lands in the statistics buffer. */
export interface StatisticsPlan {
  /** Values the statistics buffer holds. */
  readonly outputs: number;
  /** Workgroups of the dispatch (one a task). */
  readonly tasks: number;
  /** The task table for a batch of `n` (offsets into `layout`'s arena). */
  table(n: number): ArrayBuffer;
  /** Hands the probe the statistics buffer's values (and the BN moments read with them) of a step of `n` samples. */
  handToProbe(probe: EngineProbe, values: Float32Array, bnMoments: Float32Array, n: number): void;
}

/** The statistics plan of a layout: the gradients' sums of squares first, then three values per activating layer. */
export function planStatistics(layout: StepLayout): StatisticsPlan {
  const gradients = layout.variables.filter((v) => v.trainable);
  const activationsAt = gradients.length;
  const outputs = activationsAt + MOMENT_VALUES * layout.activations.length;
  return {
    outputs,
    tasks: gradients.length + layout.activations.length,
    table(n) {
      const tasks: Task[] = gradients.map((v, i) => ({ ...NO_RULE, kind: TASK.sumOfSquares, offset: layout.gradientOffset + v.offset, count: v.size, features: 1, out: i }));
      layout.activations.forEach((a, i) => {
        const edges = SATURATION_RULES[a.activation]?.edges ?? {};
        const softmax = edges.perSample === true;
        tasks.push({
          kind: softmax ? TASK.softmax : TASK.moments,
          offset: a.offset,
          count: softmax ? n : n * a.features,
          features: a.features,
          out: activationsAt + MOMENT_VALUES * i,
          sat: (edges.below !== undefined ? SAT.below : 0) | (edges.above !== undefined ? SAT.above : 0) | (edges.atMost !== undefined ? SAT.atMost : 0),
          below: edges.below ?? 0,
          above: edges.above ?? 0,
          atMost: edges.atMost ?? 0,
        });
      });
      return packTasks(tasks);
    },
    handToProbe(probe, values, bnMoments, n) {
      let at = 0;
      for (const bn of layout.batchNorms) {
        probe.bn(bn.layer, Float64Array.from(bnMoments.subarray(at, at + bn.features)), Float64Array.from(bnMoments.subarray(at + bn.features, at + 2 * bn.features)));
        at += 2 * bn.features;
      }
      layout.activations.forEach((a, i) => {
        const [mean, variance, hits] = values.subarray(activationsAt + MOMENT_VALUES * i);
        const rule = SATURATION_RULES[a.activation];
        // The softmax's rule counts samples, the others values.
        const counted = rule?.edges.perSample ? n : n * a.features;
        probe.activationMoments(a.layer, { mean: mean!, variance: variance!, ...(rule ? { saturation: hits! / counted } : {}) });
      });
      gradients.forEach((v, i) => probe.gradientSumOfSquares(v.name, values[i]!));
    },
  };
}

const NO_RULE = { sat: 0, below: 0, above: 0, atMost: 0 };
const FLOAT_FIELDS = new Set<keyof Task>(['below', 'above', 'atMost']);
const FIELDS: (keyof Task)[] = ['kind', 'offset', 'count', 'features', 'out', 'sat', 'below', 'above', 'atMost'];

function packTasks(tasks: Task[]): ArrayBuffer {
  const out = new ArrayBuffer(Math.max(1, tasks.length) * TASK_WORDS * 4);
  const view = new DataView(out);
  tasks.forEach((task, i) => {
    FIELDS.forEach((field, k) => {
      const at = (i * TASK_WORDS + k) * 4;
      if (FLOAT_FIELDS.has(field)) view.setFloat32(at, task[field], true);
      else view.setUint32(at, task[field], true);
    });
  });
  return out;
}
