"""The configuration, checked once at start: schema defaults filled in, every error naming its key."""

from __future__ import annotations

import copy
import functools
from importlib import resources

import jsonschema
import yaml

from slidesnake.core.errors import ConfigError
from slidesnake.core.labels import CLASSIFICATION
from slidesnake.mil.names import REGION_MODELS
from slidesnake.stain.methods import NONE as NO_STAIN
from slidesnake.workflow.paths import PU_SOURCE, REGION_ENCODER
from slidesnake.workflow.tasks import task_type

SCHEMAS = resources.files("slidesnake.workflow") / "schemas"


@functools.lru_cache(maxsize=None)
def load_schema(name: str) -> dict:
    """A schema shipped with the package: "config" or "samples"."""
    return yaml.safe_load((SCHEMAS / f"{name}.schema.yaml").read_text())


def fill_defaults(schema: dict, instance: dict) -> dict:
    """Add every missing key that has a default, recursively into objects (in place; returns it)."""
    for key, sub in schema.get("properties", {}).items():
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
        if isinstance(instance.get(key), dict) and "properties" in sub:
            fill_defaults(sub, instance[key])
        entries = sub.get("additionalProperties")
        if isinstance(instance.get(key), dict) and isinstance(entries, dict) and "properties" in entries:
            for value in instance[key].values():  # a map of named entries (features.encoders)
                if isinstance(value, dict):
                    fill_defaults(entries, value)
    return instance


SCALAR_TYPES = {"number", "integer", "boolean", "null"}


def coerce_strings(schema: dict, instance: dict) -> None:
    """Values that arrive as text (nested `--config 'tiling={min_tissue: 0.5}'` is parsed by YAML's base
    loader) become numbers, booleans or null where the schema expects one of those (in place)."""
    for key, sub in schema.get("properties", {}).items():
        value = instance.get(key)
        if isinstance(value, dict):
            coerce_strings(sub, value)
            continue
        types = sub.get("type", [])
        types = {types} if isinstance(types, str) else set(types)
        if isinstance(value, str) and types & SCALAR_TYPES and "string" not in types:
            parsed = yaml.safe_load(value)
            if not isinstance(parsed, (dict, list, str)):
                instance[key] = parsed


def key_path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(top level)"


