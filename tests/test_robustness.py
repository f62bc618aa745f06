"""Robustness and reproducibility, proven on real things.

Bad inputs are real files written with h5py (the project's writer, or h5py directly, then damaged
on disk); the workflow-level checks run the real `snakemake` on a copy of the workflow: with
`--keep-going` over a directory of good and bad OpenSamples files, interrupted by real signals in
the middle of a render, and twice from scratch on the tiny config. The source-hygiene check reads
the source tree. `docs/robustness.md` lists every case with the test that proves it and the
message a user sees.

Cases already proven elsewhere are not repeated here (docs/robustness.md points at them): the
reader on NoWire / truncated / non-HDF5 files and missing seq_cnt (test_opensamples.py), NaN/inf
and wire-less events in the QC (test_render.py), duplicate events across files (test_dataset.py),
config mistakes (test_config.py, test_workflow.py), training killed and resumed (test_train.py).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml

from builders import dataset_outputs
from h5files import event_rows, scattered_planes, write_file
from nuwire.errors import InputFileError, NuwireError
from nuwire.events.dataset import DatasetInputs, run_dataset
from nuwire.geometry import COMPACT, GEOMETRY_ATTR, Geometry
from nuwire.images.render import RenderParams, render_file
from nuwire.io.h5schema import SEQ_CNT
from nuwire.io.opensamples import OpenSamplesFile
from nuwire.io.opensamples_writer import OpenSamplesWriter
from nuwire.simulate import file_name, simulate_file
from workflow_runs import ROOT, SNAKEMAKE, copy_workflow, snakemake, tiny_config, without_timing

PARAMS = RenderParams.from_config({})  # the tiny config's render settings: 2 × 2 blocks, threshold 10, saturation 100


# ================================================================ helpers


def _small_file(path: Path, run: int = 1, n: int = 3, geometry: Geometry = COMPACT) -> Path:
    return write_file(
        path, [event_rows((run, 1, k), scattered_planes(k, hits=40, geometry=geometry)) for k in range(n)], geometry
    )


def _damage_chunk(path: Path, dataset: str) -> None:
    """Overwrite the first stored chunk of `dataset` with zeros (not a zlib stream any more)."""
    with h5py.File(path, "r") as h5:
        info = h5[dataset].id.get_chunk_info(0)
    with open(path, "r+b") as fh:
        fh.seek(info.byte_offset)
        fh.write(b"\0" * info.size)


def _files_under(directory: Path) -> list[str]:
    if not directory.exists():
        return []
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())


def write_config(workdir: Path, name: str, **changes: object) -> str:
    """config/<name>.yaml: config/test.yaml with top-level sections replaced; returns its path."""
    config = tiny_config(workdir)
    for key, value in changes.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    (workdir / "config" / f"{name}.yaml").write_text(yaml.safe_dump(config))
    return f"config/{name}.yaml"


def opensamples_config(workdir: Path, name: str, directory: Path, pattern: str = "*.h5") -> str:
    source = {"source": "opensamples", "opensamples_dir": str(directory), "pattern": pattern}
    # nue_WithWire_03 loses 3 of its 5 events on purpose (NaN, inf, no wire rows).
    dataset = {"event_displays": 1, "max_skipped_fraction": 0.6}
    return write_config(workdir, name, input=source, synthetic=None, dataset=dataset)


# ================================================================ 1. bad input files (fast)


def _not_hdf5(tmp: Path) -> Path:
    path = tmp / "bnb_WithWire_01.h5"
    path.write_text("this is a transfer log, not HDF5\n" * 20)
    return path


def _truncated(tmp: Path) -> Path:
    path = _small_file(tmp / "nue_WithWire_01.h5")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _nowire(tmp: Path) -> Path:
    path = _small_file(tmp / "bnb_NoWire_00.h5")
    with h5py.File(path, "a") as h5:
        del h5["wire_table"]
    return path


def _damaged_event_table(tmp: Path) -> Path:
    path = _small_file(tmp / "nue_WithWire_02.h5")
    _damage_chunk(path, "event_table/nu_energy")
    return path


def _damaged_wire_chunk(tmp: Path) -> Path:
    path = _small_file(tmp / "nue_WithWire_04.h5")
    _damage_chunk(path, "wire_table/adc")
    return path


def _adc_width_contradicts_geometry(tmp: Path) -> Path:
    path = _small_file(tmp / "bnb_WithWire_05.h5")
    with h5py.File(path, "a") as h5:
        geometry = json.loads(h5.attrs[GEOMETRY_ATTR])
        geometry["n_ticks"] = 2048
        h5.attrs[GEOMETRY_ATTR] = json.dumps(geometry)
    return path


BAD_FILES = {
    # kind: (maker, fragments of the message the user sees)
    "not HDF5": (_not_hdf5, ["is not an HDF5 file", "Remove it from the input directory"]),
    "truncated to half": (_truncated, ["HDF5 library cannot open it", "truncated file", "Re-copy the file"]),
    "NoWire": (_nowire, ["has no /wire_table", "'NoWire'", "Use the 'WithWire' files"]),
    "damaged event_table chunk": (_damaged_event_table, ["reading /event_table/nu_energy failed", "Re-copy it"]),
    "damaged wire_table chunk": (_damaged_wire_chunk, ["reading the wire rows of event index 0 failed", "Re-copy it"]),
    "adc width contradicts geometry": (
        _adc_width_contradicts_geometry,
        ["/wire_table/adc is 1024 ticks wide but the file's geometry attribute says 2048", "regenerate it"],
    ),
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_bad_file_fails_with_one_paragraph_naming_it_and_leaves_no_output(kind: str, tmp_path: Path):
    maker, fragments = BAD_FILES[kind]
    path = maker(tmp_path)
    out = tmp_path / "images"
    with pytest.raises(InputFileError) as err:
        render_file(path, out / "s.parquet", out / "s.qc.json", sample=path.stem, params=PARAMS)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, message
    assert _files_under(out) == []  # no image file, no QC record, no temporary file


def test_files_of_different_readout_sizes_are_refused_naming_the_odd_one(tmp_path: Path):
    short = Geometry(**{**COMPACT.__dict__, "n_ticks": 512})  # a readout window half as long
    h5s = [
        _small_file(tmp_path / "bnb_WithWire_00.h5", run=1),
        _small_file(tmp_path / "nue_WithWire_00.h5", run=2),
        _small_file(tmp_path / "nue_WithWire_01.h5", run=3, geometry=short),
    ]
    images = tmp_path / "images"
    for h5 in h5s:  # each file on its own is fine: render does not know the others
        qc = render_file(
            h5, images / f"{h5.stem}.parquet", images / f"{h5.stem}.qc.json", sample=h5.stem, params=PARAMS
        )
        assert qc["reconciled"]
    out = tmp_path / "dataset"
    with pytest.raises(NuwireError) as err:
        run_dataset(
            DatasetInputs(
                h5s, [images / f"{h.stem}.parquet" for h in h5s], [images / f"{h.stem}.qc.json" for h in h5s]
            ),
            dataset_outputs(out),
            params=PARAMS,
            split_fractions=(0.6, 0.2, 0.2),
        )
    message = str(err.value)
    assert message.startswith(f"{h5s[2]}: its /wire_table/adc is 512 ticks wide") and "\n" not in message
    assert f"2 of the 3 input files, e.g. {h5s[0]}, have 1024 ticks" in message
    assert "remove the odd file from the input directory" in message
    assert _files_under(out) == []  # the dataset stage wrote nothing


# ================================================================ 4b. source hygiene (fast)

PICKLE_MODULES = {"pickle", "_pickle", "cPickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"}
PICKLE_EXCEPTIONS = {"UnpicklingError", "PickleError"}  # naming pickle's error class is not using pickle


def _python_sources() -> list[Path]:
    return sorted([*ROOT.joinpath("src").rglob("*.py"), *ROOT.joinpath("workflow").rglob("*.py")])


def test_no_pickle_anywhere_and_every_torch_load_is_weights_only():
    problems: list[str] = []
    torch_loads = 0
    for path in _python_sources():
        tree = ast.parse(path.read_text(), filename=str(path))
        where = path.relative_to(ROOT)
        imported_as: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] in PICKLE_MODULES:
                        if alias.name != "pickle":
                            problems.append(f"{where}:{node.lineno} imports {alias.name}")
                        imported_as.add(alias.asname or alias.name)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in PICKLE_MODULES:
                bad = [a.name for a in node.names if node.module != "pickle" or a.name not in PICKLE_EXCEPTIONS]
                if bad:
                    problems.append(f"{where}:{node.lineno} imports {bad} from {node.module}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in imported_as:
                if node.attr not in PICKLE_EXCEPTIONS:
                    problems.append(f"{where}:{node.lineno} uses {node.value.id}.{node.attr}")
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            func, kwargs = node.func, {k.arg: k.value for k in node.keywords}
            if func.attr in ("read_pickle", "to_pickle"):
                problems.append(f"{where}:{node.lineno} calls {func.attr}")
            allow = kwargs.get("allow_pickle")
            pickling = allow is not None and not (isinstance(allow, ast.Constant) and allow.value is False)
            if func.attr == "load" and pickling:
                problems.append(f"{where}:{node.lineno} calls load(allow_pickle=...)")
            if func.attr == "load" and isinstance(func.value, ast.Name) and func.value.id == "torch":
                torch_loads += 1
                flag = kwargs.get("weights_only")
                if not (isinstance(flag, ast.Constant) and flag.value is True):
                    problems.append(f"{where}:{node.lineno} calls torch.load without weights_only=True")
    for path in sorted(ROOT.joinpath("workflow").rglob("*.smk")) + [ROOT / "Snakefile"]:
        text = path.read_text()
        if "pickle" in text or "torch.load" in text:
            problems.append(f"{path.relative_to(ROOT)} mentions pickle or torch.load")
    assert problems == []
    assert torch_loads >= 1  # the check saw the checkpoint loader, so it is not vacuous


# ================================================================ workflow level (slow)
# One directory of OpenSamples files shared by the --keep-going run and the interruption tests.

GOOD = {"bnb_WithWire_00", "nue_WithWire_00", "bnb_WithWire_03", "nue_WithWire_03"}
GOOD_PATTERN = "*_WithWire_0[03].h5"  # selects exactly the good files
BIG = "bnb_WithWire_03"  # 120 events: long enough a render to interrupt
BIG_EVENTS = 120
BAD = {
    # sample: fragments of the one-line error in its render log. (A file that is not HDF5 at all is
    # refused before any job, with every other such file: test_input_checks.py.)
    "nue_WithWire_01": ["HDF5 library cannot open it", "truncated file", "Re-copy the file"],
    "bnb_NoWire_00": ["has no /wire_table", "Use the 'WithWire' files of the sample instead"],
    "nue_WithWire_02": ["reading /event_table/nu_energy failed", "Re-copy it"],
}


def _checksums(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


@pytest.fixture(scope="module")
def opensamples(tmp_path_factory) -> dict[str, Path]:
    """good and bad files in `in/`; `plain/` holds nue_WithWire_00 as simulated (with seq_cnt)."""
    base = tmp_path_factory.mktemp("opensamples")
    inputs, plain = base / "in", base / "plain"
    inputs.mkdir()
    plain.mkdir()
    simulate_file(inputs / file_name("bnb", 0), "bnb", 4, geometry=COMPACT, seed=11, file_index=0)
    simulate_file(plain / file_name("nue", 0), "nue", 4, geometry=COMPACT, seed=11, file_index=0)
    shutil.copy(plain / file_name("nue", 0), inputs / file_name("nue", 0))
    with h5py.File(inputs / file_name("nue", 0), "a") as h5:
        del h5["wire_table"][SEQ_CNT]  # another producer's file: no index, rows still grouped
    # The big file: the simulated events again and again under new keys, written by the real writer.
    with OpenSamplesFile(inputs / file_name("bnb", 0)) as f:
        planes = [[p.copy() for p in ev.planes] for ev in f.iter_events()]
    with OpenSamplesWriter(
        inputs / f"{BIG}.h5", COMPACT, groups=("event_table", "wire_table", "pandoraPrimary_table")
    ) as w:
        for k in range(BIG_EVENTS):
            w.add_event(event_rows((9003, 1, k), planes[k % len(planes)]))
    # Events the renderer must skip with a reason: NaN, +inf and -inf ADC, no wire rows at all.
    poisoned = [scattered_planes(s) for s in range(3)]
    poisoned[0][2][10, 20] = np.nan
    poisoned[1][0][3, 4], poisoned[1][1][5, 6] = np.inf, -np.inf
    write_file(
        inputs / "nue_WithWire_03.h5",
        [
            event_rows((9004, 1, 0), scattered_planes(7)),
            event_rows((9004, 1, 1), poisoned[0]),
            event_rows((9004, 1, 2), poisoned[1]),
            event_rows((9004, 1, 3), None),
            event_rows((9004, 1, 4), scattered_planes(8)),
        ],
    )
    for maker in (_truncated, _nowire, _damaged_event_table):
        maker(inputs)
    assert {p.stem for p in inputs.glob("*.h5")} == GOOD | set(BAD)
    return {"in": inputs, "plain": plain}


@pytest.fixture(scope="module")
def keep_going(opensamples, tmp_path_factory) -> dict:
    workdir = copy_workflow(tmp_path_factory.mktemp("keepgoing"))
    config = opensamples_config(workdir, "robust", opensamples["in"])
    before = _checksums(opensamples["in"])
    proc = snakemake(workdir, "--keep-going", check=False, config=config)
    return {"workdir": workdir, "config": config, "proc": proc, "inputs_before": before}


@pytest.mark.slow
def test_keep_going_finishes_every_good_file_completely(keep_going):
    proc, images = keep_going["proc"], keep_going["workdir"] / "results" / "images"
    assert proc.returncode != 0  # the bad files fail, the good ones are all finished:
    for sample in GOOD:
        qc = json.loads((images / f"{sample}.qc.json").read_text())
        assert qc["reconciled"] and qc["events_in_file"] == qc["rendered"] + qc["skipped"]
        table = pd.read_parquet(images / f"{sample}.parquet")
        assert len(table) == 3 * qc["rendered"] and table.groupby("event").size().eq(3).all()
    assert json.loads((images / f"{BIG}.qc.json").read_text())["rendered"] == BIG_EVENTS


@pytest.mark.slow
@pytest.mark.parametrize("sample", sorted(BAD))
def test_keep_going_bad_file_fails_with_its_message_and_leaves_nothing(keep_going, opensamples, sample):
    workdir, proc = keep_going["workdir"], keep_going["proc"]
    path = opensamples["in"] / f"{sample}.h5"
    log = (workdir / "results" / "logs" / "render" / f"{sample}.log").read_text()
    errors = [line for line in log.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "Traceback" not in log, log
    message = errors[0].split(" ERROR nuwire: ", 1)[1]
    assert message.startswith(f"{path}: ")
    for fragment in BAD[sample]:
        assert fragment in message
    assert f"nuwire: error: {message}" in proc.stdout + proc.stderr  # the same paragraph on the terminal
    leftovers = [p.name for p in (workdir / "results" / "images").iterdir() if sample in p.name]
    assert leftovers == []  # no image file, QC record or temporary file of the bad input


@pytest.mark.slow
def test_missing_seq_cnt_falls_back_with_a_warning_and_the_same_images(keep_going, opensamples, tmp_path):
    workdir = keep_going["workdir"]
    path = opensamples["in"] / "nue_WithWire_00.h5"
    log = (workdir / "results" / "logs" / "render" / "nue_WithWire_00.log").read_text()
    assert (
        f"WARNING nuwire.io.opensamples: {path}: /wire_table has no event_id.seq_cnt; grouping rows by event_id" in log
    )
    # The same file with its index gives the same image file, byte for byte.
    reference = tmp_path / "ref.parquet"
    plain = opensamples["plain"] / "nue_WithWire_00.h5"
    render_file(plain, reference, tmp_path / "ref.qc.json", sample="nue_WithWire_00", params=PARAMS)
    assert (workdir / "results" / "images" / "nue_WithWire_00.parquet").read_bytes() == reference.read_bytes()


@pytest.mark.slow
def test_keep_going_never_writes_to_the_input_directory(keep_going, opensamples):
    assert _checksums(opensamples["in"]) == keep_going["inputs_before"]


@pytest.mark.slow
def test_without_the_bad_files_only_the_missing_work_runs_and_qc_counts_skips(keep_going, opensamples):
    """The user removes the bad files (here: a pattern that leaves them out) and runs again."""
    workdir = keep_going["workdir"]
    config = opensamples_config(workdir, "robust_good", opensamples["in"], GOOD_PATTERN)
    dry = snakemake(workdir, "-n", config=config)
    assert "rule render:" not in dry.stdout + dry.stderr  # the good files' images are reused
    snakemake(workdir, "results/dataset/qc_summary.tsv", config=config)
    qc = pd.read_csv(workdir / "results" / "dataset" / "qc_summary.tsv", sep="\t").set_index("sample")
    row = qc.loc["nue_WithWire_03"]
    assert (row["events"], row["rendered"], row["skipped"]) == (5, 2, 3)
    assert "1 non-finite (NaN or infinite) ADC values" in row["reasons"]
    assert "2 non-finite (NaN or infinite) ADC values" in row["reasons"]
    assert "no wire rows in /wire_table for this event" in row["reasons"]
    events = pd.read_parquet(workdir / "results" / "dataset" / "events.parquet")
    assert sorted(events.loc[events["sample"] == "nue_WithWire_03", "event"]) == [0, 4]


# ---------------------------------------------------------------- empty input directory


@pytest.mark.slow
def test_empty_input_directory_fails_before_any_job(tmp_path: Path):
    workdir = copy_workflow(tmp_path / "wf")
    empty = tmp_path / "copied_later"
    empty.mkdir()
    (empty / "README.txt").write_text("the .h5 files are still being copied\n")
    proc = snakemake(workdir, check=False, config=opensamples_config(workdir, "empty", empty))
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert f"input.opensamples_dir: no files matching '*.h5' in {empty}." in output
    assert "Copy the OpenSamples WithWire files there or fix the path in the config." in output
    assert "Traceback" not in output
    assert not (workdir / "results").exists()


# ---------------------------------------------------------------- 2. interrupted render


def _group_members(pgid: int) -> dict[int, str]:
    """pid -> command line of the live processes in process group `pgid`."""
    members = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                members[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            continue
    return members


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:  # renamed onto its final name meanwhile
        return 0


INTERRUPTIONS = {
    # how: what is signalled
    "SIGTERM to snakemake": lambda proc: os.kill(proc.pid, signal.SIGTERM),
    "SIGTERM to snakemake and the job (Slurm, systemd)": lambda proc: os.killpg(proc.pid, signal.SIGTERM),
    "SIGKILL to snakemake and the job": lambda proc: os.killpg(proc.pid, signal.SIGKILL),
    "SIGKILL to the render script": lambda proc: [
        os.kill(pid, signal.SIGKILL) for pid, cmd in _group_members(proc.pid).items() if ".render.py" in cmd
    ],
}


@pytest.mark.slow
@pytest.mark.parametrize("how", list(INTERRUPTIONS))
def test_interrupted_render_reruns_to_identical_outputs(how, keep_going, opensamples, tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    config = opensamples_config(workdir, "big", opensamples["in"], f"{BIG}.h5")
    images = workdir / "results" / "images"
    targets = [f"results/images/{BIG}.parquet", f"results/images/{BIG}.qc.json"]
    with open(tmp_path / "first.log", "w") as out:
        proc = subprocess.Popen(
            [SNAKEMAKE, *targets, "--cores", "1", "--configfile", config],
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        # Mid-render: the first row group (16 events of 120) is in the temporary Parquet file.
        deadline = time.monotonic() + 300
        while not any(_size(p) > 4 for p in images.glob(f".{BIG}.parquet.*.tmp")):
            assert proc.poll() is None, (tmp_path / "first.log").read_text()
            assert time.monotonic() < deadline, "the render did not start"
            time.sleep(0.005)
        assert not (images / f"{BIG}.parquet").exists()
        INTERRUPTIONS[how](proc)
        proc.wait(timeout=300)
        deadline = time.monotonic() + 60
        while _group_members(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        if proc.poll() is None or _group_members(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode != 0
    if how == "SIGTERM to snakemake":  # Snakemake lets the running job finish, then stops
        assert "Will exit after finishing currently running jobs" in (tmp_path / "first.log").read_text()
    else:  # the job died: nothing under the final names, whatever the state of the temporary files
        assert not (images / f"{BIG}.parquet").exists() and not (images / f"{BIG}.qc.json").exists()
    if how == "SIGKILL to snakemake and the job":
        snakemake(workdir, "--unlock", config=config)  # a killed Snakemake leaves its lock behind
    snakemake(workdir, *targets, "--rerun-incomplete", config=config)
    reference = keep_going["workdir"] / "results" / "images"
    for name in (f"{BIG}.parquet", f"{BIG}.qc.json"):
        assert (images / name).read_bytes() == (reference / name).read_bytes(), name
    assert sorted(p.name for p in images.iterdir()) == [f"{BIG}.parquet", f"{BIG}.qc.json"]  # no debris


# ---------------------------------------------------------------- 3. identical reruns, 4. hygiene

NOT_COMPARED = ("logs/", "benchmarks/", "summary/runtimes.tsv")  # timings and log time stamps


def _snapshot(directory: Path, skip: tuple[str, ...] = ()) -> dict[str, tuple[int, int]]:
    """relative path -> (size, mtime_ns) of every file and directory, except the `skip` subtrees."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(directory):
        rel = Path(dirpath).relative_to(directory)
        dirnames[:] = [d for d in dirnames if str(rel / d) not in skip]
        for name in dirnames + filenames:
            st = (Path(dirpath) / name).stat()
            out[str(rel / name)] = (st.st_size if name in filenames else 0, st.st_mtime_ns)
    return out


