"""Failures a user meets, on real things: a truncated Parquet, a read-only folder (a read-only bind
mount: the tests run as root, which ignores permission bits), a small full disk (a tmpfs of 1 MB),
a two-TPC file written with h5py, another experiment's HDF5 file, a second workflow on the same
results directory. Each says what broke and what to do, keeps the traceback in the rule's log, leaves
nothing partial, and after the fix the rerun gives the uninterrupted run's outputs.

Mounting needs root and CAP_SYS_ADMIN; where the machine refuses it, those tests skip saying so.
docs/robustness.md lists every case with the message a user sees.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import h5py
import numpy as np
import pytest
import torch
import yaml

from h5files import blank_planes, event_rows, write_file
from nuwire.errors import ConfigError, InputFileError, OutputError
from nuwire.events.sweep import expand_sweep
from nuwire.geometry import COMPACT, GEOMETRY_ATTR
from nuwire.images.render import RenderParams, render_file
from nuwire.io.opensamples import OpenSamplesFile
from nuwire.io.tempfiles import temporary_target
from nuwire.learn import checkpoint
from nuwire.pipeline import results_lock
from nuwire.pipeline.config import check_point_images, check_point_models, check_sample_names
from nuwire.pipeline.stage import run_stage
from workflow_runs import SNAKEMAKE, copy_workflow, snakemake, tiny_config

PARAMS = RenderParams.from_config({})


# ================================================================ helpers


def _mount(args: list[str], where: Path) -> None:
    proc = subprocess.run(["mount", *args, str(where)], capture_output=True, text=True)  # args end with the source
    if proc.returncode != 0:
        pytest.skip(f"this machine does not allow `mount {' '.join(args)}` ({proc.stderr.strip()}): needs root")


def _umount(directory: Path) -> None:
    """Unmount; a busy mount (a descriptor left open on it: a bug) is detached anyway, then reported."""
    if subprocess.run(["umount", str(directory)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(directory)], check=True)
        raise AssertionError(f"{directory} was busy at unmount: a file on it was left open")


@contextlib.contextmanager
def read_only(directory: Path) -> Iterator[Path]:
    """`directory` made read-only for everyone, root included: a read-only bind mount onto itself."""
    _mount(["--bind", str(directory)], directory)
    try:
        _mount(["-o", "remount,ro,bind"], directory)
        yield directory
    finally:
        _umount(directory)


@contextlib.contextmanager
def small_disk(directory: Path, size: str = "1m") -> Iterator[Path]:
    """A tmpfs of `size` mounted at `directory` (fill it with `fill`)."""
    directory.mkdir(parents=True, exist_ok=True)
    _mount(["-t", "tmpfs", "-o", f"size={size}", "tmpfs"], directory)
    try:
        yield directory
    finally:
        _umount(directory)


def fill(directory: Path, leave_free: int = 4096) -> Path:
    filler = directory / "filler.bin"
    free = shutil.disk_usage(directory).free
    with open(filler, "wb") as fh:
        fh.write(b"\0" * max(0, free - leave_free))
    return filler


def _sparse_file(path: Path, n: int = 3) -> Path:
    events = []
    for k in range(n):
        planes = blank_planes(COMPACT)
        planes[2][10 + k, 20:30] = 80.0
        events.append(event_rows((1, 1, k), planes))
    return write_file(path, events, COMPACT)


class _Job(SimpleNamespace):
    """What Snakemake hands a script (snakemake.log, snakemake.rule); not a nuwire component."""


def _run_job(rule: str, log: Path, main) -> tuple[int, str]:
    """run_stage as a workflow script calls it: exit status and what the terminal shows."""
    import io

    terminal = io.StringIO()
    old = sys.__stderr__
    sys.__stderr__ = terminal  # run_stage writes the paragraph to the real stderr
    try:
        with pytest.raises(SystemExit) as info:
            run_stage(_Job(log=[str(log)], rule=rule), main)
    finally:
        sys.__stderr__ = old
    return int(info.value.code), terminal.getvalue()


# ================================================================ the stage runner


def test_an_unexpected_error_gives_one_paragraph_and_the_traceback_in_the_log(tmp_path: Path):
    log = tmp_path / "logs" / "x.log"

    def main(_):
        {}["missing"]

    status, terminal = _run_job("summary", log, main)
    assert status == 1
    assert terminal.count("\n") == 1 and terminal.startswith("nuwire: error: rule summary failed with an error")
    assert terminal.rstrip().endswith(f"(log: {log})")
    text = log.read_text()
    assert "KeyError: 'missing'" in text and "Traceback (most recent call last)" in text


def test_a_truncated_parquet_is_named_with_what_to_do_and_its_traceback_logged(tmp_path: Path):
    from nuwire.events.dataset import image_summary

    h5 = _sparse_file(tmp_path / "bnb_WithWire_00.h5")
    images = tmp_path / "images" / "bnb_WithWire_00.parquet"
    render_file(h5, images, tmp_path / "images" / "bnb_WithWire_00.qc.json", sample="bnb_WithWire_00", params=PARAMS)
    images.write_bytes(images.read_bytes()[: images.stat().st_size // 2])
    log = tmp_path / "dataset.log"
    status, terminal = _run_job("dataset", log, lambda _: image_summary(images))
    assert status == 1
    assert f"nuwire: error: {images}: cannot be read as Parquet" in terminal
    assert "Delete it and rerun snakemake: the render stage writes it again" in terminal
    assert "Traceback" in log.read_text() and "ArrowInvalid" in log.read_text()


def test_the_log_itself_unwritable_is_said_on_the_terminal(tmp_path: Path):
    logs = tmp_path / "logs"
    logs.mkdir()
    with read_only(logs):
        status, terminal = _run_job("render", logs / "render" / "a.log", lambda _: None)
    assert status == 1 and f"{logs / 'render'}" in terminal and "read-only" in terminal


# ================================================================ writing: read-only, full disk


def test_read_only_output_folder_names_the_output_and_leaves_nothing(tmp_path: Path):
    h5 = _sparse_file(tmp_path / "bnb_WithWire_00.h5")
    out = tmp_path / "images"
    out.mkdir()
    with read_only(out), pytest.raises(OutputError) as info:
        render_file(
            h5,
            out / "bnb_WithWire_00.parquet",
            out / "bnb_WithWire_00.qc.json",
            sample="bnb_WithWire_00",
            params=PARAMS,
        )
    message = str(info.value)
    assert message.startswith(
        f"{out / 'bnb_WithWire_00.qc.json'}: cannot write it: the file system is mounted read-only"
    )
    assert ".tmp" not in message and "set `results:`" in message
    assert isinstance(info.value.__cause__, OSError)  # kept for the log's traceback
    assert list(out.iterdir()) == []


def test_read_only_checkpoint_folder_names_the_checkpoint(tmp_path: Path):
    ckpt = tmp_path / "checkpoints"
    ckpt.mkdir()
    with read_only(ckpt), pytest.raises(OutputError) as info:
        checkpoint.save(ckpt / "last.pt", {"w": torch.zeros(2)})
    assert str(info.value).startswith(f"{ckpt / 'last.pt'}: cannot write it")
    assert list(ckpt.iterdir()) == []


def test_full_disk_names_the_output_and_the_free_space_and_leaves_nothing(tmp_path: Path):
    h5 = _sparse_file(tmp_path / "bnb_WithWire_00.h5", n=40)
    reference = tmp_path / "reference"
    render_file(h5, reference / "a.parquet", reference / "a.qc.json", sample="bnb_WithWire_00", params=PARAMS)
    with small_disk(tmp_path / "disk") as disk:
        filler = fill(disk, leave_free=2048)
        with pytest.raises(OutputError) as info:
            render_file(h5, disk / "a.parquet", disk / "a.qc.json", sample="bnb_WithWire_00", params=PARAMS)
        message = str(info.value)
        assert message.startswith(f"{disk / 'a.parquet'}: writing it failed: no space left on the device")
        assert "MB free of 1.0 MB" in message and "Free space there" in message
        assert sorted(p.name for p in disk.iterdir()) == ["filler.bin"]  # no partial output, no temporary
        filler.unlink()  # the fix: free space; the rerun writes what an uninterrupted run writes
        render_file(h5, disk / "a.parquet", disk / "a.qc.json", sample="bnb_WithWire_00", params=PARAMS)
        assert (disk / "a.parquet").read_bytes() == (reference / "a.parquet").read_bytes()


def test_full_checkpoint_disk_names_the_checkpoint(tmp_path: Path):
    """torch's zip writer reports a full disk as `unexpected pos …`; the message says what it is."""
    with small_disk(tmp_path / "ckpt") as disk:
        with pytest.raises(OutputError) as info:
            checkpoint.save(disk / "last.pt", {"model": {"w": torch.zeros(500_000)}, "epoch": 3})
        assert str(info.value).startswith(f"{disk / 'last.pt'}: writing it failed: no space left on the device")
        assert list(disk.iterdir()) == []


