/**
 * The fused WebGPU step's plan for a spec: where every value lives in the engine's one storage
 * buffer (the arena) and which kernels run in which order, with their uniform fields as functions
 * of the batch size n. Arena, in float32 elements:
 *
 *   trainable variables | moving statistics | metrics | optimizer slot 1 | slot 2   (persistent)
 *   gradients (parallel to the trainable variables) | upload: step scalars, x, labels, keep masks |
 *   layer outputs [capacity, features] | their gradients | BN batch mean and 1/√(var + ε)
 *
 * Trainable variables sit side by side in Keras' order, so a Dense layer's kernel [K, N] and bias [N]
 * form one [K + 1, N] block (its gradient comes out of one product) and one update pass covers them
 * all; the persistent part comes first and does not depend on the batch capacity.
 */
import type { OptimizerSettings } from '../../../../../../contract';
import { withDefaults } from '../../../../../../model/layers';
import { product } from '../../../../../../model/layers/checks';
import type { ModelSpec } from '../../../../../../model/spec';
import { modelLayers, type ModelLayerInfo } from '../../../../export/weights';
import type { DropoutMask } from '../onnxruntime/step-graph';
import { ACT, ELEMENTWISE, linearGroups, METRICS, STEP_SCALARS, UPDATE, type ActName, type KernelName } from './kernels';

const SELU_ALPHA = 1.6732632423543772;
const SELU_SCALE = 1.0507009873554805;
const LAYERS = new Set(['Flatten', 'Dense', 'BatchNormalization', 'Activation', 'Dropout', 'AlphaDropout']);
/** "No row of ones" for the matmul kernel. */
const NO_ROW = 0xffffffff;
const TILE = 64;

type Cfg = Record<string, unknown>;

export interface VariableSlot {
  name: string;
  shape: number[];
  /** Offset in the arena (float32 elements). */
  offset: number;
  size: number;
  trainable: boolean;
}

/** One dispatch: its kernel, uniform fields and workgroup counts for a batch of n. */
export interface PlannedOp {
  kernel: KernelName;
  /** What it computes, for messages and tests. */
  label: string;
  params(n: number): Record<string, number>;
  groups(n: number): [number, number];
}

export interface StepLayout {
  /** Model variables in Keras' order. */
  variables: VariableSlot[];
  /** Trainable values (the first `trainable` elements of the arena). */
  trainable: number;
  /** Trainable values and moving statistics: the read-back range [0, variablesEnd), metrics right after. */
  variablesEnd: number;
  metricsOffset: number;
  /** Everything before this offset survives a capacity change. */
  persistentEnd: number;
  slotOffsets: number[];
  gradientOffset: number;
  /** The upload range, written with one writeBuffer per step: step scalars, x, labels, masks. */
  uploadOffset: number;
  uploadSize: number;
  inputOffset: number;
  labelsOffset: number;
  masks: { mask: DropoutMask; offset: number }[];
  inputSize: number;
  inputShape: number[];
  classes: number;
  capacity: number;
  arenaSize: number;
  /** Each BN layer's last batch mean [F] and biased variance [F], side by side from `offset`. */
  batchNorms: { layer: string; features: number; offset: number }[];
  /**
   * The layers that activate (Keras activation name), whose outputs the dashboard describes: [n, features]
   * from `offset`; for the softmax, `offset` holds its logits (the probabilities are never stored).
   */
  activations: ActivationRegion[];
  ops: PlannedOp[];
}

export interface ActivationRegion {
  layer: string;
  activation: string;
  offset: number;
  features: number;
}

interface Region {
  offset: number;
  features: number;
  /** Activation code of the Dense layer that wrote it (its derivative is applied to gradients flowing into it). */
  producerAct: number;
}

const layerConfigs = (spec: ModelSpec): Cfg[] => spec.config.layers.map((l) => withDefaults(l).config as Cfg);
const isActivation = (name: string): name is ActName => Object.hasOwn(ACT, name);

