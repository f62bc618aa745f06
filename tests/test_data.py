"""nuwire.images.image_set on real Parquet image files: round trip, scaling, crop, cuts, errors, loader, memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
import torch.nn.functional as F

from nuwire.errors import NuwireError
from nuwire.events.cuts import CutSpec, select_events
from nuwire.images.image_set import BatchDelivery, SparseImageSet, make_loader
from nuwire.images.render import IMAGE_SCHEMA
from nuwire.images.runlength import MAX_GAP, MAX_LEN
from nuwire.images.views import ViewSpec

torch.set_num_threads(1)

SCHEMA = IMAGE_SCHEMA


def write_images(path: Path, images: dict[tuple, np.ndarray], shuffle_pixels: bool = False) -> Path:
    """One Parquet row per ((sample, run, subrun, event), plane) -> dense uint8 image."""
    rng = np.random.default_rng(0)
    rows = []
    for (sample, run, subrun, event, plane), dense in images.items():
        r, c = np.nonzero(dense)  # row-major, as the contract says
        if shuffle_pixels:
            p = rng.permutation(len(r))
            r, c = r[p], c[p]
        rows.append(
            dict(
                sample=sample,
                run=run,
                subrun=subrun,
                event=event,
                plane=plane,
                height=dense.shape[0],
                width=dense.shape[1],
                row=r.astype(np.uint16),
                col=c.astype(np.uint16),
                value=dense[r, c],
            )
        )
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), path, row_group_size=4)
    return path


def random_image(rng: np.random.Generator, shape: tuple[int, int], occupancy: float = 0.05) -> np.ndarray:
    lit = rng.random(shape) < occupancy
    return np.where(lit, rng.integers(1, 256, size=shape), 0).astype(np.uint8)


def events_table(keys: list[tuple], **columns) -> pd.DataFrame:
    frame = pd.DataFrame(keys, columns=["sample", "run", "subrun", "event"])
    frame["label"] = columns.pop("label", [k[3] % 2 for k in keys])
    for p in range(3):
        frame[f"reco_row_p{p}"] = np.nan
        frame[f"reco_col_p{p}"] = np.nan
    for name, value in columns.items():
        frame[name] = value
    return frame


def dense_view(dense: np.ndarray, scale: float) -> torch.Tensor:
    """The reference: uint8/255 as float32, scaled by torch's nearest interpolation."""
    x = torch.from_numpy(dense).to(torch.float32).div(255.0)[None, None]
    size = (int(np.floor(dense.shape[0] * scale)), int(np.floor(dense.shape[1] * scale)))
    return F.interpolate(x, size=size, mode="nearest")[0, 0]


SHAPES = {0: (40, 30), 1: (40, 30), 2: (40, 45)}


@pytest.fixture
def three_plane_files(tmp_path: Path):
    """Two files, 6 events with three planes each, plus one event that no test selects."""
    rng = np.random.default_rng(1)
    images, keys = {}, []
    for sample in ("bnb_WithWire_00", "nue_WithWire_00"):
        for ev in range(3):
            keys.append((sample, 7, 1, ev))
            for p, shape in SHAPES.items():
                images[(sample, 7, 1, ev, p)] = random_image(rng, shape)
    images[("bnb_WithWire_00", 7, 1, 99, 2)] = random_image(rng, SHAPES[2])
    files = []
    for sample in ("bnb_WithWire_00", "nue_WithWire_00"):
        mine = {k: v for k, v in images.items() if k[0] == sample}
        files.append(write_images(tmp_path / f"{sample}.parquet", mine))
    return files, images, keys


def test_round_trip_gives_back_the_dense_images_of_every_plane(three_plane_files):
    files, images, keys = three_plane_files
    keys = keys[::-1]  # dataset order is the events' order, not the files'
    ds = SparseImageSet.load(files, events_table(keys), ViewSpec(planes=(0, 1, 2)))
    assert len(ds) == len(keys)
    assert ds.input_shapes == [SHAPES[0], SHAPES[1], SHAPES[2]]
    assert list(ds.events["event"]) == [k[3] for k in keys]
    idx = np.array([3, 0, 5, 0])  # any order, repeats allowed
    views = ds.batch(idx)
    assert [tuple(v.shape) for v in views] == [(4, 1, *SHAPES[p]) for p in range(3)]
    for p, v in enumerate(views):
        assert v.dtype == torch.float32
        for b, i in enumerate(idx):
            want = torch.from_numpy(images[(*keys[i], p)]).to(torch.float32) / 255.0
            assert torch.equal(v[b, 0], want)


