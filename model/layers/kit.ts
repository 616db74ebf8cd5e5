/**
 * A layer kit: everything Layerbench knows about one Keras layer type, in one module
 * (`model/layers/<kebab-name>.ts`), registered by class name as tfjs-layers' `registerClass` does.
 * The kit holds the layer's Keras defaults, the editor's field docs (from which its zod config schema
 * and the property panel are derived), validation, output shape and variables, the Keras / TF.js
 * JSON pieces, the Keras script call, and what the training paths can or cannot do with it.
 *
 * Pure TypeScript: no TF.js import.
 */
import type { z } from 'zod';

export type Dim = number | null;
/** A shape including the batch dimension, e.g. [null, 28, 28]. */
export type Shape = Dim[];
export type Cfg = Record<string, unknown>;
export type Report = (field: string | undefined, message: string) => void;

export interface LayerIssue {
  field?: string;
  message: string;
}

export interface VariableInfo {
  /** Keras' variable name, e.g. `dense/kernel`, `batch_normalization/moving_mean`. */
  name: string;
  shape: number[];
  trainable: boolean;
  /** The config field holding its initializer, e.g. `kernel_initializer`. */
  initializer_field: string;
}

export interface LayerBuild {
  output_shape: Shape;
  variables: VariableInfo[];
}

/** How the property panel edits a field. */
export type FieldEditor =
  | { kind: 'text' }
  | { kind: 'int' | 'float'; step: number }
  | { kind: 'bool' }
  | { kind: 'select'; options: readonly string[] }
  | { kind: 'pair'; nullable?: string }
  | { kind: 'list'; placeholder: string }
  | { kind: 'input-shape' }
  | { kind: 'initializer' }
  | { kind: 'regularizer' }
  | { kind: 'constraint' };

/** One config field: its editor, the tooltip line, and the JSON type its schema accepts. */
export type FieldDoc = FieldEditor & {
  /** One line for the tooltip: what the setting does. */
  hint: string;
  /** Shown under "Advanced" (collapsed): rarely changed in the book's experiments. */
  advanced?: boolean;
  /** Not in the property panel (a setting with one supported value, such as data_format). */
  hidden?: boolean;
  /** The JSON type the config schema accepts, where the editor kind's own (`fields.ts`) is too narrow. */
  type?: z.ZodType;
};

export type LayerCategory = 'reshape' | 'core' | 'norm' | 'activation' | 'regularize' | 'conv';

/** Where a model is to be trained: the tfjs-layers model (general path) or the fused wasm step. */
export interface TrainingPath {
  fused: boolean;
}

/** A Keras constructor call for the script: `layers.<class_name>(*positional, **args, trainable, name)`. */
export interface PythonCall {
  class_name: string;
  positional?: unknown[];
  /** Keyword arguments in order; initializer, regularizer, constraint and activation values in spec form. */
  args: [string, unknown][];
}

/** The layer summarized, as exporters see it. */
export interface BuiltLayerInfo {
  output_shape: Shape | null;
  variables: VariableInfo[];
}

/** How the stack's card formats values (the renderer's formatters). */
export interface CaptionFormat {
  value: (v: unknown) => string;
  /** An initializer's class name (`HeNormal`). */
  initializer: (v: unknown) => string;
  /** A pair as `3×3`. */
  pair: (v: unknown) => string;
}

/** An ONNX node attribute. */
export type OnnxAttr = { name: string } & ({ i: number } | { f: number } | { ints: number[] } | { s: string });

/**
 * The layout a kit's ONNX emission takes its input in. Keras tensors are channels_last; ONNX's Conv
 * and MaxPool are NCHW, so the exporter keeps a rank-4 tensor NCHW between layers that take either
 * and transposes only where a layer needs the other one.
 */
export type OnnxLayout = 'channels_last' | 'nchw' | 'either';

/**
 * What a kit's ONNX emission gets from the exporter (opset `ONNX_OPSET` in `main/services/export/onnx.ts`):
 * the input tensor in the layout the kit asked for, the layer's shapes and trained weights, and graph building.
 */
