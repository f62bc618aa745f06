"""The simulated detector as real readouts show it: channel status, hits of everything, writer dtypes,
one detector state for both samples, topology-driven reconstruction, and the fidelity figures.

Fast checks on the compact geometry, plus one full-geometry readout (about a second) for the
fidelity figures, computed by the very functions the fidelity benchmark uses.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from benchmarks import bench_fidelity

from nuwire.geometry import COMPACT, MICROBOONE
from nuwire.io.h5schema import SEQ_CNT
from nuwire.simulate import run_number, simulate_file
from nuwire.simulate.channels import channel_status, run_period
from nuwire.simulate.event import simulate_event
from nuwire.simulate.fidelity import EDGES, block_sums, figures, intensity_histogram, plane_figures, real_reference
from nuwire.simulate.pandora import (
    CC_VISIBLE_FRACTION,
    COSMIC_TAG_PROB,
    NOTEBOOK_EFFICIENCY,
    NOTEBOOK_ENERGY_GEV,
    P_SHOWER_LIKE,
    leading_daughter_is_em,
    slice_efficiency,
)
from nuwire.simulate.particles import ParticleRegistry
from nuwire.simulate.samples import event_truth
from nuwire.simulate.truth import Topology, pandora_rows

SEED = 3
EVENTS = 4

# Column types of the real writer (nugraph/numl HDF5Maker, see the project's reference notes).
WRITER_DTYPES = {
    "hit_table": {
        "hit_id": "i4",
        "integral": "f4",
        "rms": "f4",
        "tpc": "i4",
        "local_plane": "i4",
        "local_wire": "i4",
        "local_time": "f4",
    },
    "wire_table": {"tpc": "i4", "local_plane": "i4", "local_wire": "f4", "adc": "f4"},
    "event_table": {
        "is_cc": "i4",
        "nu_pdg": "i4",
        "nu_energy": "f4",
        "lep_energy": "f4",
        "nu_dir": "f4",
        "nu_vtx": "f4",
        "nu_vtx_corr": "f4",
        "nu_vtx_wire_pos": "i4",
        "nu_vtx_wire_time": "f4",
    },
    "particle_table": {
        "g4_id": "i4",
        "g4_pdg": "i4",
        "parent_id": "i4",
        "category": "i4",
        "instance": "i4",
        "momentum": "f4",
        "start_position": "f4",
        "end_position": "f4",
    },
    "pandoraPrimary_table": {
        "slice_id": "i4",
        "slice_pdg": "i4",
        "nu_score": "f4",
        "flashmatch_score": "f4",
        "vtx": "f4",
        "vtx_wire_pos": "i4",
        "vtx_wire_time": "f4",
    },
}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("det")
    paths = {s: out / f"{s}_WithWire_00.h5" for s in ("bnb", "nue")}
    for sample, path in paths.items():
        simulate_file(path, sample, EVENTS, geometry=COMPACT, seed=SEED, file_index=0)
    return paths


def _event_adc(path: Path) -> list[np.ndarray]:
    with h5py.File(path) as f:
        seq = f["wire_table"][SEQ_CNT][()]
        adc = f["wire_table/adc"][()]
    starts = np.concatenate([[0], np.cumsum(seq[:, 1])])
    return [adc[starts[k] : starts[k + 1]] for k in range(len(seq))]


# -- channel status ---------------------------------------------------------------------------------


def test_channel_status_is_deterministic_and_placed_like_the_real_detector() -> None:
    period = run_period(run_number("bnb"))
    a = channel_status(MICROBOONE, period)
    channel_status.cache_clear()
    b = channel_status(MICROBOONE, period)
    assert np.array_equal(a.dead, b.dead) and np.array_equal(a.very_noisy, b.very_noisy)
    other = channel_status(MICROBOONE, period + 1)
    assert not np.array_equal(a.dead, other.dead)  # one map per run period
    assert 0.08 <= a.dead_fraction <= 0.12
    first = np.concatenate([[0], np.cumsum(MICROBOONE.n_wires)[:-1]])
    # Plane 0 largely dead in 400–700, plane 2 dead around 2400, plane 1's noisy wire near 1290.
    assert a.dead[first[0] + 400 : first[0] + 700].mean() > 0.7
    assert a.dead[first[2] + 2350 : first[2] + 2430].all()
    noisy = np.flatnonzero(a.very_noisy)
    assert len(noisy) == 1 and noisy[0] - first[1] in range(1280, 1300)
    assert not (a.dead & (a.very_noisy | a.mildly_noisy)).any()


def test_both_samples_share_one_detector_state_and_dead_rows_are_present(files: dict[str, Path]) -> None:
    """Nothing but physics differs: the same run period (so the same channel-status map), the same
    readout window, the same noise, the same cosmic rate, in both samples' readouts."""
    assert run_number("bnb") == run_number("nue")
    status = channel_status(COMPACT, run_period(run_number("bnb")))
    quiet, shapes = {}, set()
    for sample, path in files.items():
        with h5py.File(path) as f:
            assert set(f["event_table/event_id"][:, 0]) == {run_number(sample)}
            assert np.all(f["wire_table"][SEQ_CNT][:, 1] == COMPACT.n_channels)  # every channel has a row
        events = _event_adc(path)
        values = []
        for adc in events:
            shapes.add(adc.shape)
            silent = ~np.any(adc != 0, axis=1)
            assert np.array_equal(silent & status.dead, status.dead)  # dead rows carry no signal
            values.append(adc[(adc != 0) & (np.abs(adc) < 1.5)])
        quiet[sample] = np.concatenate(values).std()
    assert len(shapes) == 1  # one readout window
    assert abs(quiet["bnb"] / quiet["nue"] - 1) < 0.05, f"noise level in regions of interest {quiet}"
    cosmics = {
        s: [simulate_event(s, COMPACT, seed=SEED, file_index=1, event_index=k)[1].n_cosmics for k in range(12)]
        for s in ("bnb", "nue")
    }
    mean = {s: np.mean(v) for s, v in cosmics.items()}
    assert abs(mean["bnb"] - mean["nue"]) < 4 * np.sqrt((mean["bnb"] + mean["nue"]) / 12), cosmics