/** Why the fused WebGPU step cannot train this spec with this optimizer, or null when it can. */
export function webGpuStepSupport(spec: ModelSpec, optimizer: OptimizerSettings): string | null {
  const name = optimizer.class_name;
  if (name !== 'SGD' && name !== 'Adam') return `the ${String(name)} optimizer is not in the fused WebGPU step (SGD and Adam are)`;
  if (optimizer.config.clipnorm !== null) return 'clipnorm is not in the fused WebGPU step';
  const layers = layersOrReason(spec);
  if (typeof layers === 'string') return layers;
  const configs = layerConfigs(spec);
  for (const [i, info] of layers.entries()) {
    const reason = layerDecline(info, configs[i]!, i === layers.length - 1);
    if (reason) return reason;
  }
  return null;
}

/** The spec's layers, or why there are none to train. */
function layersOrReason(spec: ModelSpec): ModelLayerInfo[] | string {
  try {
    const layers = modelLayers(spec);
    return layers.length ? layers : 'the model has no layers';
  } catch (e) {
    return `the model is not valid: ${(e as Error).message}`;
  }
}

/** Why one layer cannot run in the fused step (softmax only last, and last only softmax), or null. */
function layerDecline(info: ModelLayerInfo, cfg: Cfg, last: boolean): string | null {
  const at = `layer ${info.name}`;
  const kind = info.class_name;
  if (!LAYERS.has(kind)) return `${at}: ${kind} is not in the fused WebGPU step`;
  if (info.input_shape.slice(1).some((d) => d === null)) return `${at}: its input has no fixed shape`;
  if (cfg.trainable === false) return `${at} is frozen`;
  if (kind !== 'Flatten' && info.input_shape.length !== 2) return `${at} (${kind}) gets a rank-${info.input_shape.length} input`;
  if (kind === 'BatchNormalization') {
    const axis = (Array.isArray(cfg.axis) ? cfg.axis[0] : cfg.axis) as number;
    if (axis !== -1 && axis !== 1) return `${at}: BatchNormalization over axis ${String(cfg.axis)}, not the last`;
  }
  if (kind === 'Dense' && (cfg.kernel_regularizer || cfg.kernel_constraint)) return `${at}: kernel regularizers and constraints are not in the fused WebGPU step`;
  const activation = kind === 'Dense' || kind === 'Activation' ? (cfg.activation as string) : null;
  if (activation === 'softmax' && !last) return `${at}: softmax before the last layer`;
  if (activation !== null && activation !== 'softmax' && !isActivation(activation)) return `${at}: activation ${activation} is not in the fused WebGPU step`;
  if (last && activation !== 'softmax') return 'the model does not end in a softmax (the step trains sparse categorical cross-entropy on softmax outputs)';
  return null;
}

/** Hands out arena ranges in order. */
class Arena {
  size = 0;
  take(count: number): number {
    const at = this.size;
    this.size += count;
    return at;
  }
}

