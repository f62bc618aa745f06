"""The `nuwire` command as a user runs it: real subprocesses, real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

NUWIRE = str(Path(sys.executable).with_name("nuwire"))


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([NUWIRE, *args], capture_output=True, text=True, timeout=600)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    run(
        "simulate",
        "--out",
        str(out),
        "--sample",
        "nue",
        "--files",
        "2",
        "--events-per-file",
        "5",
        "--geometry",
        "compact",
        "--seed",
        "3",
    )
    run(
        "simulate",
        "--out",
        str(out),
        "--sample",
        "bnb",
        "--files",
        "1",
        "--events-per-file",
        "6",
        "--geometry",
        "compact",
        "--seed",
        "3",
    )
    return out


def test_simulate_names_files_like_the_real_samples(simulated: Path):
    names = sorted(p.name for p in simulated.glob("*.h5"))
    assert names == ["bnb_WithWire_00.h5", "nue_WithWire_00.h5", "nue_WithWire_01.h5"]


def test_inspect_prints_composition_and_writes_tsv(simulated: Path, tmp_path: Path):
    files = sorted(str(p) for p in simulated.glob("*.h5"))
    proc = run("inspect", *files, "--tsv", str(tmp_path / "inspect.tsv"))
    assert "wire_table" in proc.stdout and "events 16" in proc.stdout
    table = pd.read_csv(tmp_path / "inspect.tsv", sep="\t")
    combined = table[table["level"] == "all"].iloc[0]
    assert combined["events"] == 16
    nue = table[(table["level"] == "group") & (table["name"] == "nue")].iloc[0]
    assert nue["events"] == 10 and nue["cc"] == 10 and nue["nue_cc"] == 10


def test_render_writes_parquet_and_reconciled_qc(simulated: Path, tmp_path: Path):
    run("render", str(simulated / "bnb_WithWire_00.h5"), "--out", str(tmp_path))
    qc = json.loads((tmp_path / "bnb_WithWire_00.qc.json").read_text())
    assert qc["events_in_file"] == 6 == qc["rendered"] + qc["skipped"]
    images = pd.read_parquet(tmp_path / "bnb_WithWire_00.parquet")
    assert len(images) == 3 * qc["rendered"]


def test_bad_file_gives_one_clear_line_and_status_2(tmp_path: Path):
    fake = tmp_path / "nue_WithWire_07.h5"
    fake.write_text("not hdf5")
    proc = run("inspect", str(fake), check=False)
    assert proc.returncode == 2
    assert "not an HDF5 file" in proc.stderr and str(fake) in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_sample_is_refused_by_the_parser(tmp_path: Path):
    proc = run("simulate", "--out", str(tmp_path), "--sample", "numi", check=False)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr
