/**
 * `checkTask(spec, task)`: whether a model can be trained on a classification task — the loss
 * (sparse categorical cross-entropy, the only one Layerbench trains with) and the chosen dataset's
 * sample shape and class count. `summarize()` says whether Keras could build the model; this says
 * whether training would run and mean something: the input takes the dataset's samples, the output is
 * `(None, classes)`, and nothing in between is refused by TF.js.
 *
 * Each problem names its layer, says what is wrong in plain words with the shapes involved, and may
 * carry a fix descriptor (an edit the builder makes in one click). Pure TypeScript, never throws.
 */
import type { LayerSpec, ModelSpec } from './spec';
import { formatShape, type Shape } from './layers';
import { summarize, type LayerSummary, type ModelSummary } from './summary';

/** Keras' name of the loss every run trains with. */
export const TASK_LOSS = 'sparse_categorical_crossentropy';

export interface TaskData {
  /** Shown in messages ("Fashion-MNIST has 10 classes"). */
  name: string;
  /** One sample's shape, without the batch dimension. */
  sampleShape: readonly number[];
  classCount: number;
}

export interface Task {
  loss: typeof TASK_LOSS;
  /** null while no dataset is chosen: only the checks that need none are made. */
  data: TaskData | null;
}

/** An edit that fixes a problem; indices are into spec.config.layers before the edit. */
export type TaskFix =
  | { kind: 'set-input-shape'; shape: number[] }
  | { kind: 'insert-flatten'; before: number }
  | { kind: 'remove-layer'; layer: number }
  | { kind: 'set-units'; layer: number; units: number }
  | { kind: 'set-activation'; layer: number; activation: 'softmax' }
  /** Appends Dense(units, softmax), after a Flatten when `flatten`. */
  | { kind: 'add-output'; units: number; flatten: boolean };

export type TaskProblemKind = 'input-shape' | 'flat-flatten' | 'output-rank' | 'output-units' | 'no-classifier' | 'output-activation';

export interface TaskProblem {
  kind: TaskProblemKind;
  /** Index in spec.config.layers. */
  layerIndex: number;
  layerName: string;
  /** The config field concerned, when there is one. */
  field?: string;
  message: string;
  /** false: training runs as it is (shown as a warning, Start stays enabled). */
  blocking: boolean;
  fix?: TaskFix;
}

const product = (xs: readonly number[]) => xs.reduce((a, b) => a * b, 1);
const dims = (shape: readonly (number | null)[]) => shape.map((d) => (d === null ? 'None' : String(d))).join('×');
const classesOf = (data: TaskData) => `${data.classCount} ${data.classCount === 1 ? 'class' : 'classes'}`;

/** Layers that keep their input's shape: they neither set the output's size nor change its rank. */
const SHAPE_KEEPING = new Set(['BatchNormalization', 'Dropout', 'AlphaDropout', 'Activation']);
/** Layers that need (or make) height × width × channels. */
const SPATIAL = new Set(['Conv2D', 'MaxPooling2D', 'Reshape']);

