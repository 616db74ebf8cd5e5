/**
 * ONNX Runtime's GPU execution providers on this machine, in the real onnxruntime-node: its CUDA
 * add-on is not installed here (the package's postinstall that downloads it is off), so the CUDA
 * probe is skipped with ONNX Runtime's reason, a step asked for on CUDA fails by name, and the
 * opt-in falls back to the CPU, says why, and trains real Fashion-MNIST. The GPU path itself cannot
 * be tested here.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import type { OptimizerSettings } from '../../../../../../contract';
import { plainMlp } from '../../../../../../model/presets';
import { buildModel } from '../../build-model';
import { useFashionBatches } from '../../test-images';
import { modelWeights } from '../engine-step';
import { OrtStepEngine } from './engine';
import {
  cudaAddOnInstalled,
  describeExecutionProviders,
  gpuExecutionProvidersFor,
  ORT_EP_ENV,
  probeGpuExecutionProviders,
  requestedExecutionProvider,
} from './execution-providers';
import { probeModel, probeOnnxRuntime } from './probe';

const BATCH = 32;
const STEPS = 6;
const { x: batchX, y: batchY } = useFashionBatches(tf, BATCH, 1);
const sgd: OptimizerSettings = { class_name: 'SGD', config: { momentum: 0, nesterov: false, clipnorm: null, clipvalue: null } };

describe('GPU execution providers', () => {
  it('names the providers each platform could use', () => {
    expect(gpuExecutionProvidersFor('linux', 'x64')).toEqual(['cuda']);
    expect(gpuExecutionProvidersFor('linux', 'arm64')).toEqual([]);
    expect(gpuExecutionProvidersFor('win32', 'x64')).toEqual(['dml']);
    expect(gpuExecutionProvidersFor('darwin', 'arm64')).toEqual([]);
  });

  it(`reads the opt-in from ${ORT_EP_ENV} and refuses a value that names no provider`, () => {
    expect(requestedExecutionProvider({})).toBeNull();
    expect(requestedExecutionProvider({ [ORT_EP_ENV]: 'cpu' })).toBeNull();
    expect(requestedExecutionProvider({ [ORT_EP_ENV]: ' CUDA ' })).toBe('cuda');
    expect(requestedExecutionProvider({ [ORT_EP_ENV]: 'dml' })).toBe('dml');
    expect(() => requestedExecutionProvider({ [ORT_EP_ENV]: 'metal' })).toThrow(
      expect.objectContaining({ code: 'invalid-input', message: `${ORT_EP_ENV}=metal names no ONNX Runtime execution provider: use cuda, dml or cpu` }),
    );
  });

  it.runIf(process.platform === 'linux' && process.arch === 'x64' && cudaAddOnInstalled() === false)(
    "skips CUDA here, its add-on not installed, without asking ONNX Runtime; DirectML, absent on Linux, with ONNX Runtime's reason",
    async () => {
      const { bytes } = probeModel();
      const [cuda] = await probeGpuExecutionProviders(ort, bytes);
      expect(cuda).toMatchObject({ name: 'cuda', status: 'skipped' });
      expect(cuda!.reason).toBe("onnxruntime-node's CUDA add-on is not installed (no libonnxruntime_providers_cuda.so beside its library)");
      expect(cuda!.reason).not.toMatch(/\n/);
      const [dml] = await probeGpuExecutionProviders(ort, bytes, { providers: ['dml'] });
      expect(dml).toMatchObject({ name: 'dml', status: 'skipped' });
      expect(dml!.reason).toMatch(/dml/);

      // The badge's detail: the CPU library, then each provider with its reason.
      const detail = await probeOnnxRuntime({});
      expect(detail).toMatch(
        /^ONNX Runtime \d+\.\d+\.\d+, native CPU, 1 intra-op thread(?: \(1 or 2 by timing from batch 128\))?; GPU execution providers: cuda skipped \(onnxruntime-node's CUDA add-on is not installed .*\)$/,
      );
    },
  );

  it('describes each probe for the badge, and whether the opt-in uses it', () => {
    expect(describeExecutionProviders([], null)).toBe('GPU execution providers: none on this platform');
    expect(describeExecutionProviders([{ name: 'cuda', status: 'skipped', reason: 'no library' }], 'cuda')).toBe('GPU execution providers: cuda skipped (no library)');
    expect(describeExecutionProviders([{ name: 'cuda', status: 'available' }], null)).toBe(`GPU execution providers: cuda available, off (${ORT_EP_ENV}=cuda to use it)`);
    expect(describeExecutionProviders([{ name: 'dml', status: 'available' }], 'dml')).toBe(`GPU execution providers: dml available, in use (${ORT_EP_ENV}=dml)`);
  });

  it.runIf(cudaAddOnInstalled() !== true)('fails a step asked for on CUDA by name; the opt-in falls back to the CPU, says why, and trains', async () => {
    const model = await buildModel(tf, plainMlp, { seed: 3 });
    const weights = modelWeights(model.weights);
    model.dispose();
    await expect(OrtStepEngine.create(plainMlp, sgd, weights, { executionProvider: 'cuda' })).rejects.toThrow(
      expect.objectContaining({ code: 'unsupported', message: expect.stringMatching(/^ONNX Runtime's CUDA execution provider did not start: .+/) }),
    );

    const engine = await OrtStepEngine.createPreferring(plainMlp, sgd, weights, 'cuda');
    const onCpu = await OrtStepEngine.createPreferring(plainMlp, sgd, weights, null);
    if (!(engine instanceof OrtStepEngine) || !(onCpu instanceof OrtStepEngine)) throw new Error('declined');
    try {
      expect(engine.description).toMatch(
        new RegExp(
          `^ONNX Runtime \\d+\\.\\d+\\.\\d+ \\(CPU, 1 thread\\): the whole step as one graph \\(${ORT_EP_ENV}=cuda: ONNX Runtime's CUDA execution provider did not start: .+\\)$`,
        ),
      );
      expect(onCpu.description).toMatch(/^ONNX Runtime \d+\.\d+\.\d+ \(CPU, 1 thread\): the whole step as one graph$/);
      // The fallback is the default CPU step: the same losses; and it learns (one batch, seen again each step).
      const losses: number[] = [];
      for (let step = 0; step < STEPS; step++) {
        const { loss } = await engine.step(batchX(0), batchY(0), BATCH, 0.05);
        expect(loss).toBe((await onCpu.step(batchX(0), batchY(0), BATCH, 0.05)).loss);
        losses.push(loss);
      }
      expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.8);
    } finally {
      await engine.dispose();
      await onCpu.dispose();
    }
  });
});
