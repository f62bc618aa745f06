"""Checked before any job (issue 21): the results directory, every input file's HDF5 signature,
`~` and `$VARS` in paths, relative paths said with their directory, and HDF5-like files the pattern
leaves out. Real files, real `snakemake` dry runs of a copy of the workflow."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import yaml

from nuwire.errors import ConfigError
from nuwire.geometry import COMPACT
from nuwire.io.inputs import check_hdf5_signatures, hdf5_problem, look_alikes
from nuwire.pipeline.paths import check_results_dir, expand_config_paths, expand_path
from nuwire.simulate import file_name, simulate_file
from workflow_runs import ROOT, copy_workflow, snakemake, tiny_config

# ---------------------------------------------------------------- results: (fast)


@pytest.mark.parametrize(
    ("results", "message"),
    [
        ("", "results: is empty"),
        ("   ", "results: is empty"),
        ("/", "results: / is the root of the file system"),
        ("/../", "is the root of the file system"),
    ],
)
def test_results_that_is_empty_or_the_root_is_refused(results, message):
    with pytest.raises(ConfigError, match=message):
        check_results_dir(results, ROOT, {})


def test_results_that_is_a_file_or_below_one_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("notes.txt").write_text("x")
    with pytest.raises(
        ConfigError, match=rf"results: notes.txt \(relative to the working directory {tmp_path}\) is a file"
    ):
        check_results_dir("notes.txt", ROOT, {})
    with pytest.raises(ConfigError, match=rf"results: notes.txt/out .* is below the file {tmp_path}/notes.txt"):
        check_results_dir("notes.txt/out", ROOT, {})


def test_results_in_the_input_directory_or_the_workflows_tree_is_refused(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for results in (str(data), str(data / "results")):
        with pytest.raises(ConfigError, match=r"is input.opensamples_dir .* the input files must never be written"):
            check_results_dir(results, ROOT, {"input.opensamples_dir": str(data)})
    for results in (str(ROOT), str(ROOT / "workflow"), str(ROOT / "src" / "out"), str(ROOT.parent)):
        with pytest.raises(ConfigError, match="is nuwire's own tree"):
            check_results_dir(results, ROOT, {})


def test_ordinary_results_directories_are_accepted(tmp_path):
    check_results_dir(str(ROOT / "results"), ROOT, {"input.opensamples_dir": str(tmp_path)})  # the default
    check_results_dir(str(tmp_path / "new" / "deeper"), ROOT, {})  # creatable
    check_results_dir(str(tmp_path), ROOT, {"input.opensamples_dir": str(tmp_path / "data")})  # above the data


# ---------------------------------------------------------------- paths (fast)


def test_tilde_and_variables_are_expanded_and_an_unset_one_named(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NUWIRE_DATA", "/data/uboone")
    config = {
        "results": "~/ana/results",
        "input": {"opensamples_dir": "$NUWIRE_DATA/withwire", "zenodo": {"download_dir": "${HOME}/zenodo"}},
        "synthetic": {"resources_dir": "resources/synthetic"},
    }
    expand_config_paths(config)
    assert config["results"] == f"{tmp_path}/ana/results"
    assert config["input"]["opensamples_dir"] == "/data/uboone/withwire"
    assert config["input"]["zenodo"]["download_dir"] == f"{tmp_path}/zenodo"
    assert config["synthetic"]["resources_dir"] == "resources/synthetic"  # unchanged: nothing to expand
    monkeypatch.delenv("NUWIRE_UNSET", raising=False)
    with pytest.raises(
        ConfigError, match=r"input.opensamples_dir: '\$NUWIRE_UNSET/x' names .* \$NUWIRE_UNSET, which is not set"
    ):
        expand_path("$NUWIRE_UNSET/x", "input.opensamples_dir")


# ---------------------------------------------------------------- input files up front (fast)


def test_thousands_of_empty_files_are_listed_in_one_message_in_seconds(tmp_path):
    files = []
    for i in range(5000):
        path = tmp_path / f"bnb_WithWire_{i:04d}.h5"
        path.touch()
        files.append(path)
    start = time.perf_counter()
    with pytest.raises(ConfigError) as err:
        check_hdf5_signatures(files)
    seconds = time.perf_counter() - start
    message = str(err.value)
    assert message.startswith("input.opensamples_dir: 5000 input files are not usable: ")
    assert f"{files[0]}: is empty (0 bytes)" in message and "and 4980 more" in message
    assert "no job was started" in message
    assert seconds < 5, seconds


def test_hdf5_signature_is_found_at_the_start_or_after_a_user_block(tmp_path):
    good = tmp_path / "good.h5"
    simulate_file(good, "bnb", 1, geometry=COMPACT, seed=1, file_index=0)
    assert hdf5_problem(good) is None
    blocked = tmp_path / "userblock.h5"
    blocked.write_bytes(b"\0" * 512 + good.read_bytes())
    assert hdf5_problem(blocked) is None
    text = tmp_path / "log.h5"
    text.write_text("a transfer log\n" * 3)
    assert hdf5_problem(text) == "is not an HDF5 file (45 bytes without the HDF5 signature)"


def test_hdf5_like_names_the_pattern_leaves_out_are_found(tmp_path):
    for name in ("a.h5", "b.hdf5", "c.H5", "d.txt"):
        (tmp_path / name).write_text("x")
    assert look_alikes(tmp_path, "*.h5", [tmp_path / "a.h5"]) == [str(tmp_path / "b.hdf5"), str(tmp_path / "c.H5")]


# ---------------------------------------------------------------- in a workflow (real snakemake dry runs)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    work = copy_workflow(tmp_path_factory.mktemp("checks"))
    data = work / "home" / "data"
    data.mkdir(parents=True)
    simulate_file(data / file_name("bnb", 0), "bnb", 2, geometry=COMPACT, seed=3, file_index=0)
    simulate_file(data / file_name("nue", 0), "nue", 2, geometry=COMPACT, seed=3, file_index=0)
    return work


def _config(work: Path, name: str, **changes: object) -> str:
    config = tiny_config(work)
    config.pop("synthetic")
    config["input"] = {"source": "opensamples", "opensamples_dir": "~/data"}
    config.update(changes)
    (work / "config" / f"{name}.yaml").write_text(yaml.safe_dump(config))
    return f"config/{name}.yaml"


def _env(work: Path) -> dict[str, str]:
    return {**os.environ, "HOME": str(work / "home")}


def test_bad_input_files_are_listed_together_before_any_job(workdir):
    data = workdir / "home" / "data"
    (data / "bnb_WithWire_01.h5").touch()
    (data / "nue_WithWire_01.h5").write_text("rsync log, not HDF5\n")
    try:
        proc = snakemake(workdir, "-n", check=False, config=_config(workdir, "bad"), env=_env(workdir), timeout=120)
    finally:
        (data / "bnb_WithWire_01.h5").unlink()
        (data / "nue_WithWire_01.h5").unlink()
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert (
        f"invalid configuration: input.opensamples_dir: 2 input files are not usable: {data}/bnb_WithWire_01.h5: "
        f"is empty (0 bytes); {data}/nue_WithWire_01.h5: is not an HDF5 file (20 bytes without the HDF5 signature)"
    ) in out, out[-3000:]
    assert "Traceback" not in out and not (workdir / "results").exists()


def test_tilde_input_and_hdf5_look_alikes_are_mentioned(workdir):
    data = workdir / "home" / "data"
    (data / "bnb_WithWire_02.hdf5").write_text("x")
    (data / "nue_WithWire_02.H5").write_text("x")
    try:
        proc = snakemake(workdir, "-n", check=False, config=_config(workdir, "tilde"), env=_env(workdir), timeout=120)
    finally:
        (data / "bnb_WithWire_02.hdf5").unlink()
        (data / "nue_WithWire_02.H5").unlink()
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert (
        f"nuwire: note: input.opensamples_dir: 2 file(s) named like HDF5 do not match input.pattern '*.h5' and are "
        f"not used: {data}/bnb_WithWire_02.hdf5, {data}/nue_WithWire_02.H5. Widen input.pattern"
    ) in out
    assert "render" in out and "bnb_WithWire_00" in out


@pytest.mark.parametrize(
    ("results", "message"),
    [
        ("/", "invalid configuration: results: / is the root of the file system"),
        ("", "invalid configuration: results: is empty"),
        ("notes.txt", "invalid configuration: results: notes.txt (relative to the working directory {work}) is a file"),
        ("~/data", "invalid configuration: results: {work}/home/data is input.opensamples_dir"),
    ],
)
def test_a_bad_results_directory_is_refused_before_any_job(workdir, results, message):
    (workdir / "notes.txt").write_text("my notes")
    name = f"results{abs(hash(results))}"
    proc = snakemake(
        workdir,
        "--forceall",
        check=False,
        config=_config(workdir, name, results=results),
        env=_env(workdir),
        timeout=120,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and message.format(work=workdir) in out, out[-3000:]
    assert "Traceback" not in out
    assert not Path("/config.yaml").exists() and not (workdir / "home" / "data" / "config.yaml").exists()
    assert (workdir / "notes.txt").read_text() == "my notes"


def test_a_relative_input_directory_is_said_to_be_relative(workdir):
    proc = snakemake(
        workdir,
        "-n",
        check=False,
        config=_config(workdir, "rel", input={"source": "opensamples", "opensamples_dir": "data"}),
        timeout=120,
    )
    out = proc.stdout + proc.stderr
    assert (
        f"input.opensamples_dir: data (relative to the working directory {workdir}) is not a directory (it does not exist)"
        in out
    ), out[-3000:]