@pytest.fixture(scope="module")
def two_clean_runs(tmp_path_factory) -> dict:
    """The tiny config run from scratch in two directories, each with a TMPDIR of its own."""
    runs = {}
    for name in ("a", "b"):
        workdir = copy_workflow(tmp_path_factory.mktemp(f"clean_{name}"))
        tmpdir = tmp_path_factory.mktemp(f"tmpdir_{name}")
        before = _snapshot(workdir)
        snakemake(workdir, env={**os.environ, "TMPDIR": str(tmpdir)}, config="config/test.yaml")
        runs[name] = {"workdir": workdir, "results": workdir / "results", "tmpdir": tmpdir, "before": before}
    return runs


@pytest.mark.slow
def test_two_clean_runs_give_identical_images_index_and_metrics(two_clean_runs):
    a, b = two_clean_runs["a"]["results"], two_clean_runs["b"]["results"]
    images = sorted(p.name for p in (a / "images").iterdir())
    assert len(images) == 8 and images == sorted(p.name for p in (b / "images").iterdir())
    for name in images:  # image Parquet files and QC records
        assert (a / "images" / name).read_bytes() == (b / "images" / name).read_bytes(), name
    assert (a / "dataset" / "events.parquet").read_bytes() == (b / "dataset" / "events.parquet").read_bytes()
    point = Path("models/lenet/plane2/scale0.5/full/whole")
    metrics_a = json.loads((a / point / "metrics.json").read_text())
    metrics_b = json.loads((b / point / "metrics.json").read_text())
    assert without_timing(metrics_a) == without_timing(metrics_b)
    assert without_timing(metrics_a) == metrics_a  # today metrics.json has no timing field at all ...
    assert (a / point / "metrics.json").read_bytes() == (b / point / "metrics.json").read_bytes()  # ... so: bytes
    assert (a / point / "predictions.parquet").read_bytes() == (b / point / "predictions.parquet").read_bytes()


