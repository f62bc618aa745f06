"""The training set held in RAM: one split's sparse plane images, densified batch by batch.

`SparseImageSet.load` reads only the wanted planes and events from the image Parquet files,
scales and crops them on their sparse pixels at load time (so only what the model sees is kept)
and stores them run-length coded (`nuwire.images.runlength`). `batch` scatters a batch into zeroed float
tensors; `sparse_batch` gives the same pixels as `nuwire.sparse.SparseTensor`s without ever
building a dense array (the sparse models' input); `make_loader` walks the set in a fixed order
per (seed, epoch).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import torch

from nuwire.errors import NuwireError
from nuwire.images import runlength as rl
from nuwire.images.views import ViewSpec, crop_centres, destination_map, scaled_size, window_starts
from nuwire.io.keys import EVENT_KEY
from nuwire.sparse.tensor import SparseTensor

__all__ = ["BatchDelivery", "SparseImageSet", "make_loader"]

COLUMNS = (*EVENT_KEY, "plane", "height", "width", "row", "col", "value")
SCAN_ROWS = 16  # Parquet rows decoded at a time: bounds the work arrays while loading


@dataclass
class _Plane:
    """One plane of the set: the shape transform and, once loaded, the runs of every event."""

    plane: int
    in_shape: tuple[int, int] | None = None
    scaled_shape: tuple[int, int] | None = None
    out_shape: tuple[int, int] | None = None
    row_map: np.ndarray | None = None
    col_map: np.ndarray | None = None
    chunks: list[tuple[np.ndarray, rl.Runs]] = field(default_factory=list)
    # After `finish`: concatenated tokens and values, per-event (dataset order) pointers into them.
    token: np.ndarray | None = None
    value: np.ndarray | None = None
    tok_lo: np.ndarray | None = None
    n_tok: np.ndarray | None = None
    val_lo: np.ndarray | None = None
    n_pix: np.ndarray | None = None
    vertical: np.ndarray | None = None

    def set_shape(self, height: int, width: int, view: ViewSpec) -> None:
        self.in_shape = (height, width)
        h, w = scaled_size(height, view.scale), scaled_size(width, view.scale)
        self.scaled_shape = (h, w)
        self.row_map, self.col_map = destination_map(height, h), destination_map(width, w)
        self.out_shape = (h, w) if view.crop is None else (view.crop, view.crop)

    def finish(self, n_events: int) -> None:
        """Concatenate the chunks read; events keep pointers, so no reordering copy is needed."""
        pos = np.concatenate([p for p, _ in self.chunks])
        parts = [r for _, r in self.chunks]
        n_tok, n_pix = (np.concatenate([getattr(r, k) for r in parts]) for k in ("n_tok", "n_pix"))
        self.token = np.concatenate([r.token for r in parts])
        self.value = np.concatenate([r.value for r in parts])
        self.tok_lo, self.val_lo = np.zeros(n_events, np.int64), np.zeros(n_events, np.int64)
        self.n_tok, self.n_pix = np.zeros(n_events, np.int32), np.zeros(n_events, np.int32)
        self.vertical = np.zeros(n_events, bool)
        self.tok_lo[pos], self.val_lo[pos] = np.cumsum(n_tok) - n_tok, np.cumsum(n_pix) - n_pix
        self.n_tok[pos], self.n_pix[pos] = n_tok, n_pix
        self.vertical[pos] = np.concatenate([r.vertical for r in parts])
        self.chunks = []

    @property
    def nbytes(self) -> int:
        arrays = (self.token, self.value, self.tok_lo, self.n_tok, self.val_lo, self.n_pix, self.vertical)
        return int(sum(a.nbytes for a in arrays))

    def pixels(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Flat keys (image in batch · H·W + row · W + col) and uint8 values of a batch's pixels."""
        h, w = self.out_shape
        n_tok, n_pix = self.n_tok[idx], self.n_pix[idx]
        pos = rl.decode(self.token[rl.segments(self.tok_lo[idx], n_tok)], n_tok)
        col, row = np.divmod(pos, h)  # column-major images: position col*h + row is row*w + col
        flat = np.where(np.repeat(self.vertical[idx], n_pix), row * w + col, pos)
        flat += np.repeat(np.arange(len(idx), dtype=np.int64) * (h * w), n_pix)
        return flat, self.value[rl.segments(self.val_lo[idx], n_pix)]

    def sparse(self, idx: np.ndarray) -> SparseTensor:
        keys, values = self.pixels(idx)
        return SparseTensor.from_keys(keys, values, batch_size=len(idx), shape=self.out_shape)

    def dense(self, idx: np.ndarray) -> torch.Tensor:
        h, w = self.out_shape
        flat, values = self.pixels(idx)
        # np.zeros allocates with calloc: a batch-sized block comes fresh from mmap, its pages read
        # as zeros and only those that receive a pixel are ever written. torch.zeros would memset
        # the whole batch (88 MB for 16 plane-2 images at scale 0.5), which cost more than all the
        # rest of this method. Same values as before: float32 value / 255.
        out = np.zeros(len(idx) * h * w, dtype=np.float32)
        out[flat] = values.astype(np.float32) / np.float32(255.0)
        return torch.from_numpy(out).view(len(idx), 1, h, w)


