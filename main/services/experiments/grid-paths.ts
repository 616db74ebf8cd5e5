/**
 * Grid keys and what one value of a key does to a base (model spec + training settings):
 *   training.<path>              a training setting (training.learningRate, training.optimizer.config.momentum);
 *                                `training.optimizer: 'adam'` picks an optimizer by name with Keras' defaults
 *   layers[<selector>].<field>   a field of every layer the selector picks: a class name (every Dense), an
 *                                index into the base stack, or a layer's name
 *   bn_position                  'before' | 'after' (./bn-position.ts)
 * Values are Keras' vocabulary: an initializer field takes 'he_normal' and holds the canonical
 * `{class_name: 'HeNormal', config: {seed: null}}` the spec uses. A key or value that cannot apply is a
 * SweepGridError naming the key, the value, and what exists instead.
 */
import { formatIssues } from '../../../contract/wire';
import { OPTIMIZER_NAMES, TrainingSettingsSchema, defaultOptimizer, type TrainingSettings } from '../../../contract/training';
import type { GridValue } from '../../../contract/sweeps';
import type { ModelSpec } from '../../../model/spec';
import { layerKit, validateLayer } from '../../../model/layers';
import { fieldType } from '../../../model/layers/fields';
import { canonicalInitializer, describeValue } from '../../../model/initializers';
import { canonicalConstraint, canonicalRegularizer } from '../../../model/regularizers';
import { BN_POSITIONS, type BnPosition } from './bn-position';
import { SweepArmError, SweepGridError } from './errors';

export type LayerSelector = { by: 'index'; index: number } | { by: 'class'; className: string } | { by: 'name'; name: string };

export type GridPath =
  { kind: 'training'; key: string; segments: string[] } | { kind: 'layer'; key: string; selector: LayerSelector; field: string } | { kind: 'bn_position'; key: string };

/** The base a grid applies to: a model and its training settings. */
export interface SweepBase {
  spec: ModelSpec;
  settings: TrainingSettings;
}

const IDENTIFIER = '[A-Za-z_][A-Za-z0-9_]*';
const TRAINING_KEY = new RegExp(`^training\\.(${IDENTIFIER}(?:\\.${IDENTIFIER})*)$`);
const LAYER_KEY = new RegExp(`^layers\\[([^\\]]{1,100})\\]\\.(${IDENTIFIER})$`);
/** Fields a grid may not vary: they identify the layer or its input, not a setting to compare. */
const FIXED_LAYER_FIELDS = new Set(['name', 'batch_input_shape']);

export function parseGridKey(key: string): GridPath {
  if (key === 'bn_position') return { kind: 'bn_position', key };
  const training = TRAINING_KEY.exec(key);
  if (training) return { kind: 'training', key, segments: training[1]!.split('.') };
  const layer = LAYER_KEY.exec(key);
  if (layer) {
    const selector = layer[1]!.trim();
    return {
      kind: 'layer',
      key,
      field: layer[2]!,
      selector: /^\d+$/.test(selector) ? { by: 'index', index: Number(selector) } : layerKit(selector) ? { by: 'class', className: selector } : { by: 'name', name: selector },
    };
  }
  throw new SweepGridError(key, 'not a grid key; use training.<setting>, layers[<ClassName|index|name>].<field> or bn_position');
}

/** The base with one grid value applied (a copy; the base is not changed). bn_position is applied by the caller, last. */
export function applyGridValue(base: SweepBase, path: GridPath, value: GridValue): SweepBase {
  switch (path.kind) {
    case 'training':
      return { spec: base.spec, settings: withTrainingValue(base.settings, path, value) };
    case 'layer':
      return { spec: withLayerValue(base.spec, path, value), settings: base.settings };
    case 'bn_position':
      bnPositionOf(path, value);
      return base;
  }
}

export function bnPositionOf(path: GridPath, value: GridValue): BnPosition {
  if (typeof value === 'string' && (BN_POSITIONS as readonly string[]).includes(value)) return value as BnPosition;
  throw new SweepGridError(path.key, `${describeValue(value)} is not a BN position; use ${BN_POSITIONS.slice(0, -1).join(', ')} or ${BN_POSITIONS.at(-1)}`);
}

/** Checks the settings of a grid point as a whole (a combination may break a rule each value alone keeps). */
export function checkedSettings(settings: unknown, arm: string): TrainingSettings {
  const parsed = TrainingSettingsSchema.safeParse(settings);
  if (!parsed.success) throw new SweepArmError(arm, `invalid training settings: ${formatIssues(parsed.error).join('; ')}`);
  return parsed.data;
}

