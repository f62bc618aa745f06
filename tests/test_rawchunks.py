"""The raw-chunk reader of wire_table/adc against h5py, on real files of many layouts.

Every layout is rendered twice, through raw chunks and through h5py, and the Parquet and QC files
must be byte-identical; each test also checks which route was taken, so it cannot pass by falling
back without saying so.
"""

from __future__ import annotations

import logging
import zlib
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from h5files import event_rows, noisy_planes, write_file
from nuwire.errors import InputFileError
from nuwire.geometry import COMPACT
from nuwire.images.render import ReadOptions, RenderParams, render_file
from nuwire.io import rawchunks
from nuwire.io.opensamples import OpenSamplesFile

PARAMS = RenderParams(dw=2, dt=3, threshold=10.0, saturation=100.0)
# dt divides the 8-tick runs that shuffled chunks decode to: blocks summed from the runs' values
# (render._run_block_sums); with PARAMS' dt = 3 the runs only name the blocks, summed from the plane.
PARAMS_RUNS = RenderParams(dw=3, dt=2, threshold=10.0, saturation=100.0)


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six events by the project's writer ((128, 256) shuffle + gzip chunks, all-zero chunks not
    stored; 1348 rows per event, so chunk rows span events): noisy readouts with -0.0 values, one
    with its rows shuffled, one with a NaN (skipped), one without wire rows (skipped)."""
    rng = np.random.default_rng(24)
    planes = [noisy_planes(rng) for _ in range(5)]
    planes[0][1][7, 3:9] = -0.0
    planes[3][2][11, 40] = np.nan
    order = rng.permutation(COMPACT.n_channels)
    events = [event_rows((3, 1, k), planes[k], wire_order=order if k == 2 else None) for k in range(4)]
    events += [event_rows((3, 1, 4), None), event_rows((3, 1, 5), planes[4])]
    return write_file(tmp_path_factory.mktemp("raw") / "bnb_WithWire_00.h5", events)


def relayout(src: Path, dst: Path, dtype: Any = None, **create: Any) -> Path:
    """A copy of `src` whose wire_table/adc is stored with h5py's own filters as `create` says
    (what another writer would produce); every chunk is stored, all-zero ones included."""
    with h5py.File(src, "r") as a, h5py.File(dst, "w") as b:
        for key, value in a.attrs.items():
            b.attrs[key] = value
        for name in a:
            if name != "wire_table":
                a.copy(a[name], b, name)
        wt = b.create_group("wire_table")
        for name, ds in a["wire_table"].items():
            if name != "adc":
                a.copy(ds, wt, name)
        adc = a["wire_table/adc"][:]
        if dtype is not None and np.dtype(dtype).kind in "iu":  # integers hold no NaN: that event renders
            adc = np.nan_to_num(adc, nan=0.0)
        wt.create_dataset("adc", data=adc if dtype is None else adc.astype(dtype), **create)
    return dst


def render_both(
    h5: Path, out: Path, threads: int = 2, params: tuple[RenderParams, ...] = (PARAMS, PARAMS_RUNS)
) -> tuple[str, dict, dict]:
    """(route of the raw reader, qc of the raw route, qc of h5py) after asserting identical bytes
    for each of `params`."""
    out.mkdir(exist_ok=True)
    for p in params:
        qc_raw = render_file(
            h5, out / "raw.parquet", out / "raw.qc.json", sample="s", params=p, read=ReadOptions(threads=threads)
        )
        qc_h5 = render_file(
            h5, out / "h5.parquet", out / "h5.qc.json", sample="s", params=p, read=ReadOptions(raw_chunks=False)
        )
        assert (out / "raw.parquet").read_bytes() == (out / "h5.parquet").read_bytes(), p
        assert (out / "raw.qc.json").read_bytes() == (out / "h5.qc.json").read_bytes(), p
    with OpenSamplesFile(h5, threads=threads) as f:
        return f.adc_route, qc_raw, qc_h5


def test_demo_layout_is_byte_identical_and_skips_alike(demo_file: Path, tmp_path: Path):
    route, qc, _ = render_both(demo_file, tmp_path)
    assert route.startswith("raw chunks")
    assert qc["rendered"] == 4 and qc["skipped"] == 2
    reasons = sorted(e["reason"] for e in qc["skipped_events"])
    assert reasons == ["1 non-finite (NaN or infinite) ADC values", "no wire rows in /wire_table for this event"]


@pytest.mark.parametrize("dw, dt", [(1, 1), (2, 2), (3, 4), (2, 8), (1, 16), (4, 5)])
def test_blocks_of_any_size_are_byte_identical(dw: int, dt: int, demo_file: Path, tmp_path: Path):
    """The demo's shuffled chunks decode to 8-tick runs in channel order (event 2: one-tick runs,
    its rows shuffled); blocks dt ticks long are summed from the runs where dt divides 8, from
    the plane otherwise (dt 5, 16): the pixels are h5py's route's either way."""
    with OpenSamplesFile(demo_file) as f:
        widths = [None if ev.nonzero is None else {r.width for r in ev.nonzero} for ev in f.iter_events()]
    assert widths == [{8}, {8}, {1}, None, None, {8}]
    params = RenderParams(dw=dw, dt=dt, threshold=10.0, saturation=100.0)
    route, qc, _ = render_both(demo_file, tmp_path, params=(params,))
    assert route.startswith("raw chunks") and qc["rendered"] == 4


LAYOUTS = {
    # odd chunk shapes: rows and ticks not dividing the dataset, edge chunks padded
    "odd_chunks_shuffle_gzip": dict(chunks=(37, 100), shuffle=True, compression="gzip", compression_opts=4),
    "gzip_without_shuffle": dict(chunks=(64, 256), compression="gzip", compression_opts=1),
    # hep_hpc-like: whole-row chunks of a row buffer, gzip, no shuffle
    "hep_hpc_row_buffered": dict(chunks=(200, COMPACT.n_ticks), compression="gzip", compression_opts=6),
    "one_row_chunks_shuffle": dict(chunks=(1, 512), shuffle=True, compression="gzip"),
    "shuffle_only": dict(chunks=(128, 128), shuffle=True),
    "no_filters_chunked": dict(chunks=(100, 300)),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_foreign_layouts_are_byte_identical(layout: str, demo_file: Path, tmp_path: Path):
    h5 = relayout(demo_file, tmp_path / "f.h5", **LAYOUTS[layout])
    route, qc, _ = render_both(h5, tmp_path / "out")
    assert route.startswith("raw chunks"), route
    assert qc["rendered"] == 4


@pytest.mark.parametrize("dtype", [np.int16, ">f4", np.float64])
def test_other_adc_types_are_byte_identical(dtype: Any, demo_file: Path, tmp_path: Path):
    h5 = relayout(demo_file, tmp_path / "f.h5", dtype=dtype, chunks=(50, 200), shuffle=True, compression="gzip")
    route, _, _ = render_both(h5, tmp_path / "out", threads=1)
    assert route.startswith("raw chunks"), route


@pytest.mark.parametrize("tall", [False, True], ids=["demo", "chunks_taller_than_events"])
def test_events_read_in_any_order_match_h5py(tall: bool, demo_file: Path, tmp_path: Path):
    """The kept chunk row of the previous event, and the next event's chunks decoded ahead of time
    (2 threads), serve only the rows they hold, whatever is read in between."""
    h5 = (
        relayout(demo_file, tmp_path / "f.h5", chunks=(4096, 64), shuffle=True, compression="gzip")
        if tall
        else demo_file
    )
    with OpenSamplesFile(h5, raw_chunks=False) as ref:
        want = list(ref.iter_events())
    for threads in (1, 2):
        with OpenSamplesFile(h5, threads=threads) as raw:
            events = raw.iter_events()
            got = [next(events)]  # event 1 is being decoded ahead now
            got += [raw.read_event(k) for k in (3, 1, 1, 0, 5, 2)]
            got += list(events)  # events 1..5 after the reads in between
        for ev in got:
            ref_ev = want[ev.index]
            assert ev.skip_reason == ref_ev.skip_reason
            if ref_ev.planes is not None:
                for pa, pb in zip(ev.planes, ref_ev.planes):
                    assert pa.tobytes() == pb.tobytes(), (threads, ev.index)


@pytest.mark.parametrize(
    "layout, why",
    [
        (dict(chunks=(64, 256), compression="lzf"), "uses filter 32000"),
        (dict(chunks=(64, 256), compression="gzip", fletcher32=True), "uses filter 3"),
        (dict(chunks=(64, 256), scaleoffset=0, dtype=np.int32), "uses filter 6"),
        (dict(), "not chunked"),
        (dict(chunks=(64, 256), compression="gzip", fillvalue=1.0), "fill value"),
    ],
    ids=["lzf", "fletcher32", "scaleoffset", "contiguous", "fillvalue"],
)
def test_unsupported_layouts_fall_back_to_h5py_and_say_so(layout, why, demo_file: Path, tmp_path: Path, caplog):
    create = dict(layout)
    h5 = relayout(demo_file, tmp_path / "f.h5", dtype=create.pop("dtype", None), **create)
    with caplog.at_level(logging.INFO):
        route, qc, _ = render_both(h5, tmp_path / "out")
    assert route.startswith("h5py") and why in route, route
    assert any("through h5py" in r.getMessage() and why in r.getMessage() for r in caplog.records)
    assert qc["rendered"] == (5 if "dtype" in layout else 4)


def test_missing_inflate_library_falls_back(demo_file: Path, tmp_path: Path, monkeypatch, caplog):
    monkeypatch.setattr(rawchunks, "_deflate", None)
    with caplog.at_level(logging.INFO):
        route, _, _ = render_both(demo_file, tmp_path)
    assert "'deflate' package" in route
    assert any("through h5py" in r.getMessage() for r in caplog.records)


def _stored_chunks(h5: Path) -> list[Any]:
    with h5py.File(h5, "r") as f:
        found: list[Any] = []
        f["wire_table/adc"].id.chunk_iter(found.append)
    return found


def test_chunks_stored_with_a_filter_skipped_are_read(demo_file: Path, tmp_path: Path):
    """HDF5 stores a chunk unfiltered by an optional filter (mask bit set) when, e.g., deflate
    would make it bigger; both skips are written here by hand into a shuffle + gzip dataset."""
    h5 = relayout(demo_file, tmp_path / "f.h5", chunks=(128, 256), shuffle=True, compression="gzip")
    with h5py.File(h5, "r+") as f:
        ds = f["wire_table/adc"]
        for k, info in enumerate(c for c in _stored_chunks(h5) if c.chunk_offset[0] < 1024):
            r, t = info.chunk_offset
            tile = np.zeros((128, 256), np.float32)
            part = ds[r : r + 128, t : t + 256]
            tile[: part.shape[0], : part.shape[1]] = part
            shuffled = tile.view(np.uint8).reshape(-1, 4).T.tobytes()
            if k % 2:  # deflate skipped: stored shuffled, not compressed
                ds.id.write_direct_chunk((r, t), shuffled, filter_mask=0b10)
            else:  # shuffle skipped: compressed plain bytes
                ds.id.write_direct_chunk((r, t), zlib.compress(tile.tobytes(), 1), filter_mask=0b01)
        masks = {c.filter_mask for c in _stored_chunks(h5)}
    assert masks == {0, 0b01, 0b10}
    route, qc, _ = render_both(h5, tmp_path / "out")
    assert route.startswith("raw chunks") and qc["rendered"] == 4


@pytest.mark.parametrize("threads", [1, 2])
def test_a_corrupted_chunk_is_named_never_rendered(threads: int, demo_file: Path, tmp_path: Path):
    h5 = tmp_path / "bad.h5"
    h5.write_bytes(demo_file.read_bytes())
    victim = max(_stored_chunks(h5), key=lambda c: c.size)
    raw = bytearray(h5.read_bytes())
    middle = victim.byte_offset + victim.size // 2
    raw[middle : middle + 16] = bytes(16)
    h5.write_bytes(bytes(raw))
    with pytest.raises(InputFileError) as err:
        render_file(
            h5,
            tmp_path / "o.parquet",
            tmp_path / "o.qc.json",
            sample="s",
            params=PARAMS,
            read=ReadOptions(threads=threads),
        )
    message = str(err.value)
    assert str(h5) in message and "/wire_table/adc" in message and "corrupted" in message
    assert f"offset {tuple(victim.chunk_offset)}" in message
    assert not (tmp_path / "o.parquet").exists() and not (tmp_path / "o.qc.json").exists()
