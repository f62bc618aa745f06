"""Config validation (schema + cross-field checks) and sweep expansion, outside Snakemake."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from nuwire.architectures import ARCHITECTURES
from nuwire.errors import ConfigError
from nuwire.events.sweep import SweepPoint, expand_sweep
from nuwire.pipeline.config import check_config, load_config
from nuwire.schema import field_default, section_defaults, validate_with_schema
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
    """The schema holds each architecture's default settings; the names themselves are nuwire.architectures'."""
    from nuwire.models import BUILDERS
    from nuwire.schema import SCHEMA_PATH

    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    assert set(schema["properties"]["architectures"]["properties"]) == set(ARCHITECTURES) == set(BUILDERS)


def test_schema_evaluate_defaults_are_the_ones_evaluate_uses():
    """`from_config` fills in the schema's defaults, and every config key must be a setting."""
    from nuwire.evaluation.evaluate import EvaluateSettings

    settings = EvaluateSettings.from_config({})
    assert {k: getattr(settings, k) for k in section_defaults("evaluate")} == section_defaults("evaluate")
    assert EvaluateSettings.from_config({"batch_size": 3}).batch_size == 3
    with pytest.raises(ConfigError, match="evaluate: unknown setting"):
        EvaluateSettings.from_config({"occlusion_patches": 3})


def _settings_classes() -> dict[type, tuple[str, ...]]:
    """Every settings class built from a config section -> its fields that are no config key."""
    from nuwire.evaluation.evaluate import EvaluateSettings
    from nuwire.events.cuts import CutSpec
    from nuwire.images.render import RenderParams
    from nuwire.learn.train import TrainConfig
    from nuwire.systematics.variations import Variation

    return {
        TrainConfig: ("arch", "amp"),
        RenderParams: (),
        EvaluateSettings: ("occlusion_stride",),
        CutSpec: ("name",),
        Variation: ("name",),
    }


def test_settings_classes_carry_no_defaults_of_their_own():
    """The schema is the one home of a setting's default: a field of a settings class that is a
    config key has none (only the few fields the config does not have may)."""
    from dataclasses import MISSING, fields

    for cls, not_in_config in _settings_classes().items():
        with_default = {f.name for f in fields(cls) if f.default is not MISSING or f.default_factory is not MISSING}
        assert with_default <= set(not_in_config), f"{cls.__name__} has defaults of its own: {with_default}"


def test_settings_built_without_a_config_get_the_workflows_defaults():
    """A notebook's or benchmark's settings are the workflow's: seed 1 and 2 threads, say, not 0 and 1."""
    from nuwire.cli import build_parser
    from nuwire.images.render import RenderParams
    from nuwire.learn.train import TrainConfig
    from nuwire.stats import bootstrap

    for arch in ARCHITECTURES:
        cfg = TrainConfig.from_settings(arch, {})
        expected = {**section_defaults("architectures", arch), **section_defaults("train")}
        assert {k: getattr(cfg, k) for k in expected} == expected, arch
    assert TrainConfig.from_settings("lenet", {}).seed == 1 and TrainConfig.from_settings("lenet", {}).threads == 2
    assert RenderParams.from_config({}).as_config() == section_defaults("render")
    evaluate = section_defaults("evaluate")
    assert (bootstrap.DEFAULT_RESAMPLES, bootstrap.DEFAULT_SEED) == (
        evaluate["bootstrap_resamples"],
        evaluate["bootstrap_seed"],
    )
    render = build_parser().parse_args(["render", "f.h5", "--out", "o"])
    assert RenderParams(dw=render.dw, dt=render.dt, threshold=render.threshold, saturation=render.saturation) == (
        RenderParams.from_config({})
    )
    simulate = build_parser().parse_args(["simulate", "--out", "o", "--sample", "bnb"])
    assert (
        (simulate.geometry, simulate.seed)
        == ("microboone", 0)
        == (
            field_default("synthetic", "geometry"),
            field_default("synthetic", "seed"),
        )
    )


def test_settings_classes_check_fields_with_the_schema():
    from nuwire.events.cuts import CutSpec
    from nuwire.images.render import RenderParams
    from nuwire.learn.train import TrainConfig

    with pytest.raises(ConfigError, match=r"architectures\.vit\.lr"):
        TrainConfig.from_settings("vit", {"lr": 0})
    with pytest.raises(ConfigError, match=r"train\.threads"):
        TrainConfig.from_settings("vit", {"threads": 0})
    with pytest.raises(ConfigError, match=r"render\.downsample\.wire"):
        RenderParams.from_config({"downsample": {"wire": 0}})
    with pytest.raises(ConfigError, match=r"cuts\.top100\.signal_lep_energy_quantile"):
        CutSpec("top100", 1.0)


def _workflow_files(*, captions: bool = False) -> list[Path]:
    files = [ROOT / "Snakefile", *sorted((ROOT / "workflow" / "rules").glob("*.smk"))]
    return files + (sorted((ROOT / "workflow" / "report").glob("*.rst")) if captions else [])


def test_rules_repeat_no_schema_default():
    """Snakemake's validate fills in the schema's defaults before any rule is read: a rule that
    reads a setting with `.get(key, default)` writes that default a second time (and may disagree)."""
    two_argument_get = re.compile(r"\.get\(\s*(?:\"[^\"]*\"|'[^']*'|\w+)\s*,")
    found = [
        f"{path.name}:{n}: {line.strip()}"
        for path in _workflow_files(captions=True)  # the report's captions read the config too
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if two_argument_get.search(line)
    ]
    assert not found, "rules repeating a default (read config[...] instead):\n" + "\n".join(found)
    assert two_argument_get.search('threads=config["train"].get("threads", 2)')  # the check can fail


def test_rules_write_the_point_directory_and_job_paths_once():
    """The sweep point's directory pattern is common.smk's POINT; logs, benchmarks and checkpoints
    come from its log_file/benchmark_file/checkpoint_dir."""
    texts = {path.name: path.read_text() for path in _workflow_files()}
    assert sum(t.count("/plane{plane}/") + t.count("/plane{{plane}}/") for t in texts.values()) == 1
    for kind in ("logs", "benchmarks", "checkpoints"):
        uses = [name for name, t in texts.items() for _ in re.finditer(rf"RESULTS}}/{kind}/", t)]
        assert uses == ["common.smk"], (kind, uses)


def test_schema_names_the_sample_groups():
    """synthetic.samples takes exactly the OpenSamples groups (nuwire.io.keys.SAMPLE_GROUPS)."""
    from nuwire.io.keys import SAMPLE_GROUPS
    from nuwire.schema import schema
    from nuwire.simulate.samples import SAMPLES

    (pattern,) = schema()["properties"]["synthetic"]["properties"]["samples"]["patternProperties"]
    assert pattern == f"^({'|'.join(SAMPLE_GROUPS)})$"
    assert tuple(SAMPLES) == SAMPLE_GROUPS