function withTrainingValue(settings: TrainingSettings, path: Extract<GridPath, { kind: 'training' }>, value: GridValue): TrainingSettings {
  const copy = structuredClone(settings) as unknown as Record<string, unknown>;
  if (path.segments.length === 1 && path.segments[0] === 'optimizer' && typeof value === 'string') {
    const name = OPTIMIZER_NAMES.find((n) => n.toLowerCase() === value.toLowerCase());
    if (!name) throw new SweepGridError(path.key, `unknown optimizer ${describeValue(value)}; use one of ${OPTIMIZER_NAMES.join(', ')}`);
    copy.optimizer = defaultOptimizer(name);
  } else {
    let parent = copy;
    path.segments.forEach((segment, i) => {
      const where = ['training', ...path.segments.slice(0, i)].join('.');
      if (!Object.hasOwn(parent, segment)) throw new SweepGridError(path.key, `${where} has no setting "${segment}"; it has ${Object.keys(parent).join(', ') || 'none'}`);
      if (i === path.segments.length - 1) parent[segment] = value;
      else {
        const next = parent[segment];
        if (typeof next !== 'object' || next === null || Array.isArray(next))
          throw new SweepGridError(path.key, `${where}.${segment} is ${describeValue(next)}, which has no settings inside`);
        parent = next as Record<string, unknown>;
      }
    });
  }
  const parsed = TrainingSettingsSchema.safeParse(copy);
  if (!parsed.success) throw new SweepGridError(path.key, `value ${describeValue(value)} is refused: ${formatIssues(parsed.error).join('; ')}`);
  return parsed.data;
}

/** Indices of the layers a selector picks in the stack; an error listing the stack when it picks none. */
export function selectLayers(spec: ModelSpec, path: Extract<GridPath, { kind: 'layer' }>): number[] {
  const layers = spec.config.layers;
  const { selector } = path;
  const picked =
    selector.by === 'index'
      ? selector.index < layers.length
        ? [selector.index]
        : []
      : layers.flatMap((layer, i) => ((selector.by === 'class' ? layer.class_name === selector.className : layer.config.name === selector.name) ? [i] : []));
  if (picked.length === 0) {
    const what =
      selector.by === 'index'
        ? `no layer ${selector.index}`
        : selector.by === 'class'
          ? `no ${selector.className} layer`
          : `no layer named "${selector.name}" (and no layer type of that name)`;
    throw new SweepGridError(path.key, `the model has ${what}; its layers are ${layers.map((l, i) => `${i}: ${l.config.name} (${l.class_name})`).join(', ')}`);
  }
  return picked;
}

function withLayerValue(spec: ModelSpec, path: Extract<GridPath, { kind: 'layer' }>, value: GridValue): ModelSpec {
  const copy = structuredClone(spec);
  for (const index of selectLayers(spec, path)) {
    const layer = copy.config.layers[index]!;
    const kit = layerKit(layer.class_name);
    const where = `${layer.config.name} (${layer.class_name})`;
    if (!kit) throw new SweepGridError(path.key, `${where} is a layer type Layerbench does not know`);
    const doc = kit.fieldDocs.find(([field]) => field === path.field)?.[1];
    if (!doc || FIXED_LAYER_FIELDS.has(path.field)) {
      const fields = kit.fieldDocs.map(([field]) => field).filter((field) => !FIXED_LAYER_FIELDS.has(field));
      throw new SweepGridError(path.key, `${where} has no field "${path.field}" a grid can vary; its fields are ${fields.join(', ')}`);
    }
    const canonical =
      doc.kind === 'initializer'
        ? canonicalInitializer(value)
        : doc.kind === 'regularizer'
          ? canonicalRegularizer(value)
          : doc.kind === 'constraint'
            ? canonicalConstraint(value)
            : null;
    if (canonical && !canonical.ok) throw new SweepGridError(path.key, `${where}: ${canonical.message}`);
    const converted = canonical?.ok ? canonical.value : value;
    const typed = fieldType(doc).safeParse(converted);
    if (!typed.success) throw new SweepGridError(path.key, `${where}: ${describeValue(value)} is not a ${doc.kind} value (${typed.error.issues.map((i) => i.message).join('; ')})`);
    layer.config[path.field] = converted;
    const issue = validateLayer(layer).find((i) => i.field === path.field);
    if (issue) throw new SweepGridError(path.key, `${where}: ${issue.message}`);
  }
  return copy;
}
