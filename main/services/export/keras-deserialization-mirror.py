#!/usr/bin/env python3
"""Keras 3's deserialization decisions, mirrored for tests (there is no Keras on the test machine).

Reads JSON cases on stdin, answers one result per case on stdout: does Keras 3 turn what Layerbench
writes back into the objects it means? Each function mirrors the Keras 3 source named in its
docstring (keras-team/keras, keras/src/...); the logic is copied decision for decision, with the
class registry reduced to the built-ins Layerbench writes and their constructor signatures.

A case is {"label", "kind", "text"} (text: what Layerbench wrote, JSON or the script) with kind:
  optimizer        keras.optimizers.deserialize(value)             (the script's compile_model)
  training_config  legacy .h5 compile: saving_utils.compile_args_from_training_config(value)
  initializer | regularizer | constraint   keras.<kind>s.get(value)  (a layer's __init__ in an .h5 model_config)
  model_config     every initializer / regularizer / constraint field of every layer, through .get()
  script           the exported script's source: TRAINING literal (ast.literal_eval), its optimizer through
                   deserialize, its callbacks and every initializers./regularizers./constraints. call
                   constructed with its literal arguments
"""
import ast
import json
import math
import sys

REQUIRED = object()


class Instance:
    def __init__(self, api_name, kwargs):
        self.api_name = api_name
        self.kwargs = kwargs

    def __repr__(self):
        return f"{self.api_name}({', '.join(f'{k}={v!r}' for k, v in self.kwargs.items())})"


class KerasClass:
    """A built-in class: its exported name, constructor signature and the checks its __init__ makes."""

    def __init__(self, api_name, params, kind, check=None, var_kwargs=False):
        self.api_name = api_name
        self.__name__ = api_name.split(".")[-1]
        self.params = params
        self.kind = kind
        self.check = check
        self.var_kwargs = var_kwargs

    def __call__(self, **kwargs):
        """Python's call of cls(**config): unknown keywords and missing arguments are TypeErrors."""
        bound = {}
        extra = {}
        for key, value in kwargs.items():
            if key in self.params:
                bound[key] = value
            elif self.var_kwargs:
                extra[key] = value
            else:
                raise TypeError(f"{self.__name__}.__init__() got an unexpected keyword argument '{key}'")
        for key, default in self.params.items():
            if key not in bound:
                if default is REQUIRED:
                    raise TypeError(f"{self.__name__}.__init__() missing 1 required positional argument: '{key}'")
                bound[key] = default
        if self.kind == "optimizer":
            base_optimizer_init(bound, extra)
        if self.check:
            self.check(bound)
        return Instance(self.api_name, bound)

    def from_config(self, config, custom_objects=None):
        if self.kind == "optimizer":
            return base_optimizer_from_config(self, config, custom_objects)
        # LearningRateSchedule.from_config, Initializer.from_config, Regularizer.from_config,
        # Constraint.from_config: `return cls(**config)`.
        return self(**config)


# ---------------------------------------------------------------- optimizers

BASE_OPTIMIZER_ARGS = {
    # keras/src/optimizers/base_optimizer.py BaseOptimizer.__init__ keyword arguments
    "weight_decay": None,
    "clipnorm": None,
    "clipvalue": None,
    "global_clipnorm": None,
    "use_ema": False,
    "ema_momentum": 0.99,
    "ema_overwrite_frequency": None,
    "loss_scale_factor": None,
    "gradient_accumulation_steps": None,
    "name": None,
}


def base_optimizer_init(bound, kwargs):
    """keras/src/optimizers/base_optimizer.py BaseOptimizer.__init__ (subclasses pass **kwargs on)."""
    for key in list(kwargs):
        if key in BASE_OPTIMIZER_ARGS:
            bound[key] = kwargs.pop(key)
    if kwargs.pop("decay", None) is not None:
        pass  # warnings.warn("Argument `decay` is no longer supported and will be ignored.")
    if kwargs:
        raise ValueError(f"Argument(s) not recognized: {kwargs}")
    clip_args_sum = sum(bound.get(a) is not None for a in ["clipnorm", "clipvalue", "global_clipnorm"])
    if clip_args_sum > 1:
        raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set.")
    learning_rate = bound["learning_rate"]
    is_schedule = isinstance(learning_rate, Instance) and learning_rate.api_name.startswith("keras.optimizers.schedules.")
    if not is_schedule and not callable(learning_rate) and not isinstance(learning_rate, float):
        raise ValueError(
            "Argument `learning_rate` should be float, or an instance of LearningRateSchedule, or a callable "
            f"(that takes in the current iteration value and returns the corresponding learning rate value). "
            f"Received instead: learning_rate={learning_rate}"
        )