/** Every problem training the model on the task would meet, in layer order (input first). */
export function checkTask(spec: ModelSpec, task: Task, summary: ModelSummary = summarize(spec)): TaskProblem[] {
  const layers = Array.isArray(spec?.config?.layers) ? spec.config.layers : [];
  if (layers.length === 0) return [];
  const problems: TaskProblem[] = [];
  const at = (index: number) => ({ layerIndex: index, layerName: summary.layers[index]?.name ?? `layer_${index}` });

  const input = inputProblem(layers[0]!, task.data);
  if (input) problems.push({ ...at(0), ...input });

  summary.layers.forEach((l, i) => {
    if (l.class_name !== 'Flatten' || l.input_shape?.length !== 2) return;
    problems.push({
      ...at(i),
      kind: 'flat-flatten',
      message: `Flatten gets ${formatShape(l.input_shape)}, which is already flat: TF.js' Flatten needs at least 2 dimensions after the batch and refuses it. Remove this layer.`,
      blocking: true,
      ...(layers.length > 1 ? { fix: { kind: 'remove-layer', layer: i } as const } : {}),
    });
  });

  // The output needs every layer's shape.
  const shapes = summary.layers.map((l) => l.output_shape);
  if (shapes.length !== layers.length || shapes.some((s) => s === null)) return sortByLayer(problems);
  const output = shapes.at(-1)!;
  const want = task.data ? `(None, ${task.data.classCount})` : '(None, classes)';
  if (output.length > 2) {
    problems.push(rankProblem(summary, output, want, task.data, at));
    return sortByLayer(problems);
  }
  // A dataset without classes is refused by its import; nothing to compare the output with.
  const units = task.data && task.data.classCount > 0 ? unitsProblem(summary, output, task.data, want, at) : null;
  if (units) problems.push(units);
  const activation = units?.kind === 'no-classifier' ? null : activationProblem(layers, summary, at);
  if (activation) problems.push(activation);
  return sortByLayer(problems);
}

/** Whether the model trains on the task: Keras can build it and no problem blocks training. */
export function trainableOnTask(summary: ModelSummary, problems: readonly TaskProblem[]): boolean {
  return summary.valid && !problems.some((p) => p.blocking);
}

/**
 * One line for an error thrown before Start: every blocking problem with its layer, or null.
 * ("dense (layer 1): dense gets (None, 28, 28) … ; dense_2 (layer 6): …")
 */
export function describeBlocking(problems: readonly TaskProblem[]): string | null {
  const blocking = problems.filter((p) => p.blocking);
  if (!blocking.length) return null;
  return blocking.map((p) => `${p.layerName} (layer ${p.layerIndex}): ${p.message}`).join('; ');
}

function sortByLayer(problems: TaskProblem[]): TaskProblem[] {
  return problems
    .map((p, i) => [p, i] as const)
    .sort((a, b) => a[0].layerIndex - b[0].layerIndex || a[1] - b[1])
    .map(([p]) => p);
}

type Placed = Pick<TaskProblem, 'layerIndex' | 'layerName'>;
type Unplaced = Omit<TaskProblem, 'layerIndex' | 'layerName'>;

/**
 * The dataset's samples against the model's input. A sample with as many values in another shape
 * (28×28 images into a (784,) input) is reshaped by the training worker, as Keras users do by hand:
 * shown, but it trains.
 */
function inputProblem(first: LayerSpec, data: TaskData | null): Unplaced | null {
  const declared = first.config?.batch_input_shape;
  if (!data || !Array.isArray(declared) || declared.length < 2) return null;
  const modelInput = declared.slice(1) as (number | null)[];
  const sample = data.sampleShape;
  if (modelInput.length === sample.length && modelInput.every((d, i) => d === null || d === sample[i])) return null;
  const known = modelInput.every((d): d is number => typeof d === 'number');
  return {
    kind: 'input-shape',
    field: 'batch_input_shape',
    message: `input shape ${dims(modelInput)} does not match ${data.name}'s samples (${dims(sample)})`,
    blocking: !known || product(modelInput as number[]) !== product(sample),
    fix: { kind: 'set-input-shape', shape: [...sample] },
  };
}

/**
 * The output has more than (batch, classes): a Dense on a (None, 28, 28) input acts on the last
 * axis only and keeps the rank. The problem is put at the first such Dense, with a Flatten to insert
 * before it — or at the top when nothing before it needs the spatial layout (the seed model without
 * its Flatten: Flatten goes back where it was, above BatchNormalization).
 */
