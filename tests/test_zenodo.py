"""input.source: zenodo against a real HTTP server on 127.0.0.1 that answers like Zenodo's records
API (tests/zenodo_server.py), with files of nuwire's simulator. The real Zenodo is not reachable
here: these tests prove the path, not the server."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
import yaml

from nuwire.errors import ConfigError, InputFileError
from nuwire.geometry import COMPACT
from nuwire.io.zenodo import RemoteFile, parse_listing, record_listing, remote_files, verified_copy
from nuwire.simulate import file_name, simulate_file
from workflow_runs import ROOT, SNAKEMAKE
from zenodo_server import Records, serve

SAMPLES = {101: [("bnb", 0), ("bnb", 1)], 202: [("nue", 0)]}  # record -> its files
TARGETS = ["results/dataset/events.parquet"]


@pytest.fixture(scope="module")
def served_files(tmp_path_factory) -> dict[int, list[Path]]:
    out = tmp_path_factory.mktemp("served")
    files: dict[int, list[Path]] = {}
    for record, names in SAMPLES.items():
        files[record] = []
        for sample, index in names:
            path = out / file_name(sample, index)
            simulate_file(path, sample, 3, geometry=COMPACT, seed=5, file_index=index)
            files[record].append(path)
    return files


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def file_gets(records: Records) -> dict[str, int]:
    return {path.split("/")[5]: n for path, n in records.gets.items() if path.endswith("/content")}


def listing_gets(records: Records) -> dict[str, int]:
    return {path: n for path, n in records.gets.items() if not path.endswith("/content")}


# ---------------------------------------------------------------- the listing and the copy (fast)


def test_listing_is_fetched_once_and_kept(served_files, tmp_path):
    with serve(Records(files=served_files)) as records:
        first = record_listing(records.base_url, 101, tmp_path)
        again = record_listing(records.base_url, 101, tmp_path)
        assert [f.key for f in first] == ["bnb_WithWire_00.h5", "bnb_WithWire_01.h5"] and again == first
        assert first[0].md5 == md5(served_files[101][0]) and first[0].size == served_files[101][0].stat().st_size
        assert listing_gets(records) == {"/api/records/101": 1}
        assert (tmp_path / "101.json").exists()
    with serve(Records(files=served_files)) as other:  # another server: its own listing
        record_listing(other.base_url, 101, tmp_path)
        assert listing_gets(other) == {"/api/records/101": 1}


def test_a_file_listed_without_md5_is_refused():
    metadata = {"files": [{"key": "a.h5", "size": 3, "checksum": "sha1:abc", "links": {"self": "http://x/a"}}]}
    with pytest.raises(ConfigError, match="'a.h5' of record 7 lists checksum 'sha1:abc'"):
        parse_listing(metadata, 7, "http://x")


def test_unreachable_server_names_the_field(tmp_path):
    with pytest.raises(ConfigError, match="input.zenodo.*http://127.0.0.1:9/api/records/5"):
        record_listing("http://127.0.0.1:9", 5, tmp_path)


def test_one_name_in_two_records_is_refused_naming_both(served_files, tmp_path):
    twice = {101: served_files[101], 303: served_files[101][:1]}
    with serve(Records(files=twice)) as records:
        zenodo = {"records": [101, 303], "base_url": records.base_url, "pattern": "*WithWire*.h5"}
        with pytest.raises(ConfigError, match="record 101/bnb_WithWire_00.h5 and record 303/bnb_WithWire_00.h5"):
            remote_files(zenodo, tmp_path)


def test_a_copy_with_the_wrong_checksum_is_not_kept(tmp_path):
    download = tmp_path / "download"
    download.write_bytes(b"x" * 100)
    listed = RemoteFile(record=1, key="f.h5", size=100, md5="0" * 32, url="http://x/f.h5")
    target = tmp_path / "kept" / "f.h5"
    with pytest.raises(InputFileError, match="f.h5.*MD5 " + hashlib.md5(b"x" * 100).hexdigest()):
        verified_copy(download, target, listed)
    assert not target.exists() and list(target.parent.iterdir()) == []  # no temporary left either
    assert not download.exists()  # so a rerun downloads it again
    good = RemoteFile(record=1, key="f.h5", size=3, md5=hashlib.md5(b"abc").hexdigest(), url="http://x/f.h5")
    download.write_bytes(b"abc")
    verified_copy(download, target, good)
    assert target.read_bytes() == b"abc"


# ---------------------------------------------------------------- the workflow (real snakemake)


def zenodo_run(workdir: Path, records: Records, *args: str) -> subprocess.CompletedProcess[str]:
    """The workflow on the records of `records`' server; the config names an unused port and
    --config points it at the test server (as a user points it at a mirror)."""
    config = workdir / "zenodo.yaml"
    zenodo = {"records": sorted(records.files), "base_url": "http://127.0.0.1:9", "download_dir": "downloads"}
    config.write_text(yaml.safe_dump({"input": {"source": "zenodo", "zenodo": zenodo}}))
    return subprocess.run(
        [
            SNAKEMAKE,
            "-s",
            str(ROOT / "Snakefile"),
            "--cores",
            "2",
            *args,
            "--configfile",
            str(config),
            "--config",
            f"input={{zenodo: {{base_url: '{records.base_url}'}}}}",
        ],  # fmt: skip
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=600,
    )


def downloads(workdir: Path) -> list[str]:
    """Every file in the download directory, hidden temporaries included."""
    return sorted(p.name for p in (workdir / "downloads").iterdir()) if (workdir / "downloads").exists() else []


def names(records: Records) -> list[str]:
    return sorted(p.name for files in records.files.values() for p in files)


@pytest.mark.slow
def test_each_file_is_downloaded_once_verified_and_rendered(served_files, tmp_path):
    with serve(Records(files=served_files)) as records:
        proc = zenodo_run(tmp_path, records, *TARGETS)
        assert proc.returncode == 0, proc.stderr[-5000:]
        assert file_gets(records) == {name: 1 for name in names(records)}
        assert listing_gets(records) == {"/api/records/101": 1, "/api/records/202": 1}
        assert downloads(tmp_path) == names(records)
        for files in served_files.values():
            for path in files:
                assert md5(tmp_path / "downloads" / path.name) == md5(path)
        assert sorted(p.name for p in (tmp_path / "results" / "zenodo").iterdir()) == ["101.json", "202.json"]
        # A second run downloads nothing; remade images read the kept files.
        again = zenodo_run(tmp_path, records, *TARGETS)
        assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr
        (tmp_path / "results" / "images" / "nue_WithWire_00.parquet").unlink()
        remade = zenodo_run(tmp_path, records, "results/images/nue_WithWire_00.parquet")
        assert remade.returncode == 0, remade.stderr[-5000:]
        assert "rule render:" in remade.stderr and "rule zenodo_download:" not in remade.stdout + remade.stderr
        assert file_gets(records) == {name: 1 for name in names(records)}
        assert listing_gets(records) == {"/api/records/101": 1, "/api/records/202": 1}
    # With everything downloaded and the listings kept, the server is not needed any more.
    offline = zenodo_run(tmp_path, records, "-n", *TARGETS)
    assert offline.returncode == 0 and "Nothing to be done" in offline.stdout + offline.stderr


@pytest.mark.slow
def test_an_interrupted_download_is_not_used_and_a_rerun_completes(served_files, tmp_path):
    with serve(Records(files=served_files, drop_once={"nue_WithWire_00.h5"})) as records:
        first = zenodo_run(tmp_path, records, *TARGETS)
        assert first.returncode != 0
        assert "IncompleteRead" in first.stdout + first.stderr
        assert "nue_WithWire_00.h5" not in downloads(tmp_path)  # neither the file nor a temporary of it
        # Nor a local storage copy of it. (Another file's retrieval running when Snakemake aborts
        # may leave that file's copy: the MD5 check of the download step vets it on the rerun.)
        left = [p for p in (tmp_path / ".snakemake" / "storage").rglob("*") if p.is_file()]
        assert not [p for p in left if "nue_WithWire_00.h5" in p.parts], left
        assert not (tmp_path / "results" / "images" / "nue_WithWire_00.parquet").exists()
        # The failed retrieval ends the whole run (Snakemake stops at a storage error even with
        # --keep-going), so a render running at that moment is marked incomplete: rerun it too.
        rerun = zenodo_run(tmp_path, records, *TARGETS, "--rerun-incomplete")
        assert rerun.returncode == 0, rerun.stderr[-5000:]
        assert file_gets(records)["nue_WithWire_00.h5"] == 2
        assert md5(tmp_path / "downloads" / "nue_WithWire_00.h5") == md5(served_files[202][0])
        assert downloads(tmp_path) == names(records)


@pytest.mark.slow
def test_a_wrong_checksum_stops_that_files_jobs_only(served_files, tmp_path):
    images = [f"results/images/{Path(n).stem}.parquet" for n in names(Records(files=served_files))]
    with serve(Records(files=served_files, wrong_md5={"bnb_WithWire_01.h5"})) as records:
        proc = zenodo_run(tmp_path, records, "--keep-going", *images, *TARGETS)
        assert proc.returncode != 0
        log = (tmp_path / "results" / "logs" / "zenodo_download" / "bnb_WithWire_01.log").read_text()
        assert "bnb_WithWire_01.h5" in log and "0" * 32 in log and md5(served_files[101][1]) in log
        assert downloads(tmp_path) == ["bnb_WithWire_00.h5", "nue_WithWire_00.h5"]
        made = sorted(p.name for p in (tmp_path / "results" / "images").glob("*.parquet"))
        assert made == ["bnb_WithWire_00.parquet", "nue_WithWire_00.parquet"]  # the others' jobs ran
        assert not (tmp_path / "results" / "dataset" / "events.parquet").exists()
        # The bad copy is not checked again: a rerun downloads the file again (and refuses it again).
        zenodo_run(tmp_path, records, "--keep-going", *images)
        assert file_gets(records)["bnb_WithWire_01.h5"] == 2 and file_gets(records)["bnb_WithWire_00.h5"] == 1


# ---------------------------------------------------------------- hostile listings (issue 21)


def _dotdot(record: int, entries: list[dict], base_url: str, target: Path) -> list[dict]:
    """The first file's link climbs out of every folder to `target` (as the issue's listing did)."""
    entries[0]["links"]["self"] = f"{base_url}/" + "../" * 10 + str(target).lstrip("/")
    return entries


HOSTILE = {
    "a '..' link": (
        lambda r, e, b, t: _dotdot(r, e, b, t),
        r"record 101 lists file 'bnb_WithWire_00.h5' whose link .* has a '.', '..' or empty path segment",
    ),
    "a percent-encoded '..' link": (
        lambda r, e, b, t: [{**e[0], "links": {"self": f"{b}/api/records/{r}/files/%2e%2e/%2E%2E/x/content"}}, *e[1:]],
        r"record 101 lists file 'bnb_WithWire_00.h5' whose link .* has a '.', '..' or empty path segment",
    ),
    "an absolute key": (
        lambda r, e, b, t: [{**e[0], "key": str(t.parent / "bnb_WithWire_00.h5")}, *e[1:]],
        r"record 101 lists file '/.*/bnb_WithWire_00.h5' whose name .* is an absolute path",
    ),
    "a key with a directory part": (
        lambda r, e, b, t: [{**e[0], "key": "../../bnb_WithWire_00.h5"}, *e[1:]],
        r"record 101 lists file '../../bnb_WithWire_00.h5' whose name .* has a directory part",
    ),
    "a link on another port": (
        lambda r, e, b, t: [
            {**e[0], "links": {"self": e[0]["links"]["self"].replace(b, "http://127.0.0.1:9")}},
            *e[1:],
        ],
        r"record 101 lists file 'bnb_WithWire_00.h5' whose link 'http://127.0.0.1:9/.*' is not on the configured server",
    ),
    "a link on another host": (
        lambda r, e, b, t: [
            {**e[0], "links": {"self": e[0]["links"]["self"].replace("127.0.0.1", "localhost")}},
            *e[1:],
        ],
        r"whose link 'http://localhost:.*' is not on the configured server",
    ),
}


def _victim(tmp_path: Path) -> tuple[Path, bytes, float]:
    """A file outside the download directory that a hostile link names."""
    victim = tmp_path / "elsewhere" / "precious.h5"
    victim.parent.mkdir()
    victim.write_bytes(b"not yours")
    return victim, victim.read_bytes(), victim.stat().st_mtime_ns


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_listing_is_refused_naming_record_and_key(served_files, tmp_path, case):
    edit, message = HOSTILE[case]
    victim, content, mtime = _victim(tmp_path)
    listed = Records(files=served_files, edit=lambda r, e, b: edit(r, e, b, victim) if r == 101 else e)
    with serve(listed) as records:
        zenodo = {"records": [101, 202], "base_url": records.base_url, "pattern": "*WithWire*.h5"}
        with pytest.raises(ConfigError, match=message):
            remote_files(zenodo, tmp_path / "cache")
        # Refused again from the kept listing, not only when fetched.
        with pytest.raises(ConfigError, match="record 101 lists file"):
            remote_files(zenodo, tmp_path / "cache")
        assert file_gets(records) == {}
    assert victim.read_bytes() == content and victim.stat().st_mtime_ns == mtime


def test_files_outside_the_pattern_are_never_checked_or_fetched(served_files, tmp_path):
    """A record's other files (a README, a script with any link) are left alone, never fetched."""

    def extra(record: int, entries: list[dict], base_url: str) -> list[dict]:
        bad = {"key": "/etc/run.sh", "size": 1, "checksum": "md5:" + "0" * 32, "links": {"self": "http://evil:1/../x"}}
        return [*entries, bad]

    with serve(Records(files=served_files, edit=extra)) as records:
        zenodo = {"records": [101, 202], "base_url": records.base_url, "pattern": "*WithWire*.h5"}
        assert sorted(remote_files(zenodo, tmp_path)) == ["bnb_WithWire_00", "bnb_WithWire_01", "nue_WithWire_00"]
        assert file_gets(records) == {} and sorted(p.name for p in tmp_path.iterdir()) == ["101.json", "202.json"]