# -- hits, dtypes -------------------------------------------------------------------------------------


def test_columns_have_the_writers_dtypes(files: dict[str, Path]) -> None:
    with h5py.File(files["bnb"]) as f:
        for group, columns in WRITER_DTYPES.items():
            for name, dtype in columns.items():
                assert f[group][name].dtype == np.dtype(dtype), f"{group}/{name}: {f[group][name].dtype} != {dtype}"


def test_hit_table_covers_the_cosmic_charge() -> None:
    """Hits are found on the waveforms, so they hold the cosmic overlay (no edep rows) as well as the
    neutrino's charge (with edep rows), and their integrals add up to the charge the planes saw."""
    rows, _ = simulate_event("bnb", COMPACT, seed=SEED, file_index=0, event_index=1)
    hits, edep = rows["hit_table"], rows["edep_table"]
    assert hits["local_wire"].dtype == np.int32
    linked = np.isin(hits["hit_id"], edep["hit_id"])
    assert linked.any() and (~linked).sum() > linked.sum()  # cosmic hits dominate, as in real files
    adc = rows["wire_table"]["adc"]
    first = np.concatenate([[0], np.cumsum(COMPACT.n_wires)])
    for p in range(3):
        seen = np.clip(adc[first[p] : first[p + 1]], 0, None).sum()
        found = hits["integral"][hits["local_plane"] == p].sum()
        assert 0.7 < found / seen < 1.1, f"plane {p}: hits hold {found / seen:.2f} of the charge"
    wires = hits["local_wire"]
    assert wires.min() >= 0 and wires.max() < max(COMPACT.n_wires)


def test_every_hit_reaches_the_peak_height() -> None:
    """A hit's pulse peaks at HIT_PEAK or more on its wire (the real hit count per readout is matched
    with it, nuwire.simulate.hits)."""
    from nuwire.simulate import hits as hit_module

    rows, _ = simulate_event("bnb", COMPACT, seed=SEED, file_index=0, event_index=1)
    hits, n_ticks = rows["hit_table"], COMPACT.n_ticks
    first = np.concatenate([[0], np.cumsum(COMPACT.n_wires)])
    adc = rows["wire_table"]["adc"].reshape(-1, n_ticks)
    for plane, wire, time, rms in zip(hits["local_plane"], hits["local_wire"], hits["local_time"], hits["rms"],
                                      strict=True):  # fmt: skip
        t, reach = int(round(float(time))), int(3 * float(rms)) + 4
        near = adc[first[plane] + wire, max(t - reach, 0) : t + reach + 1]
        # The wire table stores the ADC rounded (to 1/64), the finder saw it before rounding.
        assert near.max() >= hit_module.HIT_PEAK[plane] - 1 / 64
    assert hit_module.HIT_PEAK[2] > hit_module.HIT_THRESHOLD[2]


