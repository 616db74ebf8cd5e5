/**
 * TF.js' errors in the words of the model: "Operands could not be broadcast together with shapes
 * 32,28 and 32" says nothing about which layer is wrong. Start is refused for every problem the task
 * check (model/task-check) can see; this translates what still reaches TF.js (a run started without
 * that check, a case it does not know) into the layer and the shapes involved, keeping TF.js' own
 * words at the end. Messages it does not recognise as TF.js shape errors are returned unchanged.
 */
import { formatShape } from '../../../../model/layers';
import type { ModelSpec } from '../../../../model/spec';
import { summarize, type LayerSummary } from '../../../../model/summary';
import { TASK_LOSS, checkTask, type TaskData } from '../../../../model/task-check';

/** The TF.js messages of shape errors (tfjs-core broadcast_util, tfjs-layers input specs, matMul). */
const SHAPE_ERRORS = [
  /could not be broadcast together with shapes/i,
  /is incompatible with layer/i,
  /Error when checking/i,
  /inner shapes/i,
  /Size\(\d+\) must match the product of shape/i,
];

const BROADCAST = /shapes (\d+(?:,\d+)*) and (\d+(?:,\d+)*)/i;

export function isTfShapeError(message: string): boolean {
  return SHAPE_ERRORS.some((re) => re.test(message));
}

const withoutBatch = (shape: readonly (number | null)[]) => shape.slice(1).join(',');
const describeLayer = (l: LayerSummary) => `${l.name} (${l.class_name}) gets ${formatShape(l.input_shape)} and gives ${formatShape(l.output_shape)}`;

/** Layers the message names: TF.js quotes the spec's layer names ("layer flatten: expected min_ndim=3"). */
function namedLayers(message: string, layers: LayerSummary[]): LayerSummary[] {
  const named = layers.filter((l) => new RegExp(`\\b${l.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`).test(message));
  // "dense_1" also contains "dense": keep the longest names only.
  return named.filter((l) => !named.some((o) => o !== l && o.name.length > l.name.length && o.name.includes(l.name)));
}

/** Layers whose input or output, without the batch, is one of the message's shapes (given with the batch). */
function layersWithShapes(message: string, layers: LayerSummary[]): LayerSummary[] {
  const shapes = new Set([...message.matchAll(/(?:shapes?|\[)\s*(\d+(?:,\s*\d+)+)/gi)].map((m) => m[1]!.replace(/\s/g, '').split(',').slice(1).join(',')));
  return layers.filter((l) => [l.input_shape, l.output_shape].some((s) => s && shapes.has(withoutBatch(s))));
}

/** The loss' broadcast: the output without its class axis against one label per sample. */
function lossBroadcast(message: string, output: LayerSummary, data: TaskData | null): string | null {
  const m = BROADCAST.exec(message);
  if (!m || !output.output_shape || output.output_shape.length <= 2) return null;
  const [a, b] = [m[1]!, m[2]!].map((s) => s.replace(/,/g, '×'));
  return `the loss compares the output of ${output.name}, ${formatShape(output.output_shape)}, with one label per sample (TF.js broadcasts ${a} against ${b}), but sparse categorical cross-entropy needs (None, ${data ? data.classCount : 'classes'})`;
}

/**
 * The message naming the layers and shapes, followed by the task check's own diagnosis when it has
 * one and TF.js' words. `data`: the dataset trained on, when known.
 */
export function explainTrainingError(message: string, spec: ModelSpec, data: TaskData | null): string {
  if (!isTfShapeError(message)) return message;
  const summary = summarize(spec);
  const last = summary.layers.at(-1);
  if (!summary.valid || !last) return message;
  const cause = checkTask(spec, { loss: TASK_LOSS, data }, summary).find((p) => p.blocking);
  const parts: string[] = [];
  const loss = lossBroadcast(message, last, data);
  if (loss) parts.push(loss);
  else {
    const named = namedLayers(message, summary.layers);
    // The task check's words already give the shapes of the layer it blames.
    const involved = (named.length ? named : layersWithShapes(message, summary.layers)).filter((l) => l.name !== cause?.layerName);
    for (const l of involved) parts.push(describeLayer(l));
  }
  if (cause) parts.push(`${cause.layerName} (layer ${cause.layerIndex}): ${cause.message}`);
  if (!parts.length) return message;
  return `The model does not fit the data: ${parts.join('; ')} (TF.js: ${message})`;
}
