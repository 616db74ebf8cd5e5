/**
 * The model spec at the API boundary, through the real services' dispatcher (what IPC and the
 * WebSocket host both call): a hostile spec is refused by the contract before any service runs,
 * while the editor's draft still reaches the service that reports its problems at the field.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultTrainingSettings, PROJECT_FORMAT, PROJECT_VERSION } from '../../contract';
import { seedModel1 } from '../../model/presets';
import type { ModelSpec } from '../../model/spec';
import { createServices } from '.';

const dir = mkdtempSync(join(tmpdir(), 'layerbench-spec-boundary-'));
const services = createServices({ host: 'browser', dataDir: join(dir, 'data') });
afterAll(async () => {
  await services.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** seedModel1 with one config field of its first Dense layer (layer 2) replaced. */
function withDenseUnits(units: unknown): ModelSpec {
  const spec = structuredClone(seedModel1);
  (spec.config.layers[2]!.config as Record<string, unknown>).units = units;
  return spec;
}

function withLayers(layers: unknown[]): ModelSpec {
  return { class_name: 'Sequential', config: { name: 'hostile', layers: layers as ModelSpec['config']['layers'] } };
}

const hostile: { what: string; spec: unknown; path: string }[] = [
  { what: 'a field of a type it never holds', spec: withDenseUnits({ $gt: 1 }), path: 'spec.config.layers.2.config.units' },
  { what: 'NaN (IPC clones it)', spec: withDenseUnits(NaN), path: 'spec.config.layers.2.config.units' },
  { what: 'Infinity', spec: withDenseUnits(Infinity), path: 'spec.config.layers.2.config.units' },
  { what: 'a layer type no kit knows', spec: withLayers([{ class_name: 'Lambda', config: { name: 'l', function: 'os.system' } }]), path: 'spec.config.layers.0.class_name' },
  { what: 'a model class other than Sequential', spec: { ...seedModel1, class_name: 'Functional' }, path: 'spec.class_name' },
  { what: 'a huge list of layers', spec: withLayers(Array.from({ length: 20_000 }, (_, i) => ({ class_name: 'Flatten', config: { name: `f${i}` } }))), path: 'spec.config.layers' },
  {
    what: 'a huge input shape',
    spec: withLayers([{ class_name: 'Flatten', config: { name: 'f', batch_input_shape: [null, ...Array<number>(100_000).fill(1)] } }]),
    path: 'spec.config.layers.0.config.batch_input_shape',
  },
  {
    what: 'a huge value in a setting no kit knows',
    spec: withLayers([{ class_name: 'Flatten', config: { name: 'f', extra: Array<number>(100_000).fill(1) } }]),
    path: 'spec.config.layers.0.config.extra',
  },
];

describe('training.start and model.inspect refuse a hostile spec at the boundary', () => {
  for (const command of ['training.start', 'model.inspect'] as const) {
    for (const h of hostile) {
      it(`${command}: ${h.what}`, async () => {
        const payload = command === 'training.start' ? { spec: h.spec, settings: defaultTrainingSettings } : { spec: h.spec };
        const started = performance.now();
        const result = await services.dispatch(command, payload);
        expect(performance.now() - started).toBeLessThan(2_000);
        expect(result).toMatchObject({ ok: false, error: { code: 'invalid-request' } });
        const issues = result.ok ? [] : (result.error.issues ?? []);
        expect(
          issues.some((issue) => issue.startsWith(`${h.path}: `)),
          issues.join('\n'),
        ).toBe(true);
      });
    }
  }
});

describe("the editor's draft", () => {
  const drafts = [
    { units: 'abc', message: /units must be a positive whole number, got 'abc'/ },
    { units: -3, message: /units must be a positive whole number, got -3/ },
    { units: null, message: /units/ },
  ];

  for (const d of drafts) {
    it(`model.inspect reports units ${JSON.stringify(d.units)} at the field (invalid-input), without starting the worker`, async () => {
      const result = await services.dispatch('model.inspect', { spec: withDenseUnits(d.units) });
      expect(result).toMatchObject({ ok: false, error: { code: 'invalid-input', name: 'ModelSpecError' } });
      const issues = result.ok ? [] : (result.error.issues ?? []);
      expect(issues).toHaveLength(1);
      expect(issues[0]).toMatch(/^spec\.config\.layers\.2\.config\.units: /);
      expect(issues[0]).toMatch(d.message);
    });
  }

  it('is kept by the autosave as typed', async () => {
    const project = { format: PROJECT_FORMAT, version: PROJECT_VERSION, model: withDenseUnits('abc'), training: defaultTrainingSettings };
    expect(await services.dispatch('projects.autosave', { project, path: null })).toMatchObject({ ok: true });
    const recovery = await services.dispatch('projects.recovery', {});
    expect(recovery).toMatchObject({ ok: true, value: { recovery: { project: { model: { config: { layers: { 2: { config: { units: 'abc' } } } } } } } } });
  });

  it('is refused by training.start with the field it breaks (the editor keeps Start off until it is fixed)', async () => {
    const result = await services.dispatch('training.start', { spec: withDenseUnits('abc'), settings: defaultTrainingSettings });
    expect(result).toMatchObject({ ok: false, error: { code: 'invalid-request', issues: [expect.stringMatching(/^spec\.config\.layers\.2\.config\.units: /)] } });
  });
});