def base_optimizer_from_config(cls, config, custom_objects=None):
    """keras/src/optimizers/base_optimizer.py BaseOptimizer.from_config."""
    if "learning_rate" in config:
        if isinstance(config["learning_rate"], dict):
            config["learning_rate"] = deserialize_keras_object(config["learning_rate"], custom_objects=custom_objects)
    return cls(**config)


def sgd_check(b):
    # keras/src/optimizers/sgd.py SGD.__init__
    momentum = b["momentum"]
    if not isinstance(momentum, float) or momentum < 0 or momentum > 1:
        raise ValueError("`momentum` must be a float between [0, 1].")


def optimizer(name, own, check=None):
    """keras/src/optimizers/{sgd,adagrad,rmsprop,adam,adamax}.py __init__: their own arguments, the base ones, **kwargs."""
    params = {**BASE_OPTIMIZER_ARGS, **own}
    return KerasClass(f"keras.optimizers.{name}", params, "optimizer", check, var_kwargs=True)


SGD = optimizer("SGD", {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False, "name": "SGD"}, sgd_check)
ADAGRAD = optimizer("Adagrad", {"learning_rate": 0.001, "initial_accumulator_value": 0.1, "epsilon": 1e-7, "name": "adagrad"})
RMSPROP = optimizer("RMSprop", {"learning_rate": 0.001, "rho": 0.9, "momentum": 0.0, "epsilon": 1e-7, "centered": False, "name": "rmsprop"})
ADAM = optimizer("Adam", {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": False, "name": "adam"})
ADAMAX = optimizer("Adamax", {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "name": "adamax"})
OPTIMIZERS = [SGD, ADAGRAD, RMSPROP, ADAM, ADAMAX]

# ---------------------------------------------------------------- learning-rate schedules


def exponential_decay_check(b):
    # keras/src/optimizers/schedules/learning_rate_schedule.py ExponentialDecay.__init__
    if b["decay_steps"] <= 0:
        raise ValueError(f"Argument `decay_steps` must be > 0. Received: decay_steps={b['decay_steps']}")


def piecewise_check(b):
    # keras/src/optimizers/schedules/learning_rate_schedule.py PiecewiseConstantDecay.__init__
    if len(b["boundaries"]) != len(b["values"]) - 1:
        raise ValueError("The length of boundaries should be 1 less than the length of values.")


SCHEDULES = [
    KerasClass(
        "keras.optimizers.schedules.ExponentialDecay",
        {"initial_learning_rate": REQUIRED, "decay_steps": REQUIRED, "decay_rate": REQUIRED, "staircase": False, "name": "ExponentialDecay"},
        "schedule",
        exponential_decay_check,
    ),
    KerasClass(
        "keras.optimizers.schedules.PiecewiseConstantDecay",
        {"boundaries": REQUIRED, "values": REQUIRED, "name": "PiecewiseConstant"},
        "schedule",
        piecewise_check,
    ),
]

# ---------------------------------------------------------------- initializers, regularizers, constraints


def seed_check(b):
    # keras/src/initializers/random_initializers.py RandomInitializer.__init__: an int, a SeedGenerator or None
    if b.get("seed") is not None and not isinstance(b["seed"], int):
        raise ValueError(f"`seed` argument should be an instance of `keras.random.SeedGenerator()` or an integer. Received: seed={b['seed']}")


def variance_scaling_check(b):
    # keras/src/initializers/random_initializers.py VarianceScaling.__init__
    seed_check(b)
    if b["scale"] <= 0.0:
        raise ValueError(f"Argument `scale` must be positive float. Received: scale={b['scale']}")
    if b["mode"] not in {"fan_in", "fan_out", "fan_avg"}:
        raise ValueError(f"Invalid `mode` argument: {b['mode']}")
    distribution = b["distribution"].lower()
    if distribution == "normal":
        distribution = "truncated_normal"
    if distribution not in {"uniform", "truncated_normal", "untruncated_normal"}:
        raise ValueError(f"Invalid `distribution` argument: {distribution}.")


def initializer(name, params, check=seed_check):
    return KerasClass(f"keras.initializers.{name}", params, "initializer", check)


INITIALIZERS = [
    *(initializer(n, {"seed": None}) for n in ["GlorotUniform", "GlorotNormal", "HeNormal", "HeUniform", "LecunNormal", "LecunUniform"]),
    initializer("VarianceScaling", {"scale": 1.0, "mode": "fan_in", "distribution": "truncated_normal", "seed": None}, variance_scaling_check),
    initializer("Zeros", {}, None),
    initializer("Ones", {}, None),
    initializer("Constant", {"value": 0.0}, None),
    initializer("RandomNormal", {"mean": 0.0, "stddev": 0.05, "seed": None}),
    initializer("RandomUniform", {"minval": -0.05, "maxval": 0.05, "seed": None}),
    initializer("TruncatedNormal", {"mean": 0.0, "stddev": 0.05, "seed": None}),
]


def penalty_check(b):
    # keras/src/regularizers/regularizers.py validate_float_arg
    for name, value in b.items():
        if not isinstance(value, (float, int)) or math.isinf(value) or math.isnan(value) or value < 0:
            raise ValueError(f"Invalid value for argument {name}: expected a non-negative float.Received: {name}={value}")


REGULARIZERS = [
    KerasClass("keras.regularizers.L1L2", {"l1": 0.0, "l2": 0.0}, "regularizer", penalty_check),
    KerasClass("keras.regularizers.L1", {"l1": 0.01}, "regularizer", penalty_check),
    KerasClass("keras.regularizers.L2", {"l2": 0.01}, "regularizer", penalty_check),
]
CONSTRAINTS = [KerasClass("keras.constraints.MaxNorm", {"max_value": 2, "axis": 0}, "constraint")]

def model_checkpoint_check(b):
    # keras/src/callbacks/model_checkpoint.py ModelCheckpoint.__init__
    if b["save_weights_only"] and not b["filepath"].endswith(".weights.h5"):
        raise ValueError("When using `save_weights_only=True` in `ModelCheckpoint`, the filepath provided must end in `.weights.h5`")


# keras/src/callbacks/early_stopping.py, reduce_lr_on_plateau.py, model_checkpoint.py __init__ signatures
CALLBACKS = [
    KerasClass(
        "keras.callbacks.EarlyStopping",
        {"monitor": "val_loss", "min_delta": 0, "patience": 0, "verbose": 0, "mode": "auto", "baseline": None, "restore_best_weights": False, "start_from_epoch": 0},
        "callback",
    ),
    KerasClass(
        "keras.callbacks.ReduceLROnPlateau",
        {"monitor": "val_loss", "factor": 0.1, "patience": 10, "verbose": 0, "mode": "auto", "min_delta": 1e-4, "cooldown": 0, "min_lr": 0.0},
        "callback",
        var_kwargs=True,
    ),
    KerasClass(
        "keras.callbacks.ModelCheckpoint",
        {"filepath": REQUIRED, "monitor": "val_loss", "verbose": 0, "save_best_only": False, "save_weights_only": False, "mode": "auto", "save_freq": "epoch", "initial_value_threshold": None},
        "callback",
        lambda b: model_checkpoint_check(b),
    ),
]

# api_export's symbol table: the exported name of each class (get_symbol_from_name / get_name_from_symbol).
API = {c.api_name: c for c in OPTIMIZERS + SCHEDULES + INITIALIZERS + REGULARIZERS + CONSTRAINTS + CALLBACKS}


def to_snake_case(name):
    """keras/src/utils/naming.py to_snake_case."""
    import re

    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
    return name


# Each module's ALL_OBJECTS_DICT (the module_objects its deserialize passes).
OPTIMIZER_OBJECTS = {c.__name__.lower(): c for c in OPTIMIZERS}  # keras/src/optimizers/__init__.py
SCHEDULE_OBJECTS = {c.__name__: c for c in SCHEDULES}  # learning_rate_schedule.py: module_objects=globals()
INITIALIZER_OBJECTS = {c.__name__: c for c in INITIALIZERS}  # keras/src/initializers/__init__.py
INITIALIZER_OBJECTS.update({to_snake_case(c.__name__): c for c in INITIALIZERS})
INITIALIZER_OBJECTS.update({"uniform": API["keras.initializers.RandomUniform"], "normal": API["keras.initializers.RandomNormal"], "one": API["keras.initializers.Ones"], "zero": API["keras.initializers.Zeros"]})
REGULARIZER_OBJECTS = {c.__name__: c for c in REGULARIZERS}  # keras/src/regularizers/__init__.py
REGULARIZER_OBJECTS.update({to_snake_case(c.__name__): c for c in REGULARIZERS})
CONSTRAINT_OBJECTS = {c.__name__: c for c in CONSTRAINTS}  # keras/src/constraints/__init__.py
CONSTRAINT_OBJECTS.update({to_snake_case(c.__name__): c for c in CONSTRAINTS})

# ---------------------------------------------------------------- keras/src/saving/serialization_lib.py

PLAIN_TYPES = (str, int, float, bool)


def serialize_with_public_class(cls, inner_config=None):
    """serialization_lib.serialize_with_public_class: built-ins get their exported module and no registered name."""
    parts = cls.api_name.split(".")
    return {"module": ".".join(parts[:-1]), "class_name": parts[-1], "config": inner_config, "registered_name": None}


def _retrieve_class_or_fn(name, registered_name, module, obj_type, full_config, custom_objects=None):
    """serialization_lib._retrieve_class_or_fn, for classes. No custom objects are registered here
    (get_registered_object(registered_name) is None), and the only importable modules are Keras' public ones."""
    if module:
        if module == "keras" or module.startswith("keras."):
            api_name = module + "." + name
            obj = API.get(api_name)  # api_export.get_symbol_from_name(api_name)
            if obj is not None:
                return obj
        raise TypeError(f"Could not deserialize {obj_type} '{name}' because its parent module {module} cannot be imported. Full object config: {full_config}")
    raise TypeError(
        f"Could not locate {obj_type} '{name}'. Make sure custom classes are decorated with "
        f"`@keras.saving.register_keras_serializable()`. Full object config: {full_config}"
    )


def deserialize_keras_object(config, custom_objects=None, safe_mode=True, **kwargs):
    """serialization_lib.deserialize_keras_object, the class path (no lambdas, tensors or shared objects)."""
    module_objects = kwargs.pop("module_objects", None)
    custom_objects = custom_objects or {}
    if config is None:
        return None
    if isinstance(config, (list, tuple)):
        return [deserialize_keras_object(x, custom_objects=custom_objects, safe_mode=safe_mode) for x in config]
    if module_objects is not None:
        inner_config, fn_module_name, has_custom_object = None, None, False
        if isinstance(config, dict):
            if "config" in config:
                inner_config = config["config"]
            if "class_name" not in config:
                raise ValueError(f"Unknown `config` as a `dict`, config={config}")
            if custom_objects and (config["class_name"] in custom_objects or config.get("registered_name") in custom_objects):
                has_custom_object = True
            elif config["class_name"] == "function":
                raise TypeError("functions are not mirrored")
            else:
                if config.get("module", "_") is None:
                    raise TypeError(
                        f"Cannot deserialize object of type `{config['class_name']}`. If `{config['class_name']}` is a custom class, "
                        "please register it using the `@keras.saving.register_keras_serializable()` decorator."
                    )
                config = config["class_name"]
        if not has_custom_object:
            if config not in module_objects:
                # "Object has already been deserialized": the bare name comes back.
                return config
            return deserialize_keras_object(serialize_with_public_class(module_objects[config], inner_config=inner_config), custom_objects=custom_objects)
    if isinstance(config, PLAIN_TYPES):
        return config
    if not isinstance(config, dict):
        raise TypeError(f"Could not parse config: {config}")
    if "class_name" not in config or "config" not in config:
        return {key: deserialize_keras_object(value, custom_objects=custom_objects, safe_mode=safe_mode) for key, value in config.items()}
    class_name = config["class_name"]
    inner_config = config["config"] or {}
    module = config.get("module", None)
    registered_name = config.get("registered_name", class_name)
    cls = _retrieve_class_or_fn(class_name, registered_name, module, obj_type="class", full_config=config, custom_objects=custom_objects)
    if not hasattr(cls, "from_config"):
        raise TypeError(f"Unable to reconstruct an instance of '{class_name}' because the class is missing a `from_config()` method.")
    return cls.from_config(dict(inner_config))


# ---------------------------------------------------------------- the modules' deserialize / get


def optimizers_deserialize(config, custom_objects=None):
    """keras/src/optimizers/__init__.py deserialize: case-insensitive for built-ins."""
    if config["class_name"].lower() in OPTIMIZER_OBJECTS:
        config["class_name"] = config["class_name"].lower()
    return deserialize_keras_object(config, module_objects=OPTIMIZER_OBJECTS, custom_objects=custom_objects)


def optimizers_get(identifier):
    """keras/src/optimizers/__init__.py get."""
    obj = optimizers_deserialize(identifier) if isinstance(identifier, dict) else identifier
    if isinstance(obj, Instance) and obj.api_name.startswith("keras.optimizers.") and not obj.api_name.startswith("keras.optimizers.schedules."):
        return obj
    raise ValueError(f"Could not interpret optimizer identifier: {identifier}")


def module_get(kind, module_objects):
    """keras/src/{initializers,regularizers,constraints}/__init__.py get (dict identifiers; None is None)."""

    def get(identifier):
        if identifier is None:
            return None
        obj = deserialize_keras_object(identifier, module_objects=module_objects) if isinstance(identifier, dict) else module_objects.get(identifier)
        if isinstance(obj, Instance):
            return obj
        if isinstance(obj, KerasClass):
            return obj()
        raise ValueError(f"Could not interpret {kind} identifier: {identifier}")

    return get


GETTERS = {
    "initializer": module_get("initializer", INITIALIZER_OBJECTS),
    "regularizer": module_get("regularizer", REGULARIZER_OBJECTS),
    "constraint": module_get("constraint", CONSTRAINT_OBJECTS),
}


def compile_args_from_training_config(training_config):
    """keras/src/legacy/saving/saving_utils.py compile_args_from_training_config (the optimizer part), as
    load_model(compile=True) runs it on an .h5's training_config."""
    optimizer_config = training_config["optimizer_config"]
    obj = optimizers_deserialize(optimizer_config)
    # _resolve_compile_arguments_compat: a bare name that is no built-in is looked up by config name.
    if isinstance(obj, str) and obj not in OPTIMIZER_OBJECTS:
        obj = optimizers_get(optimizer_config["config"]["name"])
    loss = training_config.get("loss")
    if loss != "sparse_categorical_crossentropy":
        raise ValueError(f"unexpected loss {loss!r}")
    return obj


# Layer fields that Keras' layer __init__ passes through initializers.get / regularizers.get / constraints.get.
LAYER_FIELDS = {
    "initializer": ["kernel_initializer", "bias_initializer", "beta_initializer", "gamma_initializer", "moving_mean_initializer", "moving_variance_initializer"],
    "regularizer": ["kernel_regularizer", "bias_regularizer", "activity_regularizer", "beta_regularizer", "gamma_regularizer"],
    "constraint": ["kernel_constraint", "bias_constraint", "beta_constraint", "gamma_constraint"],
}


def model_config_objects(model_config):
    made = []
    for layer in model_config["config"]["layers"]:
        for kind, fields in LAYER_FIELDS.items():
            for field in fields:
                if field in layer["config"]:
                    made.append(f"{layer['config']['name']}.{field}={GETTERS[kind](layer['config'][field])!r}")
    return made


def script_objects(source):
    tree = ast.parse(source)
    made = []
    training = None
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "TRAINING" for t in node.targets):
            training = ast.literal_eval(node.value)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
            namespace = node.func.value.id
            if namespace in ("initializers", "regularizers", "constraints"):
                cls = API.get(f"keras.{namespace}.{node.func.attr}")
                if cls is None:
                    raise AttributeError(f"module 'keras.{namespace}' has no attribute '{node.func.attr}'")
                made.append(repr(cls(**{k.arg: ast.literal_eval(k.value) for k in node.keywords})))
    if training is None:
        raise ValueError("no TRAINING literal in the script")
    made.append(repr(optimizers_get(training["optimizer"])))
    for callback in training["callbacks"]:
        made.append(repr(API[f"keras.callbacks.{callback['class_name']}"](**callback["config"])))
    return made


def run_case(case):
    """`text` is what Layerbench wrote: JSON (parsed as Keras parses it: json.loads, so 0 is an int and 0.0 a float) or the script."""
    kind, text = case["kind"], case["text"]
    if kind == "script":
        return script_objects(text)
    value = json.loads(text)
    if kind == "optimizer":
        return [repr(optimizers_get(value))]
    if kind == "training_config":
        return [repr(compile_args_from_training_config(value))]
    if kind in GETTERS:
        return [repr(GETTERS[kind](value))]
    if kind == "model_config":
        return model_config_objects(value)
    raise ValueError(f"unknown case kind {kind}")


def main():
    results = []
    for case in json.load(sys.stdin):
        try:
            results.append({"label": case["label"], "ok": True, "objects": run_case(case)})
        except Exception as e:  # noqa: BLE001 - every Keras error is an answer here
            results.append({"label": case["label"], "ok": False, "error": f"{type(e).__name__}: {e}"})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
