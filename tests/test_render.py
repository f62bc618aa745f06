"""Rendering: the pixel formula, the Parquet contract, QC reconciliation, determinism, atomicity."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from h5files import blank_planes, event_rows, noisy_planes, write_file
from nuwire.errors import ConfigError
from nuwire.geometry import COMPACT
from nuwire.images import render
from nuwire.images.render import RenderParams, read_event_images, render_file, render_plane
from nuwire.io.h5schema import SEQ_CNT


# -- a straightforward reference implementation of the documented formula ------------------------
def reference_image(adc: np.ndarray, dw: int, dt: int, threshold: float, saturation: float) -> np.ndarray:
    """Zero-pad to whole blocks, reshape, sum in float64, threshold, scale; transpose to (time, wire)."""
    n_w, n_t = adc.shape
    nwb, ntb = -(-n_w // dw), -(-n_t // dt)
    padded = np.zeros((nwb * dw, ntb * dt), dtype=np.float64)
    padded[:n_w, :n_t] = adc
    s = padded.reshape(nwb, dw, ntb, dt).sum(axis=(1, 3)).T
    cutoff = threshold * dw * dt / 6
    sat = saturation * dw * dt / 6
    value = np.clip(np.round(255 * np.minimum(s, sat) / sat), 1, 255)
    return np.where((s < cutoff) | (s <= 0), 0, value).astype(np.uint8)


def dense_from_parquet(path: Path) -> dict[tuple[int, int], np.ndarray]:
    """(event, plane) -> dense image, using pandas only (no nuwire code)."""
    df = pd.read_parquet(path)
    out = {}
    for r in df.itertuples():
        img = np.zeros((r.height, r.width), dtype=np.uint8)
        img[np.asarray(r.row, dtype=int), np.asarray(r.col, dtype=int)] = r.value
        out[(r.event, r.plane)] = img
    return out


# -- parameters --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"dw": 0}, "render.downsample.wire"),
        ({"dt": 0}, "render.downsample.time"),
        ({"dt": 1.5}, "render.downsample.time"),
        ({"threshold": -1.0}, "render.threshold"),
        ({"threshold": 10.0, "saturation": 10.0}, "render.saturation"),
        ({"saturation": float("nan")}, "render.saturation"),
        ({"threshold": "10"}, "render.threshold"),
    ],
)
def test_bad_params_name_the_field(kwargs, field):
    with pytest.raises(ConfigError, match=field):
        RenderParams(**{"dw": 2, "dt": 2, "threshold": 10.0, "saturation": 100.0, **kwargs})


def test_cutoff_and_saturation_scale_with_block_size():
    p = RenderParams(dw=3, dt=4, threshold=10.0, saturation=100.0)
    assert p.cutoff == pytest.approx(20.0)
    assert p.sat == pytest.approx(200.0)
    assert p.image_shape(n_wires=10, n_ticks=9) == (3, 4)
    assert RenderParams(dw=2, dt=2, threshold=10, saturation=100) == RenderParams.from_config({})  # ints become floats


# -- formula edge cases ------------------------------------------------------------------------
def test_formula_edge_cases_by_hand():
    # dw = dt = 2, threshold 3 -> cutoff 2.0; saturation 382.5 -> sat 255.0, so pixel = round(S).
    params = RenderParams(dw=2, dt=2, threshold=3.0, saturation=382.5)
    assert params.cutoff == 2.0 and params.sat == 255.0
    adc = np.zeros((5, 7), dtype=np.float32)  # 5 wires, 7 ticks -> image 4 rows x 3 cols
    adc[0:2, 0:2] = 0.5  # block (0, 0): S = 2.0, exactly the cutoff -> kept, round(2.0) = 2
    adc[0, 2] = np.nextafter(np.float32(2.0), np.float32(0))  # block (1, 0): just below -> 0
    adc[2:4, 0:2] = -50.0  # block (0, 1): negative -> 0
    adc[2, 2], adc[3, 3] = 10.0, -5.0  # block (1, 1): mixed signs, S = 5 -> 5
    adc[0, 4] = 2.5  # block (2, 0): 2.5 -> 2 (half to even)
    adc[2, 4] = 3.5  # block (2, 1): 3.5 -> 4 (half to even)
    adc[4, 4] = 1000.0  # block (2, 2): partial wire block, above saturation -> 255
    adc[4, 6] = 255.0  # block (3, 2): partial in both axes, exactly saturation -> 255
    adc[1, 6] = 254.5  # block (3, 0): partial time block -> 254 (half to even)
    adc[3, 6] = 1.0  # block (3, 1): below cutoff -> 0
    expected = np.array(
        [
            [2, 0, 0],
            [0, 5, 0],
            [2, 4, 255],
            [254, 0, 255],
        ],
        dtype=np.uint8,
    )
    got = render_plane(adc, params)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(reference_image(adc, 2, 2, 3.0, 382.5), expected)


def test_tiny_sums_above_cutoff_become_one_and_empty_blocks_stay_zero():
    params = RenderParams(dw=1, dt=1, threshold=0.0, saturation=1530.0)  # cutoff 0, sat 255
    adc = np.array([[0.0, 0.25, -1.0, 0.75]], dtype=np.float32)
    np.testing.assert_array_equal(render_plane(adc, params), [[0], [1], [0], [1]])


@pytest.mark.parametrize("dw, dt", [(1, 1), (2, 2), (3, 5), (4, 7), (7, 3)])
def test_render_plane_matches_reference(dw, dt):
    rng = np.random.default_rng(dw * 10 + dt)
    adc = noisy_planes(rng, density=0.05)[2]  # 500 wires x 1024 ticks: partial blocks for most (dw, dt)
    params = RenderParams(dw=dw, dt=dt, threshold=10.0, saturation=100.0)
    got = render_plane(adc, params)
    want = reference_image(adc, dw, dt, 10.0, 100.0)
    assert got.shape == (-(-1024 // dt), -(-500 // dw))
    np.testing.assert_array_equal(got, want)
    assert 0 < np.count_nonzero(got) < got.size  # the test data exercise both sides of the cutoff


@pytest.mark.parametrize("band", [1, 5, 1000])
def test_wire_bands_do_not_change_the_image(band, monkeypatch):
    monkeypatch.setattr(render, "WIRE_BAND_BLOCKS", band)
    adc = noisy_planes(np.random.default_rng(band), density=0.05)[0][:, :203]  # 203 ticks: partial last block
    np.testing.assert_array_equal(
        render_plane(adc, RenderParams.from_config({"downsample": {"wire": 2, "time": 3}})),
        reference_image(adc, 2, 3, 10.0, 100.0),
    )
    sparse = render.render_plane_sparse(adc, RenderParams.from_config({"downsample": {"wire": 2, "time": 3}}))
    flat = sparse.row.astype(np.int64) * sparse.width + sparse.col
    assert np.all(np.diff(flat) > 0)  # still row-major across band boundaries


@pytest.mark.parametrize("dense_fraction", [0.0, 1.0])  # every band screened by value / by occupancy
@pytest.mark.parametrize("dw, dt, threshold", [(2, 2, 10.0), (1, 3, 10.0), (3, 5, 10.0), (2, 2, 0.0)])
def test_screens_keep_every_pixel_near_the_cutoff(dense_fraction, dw, dt, threshold, monkeypatch):
    """Blocks whose float32 sum lands on the other side of the cutoff than the exact sum."""
    monkeypatch.setattr(render, "DENSE_BAND_FRACTION", dense_fraction)
    rng = np.random.default_rng(dw * 100 + dt)
    params = RenderParams(dw=dw, dt=dt, threshold=threshold, saturation=100.0)
    adc = np.zeros((300, 400), dtype=np.float32)
    n = 500
    w, t = rng.integers(0, 300 // dw, n) * dw, rng.integers(0, 400 // dt, n) * dt
    big = rng.uniform(1e3, 1e7, n).astype(np.float32)
    near = params.cutoff * (1 + rng.uniform(-1e-6, 1e-6, n))  # within float32 rounding of the big values
    adc[w, t], adc[w, t + dt - 1] = big, -big  # cancel exactly in float64
    adc[w + dw - 1, t + (dt - 1) // 2] += near.astype(np.float32)
    adc[5, 7], adc[6, 9], adc[8, 8] = np.nan, np.inf, -0.0  # judged by the exact sum like any block
    with np.errstate(invalid="ignore"):  # the reference casts the NaN block's value too
        want = reference_image(adc, dw, dt, threshold, 100.0)
    np.testing.assert_array_equal(render_plane(adc, params, allow_non_finite=True), want)
    assert np.count_nonzero(want) > 0
    with pytest.raises(render.NonFiniteADC, match="2 non-finite"):
        render_plane(adc, params)


@pytest.mark.parametrize("dense_fraction", [0.0, 1.0])
@pytest.mark.parametrize("bad", [np.nan, -np.inf])
def test_a_plane_whose_only_bad_value_is_nan_or_minus_inf_is_never_rendered(dense_fraction, bad, monkeypatch):
    """A block holding NaN or -inf fails `sum >= cutoff`; a band screened by value must keep it as
    a candidate anyway, or the event would be rendered with that block silently dropped."""
    monkeypatch.setattr(render, "DENSE_BAND_FRACTION", dense_fraction)
    adc = noisy_planes(np.random.default_rng(5), density=0.3)[2]
    adc[17, 33] = bad
    with pytest.raises(render.NonFiniteADC, match="1 non-finite"):
        render_plane(adc, RenderParams(dw=3, dt=4, threshold=10.0, saturation=100.0))


@pytest.mark.parametrize("dtype", [np.float64, np.int16])
def test_other_input_types_match_reference(dtype):
    adc = (noisy_planes(np.random.default_rng(3), density=0.3)[2] * 300).astype(dtype)  # int16 sums overflow int16
    params = RenderParams(dw=1, dt=2, threshold=10.0, saturation=100.0)
    np.testing.assert_array_equal(render_plane(adc, params), reference_image(adc, 1, 2, 10.0, 100.0))


# -- files --------------------------------------------------------------------------------------
@pytest.fixture
def rendered(tmp_path: Path):
    """Three events; the second stores its wire rows in shuffled order."""
    rng = np.random.default_rng(11)
    planes = [noisy_planes(rng) for _ in range(3)]
    order = rng.permutation(COMPACT.n_channels)
    events = [event_rows((5, 6, k), planes[k], wire_order=order if k == 1 else None) for k in range(3)]
    h5 = write_file(tmp_path / "bnb_WithWire_00.h5", events)
    params = RenderParams(dw=2, dt=3, threshold=10.0, saturation=100.0)
    qc = render_file(h5, tmp_path / "out.parquet", tmp_path / "out.qc.json", sample="bnb_WithWire_00", params=params)
    return h5, planes, params, qc, tmp_path / "out.parquet"


def test_file_render_matches_reference_including_shuffled_rows(rendered):
    _, planes, params, qc, parquet = rendered
    images = dense_from_parquet(parquet)
    assert sorted(images) == [(k, p) for k in range(3) for p in range(3)]
    for k in range(3):
        for p in range(3):
            want = reference_image(planes[k][p], params.dw, params.dt, params.threshold, params.saturation)
            np.testing.assert_array_equal(images[(k, p)], want, err_msg=f"event {k} plane {p}")
    assert qc["rendered"] == 3 and qc["skipped"] == 0 and qc["reconciled"]


def test_parquet_schema_is_exact_and_rows_ordered(rendered):
    _, _, params, _, parquet = rendered
    expected = {
        "sample": pa.string(),
        "run": pa.int32(),
        "subrun": pa.int32(),
        "event": pa.int32(),
        "plane": pa.int8(),
        "height": pa.int32(),
        "width": pa.int32(),
        "row": pa.list_(pa.uint16()),
        "col": pa.list_(pa.uint16()),
        "value": pa.list_(pa.uint8()),
    }
    schema = pq.read_schema(parquet)
    assert schema.names == list(expected)
    for name, typ in expected.items():
        assert schema.field(name).type == typ, name
    assert schema.remove_metadata().equals(render.IMAGE_SCHEMA)  # written == read back, nullability too
    table = pq.read_table(parquet)
    assert table.column("sample").to_pylist() == ["bnb_WithWire_00"] * 9
    assert table.column("event").to_pylist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert table.column("plane").to_pylist() == [0, 1, 2] * 3
    df = table.to_pandas()
    assert (df.height == -(-COMPACT.n_ticks // params.dt)).all()
    assert df.width.tolist() == [-(-n // params.dw) for n in COMPACT.n_wires] * 3
    for r in df.itertuples():
        row, col = np.asarray(r.row, np.int64), np.asarray(r.col, np.int64)
        flat = row * r.width + col
        assert np.all(np.diff(flat) > 0)  # row-major, no duplicates
        assert np.all(np.asarray(r.value) > 0)  # zero pixels are never stored
    meta = {k.decode(): v.decode() for k, v in pq.read_schema(parquet).metadata.items()}
    assert json.loads(meta["nuwire.render_params"]) == {"dw": 2, "dt": 3, "threshold": 10.0, "saturation": 100.0}
    assert meta["nuwire.geometry"] == "compact"
    assert meta["nuwire.version"]


def test_rendering_twice_is_byte_identical(rendered, tmp_path: Path):
    h5, _, params, qc, parquet = rendered
    again = tmp_path / "again" / "out.parquet"
    qc2 = render_file(h5, again, tmp_path / "again" / "out.qc.json", sample="bnb_WithWire_00", params=params)
    assert again.read_bytes() == parquet.read_bytes()
    assert qc2 == qc


def test_read_event_images_densifies_one_event(rendered):
    _, planes, params, _, parquet = rendered
    images = read_event_images(parquet, run=5, subrun=6, event=1)
    for p in range(3):
        want = reference_image(planes[1][p], params.dw, params.dt, params.threshold, params.saturation)
        np.testing.assert_array_equal(images[p], want)
    with pytest.raises(KeyError):
        read_event_images(parquet, run=5, subrun=6, event=99)


def test_qc_counts_skipped_events_with_reasons(tmp_path: Path):
    rng = np.random.default_rng(3)
    nan_planes = noisy_planes(rng)
    nan_planes[1][7, 100] = np.nan
    inf_planes = noisy_planes(rng)
    inf_planes[2][4, 8], inf_planes[2][5, 8] = np.inf, -np.inf  # one block: its sum is NaN, not inf
    inf_planes[0][9, 3] = np.inf
    events = [
        event_rows((1, 1, 10), noisy_planes(rng)),
        event_rows((1, 1, 11), None),  # no wire rows
        event_rows((1, 1, 12), nan_planes),  # a NaN ADC value
        event_rows((1, 1, 13), blank_planes()),  # rendered, but every plane empty
        event_rows((1, 1, 14), inf_planes),  # infinite ADC values on two planes
    ]
    h5 = write_file(tmp_path / "nue_WithWire_03.h5", events)
    qc_path = tmp_path / "q.qc.json"
    qc = render_file(h5, tmp_path / "q.parquet", qc_path, sample="nue_WithWire_03", params=RenderParams.from_config({}))
    assert qc["events_in_file"] == 5 and qc["rendered"] == 2 and qc["skipped"] == 3 and qc["reconciled"]
    skipped = {e["event"]: e for e in qc["skipped_events"]}
    assert sorted(skipped) == [11, 12, 14]
    assert skipped[12]["reason"] == "1 non-finite (NaN or infinite) ADC values"
    assert skipped[14]["reason"] == "3 non-finite (NaN or infinite) ADC values"
    assert skipped[11]["index"] == 1 and "no wire rows" in skipped[11]["reason"]
    assert skipped[12]["index"] == 2 and "non-finite" in skipped[12]["reason"]
    assert {k: skipped[11][k] for k in ("run", "subrun")} == {"run": 1, "subrun": 1}
    assert json.loads(qc_path.read_text()) == qc
    df = pd.read_parquet(tmp_path / "q.parquet")
    assert df.event.tolist() == [10, 10, 10, 13, 13, 13]
    empty = df[df.event == 13]
    assert all(len(v) == 0 for v in empty.value) and (empty.height > 0).all()


def test_many_row_groups_give_the_same_images(tmp_path: Path, monkeypatch):
    rng = np.random.default_rng(5)
    planes = [noisy_planes(rng, density=0.005) for _ in range(5)]
    h5 = write_file(tmp_path / "f.h5", [event_rows((2, 0, k), planes[k]) for k in range(5)])
    monkeypatch.setattr(render, "ROW_GROUP_EVENTS", 2)
    params = RenderParams.from_config({})
    render_file(h5, tmp_path / "f.parquet", tmp_path / "f.qc.json", sample="f", params=params)
    assert pq.ParquetFile(tmp_path / "f.parquet").num_row_groups == 3
    images = dense_from_parquet(tmp_path / "f.parquet")
    for k in range(5):
        for p in range(3):
            np.testing.assert_array_equal(images[(k, p)], reference_image(planes[k][p], 2, 2, 10.0, 100.0))


def test_failure_mid_file_leaves_no_output(tmp_path: Path, monkeypatch):
    rng = np.random.default_rng(6)
    h5 = write_file(tmp_path / "f.h5", [event_rows((1, 1, k), noisy_planes(rng)) for k in range(3)])
    real = render.render_plane_sparse
    calls = {"n": 0}

    def failing(adc, params, **hints):
        calls["n"] += 1
        if calls["n"] > 4:  # during the second event
            raise KeyboardInterrupt
        return real(adc, params, **hints)

    monkeypatch.setattr(render, "render_plane_sparse", failing)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        render_file(h5, out / "f.parquet", out / "f.qc.json", sample="f", params=RenderParams.from_config({}))
    assert list(out.iterdir()) == []  # neither output nor temporary files


def render_default(h5: Path, out: Path, name: str, *, sample: str) -> dict:
    """render_file with the config's default parameters into out/NAME.parquet and out/NAME.qc.json."""
    return render_file(
        h5, out / f"{name}.parquet", out / f"{name}.qc.json", sample=sample, params=RenderParams.from_config({})
    )


