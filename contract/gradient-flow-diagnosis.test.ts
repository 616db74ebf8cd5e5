import { describe, expect, it } from 'vitest';
import { activationGains, diagnoseGradientFlow } from './gradient-flow-diagnosis';
import type { LayerStats } from './training';
import { deepPlainMlp, seedModel1 } from '../model/presets';
import { initializer, type ModelSpec } from '../model/spec';

/** The deep plain network with every hidden Dense layer given `activation` and `init`. */
function deep(activation: string, init: string): ModelSpec {
  const spec = structuredClone(deepPlainMlp);
  for (const layer of spec.config.layers.filter((l) => l.class_name === 'Dense').slice(0, -1)) {
    layer.config['activation'] = activation;
    layer.config['kernel_initializer'] = initializer(init);
  }
  return spec;
}

const NAMES = ['dense', ...Array.from({ length: 20 }, (_, i) => `dense_${i + 1}`)];

/** A record whose gradient norm is `gradAt(depth)` and activation std `stdAt(depth)` (depth 1 = dense). */
function record(gradAt: (d: number) => number, stdAt: (d: number) => number, activation = 'relu'): LayerStats[] {
  return NAMES.map((layer, i) => ({ layer, grad_norm: gradAt(i + 1), activation, act_mean: 0, act_std: stdAt(i + 1) }));
}

/** The deep network of `activation` and `init`, diagnosed from a record of those gradient norms and activation stds. */
const constant = (v: number) => () => v;

function diagnoseDeep(activation: string, init: string, gradAt: (d: number) => number, stdAt: (d: number) => number) {
  return diagnoseGradientFlow(deep(activation, init), record(gradAt, stdAt, activation));
}

describe('activation gains', () => {
  // Reference values: numerical integration over N(0, q) (numpy, 2·10⁶ points over ±12σ).
  it('are ½ for relu and exact closed forms for elu and selu', () => {
    expect(activationGains('relu', 1)).toMatchObject({ forward: 0.5, backward: 0.5 });
    const elu1 = activationGains('elu', 1)!;
    expect(elu1.forward).toBeCloseTo(0.644945, 5);
    expect(elu1.backward).toBeCloseTo(0.668102, 5);
    const elu01 = activationGains('elu', 0.1)!;
    expect(elu01.forward).toBeCloseTo(0.815174, 5);
    expect(elu01.backward).toBeCloseTo(0.821894, 5);
    // A small signal: elu's slope is 1 on both sides of 0, so it passes the variance almost whole (erfc's
    // 1e-7 error, divided by q, leaves three digits here).
    expect(activationGains('elu', 1e-4)!.forward).toBeCloseTo(0.99211, 3);
    const selu1 = activationGains('selu', 1)!;
    expect(selu1.forward).toBeCloseTo(1, 5);
    expect(selu1.backward).toBeCloseTo(1.07158, 4);
    expect(activationGains('selu', 4)!.forward).toBeCloseTo(0.75151, 5);
  });

  it('stay finite for a large signal (no overflow of e^{2q})', () => {
    const g = activationGains('elu', 400)!;
    expect(g.forward).toBeGreaterThan(0.5);
    expect(g.forward).toBeLessThan(0.51);
    // ½ + e^{2q}Φ(−2√q) → ½ + 1/(2√q·√(2π)) (Mills' ratio): 0.50997 at q = 400.
    expect(g.backward).toBeCloseTo(0.5 + (1 / (40 * Math.sqrt(2 * Math.PI))) * (1 - 1 / 1600), 5);
  });

  it('keep sigmoid’s mean of ½ in its forward gain (the second moment, not the variance, is passed on)', () => {
    // f(z) ≈ ½ + z/4: E[f²] = ¼ + q/16.
    expect(activationGains('sigmoid', 1)).toMatchObject({ forward: 0.3125, backward: 0.0625 });
    expect(activationGains('sigmoid', 0.25)!.forward).toBeCloseTo(1.0625, 12);
  });

  it('know nothing of activations without a simple rule', () => {
    expect(activationGains('swish', 1)).toBeNull();
  });
});