/** The plan for a spec the step supports (check webGpuStepSupport first), for batches of up to `capacity` samples. */
export function planStep(spec: ModelSpec, optimizer: OptimizerSettings, capacity: number): StepLayout {
  const layers = modelLayers(spec);
  const configs = layerConfigs(spec);
  const arena = new Arena();

  // Persistent: trainable variables, then moving statistics (each group in Keras' order), metrics, slots.
  const all = layers.flatMap((l) => l.variables);
  const slotsByName = new Map<string, VariableSlot>();
  for (const group of [all.filter((v) => v.trainable), all.filter((v) => !v.trainable)]) {
    for (const v of group) slotsByName.set(v.name, { name: v.name, shape: v.shape, offset: arena.take(product(v.shape)), size: product(v.shape), trainable: v.trainable });
  }
  const trainable = all.filter((v) => v.trainable).reduce((s, v) => s + product(v.shape), 0);
  const variablesEnd = arena.size;
  const metricsOffset = arena.take(METRICS);
  const slotCount = optimizer.class_name === 'Adam' ? 2 : optimizer.class_name === 'SGD' && (optimizer.config.momentum > 0 || optimizer.config.nesterov) ? 1 : 0;
  const slotOffsets = Array.from({ length: slotCount }, () => arena.take(trainable));
  const persistentEnd = arena.size;

  const gradientOffset = arena.take(trainable);
  const inputShape = layers[0]!.input_shape.slice(1) as number[];
  const inputSize = product(inputShape);
  const uploadOffset = arena.take(STEP_SCALARS);
  const inputOffset = arena.take(capacity * inputSize);
  const labelsOffset = arena.take(capacity);
  // Keep masks right after the labels, so the whole upload is one range.
  const masks: StepLayout['masks'] = [];
  layers.forEach((info, index) => {
    const cfg = configs[index]!;
    const rate = cfg.rate as number;
    // forward.ts applies no dropout at rate 0 (or at 1 and above, which Keras refuses).
    if ((info.class_name !== 'Dropout' && info.class_name !== 'AlphaDropout') || !(rate > 0 && rate < 1)) return;
    const features = info.input_shape[1] as number;
    const mask: DropoutMask = { layer: info.name, input: `${info.name}/keep`, features, rate, seed: typeof cfg.seed === 'number' ? cfg.seed : null };
    masks.push({ mask, offset: arena.take(capacity * features) });
  });
  const uploadEnd = arena.size;

  const ops: PlannedOp[] = [];
  const batchNorms: StepLayout['batchNorms'] = [];
  const activations: ActivationRegion[] = [];
  const activates = (layer: string, activation: string, r: Region) => {
    if (activation !== 'linear') activations.push({ layer, activation, offset: r.offset, features: r.features });
  };
  const backward: PlannedOp[][] = [];
  const gradients = new Map<number, number>();
  const gradientOf = (r: Region) => {
    let at = gradients.get(r.offset);
    if (at === undefined) gradients.set(r.offset, (at = arena.take(capacity * r.features)));
    return at;
  };
  const variable = (layer: ModelLayerInfo, short: string) => slotsByName.get(`${layer.name}/${short}`);
  const output = (features: number, producerAct = 0): Region => ({ offset: arena.take(capacity * features), features, producerAct });

  let region: Region = { offset: inputOffset, features: inputSize, producerAct: 0 };
  let logits: Region | null = null;
  let trainableBefore = false;
  // Backward ops are made after the forward walk (the gradient regions come after the outputs), in reverse.
  const backwardMakers: (() => PlannedOp[])[] = [];

  layers.forEach((info, index) => {
    const cfg = configs[index]!;
    const last = index === layers.length - 1;
    const input = region;
    const needDx = trainableBefore;
    const F = input.features;
    switch (info.class_name) {
      case 'Flatten':
        region = { ...input, features: product(info.output_shape.slice(1) as number[]) };
        break;
      case 'Dense': {
        const N = cfg.units as number;
        const kernel = variable(info, 'kernel')!;
        const bias = variable(info, 'bias');
        const softmax = cfg.activation === 'softmax';
        const act = softmax ? 0 : ACT[cfg.activation as ActName];
        const out = output(N, act);
        ops.push({
          kernel: 'matmul',
          label: `${info.name}: x·W + b, ${String(cfg.activation)}`,
          params: (n) => ({
            M: n,
            N,
            K: F,
            aOff: input.offset,
            aRs: F,
            aCs: 1,
            bOff: kernel.offset,
            bRs: N,
            bCs: 1,
            cOff: out.offset,
            onesRow: NO_ROW,
            biasOff: bias?.offset ?? 0,
            hasBias: bias ? 1 : 0,
            act,
            backward: 0,
            dOff: 0,
          }),
          groups: (n) => [Math.ceil(N / TILE), Math.ceil(n / TILE)],
        });
        if (softmax) logits = out;
        activates(info.name, cfg.activation as string, out);
        backwardMakers.push(() => {
          const dz = gradientOf(out);
          const rows = bias ? F + 1 : F;
          const list: PlannedOp[] = [
            {
              kernel: 'matmul',
              label: `${info.name}: dW, db = [x, 1]ᵀ·dz`,
              params: (n) => ({
                M: rows,
                N,
                K: n,
                aOff: input.offset,
                aRs: 1,
                aCs: F,
                bOff: dz,
                bRs: N,
                bCs: 1,
                cOff: gradientOffset + kernel.offset,
                onesRow: bias ? F : NO_ROW,
                biasOff: 0,
                hasBias: 0,
                act: 0,
                backward: 1,
                dOff: 0,
              }),
              groups: () => [Math.ceil(N / TILE), Math.ceil(rows / TILE)],
            },
          ];
          if (needDx) {
            const dx = gradientOf(input);
            list.push({
              kernel: 'matmul',
              label: `${info.name}: dx = dz·Wᵀ`,
              params: (n) => ({
                M: n,
                N: F,
                K: N,
                aOff: dz,
                aRs: N,
                aCs: 1,
                bOff: kernel.offset,
                bRs: 1,
                bCs: N,
                cOff: dx,
                onesRow: NO_ROW,
                biasOff: 0,
                hasBias: 0,
                act: input.producerAct,
                backward: 1,
                dOff: input.offset,
              }),
              groups: (n) => [Math.ceil(F / TILE), Math.ceil(n / TILE)],
            });
          }
          return list;
        });
        region = out;
        break;
      }
      case 'BatchNormalization': {
        const gamma = variable(info, 'gamma');
        const beta = variable(info, 'beta');
        const movingMean = variable(info, 'moving_mean')!;
        const movingVariance = variable(info, 'moving_variance')!;
        // Batch mean, then variance (read back together for the dashboard), then 1/√(var + ε).
        const meanOff = arena.take(2 * F);
        const invOff = arena.take(F);
        batchNorms.push({ layer: info.name, features: F, offset: meanOff });
        const out = output(F);
        const common = { F, gammaOff: gamma?.offset ?? 0, hasGamma: gamma ? 1 : 0, meanOff, invOff };
        ops.push({
          kernel: 'bnForward',
          label: `${info.name}: batch statistics, normalise`,
          params: (n) => ({
            ...common,
            n,
            xOff: input.offset,
            yOff: out.offset,
            betaOff: beta?.offset ?? 0,
            hasBeta: beta ? 1 : 0,
            mmOff: movingMean.offset,
            mvOff: movingVariance.offset,
            eps: cfg.epsilon as number,
            decay: 1 - (cfg.momentum as number),
          }),
          groups: () => [Math.ceil(F / 16), 1],
        });
        backwardMakers.push(() => {
          const dyOff = gradientOf(out);
          const dxOff = needDx ? gradientOf(input) : 0;
          return [
            {
              kernel: 'bnBackward',
              label: `${info.name}: dγ, dβ, dx`,
              params: (n) => ({
                ...common,
                n,
                xOff: input.offset,
                dyOff,
                dxOff,
                dGammaOff: gamma ? gradientOffset + gamma.offset : 0,
                dBetaOff: beta ? gradientOffset + beta.offset : 0,
                hasBeta: beta ? 1 : 0,
                needDx: needDx ? 1 : 0,
                dAct: input.producerAct,
              }),
              groups: () => [Math.ceil(F / 16), 1],
            },
          ];
        });
        region = out;
        break;
      }
      case 'Activation': {
        if (last) {
          logits = input;
          activates(info.name, 'softmax', input);
          break;
        }
        const act = ACT[cfg.activation as ActName];
        const out = output(F);
        activates(info.name, cfg.activation as string, out);
        elementwise(`${info.name}: ${String(cfg.activation)}`, input, out, { kind: ELEMENTWISE.activation, act, maskOff: 0, s1: 0, s2: 0 }, needDx);
        region = out;
        break;
      }
      case 'Dropout':
      case 'AlphaDropout': {
        const rate = cfg.rate as number;
        const maskOff = masks.find((m) => m.mask.layer === info.name)?.offset;
        if (maskOff === undefined) break;
        const out = output(F);
        const alphaPrime = -SELU_ALPHA * SELU_SCALE;
        const a = ((1 - rate) * (1 + rate * alphaPrime ** 2)) ** -0.5;
        const fields =
          info.class_name === 'Dropout'
            ? { kind: ELEMENTWISE.dropout, act: 0, maskOff, s1: 1 / (1 - rate), s2: 0 }
            : { kind: ELEMENTWISE.alphaDropout, act: 0, maskOff, s1: a, s2: -a * alphaPrime * rate };
        elementwise(`${info.name}: ${info.class_name} ${rate}`, input, out, fields, needDx);
        region = out;
        break;
      }
    }
    if (info.variables.some((v) => v.trainable)) trainableBefore = true;
  });

  function elementwise(label: string, input: Region, out: Region, fields: Record<string, number>, needDx: boolean): void {
    const F = input.features;
    ops.push({
      kernel: 'elementwise',
      label,
      params: (n) => ({ ...fields, count: n * F, xOff: input.offset, yOff: out.offset, dyOff: 0, dxOff: 0, dAct: 0, backward: 0 }),
      groups: (n) => linearGroups(n * F),
    });
    if (!needDx) return;
    backwardMakers.push(() => {
      const dyOff = gradientOf(out);
      const dxOff = gradientOf(input);
      return [
        {
          kernel: 'elementwise',
          label: `${label} (backward)`,
          params: (n) => ({ ...fields, count: n * F, xOff: input.offset, yOff: out.offset, dyOff, dxOff, dAct: input.producerAct, backward: 1 }),
          groups: (n) => linearGroups(n * F),
        },
      ];
    });
  }

  const z = logits as Region | null;
  if (!z) throw new Error('the model does not end in a softmax');
  const classes = z.features;
  const dz = gradientOf(z);
  const stepOff = uploadOffset;
  ops.push({
    kernel: 'softmaxCrossEntropy',
    label: 'softmax cross-entropy, loss and accuracy',
    params: (n) => ({
      n,
      C: classes,
      zOff: z.offset,
      labelsOff: labelsOffset,
      dzOff: dz,
      metricsOff: metricsOffset,
      dAct: z.producerAct === ACT.linear ? 0 : z.producerAct,
      stepOff,
    }),
    groups: () => [1, 1],
  });
  for (let i = backwardMakers.length - 1; i >= 0; i--) backward.push(backwardMakers[i]!());
  ops.push(...backward.flat());

  const { class_name: name, config } = optimizer;
  const momentum = name === 'SGD' ? optimizer.config.momentum : 0;
  ops.push({
    kernel: 'update',
    label: `${name} update of ${trainable} values`,
    params: () => ({
      count: trainable,
      wOff: 0,
      gOff: gradientOffset,
      s1Off: slotOffsets[0] ?? 0,
      s2Off: slotOffsets[1] ?? 0,
      kind: name === 'Adam' ? UPDATE.adam : slotCount === 1 ? UPDATE.momentum : UPDATE.sgd,
      stepOff,
      momentum,
      nesterov: name === 'SGD' && optimizer.config.nesterov ? 1 : 0,
      beta1: name === 'Adam' ? optimizer.config.beta_1 : 0,
      beta2: name === 'Adam' ? optimizer.config.beta_2 : 0,
      eps: name === 'Adam' ? optimizer.config.epsilon : 0,
      clip: config.clipvalue ?? 0,
      hasClip: config.clipvalue !== null ? 1 : 0,
    }),
    groups: () => linearGroups(trainable),
  });

  return {
    variables: all.map((v) => slotsByName.get(v.name)!),
    trainable,
    variablesEnd,
    metricsOffset,
    persistentEnd,
    slotOffsets,
    gradientOffset,
    uploadOffset,
    uploadSize: uploadEnd - uploadOffset,
    inputOffset,
    labelsOffset,
    masks,
    inputSize,
    inputShape,
    classes,
    capacity,
    arenaSize: arena.size,
    batchNorms,
    activations,
    ops,
  };
}
