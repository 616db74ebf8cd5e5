/**
 * Auto's calibration, for real: the seed model's training steps timed on this machine's backends
 * (wasm and tfjs' cpu; webgpu is skipped here for want of a GPU), and the choice between them.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { CalibrationSchema, type BackendReport, type OptimizerSettings } from '../../../../contract';
import type { ModelSpec } from '../../../../model/spec';
import { plainMlp, seedModel1 } from '../../../../model/presets';
import { probeBackends } from './backends';
import { smallCnn } from '../common/small-cnn';
import { BackendUnavailableError, calibrate, chooseBackend, softwareLast } from './calibrate';
import { installFastWasmMatMul } from './kernels/wasm-matmul';

let report: BackendReport;
beforeAll(async () => {
  report = await probeBackends(tf);
  // As the worker does after its probe.
  expect(installFastWasmMatMul(tf).installed).toBe(true);
});

const cnn = smallCnn();
/** A model ONNX Runtime's step declines (a frozen layer), which tfjs trains. */
const frozenMlp = structuredClone(plainMlp);
frozenMlp.config.layers[1]!.config.trainable = false;

describe('calibrate', () => {
  it('times the seed model at batch 32 on wasm and cpu and picks the faster, wasm', async () => {
    const tensorsBefore = tf.memory().numTensors;
    const seen: string[] = [];
    const calibration = await calibrate(tf, { spec: seedModel1, batchSize: 32, backends: ['wasm', 'cpu'], onBackend: (b) => seen.push(b) });
    expect(CalibrationSchema.parse(calibration)).toEqual(calibration);
    expect(seen).toEqual(['wasm', 'cpu']);
    expect(calibration.steps).toBe(5);
    const [wasm, cpu] = calibration.results;
    expect(wasm).toMatchObject({ backend: 'wasm' });
    expect(cpu).toMatchObject({ backend: 'cpu' });
    expect(wasm!.samplesPerSec).toBeGreaterThan(0);
    expect(cpu!.samplesPerSec).toBeGreaterThan(0);
    expect(wasm!.error).toBeUndefined();
    // About 2,000–5,000 vs 460 samples/s on a 2-core machine: wasm wins by far.
    expect(wasm!.samplesPerSec!).toBeGreaterThan(cpu!.samplesPerSec!);
    expect(calibration.chosen).toBe('wasm');
    // Leaves tf as it found it: same backend, no tensors left behind.
    expect(tf.getBackend()).toBe('wasm');
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  });

  it('records an unavailable backend with its error and never picks it', async () => {
    const calibration = await calibrate(tf, { spec: seedModel1, batchSize: 32, backends: ['webgpu', 'wasm'], steps: 2 });
    expect(calibration.results[0]).toMatchObject({ backend: 'webgpu', samplesPerSec: null });
    expect(calibration.results[0]!.error).toMatch(/webgpu/);
    expect(calibration.chosen).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
  });

  it('respects kernel support: wasm cannot differentiate Conv2D or MaxPooling2D, so cpu is chosen', async () => {
    const calibration = await calibrate(tf, { spec: cnn, batchSize: 32, backends: ['wasm', 'cpu'], steps: 2 });
    expect(calibration.results[0]).toEqual({ backend: 'wasm', samplesPerSec: null, error: expect.stringMatching(/^cannot train this model: Conv2D needs Conv2DBackprop/) });
    expect(calibration.results[1]!.samplesPerSec).toBeGreaterThan(0);
    expect(calibration.chosen).toBe('cpu');
  });

  it("times ONNX Runtime's step with the run's optimizer, and records a model its step declines", async () => {
    const tensorsBefore = tf.memory().numTensors;
    const adam: OptimizerSettings = { class_name: 'Adam', config: { beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7, clipnorm: null, clipvalue: null } };
    const calibration = await calibrate(tf, { spec: seedModel1, batchSize: 32, backends: ['onnxruntime', 'wasm'], optimizer: adam, steps: 3 });
    expect(calibration.results.map((r) => r.backend)).toEqual(['onnxruntime', 'wasm']);
    for (const r of calibration.results) expect(r.samplesPerSec, r.error).toBeGreaterThan(0);
    expect(tf.getBackend()).toBe('wasm');
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    const declined = await calibrate(tf, { spec: frozenMlp, batchSize: 32, backends: ['onnxruntime', 'wasm'], steps: 2 });
    expect(declined.results[0]).toEqual({ backend: 'onnxruntime', samplesPerSec: null, error: 'cannot train this model: layer dense is frozen' });
    expect(declined.chosen).toBe('wasm');
  });

  it('throws when no backend can train the model', async () => {
    await expect(calibrate(tf, { spec: cnn, batchSize: 8, backends: ['wasm', 'webgpu'] })).rejects.toThrow(
      /No backend could train this model: wasm: cannot train this model: .+; webgpu: .+/,
    );
  });
});