def test_the_storage_copy_is_never_used_through_a_climbing_path(tmp_path):
    victim, content, _ = _victim(tmp_path)
    climbing = tmp_path / "storage" / ".." / "elsewhere" / "precious.h5"
    listed = RemoteFile(record=1, key="f.h5", size=3, md5="0" * 32, url="http://x/f.h5")
    with pytest.raises(InputFileError, match="not inside its directory"):
        verified_copy(climbing, tmp_path / "kept" / "f.h5", listed)
    assert victim.read_bytes() == content and not (tmp_path / "kept").exists()


def test_a_hostile_listing_stops_the_workflow_before_anything_is_fetched(served_files, tmp_path):
    """The issue's case in a real run: a link of `..`s to a file elsewhere on the machine. Before
    the fix the first run deleted that file and the second wrote 2 MB there."""
    victim, content, mtime = _victim(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    hostile = Records(files=served_files, edit=lambda r, e, b: _dotdot(r, e, b, victim) if r == 101 else e)
    with serve(hostile) as records:
        for _ in range(2):
            proc = zenodo_run(work, records, *TARGETS)
            assert proc.returncode != 0
            out = proc.stdout + proc.stderr
            assert "record 101 lists file 'bnb_WithWire_00.h5' whose link" in out, out[-3000:]
            assert file_gets(records) == {}
    assert victim.read_bytes() == content and victim.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in victim.parent.iterdir()) == ["precious.h5"]
    assert downloads(work) == []
    storage = work / ".snakemake" / "storage"
    assert not storage.exists() or not [p for p in storage.rglob("*") if p.is_file()]
