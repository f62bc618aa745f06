"""Configuration checks a JSON schema cannot express, and loading a config outside Snakemake.

Snakemake validates `config/*.yaml` against `workflow/schemas/config.schema.yaml`
(`snakemake.utils.validate`), then calls `check_config` before any job is planned. Every error names
the field (as a dotted path) and the valid choices.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from nuwire.atomic import write_text
from nuwire.errors import ConfigError

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"
SPLIT_TOLERANCE = 1e-6


def check_config(config: dict[str, Any]) -> None:
    """Cross-field checks; raises ConfigError naming the field."""
    render = config["render"]
    if render["saturation"] <= render["threshold"]:
        raise ConfigError(
            f"render.saturation ({render['saturation']}) must be greater than render.threshold "
            f"({render['threshold']}): pixels between the two are what the 8-bit scale spans."
        )
    split = config["split"]
    total = split["train"] + split["val"] + split["test"]
    if abs(total - 1.0) > SPLIT_TOLERANCE:
        raise ConfigError(
            f"split: train + val + test = {total:g}, but the fractions must sum to 1 "
            f"(got train={split['train']}, val={split['val']}, test={split['test']})."
        )
    source = config["input"]["source"]
    if source == "opensamples":
        directory = config["input"].get("opensamples_dir")
        if not directory:
            raise ConfigError(
                "input.opensamples_dir is required when input.source is 'opensamples': set it to the "
                "directory holding the WithWire *.h5 files."
            )
        if not Path(directory).is_dir():
            raise ConfigError(
                f"input.opensamples_dir: {directory} is not a directory. Point it at the directory "
                "holding the OpenSamples WithWire *.h5 files."
            )
    elif source == "synthetic" and "synthetic" not in config:
        raise ConfigError("synthetic: section required when input.source is 'synthetic'.")
    cuts = sorted(config["cuts"])
    archs = sorted(config["architectures"])
    for i, block in enumerate(config["sweep"]):
        for cut in block["cut"]:
            if cut not in config["cuts"]:
                raise ConfigError(f"sweep[{i}].cut: unknown cut {cut!r}; defined under cuts: {cuts}.")
        for arch in block["arch"]:
            if arch not in config["architectures"]:
                raise ConfigError(
                    f"sweep[{i}].arch: {arch!r} has no settings under architectures: (defined: {archs}); "
                    "add an architectures entry for it."
                )


def _with_defaults(validator_class: Any) -> Any:
    """`validator_class` that fills in each missing property's schema `default` as it validates,
    as `snakemake.utils.validate(..., set_default=True)` does (the jsonschema FAQ recipe)."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator: Any, properties: dict, instance: Any, schema: dict) -> Any:
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def validate_with_schema(
    config: dict[str, Any], schema_path: str | os.PathLike[str] = SCHEMA_PATH, set_default: bool = True
) -> None:
    """The schema validation Snakemake does, for use outside Snakemake (CLI, tests); with
    `set_default`, fills `config` in place with the schema's defaults, as the workflow does."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    cls = _with_defaults(jsonschema.Draft202012Validator) if set_default else jsonschema.Draft202012Validator
    errors = sorted(cls(schema).iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        field = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        raise ConfigError(f"config field {field}: {err.message}")


def load_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The effective config of the file at `path`: the file, then the workflow's defaults."""
    with open(path) as fh:
        config = yaml.safe_load(fh) or {}
    validate_with_schema(config)
    check_config(config)
    return config


def write_effective_config(config: dict[str, Any], path: str | os.PathLike[str], config_hash: str) -> None:
    """The config a run used, defaults filled in, as YAML; its hash is the provenance's config hash."""
    header = (
        "# The effective configuration of this run: the user's config with the workflow's defaults\n"
        "# filled in (workflow/schemas/config.schema.yaml). Models' hparams not listed keep the\n"
        f"# model's defaults. config_hash (SHA-256 of its canonical JSON): {config_hash}\n"
    )
    write_text(path, header + yaml.safe_dump(config, sort_keys=True, default_flow_style=False))