# ================================================================ input files


def test_two_tpc_file_is_refused_naming_the_tpc_column(tmp_path: Path):
    """The OpenSamples layout of a two-TPC detector: every wire row twice (tpc 0 and 1), no
    geometry attribute (real files have none), written with h5py."""
    path = _sparse_file(tmp_path / "nue_WithWire_00.h5", n=2)
    with h5py.File(path, "a") as h5:
        del h5.attrs[GEOMETRY_ATTR]
        wt = h5["wire_table"]
        columns = {name: wt[name][:] for name in wt if name != "event_id.seq_cnt"}
        for name, values in columns.items():
            del wt[name]
            other = values.copy()
            if name == "tpc":
                other[:] = 1
            wt.create_dataset(name, data=np.concatenate([values, other]))
        del wt["event_id.seq_cnt"]
        # Rows of TPC 1 follow those of TPC 0: group by event again, as a writer would store them.
        order = np.argsort(wt["event_id"][:, 2], kind="stable")
        for name in list(wt):
            data = wt[name][:][order]
            del wt[name]
            wt.create_dataset(name, data=data)
        counts = np.bincount(wt["event_id"][:, 2])
        wt.create_dataset("event_id.seq_cnt", data=np.stack([np.arange(len(counts)), counts], axis=1))
    with pytest.raises(InputFileError) as info:
        OpenSamplesFile(path)
    message = str(info.value)
    assert message.startswith(f"{path}: /wire_table holds the readouts of 2 TPCs (tpc column values [0, 1])")
    assert "Remove the file from the input directory" in message
    out = tmp_path / "images"
    with pytest.raises(InputFileError):
        render_file(path, out / "a.parquet", out / "a.qc.json", sample="nue_WithWire_00", params=PARAMS)
    assert not out.exists() or list(out.iterdir()) == []


