"""The dataset stage: event index, stable splits, statistics, QC summary and figures."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from builders import dataset_outputs
from h5files import blank_planes, event_rows, scattered_planes, write_file
from nuwire.errors import ConfigError, NuwireError
from nuwire.events.cuts import check_split_fractions
from nuwire.events.dataset import (
    INDEX_COLUMNS,
    DatasetInputs,
    assign_splits,
    build_event_index,
    dataset_statistics,
    qc_summary,
    read_qc,
    read_truth,
    run_dataset,
    write_event_index,
)
from nuwire.images.render import RenderParams, render_file, render_plane

PARAMS = RenderParams(dw=3, dt=4, threshold=10.0, saturation=100.0)


def _make_sample(tmp: Path, name: str, specs: list[dict], params: RenderParams = PARAMS):
    """Write an HDF5 file of events described by `specs`, render it; return (h5, parquet, qc)."""
    events = []
    for i, spec in enumerate(specs):
        spec = dict(spec)
        key = spec.pop("key", (1, 1, i))
        planes = spec.pop("planes", "random")
        events.append(event_rows(key, scattered_planes(hash(key) % 1000) if planes == "random" else planes, **spec))
    h5 = write_file(tmp / f"{name}.h5", events)
    parquet, qc = tmp / "images" / f"{name}.parquet", tmp / "images" / f"{name}.qc.json"
    render_file(h5, parquet, qc, sample=name, params=params)
    return h5, parquet, qc


# Hand-made truth for the statistics: energies exactly representable in float32.
BNB = [
    {"key": (1, 1, 1), "nu_pdg": 12, "is_cc": 1, "nu_energy": 1.0, "lep_energy": 0.5},
    {"key": (1, 1, 2), "nu_pdg": 14, "is_cc": 1, "nu_energy": 2.0, "lep_energy": 1.5, "reco": None},
    {"key": (1, 1, 3), "nu_pdg": -14, "is_cc": 0, "nu_energy": 0.5, "lep_energy": 0.25, "planes": None},
    {"key": (1, 1, 4), "nu_pdg": -12, "is_cc": 1, "nu_energy": 3.0, "lep_energy": 2.5},
]
NUE = [
    {"key": (2, 1, 1), "nu_pdg": 12, "is_cc": 1, "nu_energy": 1.5, "lep_energy": 1.0},
    {"key": (2, 1, 2), "nu_pdg": -12, "is_cc": 1, "nu_energy": 2.5, "lep_energy": 2.0},
]


@pytest.fixture
def two_samples(tmp_path: Path):
    bnb = _make_sample(tmp_path, "bnb_WithWire_00", BNB)
    nue = _make_sample(tmp_path, "nue_WithWire_00", NUE)
    return tuple(zip(bnb, nue))  # (h5s, parquets, qcs)


# -- splits --------------------------------------------------------------------------------------
@pytest.mark.parametrize("fractions", [(0.7, 0.2, 0.2), (1.0, 0.0, 0.0), (0.5, 0.5), (0.7, -0.1, 0.4)])
def test_bad_split_fractions_name_split(fractions):
    with pytest.raises(ConfigError, match="split"):
        check_split_fractions(fractions)


def keys(sample, run, subrun, event) -> pd.DataFrame:
    return pd.DataFrame({"sample": sample, "run": run, "subrun": subrun, "event": event})


def test_split_fractions_are_roughly_as_asked_on_2000_keys():
    n = 2000
    splits = assign_splits(keys(["bnb_WithWire_00"] * n, [7] * n, np.arange(n) // 100, np.arange(n)))
    share = {s: float(np.mean(splits == s)) for s in ("train", "val", "test")}
    # Binomial sd is at most 0.011 here; 0.035 is > 3 sd.
    assert share["train"] == pytest.approx(0.70, abs=0.035)
    assert share["val"] == pytest.approx(0.15, abs=0.035)
    assert share["test"] == pytest.approx(0.15, abs=0.035)


def test_split_depends_only_on_the_event_key():
    n = 500
    base = assign_splits(keys(["a"] * n, [1] * n, [1] * n, np.arange(n)))
    more = assign_splits(keys(["b"] * n + ["a"] * n, [1] * (2 * n), [1] * (2 * n), np.concatenate([np.arange(n)] * 2)))
    np.testing.assert_array_equal(more[n:], base)


def test_adding_a_file_keeps_every_existing_events_split(tmp_path: Path):
    # Empty planes keep the files small; the split does not look at pixels.
    many = [{"key": (3, k // 10, k), "planes": blank_planes()} for k in range(40)]
    a = _make_sample(
        tmp_path, "bnb_WithWire_00", many[:20], RenderParams.from_config({"downsample": {"wire": 8, "time": 8}})
    )
    b = _make_sample(
        tmp_path, "bnb_WithWire_01", many[20:], RenderParams.from_config({"downsample": {"wire": 8, "time": 8}})
    )
    first = build_event_index(
        [a[0]], [a[1]], [a[2]], params=RenderParams.from_config({"downsample": {"wire": 8, "time": 8}})
    )
    both = build_event_index(
        [b[0], a[0]],
        [b[1], a[1]],
        [b[2], a[2]],
        params=RenderParams.from_config({"downsample": {"wire": 8, "time": 8}}),
    )
    merged = first.merge(both, on=["sample", "run", "subrun", "event"], suffixes=("_1", "_2"))
    assert len(merged) == 20 and len(both) == 40
    assert (merged.split_1 == merged.split_2).all()
    assert set(both.split) == {"train", "val", "test"}


# -- the index -----------------------------------------------------------------------------------
def test_index_rows_columns_and_pixel_coordinates(two_samples):
    h5s, parquets, qcs = two_samples
    index = build_event_index(list(h5s), list(parquets), list(qcs), params=PARAMS)
    assert list(index.columns) == INDEX_COLUMNS
    # The skipped event (1, 1, 3) is not in the index; the others are, in file order.
    assert list(zip(index["run"], index["event"])) == [(1, 1), (1, 2), (1, 4), (2, 1), (2, 2)]
    assert index["sample_group"].tolist() == ["bnb"] * 3 + ["nue"] * 2
    assert index["category"].tolist() == ["nue_cc", "numu_cc", "nue_cc", "nue_cc", "nue_cc"]
    assert index["label"].tolist() == [1, 0, 1, 1, 1]
    assert index["antineutrino"].tolist() == [False, False, True, False, True]
    ev = index.iloc[0]
    # tests/h5files.py: reco vertex wires (100, 100, 200) at tick 400; truth (110, 110, 166) at 282.
    assert ev.reco_row_p0 == ev.reco_row_p2 == pytest.approx(400 / 4)
    assert (ev.reco_col_p0, ev.reco_col_p1, ev.reco_col_p2) == pytest.approx((100 / 3, 100 / 3, 200 / 3))
    assert ev.truth_row_p1 == pytest.approx(282 / 4)
    assert (ev.truth_col_p0, ev.truth_col_p2) == pytest.approx((110 / 3, 166 / 3))
    no_reco = index.iloc[1]  # event written without a Pandora vertex
    assert all(math.isnan(no_reco[f"reco_{a}_p{p}"]) for a in ("row", "col") for p in range(3))
    # Pixel counts and shapes agree with rendering the same planes directly.
    planes = scattered_planes(hash((1, 1, 4)) % 1000)
    row = index.iloc[2]
    for p in range(3):
        img = render_plane(planes[p], PARAMS)
        assert row[f"npix_p{p}"] == np.count_nonzero(img)
        assert (row[f"height_p{p}"], row[f"width_p{p}"]) == img.shape


def test_index_parquet_types_read_back(two_samples, tmp_path: Path):
    h5s, parquets, qcs = two_samples
    index = build_event_index(list(h5s), list(parquets), list(qcs), params=PARAMS)
    target = tmp_path / "dataset" / "events.parquet"
    write_event_index(index, target)
    first = target.read_bytes()
    write_event_index(index, target)
    assert target.read_bytes() == first
    schema = pq.read_schema(target)
    assert schema.field("run").type == pa.int32()
    assert schema.field("label").type == pa.int8()
    assert schema.field("antineutrino").type == pa.bool_()
    assert schema.field("npix_p2").type == pa.int32()
    assert schema.field("reco_row_p0").type == pa.float32()
    assert pa.types.is_string(schema.field("split").type) or pa.types.is_large_string(schema.field("split").type)
    back = pd.read_parquet(target)
    assert back["event"].tolist() == index["event"].tolist()


def test_duplicate_event_across_files_names_both_files(tmp_path: Path):
    a = _make_sample(tmp_path, "bnb_WithWire_00", [{"key": (9, 9, 1)}, {"key": (9, 9, 2)}])
    b = _make_sample(tmp_path, "nue_WithWire_00", [{"key": (9, 9, 2)}])
    with pytest.raises(NuwireError) as err:
        build_event_index([a[0], b[0]], [a[1], b[1]], [a[2], b[2]], params=PARAMS)
    message = str(err.value)
    assert "bnb_WithWire_00.h5" in message and "nue_WithWire_00.h5" in message
    assert "run 9, subrun 9, event 2" in message


def test_images_rendered_with_other_params_are_refused(two_samples):
    h5s, parquets, qcs = two_samples
    with pytest.raises(NuwireError, match="render"):
        build_event_index(
            list(h5s),
            list(parquets),
            list(qcs),
            params=RenderParams.from_config({"downsample": {"wire": 2, "time": 2}}),
        )


def test_missing_images_are_named(two_samples):
    h5s, parquets, qcs = two_samples
    with pytest.raises(NuwireError, match="nue_WithWire_00"):
        build_event_index(list(h5s), [parquets[0]], [qcs[0]], params=PARAMS)


# -- statistics and QC -----------------------------------------------------------------------------
def test_statistics_equal_hand_computed_numbers(two_samples):
    h5s, _, qcs = two_samples
    stats = dataset_statistics(read_truth(list(h5s)), qc_summary(read_qc(list(qcs)))).set_index("group")
    assert list(stats.index) == ["bnb", "nue", "combined"]
    bnb, nue, both = stats.loc["bnb"], stats.loc["nue"], stats.loc["combined"]
    # bnb: pdg 12, 14, -14 (NC, not rendered), -12; energies 1, 2, 0.5, 3 and 0.5, 1.5, 0.25, 2.5.
    assert (bnb.events, bnb["pdg_12"], bnb["pdg_-12"], bnb["pdg_14"], bnb["pdg_-14"]) == (4, 1, 1, 1, 1)
    assert (bnb.cc, bnb.nc, bnb.nue_cc, bnb.numu_cc) == (3, 1, 2, 1)
    assert bnb.nu_energy_mean == pytest.approx(1.625)
    assert bnb.nu_energy_median == pytest.approx(1.5)
    assert bnb.nu_energy_std == pytest.approx(math.sqrt(0.921875))  # population std (ddof 0)
    assert (bnb.nu_energy_min, bnb.nu_energy_max) == (0.5, 3.0)
    assert bnb.lep_energy_mean == pytest.approx(4.75 / 4)
    assert bnb.lep_energy_median == pytest.approx(1.0)
    assert (bnb.rendered, bnb.skipped) == (3, 1)
    assert (nue.events, nue["pdg_12"], nue["pdg_-12"], nue.cc, nue.nc, nue.nue_cc) == (2, 1, 1, 2, 0, 2)
    assert nue.nu_energy_mean == pytest.approx(2.0) and nue.nu_energy_std == pytest.approx(0.5)
    assert (both.events, both.cc, both.nc, both.nue_cc, both.numu_cc) == (6, 5, 1, 4, 1)
    assert both.nu_energy_mean == pytest.approx(10.5 / 6)
    assert both.nu_energy_median == pytest.approx(1.75)
    assert (both.lep_energy_min, both.lep_energy_max) == (0.25, 2.5)
    assert (both.rendered, both.skipped) == (5, 1)


def test_qc_summary_counts_reasons(two_samples):
    _, _, qcs = two_samples
    table = qc_summary(read_qc(list(qcs))).set_index("sample")
    assert table.loc["bnb_WithWire_00", ["events", "rendered", "skipped"]].tolist() == [4, 3, 1]
    assert "no wire rows" in table.loc["bnb_WithWire_00", "reasons"]
    assert table.loc["nue_WithWire_00", "reasons"] == ""
    assert table["reconciled"].all()


# -- the whole stage ---------------------------------------------------------------------------------
def _one_skip_samples(tmp_path: Path):
    bnb = _make_sample(
        tmp_path,
        "bnb_WithWire_00",
        [
            {"key": (1, 1, 1), "nu_pdg": 14, "is_cc": 1},
            {"key": (1, 1, 2), "nu_pdg": 14, "is_cc": 0},
            {"key": (1, 1, 3), "planes": None},
        ],
    )
    nue = _make_sample(tmp_path, "nue_WithWire_00", [{"key": (2, 1, 1), "nu_pdg": 12, "is_cc": 1}])
    return bnb, nue


def test_a_file_losing_more_than_the_allowed_fraction_stops_the_stage(tmp_path: Path):
    bnb, nue = _one_skip_samples(tmp_path)
    out = tmp_path / "dataset"
    with pytest.raises(NuwireError) as info:  # 1 of 3 events skipped: over the default 5 %
        run_dataset(
            DatasetInputs([bnb[0], nue[0]], [bnb[1], nue[1]], [bnb[2], nue[2]]),
            dataset_outputs(out),
            params=PARAMS,
            split_fractions=(0.7, 0.15, 0.15),
        )
    message = str(info.value)
    assert message.startswith(f"{bnb[0]}: 1 of its 3 events were skipped")
    assert "no wire rows in /wire_table for this event (×1)" in message
    assert "dataset.max_skipped_fraction = 0.05" in message
    assert not out.exists() or not any(out.iterdir())  # nothing written


def test_run_dataset_writes_every_output(tmp_path: Path):
    bnb, nue = _one_skip_samples(tmp_path)
    out = tmp_path / "dataset"
    result = run_dataset(
        DatasetInputs([bnb[0], nue[0]], [bnb[1], nue[1]], [bnb[2], nue[2]]),
        dataset_outputs(out),
        params=PARAMS,
        split_fractions=(0.7, 0.15, 0.15),
        synthetic=True,
        n_displays=1,
        max_skipped_fraction=0.5,  # the config allows this loss
    )
    for name in ("events.parquet", "statistics.tsv", "qc_summary.tsv", "energy.png", "event_displays.png"):
        assert (out / name).stat().st_size > 0, name
    assert (result["events"], result["rendered"], result["skipped"]) == (4, 3, 1)
    assert sum(result["splits"].values()) == 3
    stats = pd.read_csv(out / "statistics.tsv", sep="\t")
    assert stats.group.tolist() == ["bnb", "nue", "combined"]
    assert stats.loc[2, "events"] == 4  # every event of the files, skipped one included
    qc = pd.read_csv(out / "qc_summary.tsv", sep="\t")
    assert qc.skipped.tolist() == [1, 0]
    assert sorted(pd.read_parquet(out / "events.parquet").category) == ["nc", "nue_cc", "numu_cc"]
    assert not list(out.glob(".*.tmp"))


def test_simulated_files_give_a_consistent_index(tmp_path: Path):
    simulate = pytest.importorskip("nuwire.simulate")
    if not hasattr(simulate, "simulate_file"):
        pytest.skip("nuwire.simulate.simulate_file not available yet")
    from nuwire.geometry import COMPACT

    params = RenderParams.from_config({})
    inputs = []
    for group in ("bnb", "nue"):
        name = f"{group}_WithWire_00"
        h5 = tmp_path / f"{name}.h5"
        simulate.simulate_file(h5, group, 4, geometry=COMPACT, seed=3, file_index=0)
        render_file(h5, tmp_path / f"{name}.parquet", tmp_path / f"{name}.qc.json", sample=name, params=params)
        inputs.append((h5, tmp_path / f"{name}.parquet", tmp_path / f"{name}.qc.json"))
    h5s, parquets, qcs = (list(x) for x in zip(*inputs))
    index = build_event_index(h5s, parquets, qcs, params=params)
    truth = read_truth(h5s)
    qc = qc_summary(read_qc(qcs))
    assert len(index) == int(qc.rendered.sum()) and len(truth) == 8
    assert (index[index.sample_group == "nue"].label == 1).all()  # the nue sample is all CC νe/ν̄e
    assert (index.label == ((index.is_cc == 1) & (index.nu_pdg.abs() == 12))).all()
    assert (index.npix_p2 > 0).all()
    assert (index.height_p2 == -(-COMPACT.n_ticks // params.dt)).all()
    inside = index.truth_col_p2.between(0, index.width_p2) & index.truth_row_p2.between(0, index.height_p2)
    assert inside.all()  # true vertices land inside the images


def test_two_inputs_with_the_same_name_are_refused(tmp_path: Path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one = write_file(tmp_path / "a" / "bnb_WithWire_00.h5", [event_rows((1, 1, 1), blank_planes())])
    two = write_file(tmp_path / "b" / "bnb_WithWire_00.h5", [event_rows((1, 1, 2), blank_planes())])
    with pytest.raises(NuwireError, match="same name"):
        read_truth([one, two])


def test_duplicate_event_inside_one_file_is_named_as_such(tmp_path: Path):
    a = _make_sample(tmp_path, "bnb_WithWire_00", [{"key": (9, 9, 1)}, {"key": (9, 9, 2)}, {"key": (9, 9, 2)}])
    b = _make_sample(tmp_path, "nue_WithWire_00", [{"key": (9, 9, 3)}])
    with pytest.raises(NuwireError) as err:
        build_event_index([a[0], b[0]], [a[1], b[1]], [a[2], b[2]], params=PARAMS)
    message = str(err.value)
    assert message.startswith(f"{a[0]}: event run 9, subrun 9, event 2 appears 2 times inside this one file")
    assert "re-copy or re-make the file" in message and "remove the duplicate file" not in message
    assert "nue_WithWire_00" not in message