class SparseImageSet:
    """Sparse images of a list of events, in the order of `events` (see module docstring)."""

    def __init__(self, events: pd.DataFrame, view: ViewSpec, planes: list[_Plane]) -> None:
        self.events = events
        self.view = view
        self.labels = events["label"].to_numpy(dtype=np.int64)
        self._planes = planes

    def __len__(self) -> int:
        return len(self.events)

    @property
    def input_shapes(self) -> list[tuple[int, int]]:
        return [p.out_shape for p in self._planes]

    @property
    def nbytes(self) -> int:
        """Bytes held by the images (run arrays and per-event pointers; labels and events aside)."""
        return sum(p.nbytes for p in self._planes)

    @property
    def dense_nbytes(self) -> int:
        """Bytes the same images would take as dense uint8 arrays of the input shapes."""
        return len(self) * sum(h * w for h, w in self.input_shapes)

    def batch(self, idx: np.ndarray) -> list[torch.Tensor]:
        """One (B, 1, H, W) float32 tensor per plane, pixel values uint8/255."""
        idx = np.asarray(idx, dtype=np.int64).reshape(-1)
        return [p.dense(idx) for p in self._planes]

    def sparse_batch(self, idx: np.ndarray) -> list[SparseTensor]:
        """One one-channel SparseTensor per plane: the same pixels and values as `batch`, no dense array."""
        idx = np.asarray(idx, dtype=np.int64).reshape(-1)
        return [p.sparse(idx) for p in self._planes]

    @classmethod
    def load(
        cls,
        image_files: Sequence[str | Path],
        events: pd.DataFrame,
        view: ViewSpec,
        *,
        progress: bool = False,
    ) -> SparseImageSet:
        events = _check_events(events, view)
        files = [Path(f) for f in image_files]
        loader = _Loader(events, view)
        for i, path in enumerate(_progress(files, progress)):
            loader.read_file(i, path)
        loader.check_complete(files)
        for p in loader.planes:
            p.finish(len(events))
        return cls(events, view, loader.planes)


@dataclass(frozen=True)
class BatchDelivery:
    """How `make_loader` hands batches over; the batches themselves do not depend on it."""

    num_workers: int = 0  # DataLoader worker processes
    pin_memory: bool = False  # page-locked batches (only where CUDA is available)
    drop_last: bool = False  # leave out a short last batch


def make_loader(
    ds: SparseImageSet,
    batch_size: int,
    *,
    shuffle: bool,
    seed: int,
    epoch: int,
    sparse: bool = False,
    delivery: BatchDelivery = BatchDelivery(),
) -> torch.utils.data.DataLoader:
    """Batches of (views, labels, idx); the order depends only on (seed, epoch) when shuffling.
    Views are dense tensors, or with `sparse` SparseTensors (`SparseImageSet.sparse_batch`)."""
    order = np.random.default_rng((seed, epoch)).permutation(len(ds)) if shuffle else np.arange(len(ds))
    stop = len(order) - len(order) % batch_size if delivery.drop_last else len(order)
    batches = [order[i : i + batch_size] for i in range(0, stop, batch_size)]
    return torch.utils.data.DataLoader(
        _Batches(ds, batches, sparse),
        batch_size=None,  # items are whole batches already
        shuffle=False,
        num_workers=delivery.num_workers,
        pin_memory=delivery.pin_memory and torch.cuda.is_available(),
    )


class _Batches(torch.utils.data.Dataset):
    def __init__(self, ds: SparseImageSet, batches: list[np.ndarray], sparse: bool = False) -> None:
        self.ds, self.batches = ds, batches
        self.views = ds.sparse_batch if sparse else ds.batch

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, k: int) -> tuple[list[torch.Tensor] | list[SparseTensor], torch.Tensor, torch.Tensor]:
        idx = self.batches[k]
        return self.views(idx), torch.from_numpy(self.ds.labels[idx]), torch.from_numpy(idx.astype(np.int64))