@pytest.mark.slow
def test_two_clean_runs_agree_on_every_other_output_apart_from_timings(two_clean_runs):
    a, b = two_clean_runs["a"]["results"], two_clean_runs["b"]["results"]
    files = _files_under(a)
    assert files == _files_under(b)
    differing = []
    for name in files:
        if name.startswith(NOT_COMPARED):
            continue
        if name.endswith("history.csv"):  # per-epoch metrics plus the epoch's wall time in `seconds`
            same = pd.read_csv(a / name).drop(columns="seconds").equals(pd.read_csv(b / name).drop(columns="seconds"))
        else:
            same = (a / name).read_bytes() == (b / name).read_bytes()
        if not same:
            differing.append(name)
    assert differing == []  # weights (best.pt), figures, tables, simulated inputs, summary


@pytest.mark.slow
def test_tiny_run_writes_nothing_outside_results(two_clean_runs):
    run = two_clean_runs["a"]
    after = _snapshot(run["workdir"], skip=("results", ".snakemake"))
    assert after == run["before"]  # not a file added, removed or touched beside results/ (and .snakemake/)
    left_in_tmp = _files_under(run["tmpdir"])
    assert left_in_tmp == []  # and no temporary file left behind in TMPDIR


@pytest.mark.slow
def test_metrics_record_provenance(two_clean_runs):
    from nuwire import __version__
    from nuwire.io.identity import sha256_file
    from nuwire.provenance import git_commit, package_versions

    workdir = two_clean_runs["a"]["workdir"]
    metrics = json.loads((workdir / "results/models/lenet/plane2/scale0.5/full/whole/metrics.json").read_text())
    prov = metrics["provenance"]
    assert prov["nuwire_version"] == __version__
    assert prov["git_commit"] == git_commit() and prov["git_commit"] != "unknown"
    assert re.fullmatch(r"[0-9a-f]{64}", prov["config_hash"])
    assert re.fullmatch(r"[0-9a-f]{64}", metrics["training"]["config_hash"])
    assert prov["packages"] == package_versions() and "not installed" not in prov["packages"].values()
    h5s = sorted((workdir / "results" / "resources").glob("*.h5"))
    assert len(h5s) == 4
    expected = [{"file": str(p.relative_to(workdir)), "size": p.stat().st_size, "sha256": sha256_file(p)} for p in h5s]
    assert sorted(prov["inputs"], key=lambda d: d["file"]) == expected