function rankProblem(summary: ModelSummary, output: Shape, want: string, data: TaskData | null, at: (i: number) => Placed): TaskProblem {
  const layers = summary.layers;
  const lastFlat = layers.findLastIndex((l) => l.output_shape?.length === 2);
  const dense = layers.findIndex((l, i) => i > lastFlat && l.class_name === 'Dense' && (l.input_shape?.length ?? 0) > 2);
  const outputText = `the model's output is ${formatShape(output)}, but sparse categorical cross-entropy needs ${want}`;
  if (dense < 0) {
    return {
      ...at(layers.length - 1),
      kind: 'output-rank',
      message: `${outputText}: add a Flatten and a Dense output layer${data ? ` with ${data.classCount} units` : ''}`,
      blocking: true,
      ...(data ? { fix: { kind: 'add-output', units: data.classCount, flatten: true } as const } : {}),
    };
  }
  const l = layers[dense]!;
  // After convolutions the Flatten goes right before the Dense, so a BatchNormalization between them keeps normalising channels.
  const spatialBefore = layers.slice(lastFlat + 1, dense).some((x) => SPATIAL.has(x.class_name));
  const before = spatialBefore ? dense : lastFlat + 1;
  const where = before === dense ? 'before it' : before === 0 ? 'at the top' : `before ${layers[before]!.name}`;
  return {
    ...at(dense),
    kind: 'output-rank',
    message: `Dense gets ${formatShape(l.input_shape)} and acts on its last axis only, giving ${formatShape(l.output_shape)}, so ${outputText}. Insert a Flatten ${where}.`,
    blocking: true,
    fix: { kind: 'insert-flatten', before },
  };
}

/**
 * The last layer that sets the output's size: walking back over layers that keep their input's
 * shape. A Dense there gets its units fixed; anything else (a Flatten, a Conv2D's features) is not a
 * classifier yet and gets a Dense output appended.
 */
function sizingLayer(layers: LayerSummary[]): number {
  let i = layers.length - 1;
  while (i > 0 && SHAPE_KEEPING.has(layers[i]!.class_name)) i--;
  return i;
}

function unitsProblem(summary: ModelSummary, output: Shape, data: TaskData, want: string, at: (i: number) => Placed): TaskProblem | null {
  const n = output[1];
  if (n === data.classCount) return null;
  const i = sizingLayer(summary.layers);
  const l = summary.layers[i]!;
  if (l.class_name !== 'Dense') {
    return {
      ...at(summary.layers.length - 1),
      kind: 'no-classifier',
      message: `the model ends in ${formatShape(output)} from ${l.class_name}, not in a Dense layer with one unit per class: ${data.name} has ${classesOf(data)}, so the output must be ${want}`,
      blocking: true,
      fix: { kind: 'add-output', units: data.classCount, flatten: false },
    };
  }
  return {
    ...at(i),
    kind: 'output-units',
    field: 'units',
    message: `${String(n)} units, but ${data.name} has ${classesOf(data)}: the output must be ${want}`,
    // Too few leave labels without an output; spare ones would run in Keras but claim classes the data does not have.
    blocking: true,
    fix: { kind: 'set-units', layer: i, units: data.classCount },
  };
}

/** The loss reads the outputs as class probabilities: anything but a softmax is worth a warning. */
function activationProblem(layers: LayerSpec[], summary: ModelSummary, at: (i: number) => Placed): TaskProblem | null {
  let i = layers.length - 1;
  while (i > 0 && (layers[i]!.class_name === 'Dropout' || layers[i]!.class_name === 'AlphaDropout')) i--;
  const layer = layers[i]!;
  const activation = layer.class_name === 'Dense' || layer.class_name === 'Activation' ? String(layer.config.activation ?? 'linear') : null;
  if (activation === 'softmax') return null;
  return {
    ...at(i),
    kind: 'output-activation',
    ...(activation === null ? {} : { field: 'activation' }),
    message: `the output ${activation === null ? `comes from ${summary.layers[i]!.class_name}` : `activation is '${activation}'`}, not softmax: sparse categorical cross-entropy reads the outputs as class probabilities`,
    blocking: false,
    ...(activation === null ? {} : { fix: { kind: 'set-activation', layer: i, activation: 'softmax' } as const }),
  };
}
