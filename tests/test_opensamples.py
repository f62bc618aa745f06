"""The reader on real h5py files: slicing by seq_cnt, placement by local_wire, bad input."""

from __future__ import annotations

import logging
from pathlib import Path

import h5py
import numpy as np
import pytest

from h5files import blank_planes, event_rows, scattered_planes, write_file
from nuwire.errors import InputFileError
from nuwire.geometry import COMPACT, MICROBOONE
from nuwire.io.h5schema import SEQ_CNT
from nuwire.io.opensamples import OpenSamplesFile
from nuwire.io.opensamples_writer import OpenSamplesWriter


@pytest.fixture
def three_events(tmp_path: Path) -> tuple[Path, list[list[np.ndarray]]]:
    rng = np.random.default_rng(0)
    planes = [scattered_planes(rng) for _ in range(3)]
    events = [event_rows((1, 2, k), planes[k], nu_pdg=[12, 14, -12][k], is_cc=[1, 1, 0][k]) for k in range(3)]
    return write_file(tmp_path / "bnb_WithWire_00.h5", events), planes


def test_events_come_back_in_order_with_their_wires(three_events):
    path, planes = three_events
    with OpenSamplesFile(path) as f:
        assert f.geometry == COMPACT
        assert f.n_events == 3
        events = list(f.iter_events())
    assert [e.event for e in events] == [0, 1, 2]
    assert [e.truth.nu_pdg for e in events] == [12, 14, -12]
    for ev, expected in zip(events, planes):
        assert ev.skip_reason is None
        for got, want in zip(ev.planes, expected):
            assert got.dtype == np.float32
            np.testing.assert_array_equal(got, want)


def test_shuffled_wire_rows_are_placed_by_local_wire(tmp_path: Path):
    rng = np.random.default_rng(1)
    planes = scattered_planes(rng)
    order = rng.permutation(COMPACT.n_channels)
    path = write_file(tmp_path / "f.h5", [event_rows((1, 1, 1), planes, wire_order=order)])
    with OpenSamplesFile(path) as f:
        (ev,) = list(f.iter_events())
    for got, want in zip(ev.planes, planes):
        np.testing.assert_array_equal(got, want)


def test_missing_wire_rows_stay_zero(tmp_path: Path):
    rng = np.random.default_rng(2)
    planes = scattered_planes(rng)
    keep = np.sort(rng.choice(COMPACT.n_channels, size=COMPACT.n_channels - 50, replace=False))
    path = write_file(tmp_path / "f.h5", [event_rows((1, 1, 1), planes, wire_order=keep)])
    dropped = np.setdiff1d(np.arange(COMPACT.n_channels), keep)
    with OpenSamplesFile(path) as f:
        (ev,) = list(f.iter_events())
    stacked = np.concatenate(ev.planes)
    assert not stacked[dropped].any()
    np.testing.assert_array_equal(stacked[keep], np.concatenate(planes)[keep])


def test_event_without_wire_rows_is_skipped_with_reason(tmp_path: Path):
    planes = scattered_planes(3)
    path = write_file(tmp_path / "f.h5", [event_rows((1, 1, 1), planes), event_rows((1, 1, 2), None)])
    with OpenSamplesFile(path) as f:
        events = list(f.iter_events())
    assert events[0].skip_reason is None
    assert events[1].planes is None
    assert "no wire rows" in events[1].skip_reason


def test_nan_adc_is_skipped_with_reason(tmp_path: Path):
    planes = scattered_planes(4)
    planes[2][5, 7] = np.nan
    path = write_file(tmp_path / "f.h5", [event_rows((1, 1, 1), planes)])
    with OpenSamplesFile(path) as f:
        (ev,) = list(f.iter_events())
    assert ev.planes is None and "non-finite" in ev.skip_reason


def test_reco_vertex_is_the_highest_scoring_neutrino_slice(three_events):
    path, _ = three_events
    with OpenSamplesFile(path) as f:
        reco = f.reco_vertices()
        ev = f.read_event(1)
    assert reco[["reco_wire_0", "reco_wire_1", "reco_wire_2", "reco_tick"]].iloc[0].tolist() == [100, 100, 200, 400]
    assert ev.reco is not None and ev.reco.wire_pos == (100.0, 100.0, 200.0)


def test_event_numbers_past_21_bits_keep_their_own_vertex(tmp_path: Path):
    """(1, 0, 2**21) and (1, 1, 0) were one key when subrun and event were packed in 21 bits each:
    the first event, which has no Pandora slice, got the second's vertex."""
    events = [
        event_rows((1, 0, 2**21), blank_planes(), reco=None),
        event_rows((1, 1, 0), blank_planes(), reco=((7, 8, 9), 300.0)),
        event_rows((1, 2**22 + 1, 2**30), blank_planes(), reco=((1, 2, 3), 100.0)),
    ]
    path = write_file(tmp_path / "f.h5", events)
    with OpenSamplesFile(path) as f:
        reco = f.reco_vertices()[["reco_wire_0", "reco_wire_1", "reco_wire_2", "reco_tick"]]
    assert np.isnan(reco.iloc[0]).all()
    assert reco.iloc[1].tolist() == [7, 8, 9, 300] and reco.iloc[2].tolist() == [1, 2, 3, 100]


