/**
 * A runnable Python script that rebuilds the spec in Keras' Python API (keras.Sequential with the
 * same layers, settings, initializers, kernel regularizers and constraints), compiles it as the app
 * trains (its optimizer and schedule, sparse categorical cross-entropy), loads weights from a Keras
 * .h5 when given one, and can train on Fashion-MNIST with the run's input normalization.
 * Written for Keras 3 and for TensorFlow's Keras 2 (only APIs both have).
 */
import { layerKit, withDefaults, type InitializerSpec, type ModelSpec } from '../../../model';
import { defaultTrainingSettings, type TrainingSettings } from '../../../contract/training';
import { toKerasCallbacks, toKerasOptimizer } from '../../../model/keras-training';
import { PyFloat, pyFloatText, serializeConstraint, serializeInitializer, serializeRegularizer } from '../../../model/keras-serialization';
import type { ConstraintSpec, RegularizerSpec } from '../../../model/regularizers';
import type { NormalizationState } from '../training/worker/pipeline';
import { ExportError } from './errors';
import { modelLayers } from './weights';

/** A Python literal for a JSON value; lists become tuples (shapes, sizes). */
export function pyLiteral(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (v instanceof PyFloat) return Number.isFinite(v.value) ? pyFloatText(v.value) : pyLiteral(v.value);
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

const kwargs = (entries: [string, unknown][]) =>
  entries.map(([k, v]) => `${k}=${typeof v === 'object' && v !== null && 'py' in v ? (v as { py: string }).py : pyLiteral(v)}`).join(', ');
const raw = (py: string) => ({ py });

/** The constructor call of a serialized Keras object (`initializers.HeNormal(seed=None)`). */
function pyConstructor(namespace: string, object: { class_name: string; config: Record<string, unknown> } | null): { py: string } {
  return raw(object ? `${namespace}.${object.class_name}(${kwargs(Object.entries(object.config))})` : 'None');
}

const pyInitializer = (init: InitializerSpec) => pyConstructor('initializers', serializeInitializer(init));
const pyRegularizer = (r: RegularizerSpec | null) => pyConstructor('regularizers', serializeRegularizer(r));
const pyConstraint = (c: ConstraintSpec | null) => pyConstructor('constraints', serializeConstraint(c));

const pyActivation = (a: unknown) => (a === 'silu' ? 'swish' : a);

/** Spec values in a kit's Keras call that are written as Python objects rather than literals. */
function pyArg(field: string, value: unknown, initializerFields: readonly string[]): unknown {
  if (initializerFields.includes(field)) return pyInitializer(value as InitializerSpec);
  if (field === 'kernel_regularizer') return pyRegularizer((value ?? null) as RegularizerSpec | null);
  if (field === 'kernel_constraint') return pyConstraint((value ?? null) as ConstraintSpec | null);
  if (field === 'activation') return pyActivation(value);
  return value;
}

/** The layer's constructor call, from its kit's Keras call; trainable (when off) and name last. */
function pyLayer(cls: string, cfg: Record<string, unknown>): string {
  const kit = layerKit(cls);
  if (!kit) throw new ExportError('unsupported', `layer '${String(cfg.name)}': ${cls} has no Keras Python export`);
  const call = kit.pythonCall(cfg);
  const args: [string, unknown][] = call.args.map(([k, v]) => [k, pyArg(k, v, kit.initializerFields)]);
  if (cfg.trainable === false) args.push(['trainable', false]);
  args.push(['name', cfg.name]);
  const positional = (call.positional ?? []).map((v) => `${pyLiteral(v)}, `).join('');
  return `layers.${call.class_name}(${positional}${kwargs(args)})`;
}

export interface PythonScriptOptions {
  /** Training settings recorded in the script (defaults: the app's defaults). */
  settings?: Partial<TrainingSettings>;
  /** A Keras .h5 the script loads by default: relative to the script's own folder, or absolute. */
  weightsPath?: string;
  /** The script's file name, for its usage text. */
  fileName?: string;
  /** The run's recorded input normalization (its standardization statistics); else the settings' kind. */
  normalization?: NormalizationState;
}

/** The script's NORMALIZATION and STANDARDIZATION constants: the run's statistics, or None to compute them as Layerbench does. */
function pyNormalization(s: TrainingSettings, recorded: NormalizationState | undefined): { kind: string; stats: string } {
  const kind = recorded?.kind ?? s.normalization;
  if (recorded?.kind === 'standardize') return { kind, stats: pyLiteral({ mean: recorded.mean.map((m) => new PyFloat(m)), std: recorded.std.map((d) => new PyFloat(d)) }) };
  return { kind, stats: 'None' };
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
  const normalization = pyNormalization(s, options.normalization);
  const docName = spec.config.name.replace(/\\/g, '\\\\').replace(/"""/g, '\\"\\"\\"');
  return `#!/usr/bin/env python3
"""Keras rebuild of the Layerbench model "${docName}".

Exported by Layerbench: the same layers, settings, initializers, regularizers and constraints, compiled
as Layerbench trains (${s.optimizer.class_name}, sparse categorical cross-entropy). Runs with Keras 3 or TensorFlow's Keras 2.

    python3 ${file} [WEIGHTS.h5]          build, load the weights (if any) and print the summary
    python3 ${file} [WEIGHTS.h5] --train  also train on Fashion-MNIST with the settings below
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# A Keras .h5 (model.save / Layerbench's h5 export) to load, relative to this script's folder (or
# absolute); a path given as the first argument overrides it (relative to the current folder).
WEIGHTS_PATH = ${pyLiteral(options.weightsPath ?? null)}

INPUT_SHAPE = ${pyLiteral(inputShape.slice(1))}

TRAINING = ${pyLiteral(training)}

# How inputs are scaled, as Layerbench trained: "scale-255" (divided by 255), "standardize" (per
# feature, by the training split's mean and std) or "none" (as stored).
NORMALIZATION = ${pyLiteral(normalization.kind)}

# The trained run's per-feature mean and std; None: computed from the training split, as Layerbench does.
STANDARDIZATION = ${normalization.stats}


def build_model():
    import keras
    from keras import constraints, initializers, layers, regularizers

    model = keras.Sequential(name=${pyLiteral(spec.config.name)})
    model.add(keras.Input(${input}))
${adds.join('\n')}
    return model


def compile_model(model):
    import keras

    model.compile(
        optimizer=keras.optimizers.deserialize(TRAINING["optimizer"]),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def standardization(x_fit):
    """Per-feature mean and std (population std; a constant feature gets std 1), as Layerbench computes them."""
    import numpy as np

    if STANDARDIZATION is not None:
        return np.asarray(STANDARDIZATION["mean"], "float32"), np.asarray(STANDARDIZATION["std"], "float32")
    flat = x_fit.astype("float64").reshape((len(x_fit), -1))
    mean = flat.mean(axis=0)
    variance = np.maximum(0.0, (flat**2).mean(axis=0) - mean**2)
    std = np.where(variance > 1e-12, np.sqrt(variance), 1.0)
    return mean.astype("float32"), std.astype("float32")


def normalize(x, stats):
    x = x.astype("float32").reshape((len(x), -1))
    if NORMALIZATION == "scale-255":
        x = x / 255.0
    elif NORMALIZATION == "standardize":
        x = (x - stats[0]) / stats[1]
    return x.reshape((-1,) + INPUT_SHAPE)


def train(model):
    import math

    import keras
    import numpy as np

    (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    if TRAINING["train_subset"]:
        order = np.random.default_rng(TRAINING["seed"]).permutation(len(x_train))[: TRAINING["train_subset"]]
        x_train, y_train = x_train[order], y_train[order]
    # Keras' validation_split holds out the last samples: the statistics come from the rest.
    fit_count = int(math.ceil(len(x_train) * (1 - TRAINING["validation_split"])))
    stats = standardization(x_train[:fit_count]) if NORMALIZATION == "standardize" else None
    x_train, x_test = normalize(x_train, stats), normalize(x_test, stats)
    model.fit(
        x_train,
        y_train,
        epochs=TRAINING["epochs"],
        batch_size=TRAINING["batch_size"],
        validation_split=TRAINING["validation_split"],
        callbacks=[getattr(keras.callbacks, c["class_name"])(**c["config"]) for c in TRAINING["callbacks"]],
    )
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    print(f"test loss {loss:.4f}, test accuracy {acc:.4f}")


def weights_file(args):
    """The .h5 to load: the first argument, else WEIGHTS_PATH from this script's folder; None for none."""
    if args:
        return os.path.abspath(args[0])
    if WEIGHTS_PATH:
        return os.path.normpath(os.path.join(HERE, WEIGHTS_PATH))
    return None


def main(argv):
    args = [a for a in argv if a != "--train"]
    weights = weights_file(args)
    # Checked before Keras loads (seconds), so a wrong path is reported at once.
    if weights is not None and not os.path.isfile(weights):
        print(f"{os.path.basename(__file__)}: no weights file at {weights}", file=sys.stderr)
        return 1
    import keras

    keras.utils.set_random_seed(TRAINING["seed"])
    model = compile_model(build_model())
    if weights is not None:
        model.load_weights(weights)
    model.summary()
    if "--train" in argv:
        train(model)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
`;
}