def test_pixels_out_of_row_major_order_are_accepted(tmp_path: Path):
    rng = np.random.default_rng(2)
    dense = random_image(rng, (33, 21), 0.2)
    path = write_images(tmp_path / "a.parquet", {("a", 1, 1, 1, 2): dense}, shuffle_pixels=True)
    ds = SparseImageSet.load([path], events_table([("a", 1, 1, 1)]), ViewSpec(planes=(2,)))
    assert torch.equal(ds.batch(np.array([0]))[0][0, 0], torch.from_numpy(dense).float() / 255.0)


@pytest.mark.parametrize("scale", [0.33, 0.5, 1.0])
# (462, 468) at 0.33: torch's float32 index arithmetic picks other sources than exact arithmetic.
@pytest.mark.parametrize("shape", [(37, 53), (101, 29), (64, 64), (462, 468)])
def test_scaling_equals_torch_nearest_interpolation(tmp_path: Path, scale: float, shape: tuple[int, int]):
    rng = np.random.default_rng(3)
    images = {("s", 1, 1, e, 2): random_image(rng, shape, 0.3) for e in range(3)}
    path = write_images(tmp_path / "s.parquet", images)
    ds = SparseImageSet.load([path], events_table([k[:4] for k in images]), ViewSpec(planes=(2,), scale=scale))
    (got,) = ds.batch(np.arange(3))
    for b, dense in enumerate(images.values()):
        want = dense_view(dense, scale)
        assert ds.input_shapes == [tuple(want.shape)]
        assert torch.equal(got[b, 0], want)


def _crop_set(tmp_path: Path, dense: np.ndarray, vertex: tuple[float, float], scale: float, crop: int):
    path = write_images(tmp_path / "c.parquet", {("c", 1, 1, 1, 2): dense})
    events = events_table([("c", 1, 1, 1)], reco_row_p2=[vertex[0]], reco_col_p2=[vertex[1]])
    ds = SparseImageSet.load([path], events, ViewSpec(planes=(2,), scale=scale, crop=crop))
    assert ds.input_shapes == [(crop, crop)]
    return ds.batch(np.array([0]))[0][0, 0]


@pytest.mark.parametrize(
    ("vertex", "window"),
    [
        ((0.0, 0.0), (0, 0)),  # vertex at the corner: the window is pushed back inside
        ((79.0, 59.0), (40 - 16, 30 - 16)),  # opposite corner
        ((500.0, -300.0), (40 - 16, 0)),  # beyond the edges
        ((40.0, 30.0), (20 - 8, 15 - 8)),  # inside: centred on the scaled vertex pixel
    ],
)
def test_crop_is_the_window_of_the_scaled_image(tmp_path: Path, vertex, window):
    dense = random_image(np.random.default_rng(4), (80, 60), 0.3)
    got = _crop_set(tmp_path, dense, vertex, scale=0.5, crop=16)
    r0, c0 = window
    assert torch.equal(got, dense_view(dense, 0.5)[r0 : r0 + 16, c0 : c0 + 16])


def test_crop_without_vertex_centres_on_the_charge_centroid(tmp_path: Path):
    dense = np.zeros((80, 60), np.uint8)
    dense[50:53, 20] = 200  # centroid (51, 20): scaled (25.5, 10) -> pixel (25, 10)
    dense[75, 55] = 1  # faint: moves the centroid by less than a scaled pixel
    got = _crop_set(tmp_path, dense, (np.nan, np.nan), scale=0.5, crop=8)
    want = dense_view(dense, 0.5)[25 - 4 : 25 + 4, 10 - 4 : 10 + 4]
    assert want.sum() > 0
    assert torch.equal(got, want)


def test_image_smaller_than_the_crop_is_zero_padded_around_it(tmp_path: Path):
    dense = random_image(np.random.default_rng(5), (10, 12), 0.5)
    dense[0, 0] = dense[-1, -1] = 7  # corners lit: the whole image must land in the window
    got = _crop_set(tmp_path, dense, (5.0, 0.0), scale=1.0, crop=16)
    # rows: centre 5 - 8 = -3 (the window may start 6 rows before the image); cols: 0 - 8 -> -4
    want = torch.zeros(16, 16)
    want[3:13, 4:16] = torch.from_numpy(dense).float() / 255.0
    assert torch.equal(got, want)