# -- reconstruction ---------------------------------------------------------------------------------


def test_pandora_vertex_losses_follow_topology_not_the_label() -> None:
    """The same topology gives the same slice behaviour for an NC and a CC νe truth: a faint
    interaction is missed as often as the calibrated efficiency says, and a missed one has either a
    cosmic slice tagged as the neutrino (about COSMIC_TAG_PROB of them) or no candidate."""
    truths = {"nc": None, "nue_cc": None}
    for k in range(200):
        t = event_truth("bnb", COMPACT, seed=1, file_index=0, event_index=k)
        if not t.is_cc and truths["nc"] is None:
            truths["nc"] = t
    truths["nue_cc"] = event_truth("nue", COMPACT, seed=1, file_index=0, event_index=0)
    entries, t0 = np.array([[500.0, 0.0, 0.0], [600.0, 0.0, 0.0]]), np.zeros(2)  # far from any vertex
    faint = Topology(visible_mev=5.0, shower_fraction=0.0, n_tracks=1, n_showers=0)
    n = 400
    expected = 1 - slice_efficiency(5.0)
    lost = {}
    for name, truth in truths.items():
        assert truth is not None
        missed = cosmic = 0
        for k in range(n):
            rows = pandora_rows(
                truth, COMPACT, faint, cosmic_entries=entries, cosmic_t0=t0, rng=np.random.default_rng(k)
            )
            nu = np.isin(rows["slice_pdg"], (12, 14))
            assert nu.sum() <= 1
            far = nu.any() and np.linalg.norm(rows["vtx"][nu][0] - np.asarray(truth.vertex)) > 30.0
            missed += int(not nu.any() or far)
            cosmic += int(far)
        lost[name] = missed / n
        assert abs(lost[name] - expected) < 4 * np.sqrt(expected * (1 - expected) / n)
        assert abs(cosmic / missed - COSMIC_TAG_PROB) < 4 * np.sqrt(0.25 / missed)
    assert abs(lost["nc"] - lost["nue_cc"]) < 4 * np.sqrt(0.25 / n * 2)  # ... whatever its label


def test_slice_pdg_follows_the_hit_dominant_daughter_not_the_energy_share() -> None:
    """12 when the daughter with the most hits is characterised shower-like (an EM daughter mostly,
    a track sometimes), whatever share of the energy is electromagnetic."""
    truth = event_truth("nue", COMPACT, seed=1, file_index=0, event_index=0)
    entries, t0 = np.zeros((0, 3)), np.zeros(0)
    for leading_em, share, p in ((True, 0.1, P_SHOWER_LIKE["em"]), (False, 0.9, P_SHOWER_LIKE["track"])):
        topo = Topology(visible_mev=2000.0, shower_fraction=share, n_tracks=1, n_showers=1, leading_em=leading_em)
        pdgs = [pandora_rows(truth, COMPACT, topo, cosmic_entries=entries, cosmic_t0=t0, rng=np.random.default_rng(k)).get("slice_pdg", [0])[0]
                for k in range(400)]  # fmt: skip
        found = np.array([x for x in pdgs if x in (12, 14)])
        assert len(found) > 250  # the notebook's efficiency is near 0.8 at this energy
        assert abs(np.mean(found == 12) - p) < 4 * np.sqrt(p * (1 - p) / len(found))


def test_slice_efficiency_is_the_notebooks_curve() -> None:
    for energy, eff in zip(NOTEBOOK_ENERGY_GEV, NOTEBOOK_EFFICIENCY, strict=True):
        assert slice_efficiency(energy * 1000 * CC_VISIBLE_FRACTION) == pytest.approx(eff, rel=1e-6)
    assert slice_efficiency(0.0) == 0.0


