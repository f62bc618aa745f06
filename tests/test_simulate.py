"""The simulator writes real HDF5 files in exactly the OpenSamples schema, deterministically.

Fast checks on the compact geometry with a few events: structure against nuwire.io.h5schema, the
seq_cnt index, determinism, keys, atomic output, truth consistency, the writer's chunk handling and
the collection-plane calibration. Physics comparisons between classes are in test_simulate_physics.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

import nuwire.simulate as simulate
from h5files import event_rows
from nuwire.geometry import COMPACT, GEOMETRY_ATTR, MICROBOONE, Geometry
from nuwire.io.h5schema import ADC_WIDTH, PARTICLE_CATEGORY, SEQ_CNT, STR, TABLES
from nuwire.io.opensamples_writer import OpenSamplesWriter
from nuwire.simulate import event_truth, simulate_file, simulate_files
from nuwire.simulate.channels import channel_status
from nuwire.simulate.detector import nearest_wires, project, space_charge
from nuwire.simulate.fidelity import block_sums
from nuwire.simulate.readout import waveforms
from nuwire.simulate.tracks import TrackStart, propagate

SEED = 11
EVENTS = 3


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    out = tmp_path_factory.mktemp("sim")
    return {
        "bnb": simulate_files(out, "bnb", n_files=2, events_per_file=EVENTS, geometry=COMPACT, seed=SEED),
        "nue": simulate_files(out, "nue", n_files=1, events_per_file=EVENTS, geometry=COMPACT, seed=SEED),
    }


def _all_files(files: dict[str, list[Path]]) -> list[Path]:
    return [p for paths in files.values() for p in paths]


def _read_all(path: Path) -> dict[str, np.ndarray]:
    out = {}
    with h5py.File(path) as f:
        for group in f:
            for name in f[group]:
                out[f"{group}/{name}"] = f[group][name][()]
    return out


# -- structure --------------------------------------------------------------------------------


def test_file_names(files: dict[str, list[Path]]) -> None:
    assert [p.name for p in files["bnb"]] == ["bnb_WithWire_00.h5", "bnb_WithWire_01.h5"]
    assert [p.name for p in files["nue"]] == ["nue_WithWire_00.h5"]
    # Atomic writes leave no temporary files behind.
    assert sorted(p.name for p in files["bnb"][0].parent.iterdir()) == sorted(p.name for p in _all_files(files))


def test_every_group_and_dataset_with_exact_width_and_dtype(files: dict[str, list[Path]]) -> None:
    with h5py.File(files["bnb"][0]) as f:
        assert set(TABLES) <= set(f.keys())
        for group, columns in TABLES.items():
            for name, (width, dtype) in columns.items():
                ds = f[group][name]
                want = COMPACT.n_ticks if width == ADC_WIDTH else width
                assert ds.ndim == 2 and ds.shape[1] == want, f"{group}/{name} shape {ds.shape}"
                if dtype == STR:
                    info = h5py.check_string_dtype(ds.dtype)
                    assert info is not None and info.length is None, f"{group}/{name} is not a vlen string"
                else:
                    assert ds.dtype == dtype, f"{group}/{name} dtype {ds.dtype} != {dtype}"
                assert ds.shape[0] > 0, f"{group}/{name} is empty"
            assert f[group][SEQ_CNT].dtype == np.int64
        # As the real writer declares them: wire_table's wire float, hit_table's int.
        assert f["wire_table/local_wire"].dtype == np.float32
        assert f["hit_table/local_wire"].dtype == np.int32
        assert f["wire_table/adc"].compression == "gzip"
        assert Geometry.from_json(f.attrs[GEOMETRY_ATTR]) == COMPACT


def test_seq_cnt_matches_rows_event_by_event(files: dict[str, list[Path]]) -> None:
    for path in _all_files(files):
        with h5py.File(path) as f:
            keys = f["event_table/event_id"][()]
            assert len(keys) == EVENTS
            for group in TABLES:
                seq = f[group][SEQ_CNT][()]
                ids = f[group]["event_id"][()]
                assert seq.ndim == 2 and seq.shape[1] == 2
                assert np.all(np.diff(seq[:, 0]) > 0), f"{path.name}/{group}: seq_cnt not sorted"
                assert seq[:, 1].sum() == len(ids), f"{path.name}/{group}: counts != rows"
                start = 0
                for event_index, count in seq:
                    block = ids[start : start + count]
                    assert np.all(block == keys[event_index]), f"{path.name}/{group}: rows out of event order"
                    start += count
            seq = f["event_table"][SEQ_CNT][()]
            assert np.array_equal(seq, np.column_stack([np.arange(EVENTS), np.ones(EVENTS)]))


def test_every_channel_has_one_wire_row_per_event(files: dict[str, list[Path]]) -> None:
    with h5py.File(files["nue"][0]) as f:
        seq = f["wire_table"][SEQ_CNT][()]
        assert np.all(seq[:, 1] == COMPACT.n_channels)
        plane = f["wire_table/local_plane"][:, 0]
        wire = f["wire_table/local_wire"][:, 0]
        tpc = f["wire_table/tpc"][:, 0]
    assert np.all(tpc == 0)
    for k in range(EVENTS):
        sl = slice(k * COMPACT.n_channels, (k + 1) * COMPACT.n_channels)
        for p, n in enumerate(COMPACT.n_wires):
            assert np.array_equal(np.sort(wire[sl][plane[sl] == p]), np.arange(n, dtype=np.float32))


def test_the_reader_opens_generated_files(files: dict[str, list[Path]]) -> None:
    from nuwire.io.opensamples import OpenSamplesFile

    with OpenSamplesFile(files["bnb"][1]) as f:
        assert f.geometry == COMPACT and f.n_events == EVENTS
        events = list(f.iter_events())
    assert all(ev.skip_reason is None for ev in events)
    assert [p.shape for p in events[0].planes] == [(n, COMPACT.n_ticks) for n in COMPACT.n_wires]


# -- determinism, keys, errors ------------------------------------------------------------------


def test_same_seed_same_file_and_file_index_is_independent_of_the_caller(
    files: dict[str, list[Path]], tmp_path: Path
) -> None:
    again = tmp_path / "again.h5"
    simulate_file(again, "bnb", EVENTS, geometry=COMPACT, seed=SEED, file_index=1)
    a, b = _read_all(files["bnb"][1]), _read_all(again)
    assert a.keys() == b.keys()
    for name in a:
        assert np.array_equal(a[name], b[name]), f"{name} differs"


def test_other_seed_or_file_gives_other_events(files: dict[str, list[Path]], tmp_path: Path) -> None:
    other = tmp_path / "other.h5"
    simulate_file(other, "bnb", EVENTS, geometry=COMPACT, seed=SEED + 1, file_index=1)
    with h5py.File(files["bnb"][1]) as f1, h5py.File(other) as f2, h5py.File(files["bnb"][0]) as f0:
        assert not np.array_equal(f1["event_table/nu_vtx"][()], f2["event_table/nu_vtx"][()])
        assert not np.array_equal(f1["event_table/nu_vtx"][()], f0["event_table/nu_vtx"][()])


def test_event_keys_unique_across_files_and_samples(files: dict[str, list[Path]]) -> None:
    keys = []
    for path in _all_files(files):
        with h5py.File(path) as f:
            keys.extend(map(tuple, f["event_table/event_id"][()].tolist()))
    assert len(keys) == len(set(keys))
    # One run period for both samples (one detector state); the subrun keeps keys apart.
    assert {k[0] for k in keys} == {simulate.run_number("bnb")} == {simulate.run_number("nue")}
    subruns = {sample: {k[1] for k in keys if k in _keys(paths)} for sample, paths in files.items()}
    assert not subruns["bnb"] & subruns["nue"]


def _keys(paths: list[Path]) -> set[tuple[int, ...]]:
    out: set[tuple[int, ...]] = set()
    for path in paths:
        with h5py.File(path) as f:
            out |= set(map(tuple, f["event_table/event_id"][()].tolist()))
    return out


def test_unknown_sample_lists_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="bnb.*nue"):
        simulate_file(tmp_path / "x.h5", "numi", 1, geometry=COMPACT, seed=1, file_index=0)
    with pytest.raises(ValueError, match="bnb.*nue"):
        simulate_files(tmp_path, "numi", 1, events_per_file=1, geometry=COMPACT, seed=1)


def test_failure_leaves_no_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = simulate.simulate_event
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("boom")
        return real(*args, **kwargs)

    monkeypatch.setattr(simulate, "simulate_event", flaky)
    target = tmp_path / "bnb_WithWire_00.h5"
    with pytest.raises(RuntimeError, match="boom"):
        simulate_file(target, "bnb", 3, geometry=COMPACT, seed=1, file_index=0)
    assert list(tmp_path.iterdir()) == []


def test_summary_counts(tmp_path: Path) -> None:
    summary = simulate_file(tmp_path / "s.h5", "nue", 2, geometry=COMPACT, seed=3, file_index=0)
    json.dumps(summary)  # plain values only
    assert summary["events"] == 2 and summary["nue_cc"] == 2 and summary["nc"] == 0
    assert summary["bytes"] == (tmp_path / "s.h5").stat().st_size


# -- truth and reconstruction tables ------------------------------------------------------------


def test_event_table_is_the_truth_path_and_consistent(files: dict[str, list[Path]]) -> None:
    for sample, paths in files.items():
        for file_index, path in enumerate(paths):
            with h5py.File(path) as f:
                et = {name: f["event_table"][name][()] for name in TABLES["event_table"]}
            for k in range(EVENTS):
                truth = event_truth(sample, COMPACT, seed=SEED, file_index=file_index, event_index=k)
                assert et["nu_pdg"][k, 0] == truth.nu_pdg and et["is_cc"][k, 0] == int(truth.is_cc)
                assert et["nu_energy"][k, 0] == np.float32(truth.nu_energy)
                assert et["lep_energy"][k, 0] == np.float32(truth.lep_energy)
                assert 0 < et["lep_energy"][k, 0] < et["nu_energy"][k, 0]
                assert np.isclose(np.linalg.norm(et["nu_dir"][k]), 1.0, atol=1e-5)
                vtx, corr = et["nu_vtx"][k].astype(float), et["nu_vtx_corr"][k].astype(float)
                assert np.linalg.norm(corr - vtx) < 3.0
                assert np.allclose(corr, space_charge(vtx[None], COMPACT)[0], atol=1e-3)
                assert np.array_equal(et["nu_vtx_wire_pos"][k], nearest_wires(COMPACT, corr[None])[0])
                assert 0 <= et["nu_vtx_wire_time"][k, 0] - COMPACT.tick_from_x(corr[0]) <= 3.2 + 1e-3
                if sample == "nue":
                    assert et["is_cc"][k, 0] == 1 and abs(et["nu_pdg"][k, 0]) == 12


def test_particle_hit_and_edep_tables_link_up(files: dict[str, list[Path]]) -> None:
    with h5py.File(files["nue"][0]) as f:
        tables = {g: {n: f[g][n][()] for n in TABLES[g]} for g in ("particle_table", "hit_table", "edep_table")}
        seqs = {g: f[g][SEQ_CNT][()] for g in tables}
    starts = {g: np.concatenate([[0], np.cumsum(seqs[g][:, 1])]) for g in tables}
    for k in range(EVENTS):
        rows = {g: {n: v[starts[g][k] : starts[g][k + 1]] for n, v in tables[g].items()} for g in tables}
        part, hits, edep = rows["particle_table"], rows["hit_table"], rows["edep_table"]
        ids = part["g4_id"][:, 0]
        assert np.array_equal(ids, np.arange(1, len(ids) + 1))
        assert np.all(np.isin(part["parent_id"][:, 0], np.concatenate([[0], ids])))
        assert np.all(np.isin(part["category"][:, 0], list(PARTICLE_CATEGORY.values())))
        assert abs(part["g4_pdg"][0, 0]) == 11  # the CC lepton of a νe interaction comes first
        assert set(part["start_process"][:, 0]) >= {b"primary"}
        assert np.all(np.isin(edep["hit_id"][:, 0], hits["hit_id"][:, 0]))
        assert np.all(np.isin(edep["g4_id"][:, 0], ids))
        frac = np.bincount(edep["hit_id"][:, 0], weights=edep["energy_fraction"][:, 0])
        assert np.allclose(frac[np.unique(edep["hit_id"][:, 0])], 1.0, atol=1e-4)
        assert np.all(hits["integral"] > 0) and np.all(hits["rms"] > 0)
        assert np.all(np.isin(hits["local_plane"], [0, 1, 2]))


def test_pandora_rows(files: dict[str, list[Path]]) -> None:
    n_nu, nu_scores, cosmic_scores = 0, [], []
    for path in _all_files(files):
        with h5py.File(path) as f:
            pdg = f["pandoraPrimary_table/slice_pdg"][:, 0]
            score = f["pandoraPrimary_table/nu_score"][:, 0]
            vtx = f["pandoraPrimary_table/vtx"][()]
            wires = f["pandoraPrimary_table/vtx_wire_pos"][()]
            assert set(pdg) <= {12, 14, 13} and np.any(pdg == 13)
            assert np.all((score >= 0) & (score <= 1))
            nu_scores.extend(score[pdg != 13])
            cosmic_scores.extend(score[pdg == 13])
            assert np.array_equal(wires, nearest_wires(COMPACT, vtx.astype(float)))
            n_nu += int(np.isin(pdg, (12, 14)).sum())
    assert n_nu >= 5  # a candidate in most of the 9 events
    assert np.mean(cosmic_scores) < 0.3 < np.mean(nu_scores)


# -- wires ----------------------------------------------------------------------------------------


def test_adc_is_sparse_unipolar_and_finite(files: dict[str, list[Path]]) -> None:
    with h5py.File(files["bnb"][0]) as f:
        adc = f["wire_table/adc"][()]
    assert np.all(np.isfinite(adc))
    nonzero = adc[adc != 0]
    assert 0 < nonzero.size < 0.25 * adc.size  # zero outside regions of interest
    assert nonzero.max() > 30  # tracks are there
    assert nonzero.min() > -8  # only small noise dips below zero
    assert -nonzero[nonzero < 0].sum() < 0.05 * nonzero[nonzero > 0].sum()


def test_mip_gives_the_real_shoulder_on_the_collection_plane() -> None:
    """A through-going muon along z half-way along the drift: tens of ADC·ticks per wire, no beading,
    and its 6-tick sums (the notebook's pixels) in the range of the real minimum-ionising shoulder."""
    rng = np.random.default_rng(0)
    x_mid = 0.5 * sum(MICROBOONE.active_x_cm)
    start = TrackStart(
        np.array([[x_mid, 0.0, 100.0]]), np.array([[0.0, 0.0, 1.0]]), np.array([5000.0]), np.array([1]), np.zeros(1)
    )
    track = propagate(start, mass=105.658, max_len=np.array([300.0]), rng=rng)
    proj, _ = project(track.deposits, MICROBOONE)
    readout = waveforms(proj, MICROBOONE, channel_status(MICROBOONE, 0), rng=rng)
    plane2 = readout.adc[sum(MICROBOONE.n_wires[:2]) :]
    per_wire = plane2.sum(axis=1)
    hit = per_wire > 20
    assert 800 < hit.sum() < 1100  # 300 cm / 0.3 cm pitch, less the dead wires
    assert 40 <= np.median(per_wire[hit]) <= 110
    # No beading: neighbouring wires carry about the same charge (Landau straggling aside).
    w = np.flatnonzero(hit)
    pairs = np.diff(w) == 1
    ratio = per_wire[w[1:][pairs]] / per_wire[w[:-1][pairs]]
    assert 0.85 < np.median(ratio) < 1.15
    sums = block_sums(plane2)
    assert 20 <= np.median(sums.max(axis=1)[hit]) <= 60


# -- writer -----------------------------------------------------------------------------------------


def test_writer_round_trips_adc_exactly_across_chunk_boundaries(tmp_path: Path) -> None:
    """Events whose rows do not fill whole chunks, NaN, -0.0 and all-zero chunks read back exactly."""
    rng = np.random.default_rng(1)
    path = tmp_path / "w.h5"
    blocks = []
    with OpenSamplesWriter(path, COMPACT, groups=("event_table", "wire_table"), adc_chunk=(16, 256)) as w:
        for k, n in enumerate((37, 5, 0, 1348, 16)):
            adc = np.zeros((n, COMPACT.n_ticks), np.float32)
            hot = rng.random(adc.shape) < 0.002
            adc[hot] = rng.normal(20, 10, hot.sum())
            if n > 4:
                adc[3, 5], adc[4, COMPACT.n_ticks - 1] = np.nan, -0.0
            blocks.append(adc)
            w.add_event(event_rows((1, 0, k), [adc], reco=None))  # n rows of plane 0
    with h5py.File(path) as f:
        back = f["wire_table/adc"][()]
        seq = f["wire_table"][SEQ_CNT][()]
        n_chunks = f["wire_table/adc"].id.get_num_chunks()
    want = np.concatenate(blocks)
    assert back.shape == want.shape
    assert np.array_equal(back, want, equal_nan=True)
    assert np.signbit(back[37 + 5 + 4, COMPACT.n_ticks - 1])
    assert seq.tolist() == [[0, 37], [1, 5], [3, 1348], [4, 16]]
    # All-zero chunks are never stored.
    tiles = np.pad(want, ((0, (-len(want)) % 16), (0, 0))).reshape(-1, 16, 4, 256)
    assert n_chunks == int(np.count_nonzero(np.any(tiles != 0, axis=(1, 3)) | np.any(np.isnan(tiles), axis=(1, 3))))