def _index() -> pd.DataFrame:
    rng = np.random.default_rng(6)
    n = 400
    index = pd.DataFrame({"label": rng.integers(0, 2, n), "lep_energy": rng.exponential(1.0, n)})
    index["split"] = rng.choice(["train", "val", "test"], n, p=[0.7, 0.15, 0.15])
    # Make the splits differ in energy so that a per-split median would give other thresholds.
    index.loc[index["split"] == "test", "lep_energy"] *= 3.0
    return index


def test_top50_keeps_signal_above_the_median_of_all_splits_and_all_background():
    index = _index()
    cut = CutSpec("top50", signal_lep_energy_quantile=0.5)
    median = np.median(index.loc[index["label"] == 1, "lep_energy"])
    for split in ("train", "val", "test"):
        got = select_events(index, split, cut)
        mine = index[index["split"] == split]
        want = mine[(mine["label"] == 0) | (mine["lep_energy"] >= median)]
        assert got["lep_energy"].tolist() == want["lep_energy"].tolist()
        assert (got["label"] == 0).sum() == (mine["label"] == 0).sum()
        signal = mine[mine["label"] == 1]
        assert 0 < (got["label"] == 1).sum() < len(signal)
    full = select_events(index, "train", CutSpec("full", 0.0))
    assert len(full) == (index["split"] == "train").sum()


def test_missing_image_rows_name_the_event_and_file(three_plane_files):
    files, _, keys = three_plane_files
    events = events_table([*keys, ("nue_WithWire_00", 7, 1, 42)])
    with pytest.raises(NuwireError, match=r"nue_WithWire_00 run 7 subrun 1 event 42.*nue_WithWire_00\.parquet"):
        SparseImageSet.load(files, events, ViewSpec(planes=(2,)))
    # Event 99 has plane 2 only: asking for plane 0 too must fail, not drop it.
    with pytest.raises(NuwireError, match=r"event 99 has no plane 0 image"):
        SparseImageSet.load(files, events_table([("bnb_WithWire_00", 7, 1, 99)]), ViewSpec(planes=(0, 2)))


def test_an_image_in_two_files_is_an_error(three_plane_files, tmp_path: Path):
    files, images, keys = three_plane_files
    again = write_images(tmp_path / "again.parquet", {k: v for k, v in images.items() if k[3] == 0})
    with pytest.raises(NuwireError, match="two images"):
        SparseImageSet.load([*files, again], events_table(keys), ViewSpec(planes=(2,)))


def test_loader_order_depends_only_on_seed_and_epoch(three_plane_files):
    files, _, keys = three_plane_files
    ds = SparseImageSet.load(files, events_table(keys), ViewSpec(planes=(1, 2), scale=0.5))

    def order(seed: int, epoch: int) -> list[int]:
        return [i for _, _, idx in make_loader(ds, 4, shuffle=True, seed=seed, epoch=epoch) for i in idx.tolist()]

    assert order(3, 0) == order(3, 0)
    assert sorted(order(3, 0)) == list(range(len(ds)))
    assert order(3, 0) != order(3, 1)
    views, labels, idx = next(
        iter(make_loader(ds, 4, shuffle=False, seed=0, epoch=0, delivery=BatchDelivery(pin_memory=True)))
    )
    assert idx.tolist() == [0, 1, 2, 3] and labels.dtype == torch.int64
    assert labels.tolist() == ds.labels[:4].tolist()
    assert [tuple(v.shape) for v in views] == [(4, 1, 20, 15), (4, 1, 20, 22)]
    assert [len(b[2]) for b in make_loader(ds, 4, shuffle=False, seed=0, epoch=0)] == [4, 2]


def _tracks(rng: np.random.Generator, shape: tuple[int, int], n: int) -> np.ndarray:
    """Straight tracks at random angles; each hit is a pulse a few time rows tall."""
    dense = np.zeros(shape, np.uint8)
    for _ in range(n):
        r0, c0 = rng.uniform(0, shape[0]), rng.uniform(0, shape[1])
        angle, length = rng.uniform(0, np.pi), rng.uniform(20, 200)
        t = np.arange(0, length, 0.5)
        r = (r0 + t * np.sin(angle)).astype(int)
        c = (c0 + t * np.cos(angle)).astype(int)
        for dr in (-1, 0, 1):
            ok = (r + dr >= 0) & (r + dr < shape[0]) & (c >= 0) & (c < shape[1])
            dense[r[ok] + dr, c[ok]] = rng.integers(30, 256, ok.sum())
    return dense