def test_simulated_file_renders_and_reconciles(tmp_path: Path):
    simulate = pytest.importorskip("nuwire.simulate")
    if not hasattr(simulate, "simulate_file"):
        pytest.skip("nuwire.simulate.simulate_file not available yet")
    h5 = tmp_path / "nue_WithWire_00.h5"
    simulate.simulate_file(h5, "nue", 3, geometry=COMPACT, seed=1, file_index=0)
    qc = render_default(h5, tmp_path, "s", sample="nue_WithWire_00")
    assert qc["reconciled"] and qc["events_in_file"] == 3
    df = pd.read_parquet(tmp_path / "s.parquet")
    assert len(df) == 3 * qc["rendered"]
    assert df.value.map(len).sum() > 0  # a simulated interaction leaves pixels above threshold


# ---------------------------------------------------------------- events that cannot be honest images (issue 21)


def _with_zero_count_entry(path: Path, index: int) -> None:
    """Keep event `index` in /wire_table's seq_cnt with a count of 0 (as the issue's file did)."""
    with h5py.File(path, "a") as h5:
        seq = np.asarray(h5["wire_table"][SEQ_CNT][:])
        seq = np.concatenate([seq, [[index, 0]]])
        seq = seq[np.argsort(seq[:, 0])]
        del h5["wire_table"][SEQ_CNT]
        h5["wire_table"].create_dataset(SEQ_CNT, data=seq, dtype=np.int64)