def check_config(config: dict) -> dict:
    """Validate `config` against the schema (filling defaults in place) and check the keys that depend on
    each other. Raises ConfigError naming the key."""
    schema = load_schema("config")
    fill_defaults(schema, config)
    coerce_strings(schema, config)
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        raise ConfigError(key_path(errors[0]), errors[0].message)
    encoders = list(config["features"]["encoders"])
    training = config["training"]
    if training["encoder"] is not None and training["encoder"] not in encoders:
        raise ConfigError("training.encoder", f"'{training['encoder']}' is not one of features.encoders {encoders}")
    models = schema["properties"]["training"]["properties"]["models"]["items"]["enum"]
    for model in training["model_lr"]:
        if model not in models:
            raise ConfigError(f"training.model_lr.{model}", f"'{model}' is not a MIL model ({', '.join(models)})")
    tasks = config["tasks"]
    for name, task in tasks.items():
        if task_type(task) == CLASSIFICATION and len(set(task["classes"])) != len(task["classes"]):
            raise ConfigError(f"tasks.{name}.classes", f"classes repeat: {task['classes']}")
    pu = config["pu"]
    if pu["enabled"] and tasks:
        if pu["task"] not in tasks:
            raise ConfigError(
                "pu.task", f"'{pu['task']}' is not one of the tasks {list(tasks)} (or set pu.enabled: false)"
            )
        if task_type(tasks[pu["task"]]) != CLASSIFICATION:
            raise ConfigError("pu.task", f"'{pu['task']}' is a {task_type(tasks[pu['task']])} task; PU needs classes")
        if pu["positive_class"] not in tasks[pu["task"]]["classes"]:
            raise ConfigError(
                "pu.positive_class",
                f"'{pu['positive_class']}' is not a class of task '{pu['task']}' {tasks[pu['task']]['classes']}",
            )
    for name, encoder in config["features"]["encoders"].items():
        if ("weights" in encoder) == (encoder["import_features"] is not None):
            raise ConfigError(
                f"features.encoders.{name}",
                "give either weights (hub, a checkpoint path or random) or import_features (from CLAM or TRIDENT)",
            )
        if encoder["import_features"] is not None and encoder["stain"] != NO_STAIN:
            raise ConfigError(f"features.encoders.{name}.stain", "imported features cannot be stain-normalised here")
    if REGION_ENCODER in encoders:
        raise ConfigError(
            "features.encoders", f"'{REGION_ENCODER}' names the region features; call the encoder otherwise"
        )
    region_models = [m for m in all_models(config) if m in REGION_MODELS]
    if region_models and not config["regions"]["enabled"]:
        raise ConfigError("training.models", f"{region_models} train on region features: set regions.enabled: true")
    if config["regions"]["enabled"]:
        for key in ("vit256_weights", "vit4k_weights"):
            if config["region_features"][key] is None:
                raise ConfigError(
                    f"region_features.{key}",
                    "regions are enabled but the weights are not set: random, "
                    "or the path of HIPT's published checkpoint",
                )
    classifier = config["classifier"]
    if classifier["enabled"]:
        for key, meaning in (
            ("patches", "a patch-set folder, a .zip/.tar path or URL, or demo"),
            ("weights", "hub, a local checkpoint path, or random"),
        ):
            if classifier[key] is None:
                raise ConfigError(f"classifier.{key}", f"the classifier is enabled but has no {key}: set {meaning}")
    if config["review"]["task"] is not None or config["review"]["model"] is not None:
        review_choice(config)
    for source in config["figures"]["heatmap_sources"]:
        if source != PU_SOURCE and source not in all_models(config):
            raise ConfigError(
                "figures.heatmap_sources",
                f"'{source}' is neither a model of training.models {training['models']} (or of a task's models) "
                f"nor '{PU_SOURCE}'",
            )
    return config


def task_models(config: dict, task: str) -> list[str]:
    """The MIL models a task trains: its own `models`, else training.models."""
    return config["tasks"][task].get("models") or config["training"]["models"]


def all_models(config: dict) -> list[str]:
    """Every MIL model some task trains, in config order."""
    names = list(config["training"]["models"])
    for task in config["tasks"]:
        names += [m for m in task_models(config, task) if m not in names]
    return names


def default_config(**sections) -> dict:
    """The schema's defaults, with whole sections or keys replaced: default_config(tiling={"tile_px": 256})."""
    config = {key: copy.deepcopy(value) for key, value in sections.items()}
    return check_config(config)


def train_encoder(config: dict) -> str | None:
    """The encoder whose features the models train on: training.encoder, else the first configured one."""
    return config["training"]["encoder"] or next(iter(config["features"]["encoders"]), None)


def encoder_defaults() -> dict:
    """The defaults of one entry of features.encoders (its stain normalisation)."""
    return fill_defaults(
        load_schema("config")["properties"]["features"]["properties"]["encoders"]["additionalProperties"], {}
    )


def default_params(cls, section: str, **changes):
    """Parameter object `cls` with the schema's defaults of `section` (tests, benchmarks), some values changed;
    feature parameters also take an encoder entry's defaults."""
    from slidesnake.workflow.params import section_params

    entry = encoder_defaults() if section == "features" else {}
    return cls(**section_params(cls, {**entry, **default_config()[section], **changes}))


def review_choice(config: dict) -> tuple[str, str]:
    """The classification task and MIL model the review project shows (review.task, default pu.task; review.model,
    default the task's first model); a ConfigError names the key that does not fit."""
    review, tasks = config["review"], config["tasks"]
    task = review["task"] or config["pu"]["task"]
    key = "review.task" if review["task"] else "pu.task"
    if task not in tasks or task_type(tasks[task]) != CLASSIFICATION:
        raise ConfigError(key, f"the review needs a classification task; '{task}' is not one of {list(tasks)}")
    models = task_models(config, task)
    model = review["model"] or models[0]
    if model not in models:
        raise ConfigError("review.model", f"'{model}' is not a model of task '{task}' {models}")
    return task, model
