"""The workflow config's JSON schema: the one home of every setting's default and single-field check.

The schema (`nuwire/config.schema.yaml`, package data) is what Snakemake validates a config against
(the Snakefile's `validate`, which fills in the defaults). Code outside the workflow (notebooks,
benchmarks, tests, the `nuwire` command) gets the same defaults from here, so a settings object
built without a workflow config behaves as the workflow does:

    TrainConfig.from_settings("lenet", {"epochs": 3})   # the rest: section_defaults(...)
    RenderParams.from_config({"threshold": 5})

Settings classes carry no defaults of their own; cross-field checks live in Python, once each.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import jsonschema
import yaml

from nuwire.errors import ConfigError

SCHEMA_PATH = Path(__file__).resolve().parent / "config.schema.yaml"
# The least config the schema accepts: a section's defaults are what validation fills into it.
_MINIMAL_CONFIG: dict[str, Any] = {"input": {"source": "synthetic"}}


@functools.cache
def schema() -> dict[str, Any]:
    """The parsed schema (read once per process; callers get copies of what they change)."""
    return yaml.safe_load(SCHEMA_PATH.read_text())


def _with_defaults(validator_class: Any) -> Any:
    """`validator_class` that fills in each missing property's schema `default` as it validates,
    as `snakemake.utils.validate(..., set_default=True)` does (the jsonschema FAQ recipe)."""
    validate_properties = validator_class.VALIDATORS["properties"]

    # jsonschema calls a keyword's validator with these four, positionally.
    def set_defaults(validator: Any, properties: dict, instance: Any, schema: dict) -> Any:  # noqa: PLR0917
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


@functools.cache
def _validator(set_default: bool) -> Any:
    cls = _with_defaults(jsonschema.Draft202012Validator) if set_default else jsonschema.Draft202012Validator
    return cls(schema())


def validate_with_schema(config: dict[str, Any], *, set_default: bool = True) -> None:
    """The schema validation Snakemake does, for use outside Snakemake (CLI, tests); with
    `set_default`, fills `config` in place with the schema's defaults, as the workflow does.
    Raises ConfigError naming the first bad field as a dotted path."""
    errors = sorted(_validator(set_default).iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        field = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        raise ConfigError(f"config field {field}: {err.message}")


@functools.cache
def _defaults() -> dict[str, Any]:
    config = copy.deepcopy(_MINIMAL_CONFIG)
    validate_with_schema(config)
    return config


def section_defaults(*path: str) -> dict[str, Any]:
    """The schema's defaults of the config section at `path` (e.g. `("train",)`, `("render",)`,
    `("architectures", "vit")`): what the workflow gets when the config leaves it out."""
    node: Any = _defaults()
    for key in path:
        node = node[key]
    return copy.deepcopy(node)


def field_default(*path: str) -> Any:
    """The schema's default of one field (e.g. `("synthetic", "geometry")`), also in a section that
    has none as a whole (`synthetic` needs its samples)."""
    node = schema()
    for key in path:
        node = node["properties"][key]
    return copy.deepcopy(node["default"])


def filled_section(section: Mapping[str, Any], *path: str) -> dict[str, Any]:
    """`section` (a possibly partial config section at `path`) with the schema's defaults for what
    it leaves out, checked against the schema; errors name the dotted field."""
    config = _config_with(section, path)
    validate_with_schema(config)
    for key in path:
        config = config[key]
    return config


def check_section(section: Mapping[str, Any], *path: str) -> None:
    """The schema's single-field checks of `section` (the config section at `path`), defaults not
    filled in; errors name the dotted field (e.g. `architectures.lenet.lr`)."""
    validate_with_schema(_config_with(section, path), set_default=False)


def _config_with(section: Mapping[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    """The least valid config holding (a copy of) `section` at `path`."""
    config: dict[str, Any] = copy.deepcopy(_MINIMAL_CONFIG)
    node = config
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = copy.deepcopy(dict(section))
    return config


T = TypeVar("T")


def settings_from_section(cls: type[T], section: Mapping[str, Any], *path: str, **fixed: Any) -> T:
    """The settings dataclass `cls` from the config section at `path`: what `section` leaves out
    takes the schema's default; a key `cls` has no field for is refused, naming the section and the
    valid keys. `fixed` fields are set by the caller (they are not config settings)."""
    known = {f.name for f in dataclasses.fields(cls)} - set(fixed)  # type: ignore[arg-type]
    unknown = sorted(set(section) - known)
    if unknown:
        raise ConfigError(f"{'.'.join(path)}: unknown setting(s) {unknown}; valid: {sorted(known)}.")
    return cls(**fixed, **{**section_defaults(*path), **section})