def test_leading_daughter_from_hits() -> None:
    """A proton track with more hits than the electron's shower leads; each hit goes to the particle
    of its largest energy share."""
    registry = ParticleRegistry()
    ids = registry.add(np.array([11, 2212]), 0, np.zeros((2, 3)), momentum_gev=np.ones(2), start_process="primary")
    hits = {"hit_id": np.arange(5)}
    # Hits 0-1 mostly electron, hits 2-4 mostly proton (hit 2 shared).
    edeps = {"hit_id": np.array([0, 1, 2, 2, 3, 4]), "g4_id": np.array([ids[0], ids[0], ids[0], ids[1], ids[1], ids[1]]),
             "energy_fraction": np.array([1.0, 1.0, 0.3, 0.7, 1.0, 1.0])}  # fmt: skip
    assert leading_daughter_is_em(registry, hits, edeps) is False
    edeps["energy_fraction"] = np.array([1.0, 1.0, 0.7, 0.3, 1.0, 1.0])  # hit 2 to the electron: 3 against 2
    assert leading_daughter_is_em(registry, hits, edeps) is True
    assert leading_daughter_is_em(registry, {"hit_id": np.arange(0)}, {"hit_id": np.arange(0)}) is None


# -- fidelity ---------------------------------------------------------------------------------------


def test_block_sums_are_the_notebooks_block_reduce() -> None:
    rng = np.random.default_rng(0)
    plane = rng.normal(0, 5, (7, 20)).astype(np.float32)
    sums = block_sums(plane)
    assert sums.shape == (7, 4)  # 20 ticks in blocks of 6: the last block short, padded with zeros
    for w in range(7):
        for b in range(4):
            assert sums[w, b] == pytest.approx(plane[w, 6 * b : 6 * b + 6].sum(dtype=np.float64), abs=1e-4)


def test_real_reference_has_the_shape_the_notebook_shows() -> None:
    ref = real_reference()
    f = ref["figures"]
    assert 20_000 < f["nonzero"] < 35_000
    assert 0.02 < f["frac_ge_100"] < 0.12 and 0.3 < f["frac_10_100"] < 0.7
    assert f["ratio_30_40_over_140_160"] > 3  # a shoulder well above the tail
    assert figures(ref["counts"]) == f
    assert "OpenSamples" in ref["source"]


def test_fidelity_benchmark_figures_are_the_fidelity_functions(tmp_path: Path) -> None:
    """One full-geometry readout through the benchmark: its figures are exactly `plane_figures` of
    the same event, and that readout shows a minimum-ionising shoulder and a modest saturated share."""
    record = bench_fidelity.run(n_readouts=1, out_dir=tmp_path)
    rows, _ = simulate_event("bnb", MICROBOONE, seed=bench_fidelity.SEED, file_index=0, event_index=0)
    plane2 = rows["wire_table"]["adc"][sum(MICROBOONE.n_wires[:2]) :]
    counts, mine = plane_figures(plane2)
    for name, value in mine.items():
        assert record["planes"]["2"][name]["median"] == pytest.approx(value)
        assert record["planes"]["2"][name]["real"] == real_reference()["figures"][name]
    assert np.array_equal(counts, intensity_histogram(block_sums(plane2)))
    lo = EDGES[:-1]
    shoulder = counts[(lo >= 24) & (lo < 40)].mean()
    beyond = counts[(lo >= 70) & (lo < 86)].mean()
    assert shoulder > 1.5 * beyond  # the minimum-ionising shoulder, then the fall
    assert 5_000 < mine["nonzero"] < 80_000 and mine["frac_ge_100"] < 0.2
    assert {"fidelity_plane2_histogram.png", "fidelity_display_synthetic.png"} <= set(record["figures"])
    assert record["real_hits_per_readout"] == 15_727


def test_hits_per_readout_match_the_real_files() -> None:
    """The mean hit count of full-geometry bnb readouts is the real files' within 1.25× (it was 1.6×
    before the peak-height cut; nuwire.simulate.hits calibrates it on 24 readouts)."""
    from nuwire.simulate.hits import REAL_HITS_PER_READOUT

    counts = [len(simulate_event("bnb", MICROBOONE, seed=bench_fidelity.SEED, file_index=0, event_index=k)[0]["hit_table"]["hit_id"])
              for k in range(6)]  # fmt: skip
    assert 1 / 1.25 < np.mean(counts) / REAL_HITS_PER_READOUT < 1.25, counts
