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
import math
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from nuwire import __version__
from nuwire.atomic import atomic_path
from nuwire.errors import ConfigError
from nuwire.geometry import N_PLANES
from nuwire.opensamples import Event, OpenSamplesFile

FORMAT_VERSION = "nuwire-sparse-images/1"

# Rendered events per Parquet row group. Fixed (not tuned to data size) so the file layout is a
# function of the input only; 16 full-geometry events of sparse pixels are a few tens of MB.
ROW_GROUP_EVENTS = 16
COMPRESSION = "zstd"
COMPRESSION_LEVEL = 9
MAX_INDEX = np.iinfo(np.uint16).max  # row and col are stored as uint16
BAND_TIME_BLOCKS = 256  # time blocks summed at once (bounds the float64 work arrays)

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
    """Block size (dw wires × dt ticks) and the threshold/saturation in ADC per 6-tick block."""

    dw: int = 2
    dt: int = 2
    threshold: float = 10.0
    saturation: float = 100.0

    def __post_init__(self) -> None:
        for name in ("dw", "dt"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ConfigError(
                    f"render {name} = {value!r}: the downsampling factor must be a whole number ≥ 1 "
                    "(render.downsample.wire / render.downsample.time in the config)."
                )
        for name in ("threshold", "saturation"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise ConfigError(f"render {name} = {value!r}: must be a number (render.{name}).")
            # Canonical floats: 10 and 10.0 give the same metadata, QC and bytes.
            object.__setattr__(self, name, float(value))
        if not math.isfinite(self.threshold) or self.threshold < 0:
            raise ConfigError(
                f"render threshold = {self.threshold!r}: must be a finite number ≥ 0 (render.threshold)."
            )
        if not math.isfinite(self.saturation) or self.saturation <= self.threshold:
            raise ConfigError(
                f"render saturation = {self.saturation!r}: must be finite and greater than the threshold "
                f"({self.threshold}) (render.saturation)."
            )

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
        return densify(self.row, self.col, self.value, self.height, self.width)


# -- the formula ------------------------------------------------------------------------------
def block_sums(adc: np.ndarray, dw: int, dt: int) -> np.ndarray:
    """Float64 sums over blocks of dw wires × dt ticks, shaped (wire blocks, time blocks).

    Adds the dt (then dw) strided views of the array instead of padding and reshaping, so a
    full-size plane is never copied whole; partial trailing blocks just receive fewer terms.
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


def render_plane_sparse(adc: np.ndarray, params: RenderParams) -> SparseImage:
    """Render one plane (n_wires, n_ticks) to its nonzero pixels (rows = time, cols = wire)."""
    if adc.ndim != 2:
        raise ValueError(f"a plane must be 2-D (wires, ticks), got shape {adc.shape}")
    height, width = params.image_shape(*adc.shape)
    if height - 1 > MAX_INDEX or width - 1 > MAX_INDEX:
        raise ConfigError(
            f"render: an image of {height} × {width} pixels does not fit uint16 coordinates; "
            "increase render.downsample."
        )
    # Bands of whole time blocks, in order: the float64 sums of one band stay small (a few MB on
    # a full-size plane), and concatenating the bands' row-major pixels keeps row-major order.
    band_ticks = BAND_TIME_BLOCKS * params.dt
    rows, cols, values = [], [], []
    for first_tick in range(0, adc.shape[1], band_ticks):
        sums = block_sums(adc[:, first_tick : first_tick + band_ticks], params.dw, params.dt).T
        keep = (sums >= params.cutoff) & (sums > 0)
        r, c = np.nonzero(keep)  # row-major within the band: (time block, wire block)
        values.append(pixel_values(sums[r, c], params))
        rows.append((r + first_tick // params.dt).astype(np.uint16))
        cols.append(c.astype(np.uint16))
    if not rows:  # a plane without ticks
        rows, cols, values = [np.empty(0, np.uint16)], [np.empty(0, np.uint16)], [np.empty(0, np.uint8)]
    return SparseImage(height, width, np.concatenate(rows), np.concatenate(cols), np.concatenate(values))


def render_plane(adc: np.ndarray, params: RenderParams) -> np.ndarray:
    """Dense uint8 image of one plane: shape (ceil(n_ticks/dt), ceil(n_wires/dw))."""
    return render_plane_sparse(adc, params).dense()


def densify(row: Any, col: Any, value: Any, height: int, width: int) -> np.ndarray:
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

    def add_event(self, run: int, subrun: int, event: int, images: list[SparseImage]) -> None:
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


def _parquet_writer(path: Path, schema: pa.Schema) -> pq.ParquetWriter:
    return pq.ParquetWriter(
        path,
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
def render_file(
    h5_path: str | os.PathLike[str],
    parquet_path: str | os.PathLike[str],
    qc_path: str | os.PathLike[str],
    sample: str,
    params: RenderParams,
    progress: bool = False,
) -> dict[str, Any]:
    """Render every event of `h5_path`; write the image Parquet and the QC JSON; return the QC.

    One event's dense planes are in memory at a time; rendered pixels are flushed every
    ROW_GROUP_EVENTS events. Both outputs are written to temporary files and renamed at the end
    (the Parquet first, then the QC), so a killed job leaves neither under its final name.
    """
    skipped: list[dict[str, Any]] = []
    rendered = 0
    with OpenSamplesFile(h5_path) as f, atomic_path(qc_path) as qc_tmp:
        geometry = f.geometry
        with atomic_path(parquet_path) as pq_tmp:
            writer = _parquet_writer(pq_tmp, image_schema(params, geometry.name, sample))
            try:
                buffer = _RowBuffer()
                bar = tqdm(
                    total=f.n_events, desc=sample, unit="event", file=sys.stderr, disable=not progress, leave=True
                )
                with bar:
                    for ev in f.iter_events():
                        bar.update(1)
                        if ev.planes is None:
                            skipped.append(_skip_record(ev))
                            continue
                        images = [render_plane_sparse(ev.planes[p], params) for p in range(N_PLANES)]
                        ev.planes = None  # drop the dense planes before the next event is read
                        buffer.add_event(ev.run, ev.subrun, ev.event, images)
                        rendered += 1
                        if buffer.n_events == ROW_GROUP_EVENTS:
                            _flush(writer, buffer, sample)
                    if buffer.n_events:
                        _flush(writer, buffer, sample)
            finally:
                writer.close()
        n_events = f.n_events
        qc = {
            "file": str(h5_path),
            "sample": sample,
            "geometry": geometry.name,
            "params": asdict(params),
            "nuwire_version": __version__,
            "events_in_file": n_events,
            "rendered": rendered,
            "skipped": len(skipped),
            "skipped_events": skipped,
            "reconciled": n_events == rendered + len(skipped),
        }
        # Every event is either rendered or listed with its reason; anything else is a bug here.
        assert qc["reconciled"], f"{h5_path}: {n_events} events but {rendered} rendered + {len(skipped)} skipped"
        qc_tmp.write_text(json.dumps(qc, indent=2, sort_keys=True) + "\n")
    return qc


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
def read_event_images(
    parquet_path: str | os.PathLike[str], run: int, subrun: int, event: int
) -> list[np.ndarray]:
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
                table["height"][i].as_py(),
                table["width"][i].as_py(),
            )
        )
    return out


def read_metadata(parquet_path: str | os.PathLike[str]) -> dict[str, str]:
    """The nuwire.* key-value metadata of an image file."""
    meta = pq.read_schema(parquet_path).metadata or {}
    return {k.decode(): v.decode() for k, v in meta.items() if k.startswith(b"nuwire.")}