def test_an_index_entry_with_zero_rows_is_skipped_not_an_empty_image(tmp_path: Path):
    rng = np.random.default_rng(8)
    events = [
        event_rows((2, 1, 0), noisy_planes(rng)),
        event_rows((2, 1, 1), None),
        event_rows((2, 1, 2), noisy_planes(rng)),
    ]
    h5 = write_file(tmp_path / "nue_WithWire_00.h5", events)
    _with_zero_count_entry(h5, 1)
    qc = render_default(h5, tmp_path, "z", sample="nue_WithWire_00")
    assert qc["rendered"] == 2 and qc["skipped"] == 1 and qc["reconciled"]
    assert qc["skipped_events"] == [
        {
            "index": 1,
            "run": 2,
            "subrun": 1,
            "event": 1,
            "reason": "no wire rows in /wire_table for this event (its event_id.seq_cnt entry counts 0 rows)",
        }
    ]
    assert sorted(set(pd.read_parquet(tmp_path / "z.parquet").event)) == [0, 2]


def test_finite_adc_values_outside_the_physical_range_are_skipped_with_a_reason(tmp_path: Path):
    rng = np.random.default_rng(9)
    huge, negative, bright = noisy_planes(rng), noisy_planes(rng), noisy_planes(rng)
    huge[2][10, 20:23] = 1e30  # the case: saturated nine plane-2 pixels, no QC entry
    negative[0][3, 4] = -3e38
    bright[1][5, 6] = 2.0e7  # inside ±4096 × 6400: rendered (saturates its pixel, like a dense spot)
    events = [event_rows((3, 1, k), p) for k, p in enumerate((huge, negative, bright, noisy_planes(rng)))]
    h5 = write_file(tmp_path / "bnb_WithWire_00.h5", events)
    qc = render_default(h5, tmp_path, "r", sample="bnb_WithWire_00")
    assert qc["rendered"] == 2 and qc["skipped"] == 2 and qc["reconciled"]
    reasons = {e["event"]: e["reason"] for e in qc["skipped_events"]}
    assert reasons == {
        0: "3 ADC values outside ±2.62e+07 (largest |value| 1e+30; no 12-bit readout of 6400 ticks holds "
        "that much charge on one tick)",
        1: "1 ADC values outside ±2.62e+07 (largest |value| 3e+38; no 12-bit readout of 6400 ticks holds "
        "that much charge on one tick)",
    }
    assert sorted(set(pd.read_parquet(tmp_path / "r.parquet").event)) == [2, 3]
