/**
 * A runnable Python script that rebuilds the spec in Keras' Python API (keras.Sequential with the
 * same layers, settings and initializers), compiles it as the app trains (SGD, sparse categorical
 * cross-entropy), loads weights from a Keras .h5 when given one, and can train on Fashion-MNIST.
 * Written for Keras 3 and for TensorFlow's Keras 2 (only APIs both have).
 */
import { withDefaults, type InitializerSpec, type ModelSpec } from '../../../model';
import { defaultTrainingSettings, type TrainingSettings } from '../../../contract/training';
import { toKerasCallbacks, toKerasOptimizer } from '../../../model/keras-training';
import { ExportError } from './errors';
import { modelLayers } from './weights';

/** A Python literal for a JSON value; lists become tuples (shapes, sizes). */
export function pyLiteral(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return Number.isNaN(v) ? 'float("nan")' : v > 0 ? 'float("inf")' : '-float("inf")';
    return String(v);
  }
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `(${v.map(pyLiteral).join(', ')}${v.length === 1 ? ',' : ''})`;
  if (typeof v === 'object') {
    return `{${Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${JSON.stringify(k)}: ${pyLiteral(x)}`)
      .join(', ')}}`;
  }
  throw new Error(`no Python literal for ${typeof v}`);
}

const kwargs = (entries: [string, unknown][]) => entries.map(([k, v]) => `${k}=${typeof v === 'object' && v !== null && 'py' in v ? (v as { py: string }).py : pyLiteral(v)}`).join(', ');
const raw = (py: string) => ({ py });

function pyInitializer(init: InitializerSpec): { py: string } {
  const config = { ...init.config };
  // Keras 3 spells VarianceScaling's truncated normal only 'truncated_normal'; Keras 2 accepts both.
  if (init.class_name === 'VarianceScaling' && config.distribution === 'normal') config.distribution = 'truncated_normal';
  return raw(`initializers.${init.class_name}(${kwargs(Object.entries(config))})`);
}

const pyActivation = (a: unknown) => (a === 'silu' ? 'swish' : a);

function pyLayer(cls: string, cfg: Record<string, unknown>): string {
  const name: [string, unknown] = ['name', cfg.name];
  const trainable: [string, unknown][] = cfg.trainable === false ? [['trainable', false]] : [];
  const init = (field: string) => [field, pyInitializer(cfg[field] as InitializerSpec)] as [string, unknown];
  const axis = Array.isArray(cfg.axis) ? cfg.axis[0] : cfg.axis;
  switch (cls) {
    case 'Flatten':
      return `layers.Flatten(${kwargs([['data_format', cfg.data_format], ...trainable, name])})`;
    case 'Reshape':
      return `layers.Reshape(${kwargs([['target_shape', cfg.target_shape], ...trainable, name])})`;
    case 'Dense':
      return `layers.Dense(${kwargs([['units', cfg.units], ['activation', pyActivation(cfg.activation)], ['use_bias', cfg.use_bias], init('kernel_initializer'), init('bias_initializer'), ...trainable, name])})`;
    case 'BatchNormalization':
      return `layers.BatchNormalization(${kwargs([
        ['axis', axis],
        ['momentum', cfg.momentum],
        ['epsilon', cfg.epsilon],
        ['center', cfg.center],
        ['scale', cfg.scale],
        init('beta_initializer'),
        init('gamma_initializer'),
        init('moving_mean_initializer'),
        init('moving_variance_initializer'),
        ...trainable,
        name,
      ])})`;
    case 'Activation':
      // Keras 2 has no leaky_relu activation function; the LeakyReLU layer (slope 0.2) is the same in both.
      if (cfg.activation === 'leaky_relu') return `layers.LeakyReLU(0.2, ${kwargs([...trainable, name])})`;
      return `layers.Activation(${kwargs([['activation', pyActivation(cfg.activation)], ...trainable, name])})`;
    case 'Dropout':
    case 'AlphaDropout':
      return `layers.${cls}(${kwargs([['rate', cfg.rate], ['seed', cfg.seed ?? null], ...trainable, name])})`;
    case 'Conv2D':
      return `layers.Conv2D(${kwargs([
        ['filters', cfg.filters],
        ['kernel_size', cfg.kernel_size],
        ['strides', cfg.strides],
        ['padding', cfg.padding],
        ['data_format', cfg.data_format],
        ['dilation_rate', cfg.dilation_rate],
        ['groups', cfg.groups],
        ['activation', pyActivation(cfg.activation)],
        ['use_bias', cfg.use_bias],
        init('kernel_initializer'),
        init('bias_initializer'),
        ...trainable,
        name,
      ])})`;
    case 'MaxPooling2D':
      return `layers.MaxPooling2D(${kwargs([['pool_size', cfg.pool_size], ['strides', cfg.strides], ['padding', cfg.padding], ['data_format', cfg.data_format], ...trainable, name])})`;
    default:
      throw new ExportError('unsupported', `layer '${String(cfg.name)}': ${cls} has no Keras Python export`);
  }
}

export interface PythonScriptOptions {
  /** Training settings recorded in the script (defaults: the app's defaults). */
  settings?: Partial<TrainingSettings>;
  /** A Keras .h5 the script loads by default (it also takes one as its first argument). */
  weightsPath?: string;
  /** The script's file name, for its usage text. */
  fileName?: string;
}

/** The Keras script for a spec. Throws ModelSpecError for an invalid spec. */
export function kerasScript(spec: ModelSpec, options: PythonScriptOptions = {}): string {
  const layers = modelLayers(spec);
  const s = { ...defaultTrainingSettings, ...options.settings };
  const inputShape = layers[0]!.input_shape;
  const file = options.fileName ?? 'model.py';
  const input = kwargs([['shape', inputShape.slice(1)], ...(inputShape[0] !== null ? ([['batch_size', inputShape[0]]] as [string, unknown][]) : [])]);
  const adds = spec.config.layers.map((l) => {
    const layer = withDefaults(l);
    return `    model.add(${pyLayer(layer.class_name, layer.config as Record<string, unknown>)})`;
  });
  const training = {
    optimizer: toKerasOptimizer(s),
    callbacks: toKerasCallbacks(s),
    epochs: s.epochs,
    batch_size: s.batchSize,
    validation_split: s.validationSplit,
    train_subset: s.trainSubset,
    seed: s.seed,
  };
  const docName = spec.config.name.replace(/\\/g, '\\\\').replace(/"""/g, '\\"\\"\\"');
  return `#!/usr/bin/env python3
