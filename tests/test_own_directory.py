"""The workflow run from a directory of the user's (no clone, no config/ there), directly and as a
`module`: a config holds only what it changes, the rest comes from the workflow's schema defaults,
never from the demo's config/config.yaml. Real `snakemake` runs on files of nuwire's simulator."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from nuwire.events.sweep import expand_sweep
from nuwire.geometry import COMPACT
from nuwire.models import build_model, count_parameters, default_hparams
from nuwire.simulate import file_name, simulate_file
from workflow_runs import ROOT, SNAKEMAKE, planned_jobs, tiny_config

THREE_LINES = "input:\n  source: opensamples\n  opensamples_dir: data\n"
# The thesis's grid (the schema's default sweep) on two files, every stage.
FULL_PLAN = {"effective_config": 1, "inspect": 1, "render": 2, "dataset": 1, "train": 13, "evaluate": 13,
             "summary": 1, "all": 1}  # fmt: skip
IMAGES_AND_INDEX = ["results/dataset/events.parquet", "results/config.yaml"]
SCHEMA = yaml.safe_load((ROOT / "src" / "nuwire" / "config.schema.yaml").read_text())
SWEEP_ITEM = SCHEMA["properties"]["sweep"]["items"]["properties"]


def with_sweep_defaults(sweep: list[dict]) -> list[dict]:
    """A sweep as the effective config writes it: each block's unset keys with the schema's default."""
    defaults = {key: spec["default"] for key, spec in SWEEP_ITEM.items() if "default" in spec}
    return [{**defaults, **block} for block in sweep]


def real_schema_files(directory: Path, events: int = 5) -> list[Path]:
    """One bnb and one nue file of nuwire's simulator (compact geometry), as a user's real files."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for sample in ("bnb", "nue"):
        path = directory / file_name(sample, 0)
        simulate_file(path, sample, events, geometry=COMPACT, seed=3, file_index=0)
        paths.append(path)
    return paths


def run(workdir: Path, *args: str, snakefile: Path | None = ROOT / "Snakefile", cwd: Path | None = None,
        timeout: float = 600) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """`snakemake [-s SNAKEFILE] --directory WORKDIR --cores 2 ARGS`, run from `cwd` (default: /).
    Targets go before --configfile, which takes several values."""
    command = [SNAKEMAKE, *(["-s", str(snakefile)] if snakefile else []), "--directory", str(workdir), "--cores", "2"]
    return subprocess.run([*command, *args], cwd=cwd or "/", capture_output=True, text=True, timeout=timeout)


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def own_dir(tmp_path_factory) -> Path:
    """A user's analysis directory: their files under data/ and a three-line real.yaml, nothing else."""
    workdir = tmp_path_factory.mktemp("ana")
    real_schema_files(workdir / "data")
    (workdir / "real.yaml").write_text(THREE_LINES)
    return workdir


def test_three_line_config_plans_the_thesis_grid_on_the_users_files(own_dir: Path):
    out = ok(run(own_dir, "-n", "--configfile", str(own_dir / "real.yaml")))
    assert planned_jobs(out) == FULL_PLAN
    assert "simulate" not in planned_jobs(out) and "resources/synthetic" not in out
    assert not (own_dir / "results").exists()  # a dry run writes nothing
    out = ok(run(own_dir, "-n", *IMAGES_AND_INDEX, "--configfile", str(own_dir / "real.yaml")))
    assert planned_jobs(out) == {"render": 2, "dataset": 1, "effective_config": 1}


def test_three_line_config_runs_to_images_and_index_from_its_own_directory(own_dir: Path):
    ok(run(own_dir, *IMAGES_AND_INDEX, "--configfile", str(own_dir / "real.yaml")))
    assert not (own_dir / "config").exists()
    results = own_dir / "results"
    assert sorted(p.name for p in (results / "images").glob("*.parquet")) == [
        "bnb_WithWire_00.parquet", "nue_WithWire_00.parquet"]  # fmt: skip
    events = pd.read_parquet(results / "dataset" / "events.parquet")
    assert len(events) == 10 and set(events["split"]) <= {"train", "val", "test"}
    effective = yaml.safe_load((results / "config.yaml").read_text())
    assert "synthetic" not in effective  # nothing of the demo
    assert effective["input"]["opensamples_dir"] == "data"  # relative: to the user's directory
    assert effective["sweep"] == with_sweep_defaults(SCHEMA["properties"]["sweep"]["default"])
    assert effective["architectures"]["alexnet"]["hparams"] == {}  # the model's own (thesis) width
    # The provenance hash is the hash of exactly this config.
    from nuwire.provenance import config_hash

    assert config_hash(effective) in (results / "config.yaml").read_text().splitlines()[2]


MODULE_SNAKEFILE = f"""\
configfile: "config/config.yaml"


module nuwire:
    snakefile:
        "{ROOT / "Snakefile"}"
    config:
        config


use rule * from nuwire
"""