def test_another_experiments_hdf5_is_not_called_nowire(tmp_path: Path):
    path = tmp_path / "bnb_WithWire_00.h5"
    with h5py.File(path, "w") as h5:
        h5.create_dataset("events/energy", data=np.arange(3.0))
        h5.create_dataset("tracks/length", data=np.arange(3.0))
    with pytest.raises(InputFileError) as info:
        OpenSamplesFile(path)
    message = str(info.value)
    assert "is not an OpenSamples file: it has no /event_table (groups present: events, tracks)" in message
    assert "NoWire" not in message


def test_a_file_whose_events_are_all_skipped_fails_its_render_with_reasons_counted(tmp_path: Path):
    planes = blank_planes(COMPACT)
    planes[0][3, 4] = np.nan
    path = write_file(
        tmp_path / "nue_WithWire_00.h5",
        [event_rows((1, 1, 0), planes), event_rows((1, 1, 1), None), event_rows((1, 1, 2), None)],
        COMPACT,
    )
    out = tmp_path / "images"
    with pytest.raises(InputFileError) as info:
        render_file(path, out / "a.parquet", out / "a.qc.json", sample="nue_WithWire_00", params=PARAMS)
    message = str(info.value)
    assert message.startswith(f"{path}: none of its 3 events could be rendered; every one was skipped (")
    assert "no wire rows in /wire_table for this event (×2); 1 non-finite (NaN or infinite) ADC values (×1)" in message
    assert list(out.iterdir()) == []


# ================================================================ configuration against the images


def _config(**sweep) -> dict:
    config = tiny_config()
    config["sweep"] = [{"arch": ["lenet"], "plane": [2], "scale": [0.5], "cut": ["full"], **sweep}]
    return config


def test_scales_naming_one_directory_are_refused():
    with pytest.raises(ConfigError) as info:
        expand_sweep(_config(scale=[0.1234567, 0.1234568])["sweep"])
    assert "scales 0.1234567 and 0.1234568 both name the directory scale0.123457" in str(info.value)
    assert len(expand_sweep(_config(scale=[0.5, 0.50])["sweep"])) == 1  # one value, one point


def test_a_scale_that_empties_the_image_is_refused_naming_the_point():
    config = _config(scale=[0.5, 0.001])
    with pytest.raises(ConfigError) as info:
        check_point_images(config, expand_sweep(config["sweep"]), COMPACT)
    assert str(info.value).startswith("sweep point lenet/plane2/scale0.001/full/whole: scale 0.001 shrinks")
    assert "Use a scale of at least 0.004" in str(info.value)


