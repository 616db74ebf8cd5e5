/**
 * Everything random in a run is derived from its one seed: the initial weights (a seed written into
 * every seeded initializer before the model is built), the order of the samples in each epoch, and
 * each dropout mask (one seed per layer and step). Same seed, same backend → same first-epoch losses.
 */

/** Initializer classes (TF.js names) whose config takes a `seed`. */
const SEEDED_INITIALIZERS = new Set([
  'RandomNormal',
  'RandomUniform',
  'TruncatedNormal',
  'VarianceScaling',
  'GlorotNormal',
  'GlorotUniform',
  'HeNormal',
  'HeUniform',
  'LeCunNormal',
  'LeCunUniform',
  'Orthogonal',
]);

/**
 * A 31-bit seed derived from the run seed and a purpose (`'init'`, a layer name, a field, a step):
 * FNV-1a over the parts, then a murmur3 finaliser so that neighbouring steps get unrelated seeds.
 */
export function deriveSeed(seed: number, ...parts: (string | number)[]): number {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  const text = parts.join('\u0000');
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 1;
}

interface TopologyLayer {
  class_name: string;
  config: Record<string, unknown>;
}

/**
 * Writes a seed into every seeded initializer of a Keras/TF.js topology that has none, each derived
 * from the run seed, the layer name and the field (so two layers never share a stream). A seed the
 * user set in the spec is kept. Returns the number of initializers seeded.
 */
export function seedInitializers(layers: TopologyLayer[], runSeed: number): number {
  let seeded = 0;
  for (const layer of layers) {
    const name = String(layer.config['name'] ?? '');
    for (const [field, value] of Object.entries(layer.config)) {
      if (!field.endsWith('_initializer') || !value || typeof value !== 'object') continue;
      const init = value as { class_name?: unknown; config?: Record<string, unknown> };
      if (typeof init.class_name !== 'string' || !SEEDED_INITIALIZERS.has(init.class_name)) continue;
      const config = { ...(init.config ?? {}) };
      if (config['seed'] === null || config['seed'] === undefined) {
        config['seed'] = deriveSeed(runSeed, 'init', name, field);
        seeded++;
      }
      layer.config[field] = { ...init, config };
    }
  }
  return seeded;
}