describe('chooseBackend', () => {
  const choose = (requested: 'auto' | 'onnxruntime' | 'wasm' | 'cpu' | 'webgpu' | 'tensorflow', spec: ModelSpec = seedModel1, r = report) =>
    chooseBackend(tf, { report: r, spec, batchSize: 32, requested, steps: 2 });

  it('refuses webgpu, skipped here, with the reason it was skipped', async () => {
    const webgpu = report.candidates.find((c) => c.name === 'webgpu')!;
    if (webgpu.status !== 'skipped') return; // a GPU machine: nothing to refuse
    const refused = choose('webgpu');
    await expect(refused).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(refused).rejects.toThrow(
      /^The webgpu backend is not available: it was skipped when the training worker started: no WebGPU adapter: Dawn: .+\. Choose Auto or one of: onnxruntime, wasm, cpu\.$/,
    );
    await expect(choose('tensorflow')).rejects.toThrow(/^The tensorflow backend is not available: it was skipped .*Cannot find module '@tensorflow\/tfjs-node'/);
  });

  it("Auto on this machine calibrates onnxruntime against wasm (cpu is never the faster one), and wasm alone where ONNX Runtime's step declines", async () => {
    const choice = await choose('auto');
    const results = choice.calibration!.results;
    expect(results.map((r) => r.backend)).toEqual(['onnxruntime', 'wasm']);
    const fastest = results.reduce((a, b) => (b.samplesPerSec! > a.samplesPerSec! ? b : a));
    expect(choice.backend).toBe(fastest.backend);
    expect(choice.reason).toMatch(new RegExp(`^Auto: ${fastest.backend} trains this model fastest at batch 32`));
    expect(await choose('auto', frozenMlp)).toEqual({ backend: 'wasm' });
  });

  it('Auto trains a Conv2D model on onnxruntime, whose step takes it; without ONNX Runtime on cpu, saying why', async () => {
    expect((await choose('auto', cnn)).backend).toBe('onnxruntime');
    const withoutOrt: BackendReport = { ...report, candidates: report.candidates.filter((c) => c.name !== 'onnxruntime') };
    const choice = await choose('auto', cnn, withoutOrt);
    expect(choice.backend).toBe('cpu');
    expect(choice.calibration).toBeUndefined();
    expect(choice.reason).toMatch(/The wasm backend cannot train this model \(Conv2D needs .+\): training on cpu instead/);
  });

  it('a named backend is used when it started, and refused when it cannot train the model', async () => {
    expect(await choose('wasm')).toEqual({ backend: 'wasm' });
    expect(await choose('cpu')).toEqual({ backend: 'cpu', reason: 'Training on cpu, as the settings ask (the default is wasm)' });
    // onnxruntime by name, even for a model its step declines (the loop then steps in tfjs, saying why).
    expect(await choose('onnxruntime')).toEqual({ backend: 'onnxruntime', reason: 'Training on onnxruntime, as the settings ask (the default is wasm)' });
    expect((await choose('onnxruntime', frozenMlp)).backend).toBe('onnxruntime');
    await expect(choose('wasm', cnn)).rejects.toThrow(/^The wasm backend cannot train this model \(Conv2D needs .+\): choose Auto or cpu\.$/);
  });

  it('Auto calibrates two or more backends, and never picks one that does not work even when the report says it is available', async () => {
    // A report that (wrongly) lists webgpu as available next to wasm: calibration finds out.
    const wrong: BackendReport = {
      ...report,
      candidates: report.candidates.filter((c) => c.name !== 'onnxruntime').map((c) => (c.name === 'webgpu' ? { name: 'webgpu', package: c.package, status: 'available' } : c)),
    };
    if (tf.findBackend('webgpu')) return; // a GPU machine: webgpu works
    const choice = await choose('auto', seedModel1, wrong);
    expect(choice.backend).toBe('wasm');
    expect(choice.calibration!.results.map((r) => r.backend)).toEqual(['webgpu', 'wasm']);
    expect(choice.calibration!.results[0]).toMatchObject({ samplesPerSec: null, error: expect.any(String) });
    expect(choice.calibration!.chosen).toBe('wasm');
    expect(choice.reason).toMatch(/^Auto: wasm trains this model fastest at batch 32 \([\d,]+ samples\/s; webgpu failed: .+\)$/);
    expect(tf.getBackend()).toBe('wasm');
  });

  it('Auto measures a software adapter after the CPU backends, so that it wins only by being faster', async () => {
    const software: BackendReport = {
      ...report,
      candidates: report.candidates.map((c) => (c.name === 'webgpu' ? { name: 'webgpu', package: c.package, status: 'available' } : c)),
      adapter: { backend: 'webgpu', vendor: 'google', architecture: 'swiftshader', device: '', description: 'SwiftShader driver 5.0.0', software: true },
    };
    expect(softwareLast(software, ['webgpu', 'wasm', 'cpu'])).toEqual(['wasm', 'cpu', 'webgpu']);
    expect(softwareLast(report, ['wasm', 'cpu'])).toEqual(['wasm', 'cpu']);
    if (tf.findBackend('webgpu')) return; // WebGPU started here: backends.webgpu.test.ts measures it for real
    const choice = await choose('auto', seedModel1, software);
    expect(choice.calibration!.results.map((r) => r.backend)).toEqual(['onnxruntime', 'wasm', 'webgpu']);
    expect(choice.backend).not.toBe('webgpu');
  });
});