export interface OnnxEmitter {
  /** The input tensor's name. */
  input: string;
  /** Whether the input is NCHW (a rank-4 tensor, with `onnxLayout` 'nchw', or 'either' after a Conv2D). */
  nchw: boolean;
  /** Keras' (channels_last) shapes, batch dimension included. */
  input_shape: Shape;
  output_shape: Shape;
  /** A trained variable by its short name (`gamma`), or null when the layer has none. */
  weight(short: string): { shape: number[]; data: Float32Array } | null;
  /** Adds a node; returns its output's (unique) name. */
  node(op: string, inputs: string[], name: string, attrs?: OnnxAttr[]): string;
  /** Adds a float32 constant; returns its (unique) name. */
  floats(name: string, dims: number[], data: Float32Array): string;
  /** Adds an int64 vector constant (a Reshape's shape); returns its (unique) name. */
  int64s(name: string, values: number[]): string;
  /** A setting the export cannot write: throws the exporter's `unsupported` error. */
  unsupported(message: string): never;
}

export interface LayerKitDef<C extends string = string> {
  class_name: C;
  /** The palette: group, one-line description, and the initials on the layer's glyph in the palette and the stack. */
  palette: { category: LayerCategory; blurb: string; glyph: string };
  /** Keras' defaults for the layer's own settings (name and trainable are common to all). */
  defaults: () => Cfg;
  /** Settings without a default. */
  required: string[];
  /** Starting values for required settings: a freshly dropped layer is valid right away. */
  starter?: Cfg;
  /** The few settings worth seeing on the stack's card ("300 · elu · HeNormal"); `cfg` as edited, without defaults. */
  caption?: (cfg: Cfg, f: CaptionFormat) => string[];
  /** Settings the output shape depends on: while one is invalid, no shape is computed. */
  shapeFields: string[];
  /** Fields holding initializers, in Keras' weight order. */
  initializerFields: string[];
  /** Field docs beyond (or overriding) the shared ones in `fields.ts`. */
  fields?: Record<string, FieldDoc>;
  validate: (cfg: Cfg, report: Report) => void;
  /** Output shape and variables; shape-dependent problems are reported and give null. */
  build: (cfg: Cfg, input: Shape, report: Report) => LayerBuild | null;
  /** Other Keras / TF.js class names the import reads as this layer (`MaxPool2D`). */
  importAliases?: string[];
  /** Keras settings this app cannot honour: importing one with a value other than null/false is an error. */
  unsupportedIfSet?: Record<string, string>;
  /** Keras 2 config fields written as null in a .h5's model_config (regularizers, constraints). */
  kerasNulls?: string[];
  /** Another layer the export writes instead (Activation('leaky_relu') → LeakyReLU), with its own settings. */
  exportAs?: (cfg: Cfg) => { class_name: string; config: Cfg } | null;
  /** TF.js spellings of settings (Reshape's resolved target_shape), merged over the Keras config. */
  tfjsConfig?: (cfg: Cfg, info: BuiltLayerInfo) => Cfg;
  /**
   * The layer's inference graph in ONNX: returns the output tensor's name, in the input's layout.
   * Names are prefixed with the layer's name. A layer type without one is not exported to ONNX.
   */
  onnx?: (cfg: Cfg, name: string, e: OnnxEmitter) => string;
  /** The layout `onnx` takes its input in; channels_last when not given. */
  onnxLayout?: OnnxLayout;
  /** The Keras script's constructor call. */
  pythonCall: (cfg: Cfg) => PythonCall;
  /**
   * Whether a training path handles the layer as Keras defines it: null, or the reason it does not
   * (tfjs normalizing another axis than Keras asks, a layer the fused step has no unit for).
   */
  supports?: (path: TrainingPath, cfg: Cfg, input: Shape) => LayerIssue | null;
  /** TF.js kernels the layer's backward pass needs beyond the dense basics every backend has. */
  gradientKernels?: string[];
}

export interface LayerKit<C extends string = string> extends LayerKitDef<C> {
  /**
   * The zod schema of the layer (`{class_name, config}`): each config field's JSON type, its
   * description the editor's hint and Keras' default. Value ranges are `validate`'s.
   */
  schema: z.ZodObject;
  /**
   * The same with each setting also allowed in the form the property panel stores mid-edit (text
   * typed into a number field, an empty field), for `summarize()` to report at the field.
   */
  draftSchema: z.ZodObject;
  /** The field docs of every editable setting, in Keras' get_config order. */
  fieldDocs: [string, FieldDoc][];
  /** The settings the layer knows: name, trainable, batch_input_shape, required ones and defaults. */
  knownFields: string[];
}
