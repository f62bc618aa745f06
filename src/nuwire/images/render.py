"""Render wire planes into sparse 8-bit images: one HDF5 file -> one Parquet file + a QC record.

The pixel formula (the contract in docs/formats.md; anyone can re-derive a pixel from the HDF5):

    S      = sum of the ADC values in a block of dw wires × dt ticks, accumulated in float64
             (a trailing partial block at the end of either axis is summed as it is)
    cutoff = threshold · dw · dt / 6          sat = saturation · dw · dt / 6      (float64)
    pixel  = 0                                                  if S < cutoff or S <= 0
             clip(round(255 · min(S, sat) / sat), 1, 255)       otherwise

`round` is numpy's round-half-to-even. The "/ 6" keeps threshold and saturation in the units of
the OpenSamples example (ADC per 6-tick block). Float64 accumulation of float32 ADC values is exact
unless a block mixes values more than ~2^28 apart in magnitude, so the sum does not depend on the
order of addition. `S <= 0` only matters when threshold = 0: a block without charge stays empty
instead of becoming a 1 everywhere.

Image rows are time blocks (ceil(n_ticks / dt)), columns are wire blocks (ceil(n_wires / dw)).
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from nuwire import __version__
from nuwire.cpus import threads_or_job_cpus
from nuwire.errors import ConfigError, InputFileError
from nuwire.geometry import N_PLANES
from nuwire.images.adc_range import out_of_range_reason
from nuwire.io.atomic import atomic_path
from nuwire.io.identity import sha256_file, stat_key
from nuwire.io.opensamples import Event, OpenSamplesFile, non_finite_reason
from nuwire.io.rawchunks import TickRuns, row_items
from nuwire.schema import check_section, filled_section

log = logging.getLogger(__name__)

FORMAT_VERSION = "nuwire-sparse-images/1"

# The hook a detector variation uses (nuwire.systematics): (event, plane, ADC) -> the ADC rendered.
Vary = Callable[[Event, int, np.ndarray], np.ndarray]

# Rendered events per Parquet row group. Fixed (not tuned to data size) so the file layout is a
# function of the input only; 16 full-geometry events of sparse pixels are a few tens of MB.
ROW_GROUP_EVENTS = 16
COMPRESSION = "zstd"
COMPRESSION_LEVEL = 9
MAX_INDEX = np.iinfo(np.uint16).max  # row and col are stored as uint16

# List items are named "element", as Parquet's standard LIST layout stores them, so
# the schema read back from a file equals this one exactly.
IMAGE_SCHEMA = pa.schema(
    [
        pa.field("sample", pa.string(), nullable=False),
        pa.field("run", pa.int32(), nullable=False),
        pa.field("subrun", pa.int32(), nullable=False),
        pa.field("event", pa.int32(), nullable=False),
        pa.field("plane", pa.int8(), nullable=False),
        pa.field("height", pa.int32(), nullable=False),
        pa.field("width", pa.int32(), nullable=False),
        pa.field("row", pa.list_(pa.field("element", pa.uint16())), nullable=False),
        pa.field("col", pa.list_(pa.field("element", pa.uint16())), nullable=False),
        pa.field("value", pa.list_(pa.field("element", pa.uint8())), nullable=False),
    ]
)


@dataclass(frozen=True)
class RenderParams:
    """Block size (dw wires × dt ticks) and the threshold/saturation in ADC per 6-tick block: the
    config's `render` section. No defaults here: `from_config` fills in the schema's for what a
    section leaves out (`from_config({})` renders as the workflow does); the schema checks each
    field, and this class what the schema cannot (finite numbers, saturation above threshold)."""

    dw: int
    dt: int
    threshold: float
    saturation: float

    def __post_init__(self) -> None:
        for name in ("dw", "dt"):
            if isinstance(getattr(self, name), np.integer):
                object.__setattr__(self, name, int(getattr(self, name)))
        check_section(self.as_config(), "render")
        # Canonical floats: 10 and 10.0 give the same metadata, QC and bytes.
        object.__setattr__(self, "threshold", float(self.threshold))
        object.__setattr__(self, "saturation", float(self.saturation))
        if not math.isfinite(self.threshold):
            raise ConfigError(f"render.threshold = {self.threshold!r}: must be a finite number ≥ 0.")
        if not math.isfinite(self.saturation) or self.saturation <= self.threshold:
            raise ConfigError(
                f"render.saturation ({self.saturation!r}) must be finite and greater than render.threshold "
                f"({self.threshold}): pixels between the two are what the 8-bit scale spans."
            )

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> RenderParams:
        """From the config's `render` section (the schema's defaults for what it leaves out)."""
        render = filled_section(section, "render")
        ds = render["downsample"]
        return cls(dw=ds["wire"], dt=ds["time"], threshold=render["threshold"], saturation=render["saturation"])

    def as_config(self) -> dict[str, Any]:
        """The config's `render` section these parameters are."""
        return {
            "downsample": {"wire": self.dw, "time": self.dt},
            "threshold": self.threshold,
            "saturation": self.saturation,
        }

    @property
    def cutoff(self) -> float:
        """Block-sum cutoff: sums below it become 0."""
        return self.threshold * self.dw * self.dt / 6

    @property
    def sat(self) -> float:
        """Block sum that maps to 255; larger sums are clipped to it."""
        return self.saturation * self.dw * self.dt / 6

    def image_shape(self, n_wires: int, n_ticks: int) -> tuple[int, int]:
        """(height, width) = (time blocks, wire blocks) of a plane with this many wires and ticks."""
        return -(-n_ticks // self.dt), -(-n_wires // self.dw)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass(frozen=True)
class SparseImage:
    """One plane's image as coordinates and values of its nonzero pixels, row-major order."""

    height: int
    width: int
    row: np.ndarray  # uint16
    col: np.ndarray  # uint16
    value: np.ndarray  # uint8, never 0

    def dense(self) -> np.ndarray:
        return densify(self.row, self.col, self.value, height=self.height, width=self.width)


# -- the formula ------------------------------------------------------------------------------
def block_sums(adc: np.ndarray, dw: int, dt: int) -> np.ndarray:
    """Float64 sums over blocks of dw wires × dt ticks, shaped (wire blocks, time blocks).

    Adds the dt (then dw) strided views of the array instead of padding and reshaping, so the
    array is never copied whole; partial trailing blocks just receive fewer terms. This is the
    formula's order of addition; `_exact_sums` repeats it for selected blocks.
    """
    n_wires, n_ticks = adc.shape
    n_tb, n_wb = -(-n_ticks // dt), -(-n_wires // dw)
    by_time = np.zeros((n_wires, n_tb), dtype=np.float64)
    for k in range(min(dt, n_ticks)):
        part = adc[:, k::dt]
        by_time[:, : part.shape[1]] += part
    sums = np.zeros((n_wb, n_tb), dtype=np.float64)
    for k in range(min(dw, n_wires)):
        part = by_time[k::dw]
        sums[: part.shape[0]] += part
    return sums


def pixel_values(sums: np.ndarray, params: RenderParams) -> np.ndarray:
    """8-bit values of block sums that pass the cutoff (callers select those; see module doc)."""
    scaled = 255.0 * np.minimum(sums, params.sat) / params.sat
    return np.clip(np.round(scaled), 1, 255).astype(np.uint8)


class NonFiniteADC(ValueError):
    """A plane holds NaN or infinite ADC values; the message is the event's skip reason."""


def render_plane_sparse(
    adc: np.ndarray,
    params: RenderParams,
    *,
    allow_non_finite: bool = False,
    nonzero: TickRuns | None = None,
) -> SparseImage:
    """Render one plane (n_wires, n_ticks) to its nonzero pixels (rows = time, cols = wire).

    A plane with NaN or infinite values raises NonFiniteADC (such an event is skipped, never
    rendered) unless `allow_non_finite`, when their blocks are simply not pixels.

    `nonzero`, runs of ticks holding every sample with a nonzero bit pattern (the raw-chunk reader
    knows them), replaces the scan for candidate blocks: see `_render_from_runs`.

    Summing every block of a full-size plane in float64 costs more than reading the plane from
    HDF5, yet wire readouts are ~99% zeros. So the plane is walked in bands of whole wire blocks
    (contiguous rows, small enough to stay in cache), each band names its *candidate* blocks
    (a superset of the blocks that can pass the cutoff, see `_candidates`), and only those are
    summed, in float64 and in `block_sums`' order: the pixels are exactly the formula's.
    """
    if adc.ndim != 2:
        raise ValueError(f"a plane must be 2-D (wires, ticks), got shape {adc.shape}")
    height, width = params.image_shape(*adc.shape)
    if height - 1 > MAX_INDEX or width - 1 > MAX_INDEX:
        raise ConfigError(
            f"render: an image of {height} × {width} pixels does not fit uint16 coordinates; "
            "increase render.downsample."
        )
    if nonzero is not None:
        return _render_from_runs(adc, params, allow_non_finite=allow_non_finite, runs=nonzero, shape=(height, width))
    band_wires = WIRE_BAND_BLOCKS * params.dw
    rows, cols, sums = [np.empty(0, np.int64)], [np.empty(0, np.int64)], [np.empty(0, np.float64)]
    finite = True
    for first_wire in range(0, adc.shape[0] if adc.size else 0, band_wires):
        band = adc[first_wire : first_wire + band_wires]
        c, r = _candidates(band, params)
        s = _exact_sums(band, r, c, dw=params.dw, dt=params.dt)  # while the band is still in cache
        # Every block holding a NaN or inf is a candidate (see `_candidates`) and its float64 sum is
        # then NaN or inf, while finite float32 values cannot overflow a float64 sum: so this finds
        # any non-finite input value for the price of a check on the candidate sums.
        finite = finite and bool(np.isfinite(s).all())
        keep = (s >= params.cutoff) & (s > 0)
        rows.append(r[keep])
        cols.append(c[keep] + first_wire // params.dw)
        sums.append(s[keep])
    if not finite and not allow_non_finite:
        raise NonFiniteADC(non_finite_reason(adc))
    r, c, s = np.concatenate(rows), np.concatenate(cols), np.concatenate(sums)
    order = np.argsort(r * width + c)  # row-major (time block, wire block); keys are unique
    row, col = r[order].astype(np.uint16), c[order].astype(np.uint16)
    return SparseImage(height, width, row, col, pixel_values(s[order], params))


def _render_from_runs(
    adc: np.ndarray, params: RenderParams, *, allow_non_finite: bool, runs: TickRuns, shape: tuple[int, int]
) -> SparseImage:
    """The pixels of a plane whose nonzero samples lie in known runs of ticks (`TickRuns`).

    A block without a nonzero bit pattern sums to +0 and is never a pixel, and every NaN or inf is
    nonzero, so the blocks of the runs hold every pixel and every non-finite value. Where each run
    covers whole time blocks (dt divides its width), the blocks are summed from the runs' own
    values: per wire, its dt ticks in order (zeros included, as in the dense plane), then the dw
    wires of a block in order, a missing wire adding nothing. That is `block_sums`' order; adding
    a zero changes no sum but -0.0 to +0.0, never a pixel. So the pixels and the skip decision are
    the formula's, without a dense gather. Otherwise the runs' samples name the candidate blocks
    and those are summed from the plane (`_exact_sums`).
    """
    height, width = shape
    n_ticks, dt, dw = adc.shape[1], params.dt, params.dw
    if runs.width % dt or n_ticks % runs.width:
        at = (runs.at * runs.width)[:, None] + np.arange(runs.width)
        wire, tick = np.divmod(at.reshape(-1), n_ticks)
        occupied = np.zeros(height * width, dtype=bool)  # a mask, not np.unique: no sort of the samples
        occupied[(tick // dt) * width + wire // dw] = True
        r, c = np.divmod(np.flatnonzero(occupied), width)  # row-major order
        s = _exact_sums(adc, r, c, dw=dw, dt=dt)
    else:
        r, c, s = _run_block_sums(runs, n_ticks=n_ticks, dw=dw, dt=dt, width=width)
    if not allow_non_finite and not np.isfinite(s).all():
        raise NonFiniteADC(non_finite_reason(adc))
    keep = (s >= params.cutoff) & (s > 0)
    return SparseImage(
        height, width, r[keep].astype(np.uint16), c[keep].astype(np.uint16), pixel_values(s[keep], params)
    )


def _run_block_sums(
    runs: TickRuns, *, n_ticks: int, dw: int, dt: int, width: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(time block, wire block, float64 sum) of every block the runs touch, in row-major order,
    summed in `block_sums`' order (see `_render_from_runs`; dt divides the runs' width)."""
    per_row, per_run = n_ticks // runs.width, runs.width // dt  # runs per wire, time blocks per run
    wire = runs.at // per_row
    stripe = runs.at - wire * per_row  # which `width` ticks: blocks stripe × per_run .. + per_run - 1
    values = runs.values.reshape(-1, per_run, dt)
    by_time = values[:, :, 0].astype(np.float64)  # per wire, its ticks of each block in order
    for kt in range(1, dt):
        by_time += values[:, :, kt]
    # The (stripe, wire block) cells the runs touch, numbered in row-major order by a mask.
    cell = stripe * width + wire // dw
    occupied = np.zeros(per_row * width, dtype=bool)
    occupied[cell] = True
    cells = np.flatnonzero(occupied)
    number = np.empty(len(occupied), dtype=np.int32)  # written where read: no need to zero it
    number[cells] = np.arange(len(cells), dtype=np.int32)
    # Each run's wire (of dw) in its cell: rows of per_run sums moved whole (as one opaque item).
    by_wire = np.zeros((dw, len(cells), per_run), dtype=np.float64)  # a missing wire adds +0
    row_items(by_wire.reshape(-1, per_run))[(wire % dw) * len(cells) + number[cell]] = row_items(by_time)
    total = by_wire[0]
    for kw in range(1, dw):
        total = total + by_wire[kw]
    # Row-major order of the blocks: stripe, then block within the run, then wire block.
    stripe_of, block_col = np.divmod(cells, width)
    count = np.bincount(stripe_of, minlength=per_row)
    first = np.cumsum(count) - count  # first cell of each stripe
    rank = np.arange(len(cells)) - first[stripe_of]
    order = (first[stripe_of] * per_run + rank)[:, None] + np.arange(per_run) * count[stripe_of][:, None]
    r, c, s = (np.empty(total.size, dtype=t) for t in (np.int64, np.int64, np.float64))
    r[order] = stripe_of[:, None] * per_run + np.arange(per_run)
    c[order] = block_col[:, None]
    s[order] = total
    return r, c, s


# Wire blocks per band: 64 × dw wires of 6400 float32 ticks is 3.3 MB, which stays in cache from
# the first pass over the band to the last; of 4 to 2000 blocks, 64 was fastest on full-geometry
# planes (smaller bands pay numpy's per-call overhead, larger ones leave the cache).
WIRE_BAND_BLOCKS = 64
# A band with more occupied blocks than this fraction is screened by value instead of by occupancy.
DENSE_BAND_FRACTION = 1 / 8
_U32 = 2.0**-24  # unit roundoff of float32


def _candidates(band: np.ndarray, params: RenderParams) -> tuple[np.ndarray, np.ndarray]:
    """(wire block, time block) of every block of `band` that may pass the cutoff.

    Occupancy first: a block whose values all have all-zero bits sums to +0 and is never a pixel,
    so the blocks holding any nonzero bit pattern (including -0.0, NaN and inf, which the exact
    sum then judges) are a superset of the pixels that needs no rounding argument. On ~99%-zero
    readouts that is ~1.5× the pixel count. Where noise fills a band it would be nearly every
    block, so such a band is screened by its float32 block sums instead (`_above_cutoff`).
    """
    occupied = _occupied(band, params.dw, params.dt)
    idx = np.flatnonzero(occupied)  # flatnonzero + divmod: np.nonzero of a 2-D mask is ~20× slower
    if len(idx) > DENSE_BAND_FRACTION * occupied.size:
        idx = _above_cutoff(band, params)
    return np.divmod(idx, occupied.shape[1])


def _occupied(band: np.ndarray, dw: int, dt: int) -> np.ndarray:
    """Bool (wire blocks, time blocks): does any value of the block have a nonzero bit pattern?"""
    size = band.dtype.itemsize
    # Where dt allows, one unsigned word covers several ticks (two float32 in a uint64): fewer,
    # contiguous operations. Needs contiguous ticks and whole words in every row.
    per_word = 8 // size if 8 % size == 0 else 1
    if not (dt % per_word == 0 and band.shape[1] % per_word == 0 and band.strides[1] == size):
        per_word = 1
    words = band.view(np.dtype(f"u{size * per_word}"))
    words = _fold(words, dw, axis=0, op=np.bitwise_or)  # wires first: whole rows, contiguous
    words = _fold(words, dt // per_word, axis=1, op=np.bitwise_or)
    return words != 0


def _above_cutoff(band: np.ndarray, params: RenderParams) -> np.ndarray:
    """Flat indices (into the band's block grid) of the blocks whose sum may reach the cutoff.

    Float32 block sums with a margin that bounds their rounding error, so the test
    `approx >= cutoff - margin` misses no pixel:
    - dw, dt ≤ 2 (the default 2 × 2) and values that float32 holds exactly: every rounded sum is
      stored in W (wires folded) or A (then ticks folded) and errs by ≤ u·|itself| (u = 2^-24), so
      |A - S| ≤ u(|A| + 2·max|W|) ≤ 4.01·u·max|W|; the margin is 8·u·max|W| (W is half the band
      and already in cache);
    - otherwise any order of float32 additions of n = dw·dt terms errs by ≤ γ(n-1)·Σ|x| ≤ 2·n²·u·M
      (M = the band's largest |value|; rounding other inputs to float32 adds ≤ u·M per term).
    The n·2^-125 term covers subnormal results and flush-to-zero. When the margin is unusable (NaN
    or infinite values, float32 overflow, or a cutoff within the margin of 0, i.e. threshold 0)
    the band is summed exactly in float64.
    """
    dw, dt, n = params.dw, params.dt, params.dw * params.dt
    wires = _fold(band, dw, axis=0, op=np.add, dtype=np.float32)
    # The tight bound needs values that float32 holds exactly (float64 inputs are rounded first).
    tight = dw <= 2 and dt <= 2 and np.can_cast(band.dtype, np.float32, "safe")
    m = _max_abs(wires) if tight else _max_abs(band)
    margin = (8.0 if tight else 2.0 * n * n) * _U32 * m + n * 2.0**-125
    if not math.isfinite(m) or n * m > 1e37 or params.cutoff - margin <= 0:
        sums = block_sums(band, dw, dt)
        # A NaN or infinite block stays a candidate: its exact sum is how the caller finds it.
        return np.flatnonzero(((sums >= params.cutoff) & (sums > 0)) | ~np.isfinite(sums))
    approx = _fold(wires, dt, axis=1, op=np.add, dtype=np.float32)
    return np.flatnonzero(approx >= params.cutoff - margin)


def _max_abs(x: np.ndarray) -> float:
    """Largest |value| (NaN if any value is NaN): two reductions, no temporary array."""
    return max(abs(float(x.max())), abs(float(x.min()))) if x.size else 0.0


def _fold(x: np.ndarray, step: int, *, axis: int, op: np.ufunc, dtype: Any = None) -> np.ndarray:
    """op-reduce each `step` consecutive entries along `axis` (a trailing partial group as it is)."""
    if step == 1:
        return x

    def part(a: np.ndarray, start: int, stop: int | None = None, *, stride: int = 1) -> np.ndarray:
        index = slice(start, stop, stride)
        return a[index] if axis == 0 else a[:, index]

    first = part(x, 0, stride=step)
    out = np.empty(first.shape, dtype=dtype or x.dtype)
    if x.shape[axis] == 1:
        out[...] = first
    for k in range(1, min(step, x.shape[axis])):
        nxt = part(x, k, stride=step)
        m = nxt.shape[axis]
        # `dtype` makes the ufunc compute in the output type (int16 inputs would wrap in int16).
        if k == 1:  # first op second straight into `out`: no separate copy pass
            op(part(first, 0, m), nxt, out=part(out, 0, m), dtype=out.dtype)
            part(out, m)[...] = part(first, m)
        else:
            op(part(out, 0, m), nxt, out=part(out, 0, m), dtype=out.dtype)
    return out


def _exact_sums(band: np.ndarray, r: np.ndarray, c: np.ndarray, *, dw: int, dt: int) -> np.ndarray:
    """Float64 sums of the blocks (time block r, wire block c), added in `block_sums`' order.

    block_sums adds from +0.0, which changes no sum (only -0.0 to +0.0, never a pixel), so each
    wire's ticks are summed from its first term here.
    """
    n_wires, n_ticks = band.shape
    w0, t0 = c * dw, r * dt
    if n_wires % dw == 0 and n_ticks % dt == 0 and band.flags.c_contiguous:
        flat, base = band.reshape(-1), w0 * n_ticks + t0  # a view; 1-D gathers are the cheapest

        def term(kw: int, kt: int) -> np.ndarray:
            return flat.take(base + (kw * n_ticks + kt)).astype(np.float64)
    else:

        def term(kw: int, kt: int) -> np.ndarray:
            w, t = w0 + kw, t0 + kt
            values = band[np.minimum(w, n_wires - 1), np.minimum(t, n_ticks - 1)].astype(np.float64)
            values[(w >= n_wires) | (t >= n_ticks)] = 0.0  # trailing partial blocks have fewer terms
            return values

    total = None
    for kw in range(dw):
        by_time = term(kw, 0)
        for kt in range(1, dt):
            by_time += term(kw, kt)
        total = by_time if total is None else total + by_time
    return total


def render_plane(adc: np.ndarray, params: RenderParams, allow_non_finite: bool = False) -> np.ndarray:
    """Dense uint8 image of one plane: shape (ceil(n_ticks/dt), ceil(n_wires/dw))."""
    return render_plane_sparse(adc, params, allow_non_finite=allow_non_finite).dense()


def densify(row: Any, col: Any, value: Any, *, height: int, width: int) -> np.ndarray:
    """Dense uint8 (height, width) image from sparse coordinates and values."""
    image = np.zeros((int(height), int(width)), dtype=np.uint8)
    image[np.asarray(row, dtype=np.intp), np.asarray(col, dtype=np.intp)] = np.asarray(value, dtype=np.uint8)
    return image


# -- Parquet writing -------------------------------------------------------------------------
class _RowBuffer:
    """Rendered rows waiting for the next row group: flat pixel arrays plus per-row lengths."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.keys: list[tuple[int, int, int, int, int, int]] = []  # run, subrun, event, plane, h, w
        self.rows: list[np.ndarray] = []
        self.cols: list[np.ndarray] = []
        self.values: list[np.ndarray] = []
        self.n_events = 0

    def add_event(self, run: int, subrun: int, event: int, *, images: list[SparseImage]) -> None:
        for plane, img in enumerate(images):
            self.keys.append((run, subrun, event, plane, img.height, img.width))
            self.rows.append(img.row)
            self.cols.append(img.col)
            self.values.append(img.value)
        self.n_events += 1

    def table(self, sample: str) -> pa.Table:
        keys = np.asarray(self.keys, dtype=np.int64).reshape(-1, 6)
        lengths = np.asarray([len(v) for v in self.values], dtype=np.int64)
        offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))

        def flat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
            return np.concatenate(parts).astype(dtype, copy=False) if parts else np.empty(0, dtype)

        columns = [
            pa.array([sample] * len(keys), pa.string()),
            pa.array(keys[:, 0].astype(np.int32)),
            pa.array(keys[:, 1].astype(np.int32)),
            pa.array(keys[:, 2].astype(np.int32)),
            pa.array(keys[:, 3].astype(np.int8)),
            pa.array(keys[:, 4].astype(np.int32)),
            pa.array(keys[:, 5].astype(np.int32)),
            _list(offsets, flat(self.rows, np.uint16), IMAGE_SCHEMA.field("row").type),
            _list(offsets, flat(self.cols, np.uint16), IMAGE_SCHEMA.field("col").type),
            _list(offsets, flat(self.values, np.uint8), IMAGE_SCHEMA.field("value").type),
        ]
        return pa.Table.from_arrays(columns, schema=IMAGE_SCHEMA)


def _list(offsets: pa.Array, values: np.ndarray, list_type: pa.DataType) -> pa.Array:
    """A list column from flat values and offsets (no per-pixel Python objects)."""
    return pa.ListArray.from_arrays(offsets, pa.array(values), type=list_type)


def image_schema(params: RenderParams, geometry_name: str, sample: str) -> pa.Schema:
    """The image schema with file-level metadata (no timestamps: same input, same bytes)."""
    return IMAGE_SCHEMA.with_metadata(
        {
            "nuwire.format": FORMAT_VERSION,
            "nuwire.version": __version__,
            "nuwire.render_params": params.to_json(),
            "nuwire.geometry": geometry_name,
            "nuwire.sample": sample,
        }
    )


def _parquet_writer(sink: Path | pa.NativeFile, schema: pa.Schema) -> pq.ParquetWriter:
    return pq.ParquetWriter(
        sink,
        schema,
        compression=COMPRESSION,
        compression_level=COMPRESSION_LEVEL,
        # Measured on track-like images (benchmarks/bench_render.py), both geometries: values
        # compress best as a dictionary, `row` (non-decreasing in row-major order) as deltas, `col`
        # plain under zstd: 10-15% smaller than all-plain. All standard Parquet encodings.
        use_dictionary=["sample", "value.list.element"],
        column_encoding={"row.list.element": "DELTA_BINARY_PACKED", "col.list.element": "PLAIN"},
        write_statistics=["run", "subrun", "event", "plane"],  # lets readers skip row groups by event
    )


# -- one file --------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReadOptions:
    """How `render_file` reads its input file; the images are the same whichever is chosen."""

    progress: bool = False  # a tqdm bar over the events
    threads: int | None = None  # the raw-chunk reader's inflate pool (default: this job's CPUs)
    raw_chunks: bool = True  # False: read through h5py only


@dataclass(frozen=True)
class Rerender:
    """Some events of a file rendered again (`nuwire.systematics`): the QC then counts them alone."""

    select: Collection[tuple[int, int, int]]  # (run, subrun, event) keys of the events to render
    vary: Vary | None = None  # vary(event, plane, adc): the ADC the unchanged formula renders
    # QC fields the caller already has (a variation's record), added before the QC is written; an
    # `input_sha256` among them (the file's, from its nominal render) is not hashed again.
    known: Mapping[str, Any] | None = None


def render_file(
    h5_path: str | os.PathLike[str],
    parquet_path: str | os.PathLike[str],
    qc_path: str | os.PathLike[str],
    *,
    sample: str,
    params: RenderParams,
    read: ReadOptions = ReadOptions(),
    rerender: Rerender | None = None,
) -> dict[str, Any]:
    """Render every event of `h5_path`; write the image Parquet and the QC JSON; return the QC.

    `read` chooses the reader (see ReadOptions).
    `rerender` renders only its selected events, their ADC varied (see Rerender).

    One event's dense planes are in memory at a time; rendered pixels are flushed every
    ROW_GROUP_EVENTS events. Both outputs are written to temporary files and renamed at the end
    (the Parquet first, then the QC), so a killed job leaves neither under its final name.
    """
    # The content actually rendered, for the provenance and the next build's rerun check
    # (nuwire.io.identity): hashed as it is read, and refused if the file changes meanwhile.
    known = dict(rerender.known or {}) if rerender is not None else {}
    before = stat_key(h5_path)
    known_sha256 = known.pop("input_sha256", None)
    threads = threads_or_job_cpus(read.threads)
    digest = (lambda: known_sha256) if known_sha256 else _input_digest(h5_path, threads=threads)
    with (
        OpenSamplesFile(h5_path, raw_chunks=read.raw_chunks, threads=threads) as f,
        atomic_path(qc_path) as qc_tmp,
    ):
        log.info("%s: /wire_table/adc read by %s", h5_path, f.adc_route)
        geometry = f.geometry
        indices = None if rerender is None else _indices_of(f, rerender.select)
        vary = None if rerender is None else rerender.vary
        n_events = f.n_events if indices is None else len(indices)
        # The sink is ours to close: after a failed write (a full disk) ParquetWriter.close raises
        # before closing its file, and the open descriptor would keep the space and the mount busy.
        with atomic_path(parquet_path) as pq_tmp, pa.OSFile(str(pq_tmp), "wb") as sink:
            writer = _parquet_writer(sink, image_schema(params, geometry.name, sample))
            try:
                rendered, skipped = _render_events(
                    f, writer, sample=sample, params=params, progress=read.progress, indices=indices, vary=vary
                )
            finally:
                writer.close()
            if n_events and not rendered:  # a whole file lost is an error, never a QC footnote
                raise InputFileError(
                    f"{h5_path}: none of its {n_events} events could be rendered; every one was skipped "
                    f"({count_reasons(skipped)}). Check the file against docs/formats.md (`nuwire inspect` "
                    "shows what it holds) and remove it from the input directory or replace it."
                )
        qc = _qc_record(
            h5_path,
            sample=sample,
            geometry_name=geometry.name,
            params=params,
            n_events=n_events,
            rendered=rendered,
            skipped=skipped,
        )
        qc.update(input_size=before[0], input_sha256=digest(), **known)
        if stat_key(h5_path) != before:
            raise InputFileError(
                f"{h5_path}: the file changed while it was being rendered (size, time stamps or inode); "
                "it is probably still being copied. Run again once the copy is complete."
            )
        qc_tmp.write_text(json.dumps(qc, indent=2, sort_keys=True) + "\n")
    return qc


def _input_digest(h5_path: str | os.PathLike[str], *, threads: int) -> Callable[[], str]:
    """The file's SHA-256 as a call that returns it: hashed now on one CPU; with more, in a thread
    beside the reader's first events (hashlib lets go of the GIL), waited for when called."""
    if threads <= 1:
        digest = sha256_file(h5_path)
        return lambda: digest
    pool = ThreadPoolExecutor(1, thread_name_prefix="sha256")
    future = pool.submit(sha256_file, h5_path)
    pool.shutdown(wait=False)  # the thread ends with the hash
    return future.result


def _indices_of(f: OpenSamplesFile, select: Collection[tuple[int, int, int]]) -> list[int]:
    """File positions of the selected event keys, in file order; a key not in the file is an error."""
    truth = f.truth()
    keys = list(zip(truth["run"].tolist(), truth["subrun"].tolist(), truth["event"].tolist(), strict=True))
    wanted = {tuple(int(x) for x in k) for k in select}
    missing = sorted(wanted - set(keys))
    if missing:
        raise InputFileError(
            f"{f.path}: events {missing[:5]} (run, subrun, event) of the event index are not in the file; "
            "it changed since the dataset stage. Rerun the workflow from the render stage."
        )
    return [i for i, k in enumerate(keys) if k in wanted]


def _render_events(
    f: OpenSamplesFile,
    writer: pq.ParquetWriter,
    *,
    sample: str,
    params: RenderParams,
    progress: bool,
    indices: list[int] | None = None,
    vary: Vary | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """Render and write the events of an open file (all, or those at `indices`); returns the
    rendered count and the skip records."""
    skipped: list[dict[str, Any]] = []
    rendered = 0
    buffer = _RowBuffer()
    # The renderer finds NaN/inf values itself (see render_plane_sparse), so the reader need
    # not read every event a second time to look for them; each event's planes are dropped
    # before the next is read (`_render_event`), so the reader may reuse its buffer.
    total = f.n_events if indices is None else len(indices)
    with tqdm(total=total, desc=sample, unit="event", file=sys.stderr, disable=not progress, leave=True) as bar:
        for ev in f.iter_events(check_finite=False, reuse_buffer=True, indices=indices):
            bar.update(1)
            images = _render_event(ev, params, vary)
            if images is None:
                skipped.append(_skip_record(ev))
                continue
            buffer.add_event(ev.run, ev.subrun, ev.event, images=images)
            rendered += 1
            if buffer.n_events == ROW_GROUP_EVENTS:
                _flush(writer, buffer, sample)
        if buffer.n_events:
            _flush(writer, buffer, sample)
    return rendered, skipped


def _render_event(ev: Event, params: RenderParams, vary: Vary | None = None) -> list[SparseImage] | None:
    """The event's plane images, or None with `ev.skip_reason` set; drops the dense planes either way."""
    if ev.planes is None:
        return None
    try:
        if vary is None:
            hints = ev.nonzero or (None,) * N_PLANES
            images = [render_plane_sparse(ev.planes[p], params, nonzero=hints[p]) for p in range(N_PLANES)]
        else:
            # A varied plane is made as it is rendered (one copy in memory at a time); the reader's
            # nonzero samples describe the unvaried ADC, so the renderer finds its own blocks.
            images = [render_plane_sparse(vary(ev, p, ev.planes[p]), params) for p in range(N_PLANES)]
    except NonFiniteADC:
        ev.planes, ev.skip_reason = None, non_finite_reason(*ev.planes)
        return None
    # Only nonzero samples can be out of range: where the raw-chunk reader knows their values, the
    # check reads those (~2% of the samples) instead of the whole planes; same count, same reason.
    values = ev.planes if ev.nonzero_values is None else [ev.nonzero_values]
    if (reason := out_of_range_reason(values)) is not None:  # never a silently saturated image
        ev.planes, ev.skip_reason = None, reason
        return None
    ev.planes = None  # drop the dense planes before the next event is read
    return images


def _qc_record(
    h5_path: str | os.PathLike[str],
    *,
    sample: str,
    geometry_name: str,
    params: RenderParams,
    n_events: int,
    rendered: int,
    skipped: list[dict[str, Any]],
) -> dict[str, Any]:
    """The QC JSON of one file; every event is either rendered or listed with its reason."""
    qc = {
        "file": str(h5_path),
        "sample": sample,
        "geometry": geometry_name,
        "params": asdict(params),
        "nuwire_version": __version__,
        "events_in_file": n_events,
        "rendered": rendered,
        "skipped": len(skipped),
        "skipped_events": skipped,
        "reconciled": n_events == rendered + len(skipped),
    }
    # Anything but rendered + skipped = in file is a bug here, never a silently dropped event.
    assert qc["reconciled"], f"{h5_path}: {n_events} events but {rendered} rendered + {len(skipped)} skipped"
    return qc


def count_reasons(skipped: list[dict[str, Any]]) -> str:
    """'reason (×n); ...' of skip records, most frequent first."""
    counts = Counter(e["reason"] for e in skipped)
    return "; ".join(f"{reason} (×{n})" for reason, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _skip_record(ev: Event) -> dict[str, Any]:
    return {
        "index": ev.index,
        "run": ev.run,
        "subrun": ev.subrun,
        "event": ev.event,
        "reason": ev.skip_reason or "unknown reason",
    }


def _flush(writer: pq.ParquetWriter, buffer: _RowBuffer, sample: str) -> None:
    table = buffer.table(sample)
    writer.write_table(table, row_group_size=max(1, table.num_rows))  # exactly one row group
    buffer.clear()


# -- reading back ----------------------------------------------------------------------------
def read_event_images(parquet_path: str | os.PathLike[str], *, run: int, subrun: int, event: int) -> list[np.ndarray]:
    """Dense images of the planes of one event, in plane order (row-group statistics prune the read)."""
    table = pq.read_table(
        parquet_path,
        columns=["plane", "height", "width", "row", "col", "value"],
        filters=[("run", "=", int(run)), ("subrun", "=", int(subrun)), ("event", "=", int(event))],
    )
    if table.num_rows == 0:
        raise KeyError(f"{parquet_path}: no images for event {run}/{subrun}/{event}")
    table = table.sort_by("plane")
    out = []
    for i in range(table.num_rows):
        out.append(
            densify(
                table["row"][i].values.to_numpy(zero_copy_only=False),
                table["col"][i].values.to_numpy(zero_copy_only=False),
                table["value"][i].values.to_numpy(zero_copy_only=False),
                height=table["height"][i].as_py(),
                width=table["width"][i].as_py(),
            )
        )
    return out