def _progress(files: list[Path], on: bool) -> Iterator[Path] | list[Path]:
    if not on:
        return files
    from tqdm import tqdm

    return tqdm(files, desc="images", unit="file")


def _check_events(events: pd.DataFrame, view: ViewSpec) -> pd.DataFrame:
    need = [*EVENT_KEY, "label"]
    if view.crop is not None:
        need += [f"reco_{a}_p{p}" for p in view.planes for a in ("row", "col")]
    missing = [c for c in need if c not in events.columns]
    if missing:
        raise NuwireError(f"the events table lacks column(s) {missing} needed for view {view}.")
    if len(events) == 0:
        raise NuwireError("no events to load: the selection (split and cut) is empty.")
    dup = events.duplicated(EVENT_KEY)
    if dup.any():
        raise NuwireError(f"the events table lists event(s) twice, e.g. {_name(events.loc[dup].iloc[0])}.")
    return events.reset_index(drop=True)


def _name(row: pd.Series) -> str:
    return f"{row['sample']} run {row['run']} subrun {row['subrun']} event {row['event']}"


def _key_index(columns: Sequence[np.ndarray]) -> pd.MultiIndex:
    """The (sample, run, subrun, event) index of the four key columns, in KEYS order."""
    sample, *numbers = columns
    return pd.MultiIndex.from_arrays(
        [np.asarray(sample, dtype=object), *(np.asarray(a, dtype=np.int64) for a in numbers)]
    )


