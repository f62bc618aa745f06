"""Config validation (schema + cross-field checks) and sweep expansion, outside Snakemake."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from nuwire.errors import ConfigError
from nuwire.events.sweep import ARCH_VIEWS, SweepPoint, expand_sweep
from nuwire.pipeline.config import check_config, load_config, validate_with_schema
from workflow_runs import tiny_config

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def config() -> dict:
    return tiny_config()


@pytest.mark.parametrize("name", ["config.yaml", "test.yaml"])
def test_shipped_configs_are_valid(name):
    load_config(ROOT / "config" / name)


def test_thesis_config_is_valid_apart_from_its_placeholder_directory():
    config = yaml.safe_load((ROOT / "config" / "thesis.yaml").read_text())
    validate_with_schema(config)
    with pytest.raises(ConfigError, match="input.opensamples_dir"):
        check_config(config)


def _broken(config, path, value):
    broken = copy.deepcopy(config)
    node = broken
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return broken


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("sweep", 0, "plane"), [3], "sweep.0.plane.0"),
        (("sweep", 0, "scale"), [0], "sweep.0.scale.0"),
        (("sweep", 0, "scale"), [1.5], "sweep.0.scale.0"),
        (("render", "threshold"), -1, "render.threshold"),
        (("input", "source"), "root", "input.source"),
    ],
)
def test_schema_errors_name_the_field(config, path, value, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        validate_with_schema(_broken(config, path, value))


@pytest.mark.parametrize(
    ("path", "value", "text"),
    [
        (("sweep", 0, "cut"), ["top10"], "sweep[0].cut: unknown cut 'top10'"),
        (("sweep", 0, "arch"), ["lenett"], "sweep[0].arch: unknown architecture 'lenett'"),
        (("render", "saturation"), 5, "render.saturation"),
        (("split", "train"), 0.7, "split: train + val + test = 1.1"),
        (("input", "source"), "opensamples", "input.opensamples_dir is required"),
    ],
)
def test_cross_field_errors_name_the_field(config, path, value, text):
    broken = _broken(config, path, value)
    validate_with_schema(broken)
    with pytest.raises(ConfigError) as err:
        check_config(broken)
    assert text in str(err.value)


def test_missing_input_directory_is_named(config, tmp_path):
    broken = _broken(config, ("input",), {"source": "opensamples", "opensamples_dir": str(tmp_path / "nope")})
    with pytest.raises(ConfigError, match="is not a directory"):
        check_config(broken)


def test_sweep_expands_cartesian_product_without_repeats():
    sweep = [
        {"arch": ["lenet", "alexnet"], "plane": [2], "scale": [0.33, 0.5], "cut": ["full", "top50"]},
        {"arch": ["lenet"], "plane": [2], "scale": [0.50], "cut": ["full"]},
        {"arch": ["mvresnet"], "plane": ["all"], "scale": [0.5], "cut": ["full"], "crop": 128},
    ]
    points = expand_sweep(sweep)
    assert len(points) == 9
    assert SweepPoint("lenet", "2", "0.5", "full", "whole") in points
    mv = SweepPoint("mvresnet", "all", "0.5", "full", "crop128")
    assert mv in points and mv.planes == (0, 1, 2) and mv.crop == 128
    assert mv.path == "mvresnet/planeall/scale0.5/full/crop128"


def test_multiview_needs_all_planes_and_single_view_one():
    with pytest.raises(ConfigError, match="mvresnet"):
        expand_sweep([{"arch": ["mvresnet"], "plane": [2], "scale": [0.5], "cut": ["full"]}])
    with pytest.raises(ConfigError, match="lenet"):
        expand_sweep([{"arch": ["lenet"], "plane": ["all"], "scale": [0.5], "cut": ["full"]}])


def test_a_config_holds_only_what_it_changes(tmp_path):
    """The rest is the schema's defaults, the same ones Snakemake's validate fills in."""
    path = tmp_path / "real.yaml"
    path.write_text(f"input:\n  source: opensamples\n  opensamples_dir: {tmp_path}\n")
    config = load_config(path)
    assert config["render"] == {"downsample": {"wire": 2, "time": 2}, "threshold": 10, "saturation": 100}
    assert config["split"] == {"train": 0.70, "val": 0.15, "test": 0.15}
    assert set(config["cuts"]) == {"full", "top50"} and "synthetic" not in config
    assert config["architectures"]["alexnet"]["hparams"] == {}
    assert config["architectures"]["vit"]["lr_decay_gamma"] == 0.9
    assert config["architectures"]["lenet"]["lr_decay_gamma"] == 1.0
    assert len(expand_sweep(config["sweep"])) == 13


@pytest.mark.parametrize("name", ["top.*", "a/b", "x|y", ""])
def test_cut_names_that_are_not_plain_names_are_refused(config, name):
    broken = _broken(config, ("cuts",), {name: {"signal_lep_energy_quantile": 0.5}})
    with pytest.raises(ConfigError, match="cuts"):
        validate_with_schema(broken)


def _schema_options(node: dict, prefix: str = "") -> list[str]:
    out = []
    for name, sub in node.get("properties", {}).items():
        if "properties" in sub and name != "architectures":  # (its per-model fields are one table)
            out += _schema_options(sub, f"{prefix}{name}.")
        else:
            out.append(prefix + name)
    return out


def test_config_readme_describes_every_option():
    schema = yaml.safe_load((ROOT / "src" / "nuwire" / "config.schema.yaml").read_text())
    readme = (ROOT / "config" / "README.md").read_text()
    options = _schema_options(schema)
    options += list(schema["$defs"]["arch_settings"]["properties"])
    options += [f"sweep[].{k}" for k in schema["properties"]["sweep"]["items"]["properties"]]
    missing = [o for o in options if f"`{o}`" not in readme and not o.startswith("split.")]
    assert not missing, f"config/README.md does not describe {missing}"


def test_schema_defaults_cover_exactly_the_architectures_nuwire_builds():
    """The schema holds each architecture's default settings; the names themselves are ARCH_VIEWS."""
    from nuwire.models import ARCHITECTURES
    from nuwire.pipeline.config import SCHEMA_PATH

    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    assert set(schema["properties"]["architectures"]["properties"]) == set(ARCH_VIEWS) == set(ARCHITECTURES)


def test_schema_evaluate_defaults_are_the_ones_evaluate_uses():
    """`evaluate` settings have their defaults in the schema and in EvaluateSettings (for callers
    outside the workflow); they must agree, and every config key must be a setting."""
    from dataclasses import fields

    from nuwire.evaluation.evaluate import EvaluateSettings
    from nuwire.pipeline.config import SCHEMA_PATH

    section = yaml.safe_load(SCHEMA_PATH.read_text())["properties"]["evaluate"]["properties"]
    defaults = {f.name: f.default for f in fields(EvaluateSettings)}
    assert {k: v["default"] for k, v in section.items()} == {k: defaults[k] for k in section}
    assert EvaluateSettings.from_config({k: v["default"] for k, v in section.items()}) == EvaluateSettings()
    with pytest.raises(ConfigError, match="evaluate: unknown setting"):
        EvaluateSettings.from_config({"occlusion_patches": 3})
