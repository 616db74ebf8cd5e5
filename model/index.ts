/** Layerbench's model package: specs, layer registry, summaries, initializer statistics, Keras/TF.js JSON. */
export { ModelSpecSchema, LayerSpecSchema, InitializerSpecSchema, initializer, sequential } from './spec';
export type { ModelSpec, LayerSpec, InitializerSpec } from './spec';

export {
  ACTIVATIONS,
  LAYER_DEFS,
  LEAKY_RELU_SLOPE,
  LIMITS,
  SUPPORTED_LAYERS,
  TFJS_ACTIVATION_NAMES,
  buildLayer,
  convOutputLength,
  formatShape,
  isSupportedLayer,
  kerasSnakeCase,
  layerKit,
  layerKits,
  knownLayerFields,
  layerDefaults,
  nextLayerName,
  specWithDefaults,
  validateBatchInputShape,
  validateLayer,
  withDefaults,
} from './layers';
export type { ActivationName, Dim, LayerIssue, LayerResult, Shape, SupportedLayer, VariableInfo } from './layers';
export type { FieldDoc, FieldEditor, LayerCategory, LayerKit, OnnxAttr, OnnxEmitter, TrainingPath } from './layers/kit';

export {
  DISTRIBUTIONS,
  FAN_MODES,
  INITIALIZER_NAMES,
  TRUNCATED_NORMAL_STD_FACTOR,
  canonicalInitializer,
  canonicalInitializerName,
  computeFans,
  initializerStats,
  toTfjsInitializer,
  validateInitializer,
  varianceScalingParams,
} from './initializers';
export type { Distribution, ExportOptions, FanMode, Fans, InitializerStats } from './initializers';

export { formatSummaryTable, initializerReport, summarize } from './summary';
export type { LayerSummary, ModelSummary, SummaryError, VariableInitReport } from './summary';

export { TASK_LOSS, checkTask, describeBlocking, trainableOnTask } from './task-check';
export type { Task, TaskData, TaskFix, TaskProblem, TaskProblemKind } from './task-check';

export { KerasImportError, ModelSpecError, TFJS_NOTES, fromKerasTopology, toKerasTopology } from './keras-json';
export type { KerasTopology } from './keras-json';

export { findPreset, plainMlp, presets, seedModel1, seedModel2, seluMlp } from './presets';
export type { Preset } from './presets';