def test_a_crop_too_small_for_the_architecture_is_refused_naming_the_point():
    config = _config(crop=8)
    with pytest.raises(ConfigError) as info:
        check_point_models(config, expand_sweep(config["sweep"]), COMPACT)
    assert str(info.value).startswith("sweep point lenet/plane2/scale0.5/full/crop8: lenet: input shape(s) [(8, 8)]")
    check_point_models(_config(), expand_sweep(_config()["sweep"]), COMPACT)  # the test config fits


def test_input_names_the_sample_wildcard_cannot_match_are_refused():
    with pytest.raises(ConfigError) as info:
        check_sample_names({"nue_WithWire_01 (1)": "/d/nue_WithWire_01 (1).h5", "bnb_WithWire_00": "/d/b.h5"})
    message = str(info.value)
    assert message.startswith("/d/nue_WithWire_01 (1).h5: the name 'nue_WithWire_01 (1)' has characters outside")
    assert "{sample} wildcard of rule render" in message and "'nue_WithWire_01_1.h5'" in message


# ================================================================ the results lock (real processes)


def test_a_live_holder_is_named_and_a_dead_ones_lock_is_taken_over(tmp_path: Path):
    results = tmp_path / "results"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from nuwire.pipeline import results_lock; results_lock.acquire({str(results)!r}); "
            "import time; print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(results_lock.ResultsLocked) as info:
            results_lock.acquire(results)
        message = str(info.value)
        assert f"snakemake process {holder.pid} on host {socket.gethostname()}" in message
        assert f"rm {results / results_lock.LOCK_NAME}" in message
    finally:
        holder.kill()
        holder.wait()
    said: list[str] = []
    lock = results_lock.acquire(results, log=said.append)  # the holder died without releasing it
    assert "stale lock" in said[0] and str(holder.pid) in said[0]
    assert json.loads(lock.read_text())["pid"] == os.getpid()
    results_lock.release(lock)
    assert not lock.exists()


