import { describe, expect, it } from 'vitest';
import { fromKerasTopology, toKerasTopology } from './keras-json';
import { seedModel1 } from './presets';
import { canonicalConstraint, canonicalRegularizer, describeRegularizer } from './regularizers';
import { summarize } from './summary';
import { withDefaults } from './layers';

describe('kernel regularizers and constraints', () => {
  it('reads Keras 2, Keras 3 and TF.js spellings into one canonical L1L2 form', () => {
    expect(canonicalRegularizer({ class_name: 'L2', config: { l2: 0.01 } })).toEqual({ ok: true, value: { class_name: 'L1L2', config: { l1: 0, l2: 0.01 } } });
    expect(canonicalRegularizer({ module: 'keras.regularizers', class_name: 'L1', config: { l1: 0.002 }, registered_name: null })).toEqual({
      ok: true,
      value: { class_name: 'L1L2', config: { l1: 0.002, l2: 0 } },
    });
    expect(canonicalRegularizer({ className: 'L1L2', config: { l1: 0.1, l2: 0.2 } })).toEqual({ ok: true, value: { class_name: 'L1L2', config: { l1: 0.1, l2: 0.2 } } });
    expect(canonicalRegularizer('l2')).toEqual({ ok: true, value: { class_name: 'L1L2', config: { l1: 0, l2: 0.01 } } });
    expect(canonicalRegularizer(null)).toEqual({ ok: true, value: null });
    expect(canonicalRegularizer({ class_name: 'L2', config: { l2: -1 } })).toEqual({ ok: false, message: 'l2 must be a non-negative number, got -1' });
    expect(canonicalRegularizer({ class_name: 'OrthogonalRegularizer', config: {} })).toMatchObject({ ok: false, message: expect.stringMatching(/unsupported regularizer/) });
    expect(describeRegularizer({ class_name: 'L1L2', config: { l1: 0, l2: 0.01 } })).toBe('L2(0.01)');
  });

  it('reads MaxNorm from Keras and TF.js', () => {
    expect(canonicalConstraint({ class_name: 'MaxNorm', config: { max_value: 2, axis: 0 } })).toEqual({
      ok: true,
      value: { class_name: 'MaxNorm', config: { max_value: 2, axis: 0 } },
    });
    expect(canonicalConstraint({ className: 'MaxNorm', config: { maxValue: 3, axis: 0 } })).toEqual({
      ok: true,
      value: { class_name: 'MaxNorm', config: { max_value: 3, axis: 0 } },
    });
    expect(canonicalConstraint({ class_name: 'MaxNorm', config: { max_value: 0 } })).toMatchObject({ ok: false, message: 'max_value must be a positive number, got 0' });
  });

  it('validates them at the layer and field, and keeps the Keras summary unchanged', () => {
    const spec = structuredClone(seedModel1);
    const dense = spec.config.layers.find((l) => l.class_name === 'Dense')!;
    dense.config.kernel_regularizer = { class_name: 'L2', config: { l2: 0.01 } };
    dense.config.kernel_constraint = { class_name: 'MaxNorm', config: { max_value: 1 } };
    const ok = summarize(spec);
    expect(ok.valid).toBe(true);
    expect(ok.total).toBe(summarize(seedModel1).total);
    expect(withDefaults(dense).config.kernel_regularizer).toEqual({ class_name: 'L1L2', config: { l1: 0, l2: 0.01 } });

    dense.config.kernel_constraint = { class_name: 'MaxNorm', config: { max_value: 1, axis: 5 } };
    expect(summarize(spec).errors[0]).toMatchObject({ field: 'kernel_constraint', message: 'kernel_constraint: axis 5 is out of range for the rank-2 kernel (use 0..1)' });
    dense.config.kernel_constraint = null;
    dense.config.kernel_regularizer = { class_name: 'L2', config: { l2: 'lots' } };
    const bad = summarize(spec);
    expect(bad.valid).toBe(false);
    expect(bad.errors[0]).toMatchObject({ layerName: dense.config.name, field: 'kernel_regularizer', message: "kernel_regularizer: l2 must be a non-negative number, got 'lots'" });
  });

  it('round-trips through Keras topology JSON in the form TF.js deserializes', () => {
    const spec = structuredClone(seedModel1);
    const dense = spec.config.layers.find((l) => l.class_name === 'Dense')!;
    dense.config.kernel_regularizer = { class_name: 'L2', config: { l2: 0.001 } };
    dense.config.kernel_constraint = { class_name: 'MaxNorm', config: { max_value: 2, axis: 0 } };
    const topology = toKerasTopology(spec);
    const exported = topology.config.layers.find((l) => l.config.name === dense.config.name)!.config;
    expect(exported.kernel_regularizer).toEqual({ class_name: 'L1L2', config: { l1: 0, l2: 0.001 } });
    expect(exported.kernel_constraint).toEqual({ class_name: 'MaxNorm', config: { max_value: 2, axis: 0 } });
    const back = fromKerasTopology(topology);
    const again = back.config.layers.find((l) => l.config.name === dense.config.name)!.config;
    expect(again.kernel_regularizer).toEqual(exported.kernel_regularizer);
    expect(again.kernel_constraint).toEqual(exported.kernel_constraint);
  });
});
