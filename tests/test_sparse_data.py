"""Sparse batches from the in-RAM set: the same pixels as the dense batches, and no dense plane.

Images are written as real image Parquet (docs/architecture.md schema) and loaded with
`SparseImageSet.load`; whole MicroBooNE-sized plane-2 images (3200 × 1728) check that the sparse
path — batch assembly, forward and backward of `sparse_resnet` — never allocates anything the size
of a plane: every tensor an ATen op returns is recorded (a TorchDispatchMode sees them all, backward
included), and numpy's allocations are traced with tracemalloc. The dense path under the same
instruments is the control that shows they can fail.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

from nuwire.images.image_set import SparseImageSet, make_loader
from nuwire.images.render import IMAGE_SCHEMA
from nuwire.images.views import ViewSpec
from nuwire.models import build_model
from nuwire.sparse import densify, sparsify

SAMPLE = "nue_WithWire_00"
FULL = (3200, 1728)  # MicroBooNE plane 2 after the default 2×2 render


def tracks(rng: np.random.Generator, shape: tuple[int, int], n_tracks: int) -> np.ndarray:
    """Flat pixel positions of a few straight tracks (some along rows, some along columns, some
    diagonal, so both run-length orders occur), border pixels included."""
    h, w = shape
    pos = [np.array([0, w - 1, (h - 1) * w, h * w - 1])]  # the four corners
    for _ in range(n_tracks):
        r, c = rng.integers(0, h), rng.integers(0, w)
        length = int(rng.integers(5, min(h, w, 400)))
        dr, dc = [(1, 0), (0, 1), (1, 1), (1, -1)][int(rng.integers(0, 4))]
        rr, cc = r + dr * np.arange(length), c + dc * np.arange(length)
        keep = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
        pos.append(rr[keep] * w + cc[keep])
    return np.unique(np.concatenate(pos))


def write_set(
    directory: Path, shape: tuple[int, int], n_events: int, n_tracks: int, seed: int = 0
) -> tuple[list[Path], pd.DataFrame]:
    rng = np.random.default_rng(seed)
    h, w = shape
    rows, cols, values = [], [], []
    for _ in range(n_events):
        pos = tracks(rng, shape, n_tracks)
        rows.append((pos // w).tolist())
        cols.append((pos % w).tolist())
        values.append(rng.integers(1, 256, len(pos)).tolist())
    table = pa.table(
        {
            "sample": [SAMPLE] * n_events,
            "run": [1] * n_events,
            "subrun": [1] * n_events,
            "event": list(range(n_events)),
            "plane": [2] * n_events,
            "height": [h] * n_events,
            "width": [w] * n_events,
            "row": rows,
            "col": cols,
            "value": values,
        },
        schema=IMAGE_SCHEMA,
    )
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{SAMPLE}.parquet"
    pq.write_table(table, path)
    events = pd.DataFrame(
        {
            "sample": SAMPLE,
            "run": 1,
            "subrun": 1,
            "event": np.arange(n_events),
            "label": np.arange(n_events) % 2,
            "reco_row_p2": rng.uniform(0, h, n_events),
            "reco_col_p2": rng.uniform(0, w, n_events),
        }
    )
    events.loc[0, ["reco_row_p2", "reco_col_p2"]] = np.nan  # no vertex: the crop centres on the charge
    return [path], events


@pytest.mark.parametrize(
    "view",
    [ViewSpec((2,), 1.0), ViewSpec((2,), 0.5), ViewSpec((2,), 0.5, crop=24), ViewSpec((2,), 1.0, crop=80)],
    ids=["whole", "scale0.5", "crop24", "crop80"],
)
def test_sparse_batch_has_the_pixels_of_the_dense_batch(view: ViewSpec, tmp_path: Path) -> None:
    files, events = write_set(tmp_path, (61, 47), n_events=7, n_tracks=4)
    ds = SparseImageSet.load(files, events, view)
    idx = np.array([5, 0, 3, 6])
    (x,), (dense,) = ds.sparse_batch(idx), ds.batch(idx)
    assert x.shape == ds.input_shapes[0] and x.batch_size == len(idx)
    assert torch.equal(densify(x), dense)
    reference = sparsify(dense)
    assert torch.equal(x.coords, reference.coords) and torch.equal(x.features, reference.features)


def test_loader_gives_sparse_batches_in_the_dense_order(tmp_path: Path) -> None:
    files, events = write_set(tmp_path, (40, 30), n_events=10, n_tracks=2)
    ds = SparseImageSet.load(files, events, ViewSpec((2,), 1.0))
    sparse = list(make_loader(ds, 4, shuffle=True, seed=3, epoch=2, sparse=True))
    dense = list(make_loader(ds, 4, shuffle=True, seed=3, epoch=2))
    assert len(sparse) == len(dense) == 3
    for (xs, ys, idx_s), (xd, yd, idx_d) in zip(sparse, dense):
        assert torch.equal(idx_s, idx_d) and torch.equal(ys, yd)
        assert torch.equal(densify(xs[0]), xd[0])


class LargestTensor(TorchDispatchMode):
    """Records the largest tensor any ATen op returns while active (forward and backward)."""

    def __init__(self) -> None:
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor):
                self.largest = max(self.largest, t.numel())
        return out


def test_sparse_path_allocates_nothing_the_size_of_a_whole_plane(tmp_path: Path) -> None:
    files, events = write_set(tmp_path, FULL, n_events=2, n_tracks=40)
    ds = SparseImageSet.load(files, events, ViewSpec((2,), 1.0))
    plane = FULL[0] * FULL[1]
    idx = np.array([0, 1])
    torch.manual_seed(0)
    model = build_model("sparse_resnet", ds.input_shapes, width=8).train()

    def sparse_step() -> None:
        F.cross_entropy(model(*ds.sparse_batch(idx)), torch.tensor([0, 1])).backward()

    # Two passes, so that neither instrument's own imports show up in the other's figures.
    with LargestTensor() as seen:
        sparse_step()
    with LargestTensor() as control:
        ds.batch(idx)  # the dense route, seen by the same instrument
    tracemalloc.start()
    try:
        sparse_step()
        _, numpy_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        ds.batch(idx)
        _, dense_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert control.largest >= 2 * plane and dense_peak >= 2 * plane * 4  # the instruments see a dense batch
    assert seen.largest < plane / 4, f"a tensor of {seen.largest:,} elements on the sparse path ({plane:,} per plane)"
    assert numpy_peak < plane, f"numpy peak {numpy_peak:,} B on the sparse path; one float32 plane is {4 * plane:,} B"
    assert all(p.grad is not None for p in model.parameters())