# ================================================================ real workflows (slow)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tree(results: Path, *parts: str) -> dict[str, str]:
    return {
        str(p.relative_to(results)): _digest(p)
        for part in parts
        for p in sorted((results / part).rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def dataset_run(tmp_path_factory) -> dict:
    """The tiny config run up to the event index; its images and dataset outputs as the reference."""
    workdir = copy_workflow(tmp_path_factory.mktemp("failures"))
    snakemake(workdir, "results/dataset/events.parquet")
    results = workdir / "results"
    return {"workdir": workdir, "reference": _tree(results, "images", "dataset")}


@pytest.mark.slow
def test_workflow_truncated_image_parquet_then_fix(dataset_run):
    workdir = dataset_run["workdir"]
    results = workdir / "results"
    image = results / "images" / "bnb_WithWire_00.parquet"
    image.write_bytes(image.read_bytes()[: image.stat().st_size // 2])
    proc = snakemake(workdir, "results/dataset/events.parquet", "--forcerun", "dataset", check=False)
    terminal = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"nuwire: error: {image.relative_to(workdir)}: cannot be read as Parquet" in terminal
    assert "(log: results/logs/dataset.log)" in terminal
    log = (results / "logs" / "dataset.log").read_text()
    assert "Traceback" in log and "Parquet magic bytes not found" in log
    assert not (results / "dataset" / "events.parquet").exists()
    assert not list((results / "dataset").glob(".*.tmp"))
    image.unlink()  # what the message says to do
    snakemake(workdir, "results/dataset/events.parquet")
    assert _tree(results, "images", "dataset") == dataset_run["reference"]


@pytest.mark.slow
def test_workflow_read_only_images_then_fix(dataset_run):
    workdir = dataset_run["workdir"]
    images = workdir / "results" / "images"
    for suffix in (".parquet", ".qc.json"):
        (images / f"nue_WithWire_01{suffix}").unlink()
    target = "results/images/nue_WithWire_01.parquet"  # the index is up to date: Snakemake asks for no input
    with read_only(images):
        proc = snakemake(workdir, target, check=False)
    terminal = proc.stdout + proc.stderr
    assert proc.returncode != 0
    # Refused before any job (Snakemake would fail removing old outputs, before a job's own log):
    assert "results/images: cannot write in it: the file system is mounted read-only on results/images" in terminal
    assert "rule render" not in terminal and "Errno" not in terminal
    assert not [p for p in images.iterdir() if "nue_WithWire_01" in p.name]
    assert not (workdir / "results" / results_lock.LOCK_NAME).exists()
    snakemake(workdir, target)  # the fix: the folder writable again
    assert _tree(workdir / "results", "images", "dataset") == dataset_run["reference"]


@pytest.mark.slow
def test_workflow_full_disk_then_fix(dataset_run):
    workdir = dataset_run["workdir"]
    results = workdir / "results"
    # The dataset outputs on a 4 MB disk that is full: all missing there, so the stage runs.
    with small_disk(results / "dataset", size="4m"):
        filler = fill(results / "dataset", leave_free=1024)
        proc = snakemake(workdir, "results/dataset/events.parquet", check=False)
        terminal = proc.stdout + proc.stderr
        assert proc.returncode != 0
        assert "results/dataset/events.parquet: writing it failed: no space left on the device" in terminal
        log = (results / "logs" / "dataset.log").read_text()
        assert "Traceback" in log and "No space left on device" in log
        assert sorted(p.name for p in (results / "dataset").iterdir() if not p.name.startswith(".")) == ["filler.bin"]
        assert not list((results / "dataset").glob(".*.tmp"))
        filler.unlink()
        snakemake(workdir, "results/dataset/events.parquet")
        assert _tree(results, "images", "dataset") == dataset_run["reference"]


@pytest.mark.slow
def test_a_second_workflow_on_the_same_results_is_refused_naming_the_first(tmp_path: Path):
    shared = tmp_path / "shared_results"
    dirs = []
    for name in ("first", "second"):
        workdir = copy_workflow(tmp_path / name)
        config = tiny_config(workdir)
        config["results"] = str(shared)
        config["synthetic"]["resources_dir"] = str(shared / "resources")
        # Enough events that the first run's jobs outlast the second's start-up (on a node with
        # Slurm installed but not running, snakemake's Slurm plugin waits ~10 s for scontrol).
        for sample in config["synthetic"]["samples"].values():
            sample["events_per_file"] = 200
        (workdir / "config" / "shared.yaml").write_text(yaml.safe_dump(config))
        dirs.append(workdir)
    target = str(shared / "dataset" / "events.parquet")
    first = subprocess.Popen(
        [SNAKEMAKE, "--cores", "1", target, "--configfile", "config/shared.yaml"],
        cwd=dirs[0],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lock = shared / results_lock.LOCK_NAME
        deadline = time.time() + 120
        while not lock.exists() and time.time() < deadline and first.poll() is None:
            time.sleep(0.2)
        assert lock.exists()
        before = _tree(shared, ".")
        second = snakemake(dirs[1], target, check=False, config="config/shared.yaml")
        assert first.poll() is None, "the first run ended before the second was refused; the test proves nothing"
        terminal = second.stdout + second.stderr
        assert second.returncode != 0
        assert (
            f"results directory {shared} is in use by another nuwire workflow: snakemake process {first.pid}"
            in terminal
        )
        assert f"in {dirs[0]}" in terminal and f"rm {lock}" in terminal
        assert not (dirs[1] / ".snakemake" / "locks").exists() or not list((dirs[1] / ".snakemake" / "locks").iterdir())
        # Nothing of the first removed. Its temporary files of writes in flight are renamed by the
        # first run itself meanwhile (nuwire.io.atomic): not among what the second must leave alone.
        finished = {name for name in before if temporary_target(Path(name)) is None}
        assert finished - {results_lock.LOCK_NAME} <= set(_tree(shared, "."))
    finally:
        out, _ = first.communicate(timeout=600)
    assert first.returncode == 0, out[-3000:]
    assert not lock.exists()  # released at the end
    snakemake(dirs[1], target, config="config/shared.yaml")  # now the second may run


# ================================================================ evaluation without a class


def test_a_test_split_without_signal_is_a_warning_not_a_blank():
    from nuwire.evaluation.metrics import metrics_report, split_warnings
    from nuwire.report.comparisons import point_warnings

    rng = np.random.default_rng(0)
    report = metrics_report([0, 1, 0, 1], rng.random(4), test_true=[0, 0, 0], test_score=rng.random(3))
    assert report["test"]["roc_auc"] is None
    warnings = split_warnings(report)
    assert warnings == [
        "test split has no signal (CC νe) events (0 signal of 3): ROC AUC and the rates of the missing class are "
        "undefined. Use more input files, another split or a looser cut."
    ]
    # the summary's warnings column: each seed's warning once
    assert point_warnings([{**report, "warnings": warnings}] * 2) == warnings[0]
    background_only = metrics_report([0, 1], [0.2, 0.8], test_true=[1, 1], test_score=[0.3, 0.9])
    assert "test split has no background events (2 signal of 2)" in split_warnings(background_only)[0]
