"""Inputs identified by content, cheaply (issue 21): a render job reruns when its input's content
changed, whatever its timestamp (`cp -p`), and the provenance records the checksum of the file
actually rendered; a merely touched input reruns nothing. nuwire.io.identity, and real
`snakemake` runs of a copy of the workflow on real HDF5 files."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

from h5files import event_rows, scattered_planes, write_file
from nuwire.io.identity import IdentityCache, input_identity, sampled_fingerprint, stat_key
from workflow_runs import copy_workflow, planned_jobs, snakemake, tiny_config

OLD = 1_600_000_000  # 2020: older than any output


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- the identity (fast)


def test_an_unchanged_stat_key_reads_nothing(tmp_path: Path):
    path = tmp_path / "f.h5"
    path.write_bytes(b"a" * 1000)
    cache = IdentityCache(tmp_path / "ids.json", writable=True)
    cache.put(str(path.absolute()), stat_key(path), "the last build's identity")
    # Had it read the file, it would have returned the file's fingerprint.
    assert input_identity(path, cache, lambda: pytest.fail("no hash needed")) == "the last build's identity"


def test_touch_keeps_the_identity_and_a_replacement_changes_it(tmp_path: Path):
    rng = np.random.default_rng(1)
    data = rng.integers(0, 255, 20 << 20, dtype=np.uint8).tobytes()  # 20 MiB: sampled, not read whole
    path = tmp_path / "f.h5"
    path.write_bytes(data)
    cache = IdentityCache(tmp_path / "ids.json", writable=True)
    first = input_identity(path, cache, lambda: None)
    assert first == sampled_fingerprint(path) and not (tmp_path / "ids.json").exists()
    cache.flush()  # one write per build, not one per file
    assert json.loads((tmp_path / "ids.json").read_text())[str(path.absolute())]["id"] == first
    rendered = sha256(path)
    os.utime(path)  # touch: a new stat key, the same content
    assert input_identity(path, cache, lambda: rendered) == first
    # A change between the samples, same size, the old mtime: the samples miss it, the hash not.
    changed = bytearray(data)
    changed[(1 << 20) + (64 << 10) + 100] ^= 0xFF  # just after the first sampled block
    old = path.stat().st_mtime_ns
    path.write_bytes(bytes(changed))
    os.utime(path, ns=(old, old))
    assert sampled_fingerprint(path) == first
    sneaky = input_identity(path, cache, lambda: rendered)
    assert sneaky != first and sneaky == f"{first}+{sha256(path)}"
    cache.flush()  # the next build (a new cache object) reads the same identity, reading nothing
    reread = IdentityCache(tmp_path / "ids.json", writable=False)
    assert input_identity(path, reread, lambda: pytest.fail("no hash needed")) == sneaky
    # A replacement of another size: a new fingerprint, no whole-file hash needed.
    path.write_bytes(data + b"x")
    assert input_identity(path, cache, lambda: pytest.fail("no hash needed")) == sampled_fingerprint(path) != first


# ---------------------------------------------------------------- in a workflow (real snakemake)

# Snakemake checksums inputs under 1 MB itself and then ignores a newer mtime of the same content;
# real files are gigabytes, so the runs here take that away (the test files are ~160 kB).
TARGETS = ("results/dataset/events.parquet", "results/dataset/inputs.json", "--max-checksum-file-size", "0")


def _bnb(path: Path, nan: bool) -> Path:
    bad = scattered_planes(2)
    if nan:
        bad[2][10, 20] = np.nan
    events = [
        event_rows((7, 1, 0), scattered_planes(1)),
        event_rows((7, 1, 1), bad),
        event_rows((7, 1, 2), scattered_planes(3)),
    ]
    return write_file(path, events)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("identity")
    work = copy_workflow(base / "work")
    data, spare = base / "data", base / "spare"
    data.mkdir()
    spare.mkdir()
    _bnb(data / "bnb_WithWire_00.h5", nan=True)  # one event skipped (NaN)
    write_file(data / "nue_WithWire_00.h5", [event_rows((8, 1, k), scattered_planes(10 + k)) for k in range(3)])
    _bnb(spare / "bnb_WithWire_00.h5", nan=False)  # the corrected copy, from long ago
    os.utime(spare / "bnb_WithWire_00.h5", (OLD, OLD))
    config = tiny_config(work)
    config.pop("synthetic")
    config["input"] = {"source": "opensamples", "opensamples_dir": str(data)}
    config["dataset"] = {"event_displays": 1, "max_skipped_fraction": 0.5}
    (work / "config" / "identity.yaml").write_text(yaml.safe_dump(config))
    snakemake(work, *TARGETS, config="config/identity.yaml")
    return {"work": work, "data": data, "spare": spare}


def _qc(work: Path, sample: str) -> dict:
    return json.loads((work / "results" / "images" / f"{sample}.qc.json").read_text())


def _manifest(work: Path) -> dict[str, str]:
    return {Path(e["file"]).name: e["sha256"] for e in json.loads((work / "results/dataset/inputs.json").read_text())}


@pytest.mark.slow
def test_a_touched_input_reruns_nothing_and_a_cp_p_replacement_reruns_its_render(rendered):
    work, data = rendered["work"], rendered["data"]
    bnb = data / "bnb_WithWire_00.h5"
    original = sha256(bnb)
    assert _qc(work, "bnb_WithWire_00")["skipped"] == 1
    assert _qc(work, "bnb_WithWire_00")["input_sha256"] == original == _manifest(work)["bnb_WithWire_00.h5"]

    # Touched: newer than every output, the same content. Nothing to do.
    for path in data.iterdir():
        os.utime(path)
    touched = snakemake(work, "-n", *TARGETS, config="config/identity.yaml")
    assert planned_jobs(touched.stdout) == {}, touched.stdout[-3000:]

    # Replaced by `cp -p` with the corrected file, whose mtime is years older than the outputs.
    subprocess.run(["cp", "-p", str(rendered["spare"] / "bnb_WithWire_00.h5"), str(bnb)], check=True)
    assert bnb.stat().st_mtime < (work / "results" / "images" / "bnb_WithWire_00.parquet").stat().st_mtime
    planned = planned_jobs(snakemake(work, "-n", *TARGETS, config="config/identity.yaml").stdout)
    assert planned == {"render": 1, "dataset": 1}, planned  # only that file's render, and the dataset
    snakemake(work, *TARGETS, config="config/identity.yaml")
    new = sha256(bnb)
    assert new != original
    qc = _qc(work, "bnb_WithWire_00")
    assert qc["skipped"] == 0 and qc["rendered"] == 3 and qc["input_sha256"] == new
    assert _manifest(work)["bnb_WithWire_00.h5"] == new  # the provenance: the file actually rendered
    again = snakemake(work, "-n", *TARGETS, config="config/identity.yaml")
    assert planned_jobs(again.stdout) == {}, again.stdout[-3000:]