"""Keras rebuild of the Layerbench model "${docName}".

Exported by Layerbench: the same layers, settings and initializers, compiled as Layerbench trains
(${s.optimizer.class_name}, sparse categorical cross-entropy). Runs with Keras 3 or TensorFlow's Keras 2.

    python3 ${file} [WEIGHTS.h5]          build, load the weights (if any) and print the summary
    python3 ${file} [WEIGHTS.h5] --train  also train on Fashion-MNIST with the settings below
"""
import sys

import keras
from keras import initializers, layers

# A Keras .h5 (model.save / Layerbench's h5 export) to load; the first argument overrides it.
WEIGHTS_PATH = ${pyLiteral(options.weightsPath ?? null)}

INPUT_SHAPE = ${pyLiteral(inputShape.slice(1))}

TRAINING = ${pyLiteral(training)}


def build_model():
    model = keras.Sequential(name=${pyLiteral(spec.config.name)})
    model.add(keras.Input(${input}))
${adds.join('\n')}
    return model


def compile_model(model):
    model.compile(
        optimizer=keras.optimizers.deserialize(TRAINING["optimizer"]),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def train(model):
    import numpy as np

    (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    x_train = (x_train.astype("float32") / 255.0).reshape((-1,) + INPUT_SHAPE)
    x_test = (x_test.astype("float32") / 255.0).reshape((-1,) + INPUT_SHAPE)
    if TRAINING["train_subset"]:
        order = np.random.default_rng(TRAINING["seed"]).permutation(len(x_train))[: TRAINING["train_subset"]]
        x_train, y_train = x_train[order], y_train[order]
    model.fit(
        x_train,
        y_train,
        epochs=TRAINING["epochs"],
        batch_size=TRAINING["batch_size"],
        validation_split=TRAINING["validation_split"],
        callbacks=[keras.callbacks.__dict__[c["class_name"]](**c["config"]) for c in TRAINING["callbacks"]],
    )
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    print(f"test loss {loss:.4f}, test accuracy {acc:.4f}")


def main(argv):
    keras.utils.set_random_seed(TRAINING["seed"])
    model = compile_model(build_model())
    args = [a for a in argv if a != "--train"]
    weights = args[0] if args else WEIGHTS_PATH
    if weights:
        model.load_weights(weights)
    model.summary()
    if "--train" in argv:
        train(model)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
`;
}
