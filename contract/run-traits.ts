/**
 * What tells runs apart: a run's traits (its model's initializer, activation, BatchNormalization
 * placement, layer sizes, and its training settings) in short words, the traits that differ among
 * runs, and a name made of them. Two runs of "mlp_no_bn" that differ by initializer then read
 * "he_normal" and "glorot_uniform" instead of the model's name twice.
 */
import type { LayerSpec, ModelSpec } from '../model/spec';
import type { TrainingSettings } from './training';

/** Trait keys in the order names and table columns show them: the model's first, then the settings. */
export const TRAIT_KEYS = ['model', 'init', 'activation', 'bn', 'units', 'dataset', 'normalization', 'optimizer', 'lr', 'schedule', 'batch', 'epochs', 'samples', 'seed'] as const;
export type TraitKey = (typeof TRAIT_KEYS)[number];
export type RunTraits = Partial<Record<TraitKey, string>>;

/** Column headers for the runs table. */
export const TRAIT_LABELS: Record<TraitKey, string> = {
  model: 'model',
  init: 'initializer',
  activation: 'activation',
  bn: 'BN',
  units: 'units',
  dataset: 'dataset',
  normalization: 'inputs',
  optimizer: 'optimizer',
  lr: 'lr',
  schedule: 'schedule',
  batch: 'batch',
  epochs: 'epochs',
  samples: 'samples',
  seed: 'seed',
};

const KERNEL_LAYERS = new Set(['Dense', 'Conv2D']);
const NORMALIZATION_WORDS: Record<TrainingSettings['normalization'], string> = { 'scale-255': '÷255', standardize: 'standardized', none: 'raw inputs' };

/** Keras' snake_case name of an initializer class: HeNormal → he_normal. */
export function initializerName(className: string): string {
  return className.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

const unique = (values: string[]) => [...new Set(values)].join('+');
const config = (layer: LayerSpec) => layer.config as Record<string, unknown>;

/**
 * Where the BatchNormalization layers sit relative to the activations (Géron's two placements):
 * after a layer that activates, or before an activation (after a linear Dense or Conv2D). A BN on
 * the inputs counts only when it is the only one.
 */
function bnPlacement(layers: readonly LayerSpec[]): string {
  const places = new Set<string>();
  let bns = 0;
  layers.forEach((layer, i) => {
    if (layer.class_name !== 'BatchNormalization') return;
    bns++;
    const previous = layers[i - 1];
    if (!previous || !(KERNEL_LAYERS.has(previous.class_name) || previous.class_name === 'Activation')) return;
    const activation = config(previous).activation;
    places.add(KERNEL_LAYERS.has(previous.class_name) && (activation === 'linear' || activation === undefined || activation === null) ? 'before' : 'after');
  });
  if (bns === 0) return 'no BN';
  if (places.size === 0) return 'BN on inputs';
  return places.size === 1 ? `BN ${[...places][0]}` : 'BN before+after';
}

/** The run's traits from its model and settings. `datasetName` replaces the dataset's id when known. */
export function runTraits(spec: ModelSpec, settings: TrainingSettings, datasetName?: string): RunTraits {
  const layers = spec.config.layers;
  const kernels = layers.filter((l) => KERNEL_LAYERS.has(l.class_name));
  // The output layer keeps its own initializer and softmax: the hidden layers are what a comparison varies.
  const hidden = kernels.length > 1 ? kernels.slice(0, -1) : kernels;
  const initializers = hidden.map((l) => (config(l).kernel_initializer as { class_name?: string } | undefined)?.class_name).filter((c): c is string => typeof c === 'string');
  const activations = [...hidden.map((l) => config(l).activation), ...layers.filter((l) => l.class_name === 'Activation').map((l) => config(l).activation)].filter(
    (a): a is string => typeof a === 'string' && a !== 'linear',
  );
  const traits: RunTraits = {
    model: spec.config.name,
    init: initializers.length ? unique(initializers.map(initializerName)) : undefined,
    activation: activations.length ? unique(activations) : undefined,
    bn: bnPlacement(layers),
    units:
      layers
        .filter((l) => l.class_name === 'Dense')
        .map((l) => String(config(l).units))
        .join('-') || undefined,
    dataset: datasetName ?? settings.dataset,
    normalization: NORMALIZATION_WORDS[settings.normalization],
    optimizer: settings.optimizer.class_name,
    lr: `lr ${settings.learningRate}`,
    schedule: settings.lrSchedule.class_name,
    batch: `batch ${settings.batchSize}`,
    epochs: `${settings.epochs} epoch${settings.epochs === 1 ? '' : 's'}`,
    samples: settings.trainSubset === null ? 'all samples' : `${settings.trainSubset.toLocaleString('en-US')} samples`,
    seed: `seed ${settings.seed}`,
  };
  for (const key of TRAIT_KEYS) if (traits[key] === undefined) delete traits[key];
  return traits;
}

/** The trait keys whose values are not the same in every run given (a trait missing in one counts as differing). */
export function differingTraits(runs: readonly RunTraits[]): TraitKey[] {
  if (runs.length < 2) return [];
  return TRAIT_KEYS.filter((key) => runs.some((r) => r[key] !== runs[0]![key]));
}

/** A name from the differing traits, e.g. "he_normal · BN after"; null when nothing differs. */
export function nameByDifference(traits: RunTraits, differing: readonly TraitKey[]): string | null {
  const parts = differing.map((key) => traits[key]).filter((v): v is string => v !== undefined);
  return parts.length ? parts.join(' · ') : null;
}

/** A run as the runs list knows it: its stored name, its model's name, and its traits when listed. */
export interface NameableRun {
  runId: string;
  name: string;
  modelName: string;
  traits?: RunTraits;
}

/**
 * The names runs are shown by. A run the user named keeps its name. A run still named after its
 * model is named by what differs from its siblings (the other runs of a model of that name):
 * "he_normal · BN after"; alone, or identical to them, it keeps the model's name.
 */
export function displayNames(runs: readonly NameableRun[]): Map<string, string> {
  const siblings = new Map<string, NameableRun[]>();
  for (const run of runs) siblings.set(run.modelName, [...(siblings.get(run.modelName) ?? []), run]);
  const names = new Map<string, string>();
  for (const run of runs) {
    const family = siblings.get(run.modelName)!;
    const automatic = run.name === run.modelName && run.traits !== undefined && family.length > 1;
    const differing = automatic ? differingTraits(family.map((r) => r.traits ?? {})) : [];
    names.set(run.runId, (automatic && nameByDifference(run.traits!, differing)) || run.name);
  }
  return names;
}

/**
 * The runs table's extra columns: the traits that differ among the runs shown (the model's name is
 * already in the run column), at most `max` of them, the model's traits first.
 */
export function differingColumns(runs: readonly NameableRun[], max = 4): TraitKey[] {
  return differingTraits(runs.filter((r) => r.traits).map((r) => r.traits!))
    .filter((key) => key !== 'model')
    .slice(0, max);
}