describe('gradient-flow diagnosis', () => {
  it('ReLU with Glorot: a gradient falling ×0.7 a layer is vanishing, the arithmetic says 0.5, He is suggested', () => {
    const d = diagnoseDeep(
      'relu',
      'GlorotUniform',
      (k) => 0.7 ** (20 - k),
      (k) => Math.sqrt(0.5 ** k),
    );
    expect(d.kind).toBe('vanishing');
    // The span: dense_1 … dense_19 (the first layer sees pixels, the output the loss).
    expect(d.gradient).toMatchObject({ from: 'dense_19', to: 'dense_1', layers: 19 });
    expect(d.gradient!.perLayer).toBeCloseTo(0.7, 10);
    expect(d.gradient!.total).toBeCloseTo(0.7 ** 18, 10);
    expect(d.activation!.perLayer).toBeCloseTo(0.5, 10);
    expect(d.expected).toMatchObject({ initializer: 'Glorot uniform', fanIn: 100, fanOut: 100, activation: 'relu' });
    expect(d.expected!.varW).toBeCloseTo(0.01, 12);
    expect(d.expected!.forward).toBeCloseTo(0.5, 12);
    expect(d.expected!.backward).toBeCloseTo(0.5, 12);
    expect(d.verdict).toContain("Toward the input the layers' gradient norm (kernel and bias) falls ×0.7 a layer: 610× smaller at dense_1 than at dense_19.");
    expect(d.verdict).toContain("The signal's variance (activations) goes ×0.5 a layer forward (Glorot uniform with relu predicts ×0.5)");
    expect(d.verdict).toContain('Glorot uniform gives Var(w) = 2/(fan_in + fan_out) = 2/200 = 0.01');
    expect(d.verdict).toContain("scales the signal's variance by fan_in·Var(w)·0.5 = 0.5 forward and the error's (δ) by fan_out·Var(w)·0.5 = 0.5 toward the input");
    expect(d.verdict).toContain('The signal vanishes forward');
    expect(d.verdict).toContain('The gradient vanishes toward the input');
    expect(d.suggestion).toBe('He normal (Var(w) = 2/fan_in = 0.02) keeps the factors at 1 forward and 1 backward for relu: set kernel_initializer to he_normal.');
    expect(d.depth.map((p) => p.depth)).toEqual(NAMES.map((_, i) => i + 1));
    expect(d.depth.at(-1)!.actVariance).toBeNull();
  });

  it('ReLU with Glorot at initialization: flat gradient norms but a halving signal is vanishing, and the activations are named', () => {
    // f = b = ½: the kernel gradient ∝ √(E[a²]·Var(δ)) stays level while the activations and δ halve per layer.
    const d = diagnoseDeep('relu', 'GlorotUniform', constant(0.01), (k) => Math.sqrt(0.5 ** k));
    expect(d.gradient!.perLayer).toBeCloseTo(1, 10);
    expect(d.activation!.perLayer).toBeCloseTo(0.5, 10);
    expect(d.kind).toBe('vanishing');
    expect(d.verdict).toContain(
      "The signal's variance (activations) goes ×0.5 a layer forward (Glorot uniform with relu predicts ×0.5): 520,000× smaller at dense_19 than at dense.",
    );
    expect(d.verdict).toContain('the arithmetic has the error δ fade toward the input (×0.5 a layer)');
    expect(d.verdict).toContain('they offset each other (√(0.5/0.5) = ×1 a layer at initialization); the activations show it.');
    expect(d.verdict).toContain("Toward the input the layers' gradient norm (kernel and bias) stays level: ×1 a layer.");
    expect(d.verdict).not.toContain('The gradient vanishes');
    expect(d.suggestion).toContain('set kernel_initializer to he_normal');
  });

  it('a signal whose variance doubles a layer forward is exploding, though the gradient norms are level', () => {
    const d = diagnoseDeep('relu', 'HeNormal', constant(1), (k) => Math.sqrt(2 ** k));
    expect(d.kind).toBe('exploding');
    expect(d.verdict).toContain('The signal explodes forward.');
    expect(d.verdict).not.toContain('The gradient explodes');
  });

  it('ReLU with He: a level gradient is healthy, the arithmetic says 1, nothing to suggest', () => {
    const d = diagnoseDeep('relu', 'HeNormal', constant(1), constant(0.6));
    expect(d.kind).toBe('healthy');
    expect(d.gradient!.perLayer).toBeCloseTo(1, 10);
    expect(d.expected!.varW).toBeCloseTo(0.02, 12);
    expect(d.expected!.forward).toBeCloseTo(1, 12);
    expect(d.verdict).toContain('He normal gives Var(w) = 2/fan_in = 2/100 = 0.02');
    expect(d.verdict).toContain('Neither the signal nor the gradient norms vanish over these 19 layers.');
    expect(d.suggestion).toBeNull();
  });

  it('ELU with Glorot: the gains are taken at the variance the layer below measured, and a small signal is called near-linear', () => {
    // E[a²] = 0.1 under Glorot (Var(w)·fan_in = 1): q = 0.1, where elu keeps 0.815 of the variance.
    const d = diagnoseDeep('elu', 'GlorotUniform', constant(0.4), constant(Math.sqrt(0.1)));
    expect(d.kind).toBe('healthy');
    expect(d.expected!.q).toBeCloseTo(0.1, 12);
    expect(d.expected!.forward).toBeCloseTo(0.815174, 5);
    expect(d.verdict).toContain('near-linear part around 0');
    // He's factor at q = 0.1 (2 × 0.82 ≈ 1.6) is further from 1 than Glorot's: the arithmetic does not ask for He here.
    expect(d.suggestion).toBeNull();
  });

  it('an exploding gradient (×1.5 a layer toward the input) is called so', () => {
    const d = diagnoseDeep('relu', 'HeNormal', (k) => 1.5 ** (20 - k), constant(1));
    expect(d.kind).toBe('exploding');
    expect(d.verdict).toContain('rises ×1.5 a layer');
  });

  it('a layer without any gradient is vanishing, a non-finite one exploding, each named', () => {
    const dead = diagnoseDeep('relu', 'HeNormal', (k) => (k === 5 ? 0 : 1), constant(1));
    expect(dead.kind).toBe('vanishing');
    expect(dead.gradient).toBeNull();
    expect(dead.verdict).toContain('No gradient at all reaches dense_4 (norm 0).');
    const broken = diagnoseDeep('relu', 'HeNormal', (k) => (k === 2 ? Number.NaN : 1), constant(1));
    expect(broken.kind).toBe('exploding');
    expect(broken.verdict).toContain('not finite at dense_1');
  });

  it('says a shallow model has no trend across depth to measure', () => {
    const layers: LayerStats[] = ['dense', 'dense_1', 'dense_2'].map((layer) => ({ layer, grad_norm: 1, activation: 'elu', act_mean: 0, act_std: 1 }));
    const plain = structuredClone(deepPlainMlp);
    plain.config.layers = plain.config.layers.slice(0, 3).concat(plain.config.layers.slice(-1));
    plain.config.layers.at(-1)!.config.name = 'dense_2';
    const d = diagnoseGradientFlow(plain, layers);
    expect(d.gradient).toBeNull();
    expect(d.verdict).toContain('Fewer than 3 hidden layers');
    // Without a measured trend (two hidden layers), the kind comes from the arithmetic over the depth: He with
    // elu at Var(z) = 2 grows the signal and the error, but not 10× over one layer.
    expect(d.activation).toBeNull();
    expect(d.kind).toBe('healthy');
  });

  it('without a measured trend, predicts the signal and the error as norms (square roots of the variance factors) against the 10× thresholds', () => {
    // ReLU with Var(w) = 1.7/fan_in: the backward variance factor is 0.85 a layer, 0.85¹⁹ ≈ 0.045 over the
    // 19 layers below the output, but the norm falls 0.85^9.5 ≈ 0.21: less than 10×.
    const spec = deep('relu', 'HeNormal');
    for (const layer of spec.config.layers.filter((l) => l.class_name === 'Dense').slice(0, -1)) {
      layer.config['kernel_initializer'] = initializer('VarianceScaling', { scale: 1.7, mode: 'fan_in', distribution: 'untruncated_normal' });
    }
    // One hidden layer without a gradient norm or activation statistics: no measured trend.
    const layers = record(constant(1), constant(1)).map((l) => (l.layer === 'dense_9' ? { layer: l.layer } : l));
    const d = diagnoseGradientFlow(spec, layers);
    expect(d.gradient).toBeNull();
    expect(d.activation).toBeNull();
    expect(d.expected!.forward).toBeCloseTo(0.85, 12);
    expect(d.expected!.backward).toBeCloseTo(0.85, 12);
    expect(d.kind).toBe('healthy');
  });

  it('takes fan_in and fan_out from the kernel’s shape: a layer of 50 units fed by 200', () => {
    // The representative layer is the span's middle one, dense_10 (kernel [200, 50] here).
    const withFans = (init: string, config: Record<string, unknown> = {}) => {
      const spec = deep('relu', init);
      for (const layer of spec.config.layers) {
        if (layer.config.name === 'dense_9') layer.config['units'] = 200;
        if (layer.config.name === 'dense_10') layer.config['units'] = 50;
        if (layer.class_name === 'Dense') layer.config['kernel_initializer'] = initializer(init, config);
      }
      return diagnoseGradientFlow(spec, record(constant(1), constant(1))).expected!;
    };
    const he = withFans('HeNormal');
    expect(he).toMatchObject({ layer: 'dense_10', fanIn: 200, fanOut: 50 });
    expect(he.varW).toBeCloseTo(2 / 200, 12);
    expect(he.forward).toBeCloseTo(200 * (2 / 200) * 0.5, 12);
    expect(he.backward).toBeCloseTo(50 * (2 / 200) * 0.5, 12);
    expect(withFans('GlorotUniform').varW).toBeCloseTo(2 / 250, 12);
    // VarianceScaling: fan_avg = (fan_in + fan_out)/2; uniform in ±√(3·scale/fan) and the truncated
    // normal (Keras' 1/0.8796 correction, as training samples it) both give Var(w) = scale/fan.
    const uniform = withFans('VarianceScaling', { scale: 2, mode: 'fan_avg', distribution: 'uniform' });
    expect(uniform.varW).toBeCloseTo(2 / 125, 12);
    expect(uniform.varWFormula).toBe('4/(fan_in + fan_out) = 4/250');
    const truncated = withFans('VarianceScaling', { scale: 3, mode: 'fan_out', distribution: 'truncated_normal' });
    expect(truncated.varW).toBeCloseTo(3 / 50, 12);
    expect(truncated.varWFormula).toBe('3/fan_out = 3/50');
  });

  it('with BatchNormalization the initializer arithmetic is not used', () => {
    const layers: LayerStats[] = ['dense', 'dense_1', 'dense_2'].map((layer) => ({ layer, grad_norm: 1 }));
    const d = diagnoseGradientFlow(seedModel1, layers);
    expect(d.kind).toBe('normalized');
    expect(d.verdict).toContain('Normalization layers rescale');
    expect(d.suggestion).toBeNull();
  });

  it('is unknown without gradient statistics, or for a record of another model', () => {
    expect(diagnoseGradientFlow(deepPlainMlp, []).kind).toBe('unknown');
    expect(diagnoseGradientFlow(deepPlainMlp, [{ layer: 'conv2d', grad_norm: 1 }]).kind).toBe('unknown');
  });

  it('finds the activation of a linear Dense layer in the Activation layer after it', () => {
    const spec = deep('relu', 'GlorotUniform');
    spec.config.layers = spec.config.layers.flatMap((l, i, all) =>
      l.class_name === 'Dense' && i < all.length - 1
        ? [
            { ...l, config: { ...l.config, activation: 'linear' } },
            { class_name: 'Activation', config: { name: `${l.config.name}_act`, trainable: true, activation: 'relu' } },
          ]
        : [l],
    );
    const layers: LayerStats[] = NAMES.flatMap((layer, i) => [
      { layer, grad_norm: 0.7 ** (20 - i) },
      { layer: `${layer}_act`, activation: 'relu', act_mean: 0, act_std: Math.sqrt(0.5 ** i) },
    ]);
    const d = diagnoseGradientFlow(spec, layers);
    expect(d.kind).toBe('vanishing');
    expect(d.expected!.activation).toBe('relu');
    expect(d.activation!.perLayer).toBeCloseTo(0.5, 10);
  });
});