class _Loader:
    """State while reading: which (event, plane) came from which file, and each plane's chunks."""

    def __init__(self, events: pd.DataFrame, view: ViewSpec) -> None:
        self.events, self.view = events, view
        self.keys = _key_index([events[k].to_numpy() for k in EVENT_KEY])
        self.planes = [_Plane(p) for p in view.planes]
        self.source = np.full((len(events), len(view.planes)), -1, dtype=np.int32)  # file per image
        self.files: list[Path] = []
        if view.crop is not None:
            v = {a: events[[f"reco_{a}_p{p}" for p in view.planes]].to_numpy(np.float64) for a in ("row", "col")}
            absent = np.isnan(v["row"]) | np.isnan(v["col"])  # a vertex needs both coordinates
            self.vertex = {a: np.where(absent, np.nan, x) for a, x in v.items()}

    def read_file(self, file_no: int, path: Path) -> None:
        self.files.append(path)
        try:
            names = set(pq.read_schema(path).names)
        except (OSError, pa.ArrowException) as exc:
            raise NuwireError(f"{path}: cannot read it as Parquet ({exc}); re-run the render rule.") from exc
        if missing := [c for c in COLUMNS if c not in names]:
            raise NuwireError(f"{path}: not an image file, column(s) {missing} are missing (see docs/formats.md).")
        wanted = (
            pc.field("plane").isin(pa.array(self.view.planes, pa.int8()))
            & pc.field("sample").isin(pa.array(sorted(set(self.events["sample"])), pa.string()))
            & pc.field("event").isin(pa.array(np.unique(self.events["event"].to_numpy(np.int64)), pa.int64()))
        )
        scanner = pads.dataset(path, format="parquet").scanner(
            columns=list(COLUMNS), filter=wanted, batch_size=SCAN_ROWS
        )
        for batch in scanner.to_batches():
            if batch.num_rows:
                self._add_batch(file_no, path, batch)

    def check_complete(self, files: list[Path]) -> None:
        """Every event must have an image of every plane: a gap is an error, never a silent drop."""
        missing = np.argwhere(self.source < 0)
        if len(missing) == 0:
            return
        i, j = missing[0]
        sample = str(self.events["sample"].iloc[i])
        by_stem = {f.stem: f for f in files}
        if sample in by_stem:
            where = f"its file {by_stem[sample]}"
        else:
            listed = ", ".join(map(str, files[:3])) + (", …" if len(files) > 3 else "")
            where = f"any of the {len(files)} image file(s) ({listed})"
        raise NuwireError(
            f"{_name(self.events.iloc[i])} has no plane {self.view.planes[j]} image in {where}; "
            f"{len(np.unique(missing[:, 0]))} event(s) lack images. Re-render the samples, or rebuild the "
            "event index from the same image files."
        )

    def _add_batch(self, file_no: int, path: Path, batch: pa.RecordBatch) -> None:
        col = {k: batch.column(k) for k in (*EVENT_KEY, "plane", "height", "width")}
        pos = self.keys.get_indexer(_key_index([col[k].to_numpy(zero_copy_only=False) for k in EVENT_KEY]))
        plane_of_row = col["plane"].to_numpy()
        for j, plane in enumerate(self.planes):
            rows = np.flatnonzero((pos >= 0) & (plane_of_row == plane.plane))
            if len(rows) == 0:
                continue
            seen = self.source[pos[rows], j]
            if (seen >= 0).any():
                first = int(np.flatnonzero(seen >= 0)[0])
                raise NuwireError(
                    f"{_name(self.events.iloc[pos[rows[first]]])} plane {plane.plane} has two images, in "
                    f"{self.files[seen[first]]} and {path}; each (event, plane) must be rendered once."
                )
            self.source[pos[rows], j] = file_no
            sub = batch if len(rows) == batch.num_rows else batch.take(pa.array(rows))
            self._check_shape(plane, path, sub)
            plane.chunks.append((pos[rows].astype(np.int64), self._encode(plane, j, path, sub=sub, pos=pos[rows])))

    def _check_shape(self, plane: _Plane, path: Path, sub: pa.RecordBatch) -> None:
        hw = np.stack([sub.column("height").to_numpy(), sub.column("width").to_numpy()], axis=1)
        if plane.in_shape is None:
            plane.set_shape(int(hw[0, 0]), int(hw[0, 1]), self.view)
        odd = (hw != plane.in_shape).any(axis=1)
        if odd.any():
            raise NuwireError(
                f"{path}: plane {plane.plane} images of different sizes ({plane.in_shape} and "
                f"{tuple(int(x) for x in hw[odd][0])}); all events of a set need one geometry."
            )

    def _encode(self, plane: _Plane, j: int, path: Path, *, sub: pa.RecordBatch, pos: np.ndarray) -> rl.Runs:
        img, row, col, val = _pixels(path, sub)
        height, width = plane.in_shape
        if len(row) and (row.max() >= height or col.max() >= width):
            raise NuwireError(f"{path}: plane {plane.plane} has pixels outside its {height}×{width} image.")
        n_img = sub.num_rows
        if self.view.crop is not None:
            # Window from the unscaled vertex or, without one, the centroid of all the image's pixels.
            (h, w), crop = plane.scaled_shape, self.view.crop
            r0 = window_starts(
                crop_centres(self.vertex["row"][pos, j], img, coord=row, value=val, n_img=n_img), height, h, crop=crop
            )
            c0 = window_starts(
                crop_centres(self.vertex["col"][pos, j], img, coord=col, value=val, n_img=n_img), width, w, crop=crop
            )
        if self.view.scale != 1.0:  # keep the pixels nearest interpolation copies, at their new place
            row, col = plane.row_map[row], plane.col_map[col]
            keep = (row >= 0) & (col >= 0)
            img, row, col, val = img[keep], row[keep], col[keep], val[keep]
        if self.view.crop is not None:
            row, col = row - r0[img], col - c0[img]
            keep = (row >= 0) & (row < crop) & (col >= 0) & (col < crop)
            img, row, col, val = img[keep], row[keep], col[keep], val[keep]
        return rl.encode(img, row, col, value=val, n_img=n_img, shape=plane.out_shape)


def _pixels(path: Path, sub: pa.RecordBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Flattened (image, row, col, value) of a batch of rows, row-major within each image."""
    lists = [sub.column(k) for k in ("row", "col", "value")]
    counts = [pc.fill_null(pc.list_value_length(a), 0).to_numpy() for a in lists]
    if not (np.array_equal(counts[0], counts[1]) and np.array_equal(counts[0], counts[2])):
        raise NuwireError(f"{path}: an image row has row, col and value lists of different lengths.")
    row, col, val = (a.flatten().to_numpy(zero_copy_only=False) for a in lists)
    img = np.repeat(np.arange(sub.num_rows, dtype=np.int64), counts[0])
    row, col = row.astype(np.int64), col.astype(np.int64)
    key = (img << 32) | (row << 16) | col  # row-major within image; row, col < 2**16
    step = np.diff(key)
    if (step <= 0).any():
        order = np.argsort(key, kind="stable")
        img, row, col, val, key = img[order], row[order], col[order], val[order], key[order]
        if (np.diff(key) == 0).any():
            raise NuwireError(f"{path}: an image lists the same pixel twice.")
    return img, row, col, val