def test_each_image_is_read_along_its_runs(tmp_path: Path):
    """Pulses five rows tall: one token per pulse when read down the columns, whichever way they lie."""
    rng = np.random.default_rng(8)
    pulses = np.zeros((150, 150), np.uint8)
    rows, cols = rng.integers(0, 145, 300) // 6 * 6, rng.integers(0, 150, 300)  # no two pulses touch
    for r, c in zip(rows, cols):
        pulses[r : r + 5, c] = rng.integers(1, 256, 5)
    images = {("o", 1, 1, 0, 2): pulses, ("o", 1, 1, 1, 2): np.ascontiguousarray(pulses.T)}
    path = write_images(tmp_path / "o.parquet", images)
    ds = SparseImageSet.load([path], events_table([k[:4] for k in images]), ViewSpec(planes=(2,)))
    plane = ds._planes[0]
    assert plane.vertical.tolist() == [True, False]
    for i, dense in enumerate(images.values()):
        lit = np.pad(dense > 0, 1)
        n_pulses = int((lit[1:, :] & ~lit[:-1, :]).sum() if i == 0 else (lit[:, 1:] & ~lit[:, :-1]).sum())
        assert plane.n_tok[i] == n_pulses  # gaps here are all shorter than MAX_GAP
        assert torch.equal(ds.batch(np.array([i]))[0][0, 0], torch.from_numpy(dense).float() / 255.0)


def test_memory_is_one_byte_per_lit_pixel_plus_two_per_run(tmp_path: Path):
    rng = np.random.default_rng(7)
    shape = (400, 300)
    images = {("m", 1, 1, e, 2): _tracks(rng, shape, 10) for e in range(4)}
    images[("m", 1, 1, 7, 2)] = np.zeros(shape, np.uint8)  # empty
    images[("m", 1, 1, 8, 2)] = np.zeros(shape, np.uint8)
    images[("m", 1, 1, 8, 2)][-1, -1] = 3  # one pixel after the longest gap
    images[("m", 1, 1, 9, 2)] = np.full(shape, 9, np.uint8)  # runs longer than a token holds
    path = write_images(tmp_path / "m.parquet", images)
    ds = SparseImageSet.load([path], events_table([k[:4] for k in images]), ViewSpec(planes=(2,)))
    views = ds.batch(np.arange(len(images)))[0]
    for b, dense in enumerate(images.values()):
        assert torch.equal(views[b, 0], torch.from_numpy(dense).float() / 255.0)
    plane = ds._planes[0]
    per_event = sum(a.itemsize for a in (plane.tok_lo, plane.n_tok, plane.val_lo, plane.n_pix, plane.vertical))
    lit = sum(int((d > 0).sum()) for d in images.values())
    assert ds.nbytes == lit + 2 * len(plane.token) + per_event * len(ds)
    n = shape[0] * shape[1]
    assert plane.n_tok[4] == 0 and plane.n_tok[5] == (n - 2) // MAX_GAP + 1  # bridges, then the pixel
    assert plane.n_tok[6] == -(-n // MAX_LEN)
    # By construction: pulses three rows tall make runs of ≥ 3 pixels down a column, so at most
    # 1 + 2/3 bytes per lit pixel, plus a bridging token per MAX_GAP empty pixels. Below ~2.5%
    # occupancy that is under 1/20 of the dense uint8 images.
    lit_tracks = int(plane.n_pix[:4].sum())
    assert 2 * int(plane.n_tok[:4].sum()) <= 2 / 3 * lit_tracks + 2 * 4 * (shape[0] * shape[1] // MAX_GAP + 1)
    assert lit_tracks / (4 * shape[0] * shape[1]) < 0.02
    track_bytes = lit_tracks + 2 * int(plane.n_tok[:4].sum()) + 4 * per_event
    assert track_bytes <= 4 * shape[0] * shape[1] / 20


def test_bad_views_cuts_and_files_are_user_errors(tmp_path: Path):
    for bad in (dict(planes=(3,)), dict(planes=(2, 2)), dict(planes=(2,), scale=1.5), dict(planes=(2,), crop=0)):
        with pytest.raises(NuwireError, match="view"):
            ViewSpec(**bad)
    with pytest.raises(NuwireError, match="signal_lep_energy_quantile"):
        CutSpec("top100", 1.0)
    with pytest.raises(NuwireError, match="split"):
        select_events(_index(), "training", CutSpec("full", 0.0))
    (tmp_path / "junk.parquet").write_text("not parquet")
    with pytest.raises(NuwireError, match="junk.parquet"):
        SparseImageSet.load([tmp_path / "junk.parquet"], events_table([("a", 1, 1, 1)]), ViewSpec(planes=(2,)))
