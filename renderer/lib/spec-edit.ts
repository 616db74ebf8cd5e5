/**
 * The builder's edits as pure functions from spec to spec (the builder records each result in its
 * undo history). Specs passed in are plain snapshots and are never mutated.
 *
 * The model's input shape lives in the first layer's `batch_input_shape`, as Keras serialises it.
 * It belongs to the model rather than to a layer, so every structural edit keeps it on whichever
 * layer ends up first (dragging a layer to the top, deleting the first layer, ...).
 */
import { LAYER_DEFS, layerDefaults, nextLayerName, type LayerSpec, type ModelSpec, type SupportedLayer } from '../../model';

/** Fashion-MNIST's 28×28 images: the input a first layer gets on an empty canvas. */
export const DEFAULT_INPUT_SHAPE: (number | null)[] = [null, 28, 28];

type Layers = LayerSpec[];

const clone = <T>(v: T): T => structuredClone(v);

function withLayers(spec: ModelSpec, layers: Layers): ModelSpec {
  return { ...spec, config: { ...spec.config, layers } };
}

function inputShapeOf(layers: Layers): unknown {
  return layers.length === 0 ? DEFAULT_INPUT_SHAPE : layers[0]!.config.batch_input_shape;
}

/** Puts `shape` on the first layer and removes it from the others. */
function placeInputShape(layers: Layers, shape: unknown): Layers {
  return layers.map((layer, i) => {
    const { batch_input_shape: _drop, ...rest } = layer.config;
    if (i === 0 && shape !== undefined) {
      // Keras writes batch_input_shape right after name and trainable.
      const { name, trainable, ...others } = rest;
      const config = trainable === undefined ? { name, batch_input_shape: clone(shape), ...others } : { name, trainable, batch_input_shape: clone(shape), ...others };
      return { ...layer, config };
    }
    return 'batch_input_shape' in layer.config ? { ...layer, config: rest } : layer;
  });
}

function restructure(spec: ModelSpec, edit: (layers: Layers) => Layers): ModelSpec {
  const before = spec.config.layers;
  return withLayers(spec, placeInputShape(edit([...before]), inputShapeOf(before)));
}

export function emptySpec(name = 'sequential'): ModelSpec {
  return { class_name: 'Sequential', config: { name, layers: [] } };
}

/** A new layer with Keras' defaults and the name Keras would give it next in this model. */
export function createLayer(spec: ModelSpec, class_name: SupportedLayer): LayerSpec {
  const defaults = layerDefaults(class_name) ?? {};
  const { trainable, ...rest } = defaults;
  return {
    class_name,
    config: { name: nextLayerName(spec, class_name), trainable, ...clone(LAYER_DEFS[class_name].starter ?? {}), ...rest },
  };
}

const clampIndex = (i: number, n: number) => Math.max(0, Math.min(n, Math.trunc(i)));

/** Inserts a new layer at `index` (0 = first). Returns the spec and where the layer went. */
export function insertLayer(spec: ModelSpec, index: number, class_name: SupportedLayer): { spec: ModelSpec; index: number } {
  const at = clampIndex(index, spec.config.layers.length);
  const layer = createLayer(spec, class_name);
  return { spec: restructure(spec, (l) => (l.splice(at, 0, layer), l)), index: at };
}

/** Moves the layer at `from` so that it ends up at index `to`. */
export function moveLayer(spec: ModelSpec, from: number, to: number): { spec: ModelSpec; index: number } {
  const n = spec.config.layers.length;
  if (from < 0 || from >= n) return { spec, index: from };
  const target = clampIndex(to, n - 1);
  if (target === from) return { spec, index: from };
  return {
    spec: restructure(spec, (l) => {
      const [layer] = l.splice(from, 1);
      l.splice(target, 0, layer!);
      return l;
    }),
    index: target,
  };
}

/**
 * Drag-and-drop moves name a gap: gap g is before layer g (gap n is after the last layer).
 * Dropping a layer into the gap just above or below itself changes nothing.
 */
export function moveLayerToGap(spec: ModelSpec, from: number, gap: number): { spec: ModelSpec; index: number } {
  return moveLayer(spec, from, gap > from ? gap - 1 : gap);
}

export function removeLayer(spec: ModelSpec, index: number): ModelSpec {
  if (index < 0 || index >= spec.config.layers.length) return spec;
  return restructure(spec, (l) => (l.splice(index, 1), l));
}

/** A copy of the layer, right after it, under the next free Keras name. */
export function duplicateLayer(spec: ModelSpec, index: number): { spec: ModelSpec; index: number } {
  const source = spec.config.layers[index];
  if (!source) return { spec, index };
  const copy = clone(source);
  copy.config.name = nextLayerName(spec, source.class_name);
  return { spec: restructure(spec, (l) => (l.splice(index + 1, 0, copy), l)), index: index + 1 };
}

/** Sets one config field of one layer (undefined removes it, so Keras' default applies). */
export function setLayerField(spec: ModelSpec, index: number, field: string, value: unknown): ModelSpec {
  const layer = spec.config.layers[index];
  if (!layer) return spec;
  const config = { ...layer.config } as Record<string, unknown>;
  if (value === undefined) delete config[field];
  else config[field] = clone(value);
  const layers = [...spec.config.layers];
  layers[index] = { ...layer, config: config as LayerSpec['config'] };
  return withLayers(spec, layers);
}

export function setModelName(spec: ModelSpec, name: string): ModelSpec {
  return { ...spec, config: { ...spec.config, name } };
}