def test_missing_reco_vertex_is_nan(tmp_path: Path):
    path = write_file(tmp_path / "f.h5", [event_rows((1, 1, 1), blank_planes(), reco=None)])
    with OpenSamplesFile(path) as f:
        assert np.isnan(f.reco_vertices()["reco_tick"].iloc[0])
        assert f.read_event(0).reco is None


def test_without_seq_cnt_falls_back_to_event_id_with_warning(three_events, caplog):
    path, planes = three_events
    with h5py.File(path, "a") as h5:
        del h5["wire_table"][SEQ_CNT]
    with caplog.at_level(logging.WARNING), OpenSamplesFile(path) as f:
        events = list(f.iter_events())
    assert "grouping rows by event_id" in caplog.text
    np.testing.assert_array_equal(events[2].planes[1], planes[2][1])


def test_real_files_without_geometry_attribute_are_microboone(tmp_path: Path):
    # Real files carry no nuwire attribute: the reader assumes MicroBooNE's wires.
    path = tmp_path / "real.h5"
    with OpenSamplesWriter(path, MICROBOONE, groups=("event_table", "wire_table"), write_geometry_attr=False) as w:
        w.add_event(event_rows((1, 1, 1), None, reco=None))
    with OpenSamplesFile(path) as f:
        assert f.geometry.n_wires == MICROBOONE.n_wires
        assert f.read_event(0).skip_reason is not None


def test_nowire_file_is_named_with_advice(tmp_path: Path):
    path = tmp_path / "bnb_NoWire_00.h5"
    with h5py.File(path, "w") as h5:
        h5.create_group("event_table").create_dataset("event_id", data=np.zeros((1, 3), np.int32))
        h5.create_group("hit_table")
    with pytest.raises(InputFileError) as err:
        OpenSamplesFile(path).close()
    msg = str(err.value)
    assert str(path) in msg and "NoWire" in msg and "WithWire" in msg


def test_missing_dataset_is_named(three_events):
    path, _ = three_events
    with h5py.File(path, "a") as h5:
        del h5["event_table/lep_energy"]
    with pytest.raises(InputFileError, match="/event_table/lep_energy"):
        OpenSamplesFile(path).close()


def test_non_hdf5_file_named_h5(tmp_path: Path):
    path = tmp_path / "fake.h5"
    path.write_text("this is not HDF5\n" * 10)
    with pytest.raises(InputFileError, match="not an HDF5 file"):
        OpenSamplesFile(path).close()


def test_truncated_file(three_events):
    path, _ = three_events
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputFileError, match="truncated"):
        with OpenSamplesFile(path) as f:
            list(f.iter_events())


def test_missing_file(tmp_path: Path):
    with pytest.raises(InputFileError, match="no such file"):
        OpenSamplesFile(tmp_path / "absent.h5").close()


def test_duplicate_wire_rows_are_skipped_with_reason(tmp_path: Path):
    planes = scattered_planes(5)
    order = np.concatenate([np.arange(COMPACT.n_channels), [3]])  # wire 3 of plane 0 twice
    path = write_file(tmp_path / "f.h5", [event_rows((1, 1, 1), planes, wire_order=order)])
    with OpenSamplesFile(path) as f:
        (ev,) = list(f.iter_events())
    assert ev.planes is None and "more than one row for the same wire" in ev.skip_reason


def test_a_file_open_for_writing_elsewhere_is_named_as_such(tmp_path: Path):
    """HDF5's file lock (another process has the file open in mode 'a'): was reported as "probably
    truncated or damaged in transfer. Re-copy the file"."""
    import os
    import subprocess
    import sys

    if os.environ.get("HDF5_USE_FILE_LOCKING", "").upper() == "FALSE":
        pytest.skip("HDF5_USE_FILE_LOCKING=FALSE in this environment: HDF5 takes no file locks")
    path = write_file(tmp_path / "nue_WithWire_00.h5", [event_rows((1, 1, 1), scattered_planes(1))])
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import h5py, time; f = h5py.File({str(path)!r}, 'a'); print('open', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "HDF5_USE_FILE_LOCKING": "TRUE"},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(InputFileError) as err:
            OpenSamplesFile(path)
    finally:
        holder.kill()
        holder.wait()
    message = str(err.value)
    assert message.startswith(f"{path}: is open for writing by another process (HDF5 refused to open it: ")
    assert "unable to lock file" in message and "HDF5_USE_FILE_LOCKING=FALSE" in message
    assert "truncated" not in message and "Re-copy" not in message
    with OpenSamplesFile(path) as f:  # once the writer has closed it, the same file reads
        assert f.n_events == 1