def test_used_as_a_module_from_the_users_directory(tmp_path: Path):
    """The catalog's layout: the user's Snakefile and config/config.yaml; nuwire as a module."""
    real_schema_files(tmp_path / "data", events=4)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text(THREE_LINES)
    (tmp_path / "workflow").mkdir()
    (tmp_path / "workflow" / "Snakefile").write_text(MODULE_SNAKEFILE)
    out = ok(run(tmp_path, "-n", cwd=tmp_path, snakefile=None))
    assert planned_jobs(out) == FULL_PLAN
    ok(run(tmp_path, *IMAGES_AND_INDEX, cwd=tmp_path, snakefile=None))
    assert len(pd.read_parquet(tmp_path / "results" / "dataset" / "events.parquet")) == 8
    assert not (tmp_path / "results" / "models").exists()


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"input": {"source": "opensamples", "opensamples_dir": "data"}, "sweeep": []}, "'sweeep' was unexpected"),
        (
            {
                "input": {"source": "opensamples", "opensamples_dir": "data"},
                "architectures": {"alexnet": {"hiden": 512}},
            },
            "'hiden' was unexpected",
        ),  # fmt: skip
        (
            {
                "input": {"source": "opensamples", "opensamples_dir": "data"},
                "cuts": {"top.*": {"signal_lep_energy_quantile": 0.5}},
            },
            "top.*",
        ),  # fmt: skip
        ({"results": "elsewhere"}, "'input' is a required property"),
    ],
)
def test_a_config_naming_an_unknown_key_fails_before_any_job(own_dir: Path, tmp_path: Path, config, named):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = run(own_dir, "-n", "--configfile", str(path))
    assert proc.returncode != 0
    assert named in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


def test_two_files_with_one_name_are_refused_naming_both(tmp_path: Path):
    for folder in ("run1", "run2"):
        real_schema_files(tmp_path / "data" / folder, events=1)
    config = tmp_path / "real.yaml"
    config.write_text(THREE_LINES + '  pattern: "**/*.h5"\n')
    proc = run(tmp_path, "-n", "--configfile", str(config))
    assert proc.returncode != 0
    text = proc.stdout + proc.stderr
    assert "input.pattern" in text and "data/run1/bnb_WithWire_00.h5" in text and "data/run2/bnb_WithWire_00.h5" in text


def test_thesis_config_trains_the_thesis_networks_as_the_file_says(own_dir: Path, tmp_path: Path):
    """Every thesis sweep point's effective settings are the file's, or the schema's defaults where
    the file is silent; none come from the demo (its 512-wide AlexNet, its synthetic section)."""
    thesis_file = ROOT / "config" / "thesis.yaml"
    written = yaml.safe_load(thesis_file.read_text())
    ok(run(own_dir, "results/thesis/config.yaml", "--configfile", str(thesis_file),
           "--config", "input={opensamples_dir: data}"))  # fmt: skip
    effective = yaml.safe_load((own_dir / "results" / "thesis" / "config.yaml").read_text())
    assert "synthetic" not in effective
    assert effective["sweep"] == with_sweep_defaults(written["sweep"])
    points = expand_sweep(effective["sweep"])
    # The thesis grid (13), the whole-plane sparse points (3) and the flavour twins of the ResNet and
    # multi-view points (4).
    assert len(points) == 20 and sum(p.target == "flavour" for p in points) == 4
    for point in points:
        got, said = effective["architectures"][point.arch], written["architectures"][point.arch]
        defaults = SCHEMA["properties"]["architectures"]["properties"][point.arch]["properties"]
        assert set(got) == set(defaults)
        for key, value in got.items():
            assert value == (said[key] if key in said else defaults[key]["default"]), (point.path, key)
        hparams = {**default_hparams(point.arch), **got["hparams"]}
        assert hparams == {**default_hparams(point.arch), **said["hparams"]}, point.path
    alexnet = build_model("alexnet", [(64, 64)], **effective["architectures"]["alexnet"]["hparams"])
    assert count_parameters(alexnet) == 56_998_850  # the thesis's 4096-wide AlexNet, not the demo's 7,439,298


def test_a_config_means_the_same_in_a_clone_and_in_another_directory(tmp_path: Path):
    """config/test.yaml's effective config is the same whether a config/config.yaml (the demo) sits
    in the working directory or not: nothing of the demo is merged in."""
    from workflow_runs import copy_workflow

    clone = copy_workflow(tmp_path / "clone")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    config = str(ROOT / "config" / "test.yaml")
    ok(run(clone, "results/config.yaml", "--configfile", config, snakefile=clone / "Snakefile"))
    ok(run(elsewhere, "results/config.yaml", "--configfile", config))
    in_clone = (clone / "results" / "config.yaml").read_text()
    assert in_clone == (elsewhere / "results" / "config.yaml").read_text()
    effective = yaml.safe_load(in_clone)
    written = tiny_config()["architectures"]["lenet"]
    assert {k: effective["architectures"]["lenet"][k] for k in written} == written  # test.yaml's, not the demo's
    assert effective["architectures"]["alexnet"]["hparams"] == {}  # not the demo's {hidden: 512}
