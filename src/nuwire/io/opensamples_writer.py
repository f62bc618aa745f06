"""Write files in the OpenSamples HDF5 layout, one event at a time.

Used by the simulator and by tests that need hand-made files (shuffled wire rows, missing rows,
NaN ADC). Events are appended in order; each group's rows for an event are stored consecutively,
and on close every group gets its `event_id.seq_cnt` ([event index, row count], int64, one row per
event that has rows in that group), exactly as the real writer lays them out.

`wire_table/adc` is ~211 MB of mostly-zero float32 per MicroBooNE event, and deflating it is what
costs time. So it is written chunk by chunk with `write_direct_chunk`: chunks that are all zero are
never written (HDF5 leaves them unallocated and any reader gets the fill value, 0), the others are
byte-shuffled and deflated here, exactly as HDF5's own shuffle + gzip filters would store them, so
the file reads back through the standard filter pipeline (h5py, pynuml, h5dump). Chunks span a
block of wires and of ticks (ADC_CHUNK), so a track touches few of them and most stay empty.
Small columns are buffered and written in bulk. The layout a reader sees is unchanged: chunked,
gzip-compressed 2-D datasets, rows event after event.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import h5py
import numpy as np

from nuwire.geometry import GEOMETRY_ATTR, MICROBOONE, Geometry
from nuwire.io.h5schema import SEQ_CNT, STR, TABLES, dataset_width

# adc chunk: 128 wires × 256 ticks (38 cm × 14 cm on MicroBooNE, 128 kB uncompressed), ~1,650 chunks
# per MicroBooNE event of which a few hundred hold signal. Measured in benchmarks/bench_simulate.py:
# whole-row chunks (16 × 6400) deflate every row that has any signal, writing 3-4× slower and 35%
# bigger; 32 × 256 is as fast within the machine's noise but needs 4× more chunk-index entries;
# gzip level 4 saves ~10% of the size for 1.5-2.5× the writing time.
ADC_CHUNK = (128, 256)
TABLE_CHUNK_ROWS = 1024
# One h5py write per event per small column costs more than the data: a group's rows are buffered
# and flushed when it holds this many, and at close.
FLUSH_ROWS = 65_536

GroupRows = Mapping[str, np.ndarray]


class OpenSamplesWriter:
    """Append events to a new file; `close()` (or the context manager) writes the seq_cnt index."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        geometry: Geometry = MICROBOONE,
        *,
        groups: tuple[str, ...] = tuple(TABLES),
        compression_level: int = 1,
        write_geometry_attr: bool = True,
        adc_chunk: tuple[int, int] = ADC_CHUNK,
    ) -> None:
        self.path = Path(path)
        self.geometry = geometry
        self.groups = groups
        self._level = compression_level
        self._adc_chunk = adc_chunk
        self._file = h5py.File(self.path, "w")
        self._adc: _DirectChunkWriter | None = None
        self._rows = {g: 0 for g in groups}
        self._pending: dict[str, dict[str, list[np.ndarray]]] = {g: {} for g in groups}
        self._pending_rows = {g: 0 for g in groups}
        self._dtypes = {g: {n: (object if dt == STR else dt) for n, (_, dt) in TABLES[g].items()} for g in groups}
        self._seq: dict[str, list[tuple[int, int]]] = {g: [] for g in groups}
        self._n_events = 0
        if write_geometry_attr:
            self._file.attrs[GEOMETRY_ATTR] = geometry.to_json()
        for group in groups:
            self._create_group(group)

    def _create_group(self, group: str) -> None:
        grp = self._file.create_group(group)
        for name, (_, dtype) in TABLES[group].items():
            width = dataset_width(group, name, self.geometry.n_ticks)
            h5_dtype = h5py.string_dtype() if dtype == STR else dtype
            if group == "wire_table" and name == "adc":
                chunks = (self._adc_chunk[0], min(self._adc_chunk[1], width))
                ds = grp.create_dataset(
                    name,
                    shape=(0, width),
                    maxshape=(None, width),
                    dtype=h5_dtype,
                    chunks=chunks,
                    shuffle=True,
                    compression="gzip",
                    compression_opts=self._level,
                    fillvalue=0.0,
                )
                self._adc = _DirectChunkWriter(ds, chunks, self._level)
                continue
            grp.create_dataset(
                name,
                shape=(0, width),
                maxshape=(None, width),
                dtype=h5_dtype,
                chunks=(TABLE_CHUNK_ROWS, width),
                compression="gzip",
                compression_opts=self._level,
            )

    def add_event(self, rows: Mapping[str, GroupRows]) -> None:
        """Append one event. `rows[group][dataset]` holds that event's rows (1-D for width 1).

        `rows["event_table"]` must hold exactly one row. A group left out, or given zero rows, has
        no rows for this event (and so no seq_cnt entry), as in the real files.
        """
        n_event_rows = len(np.atleast_1d(rows["event_table"]["is_cc"]))
        if n_event_rows != 1:
            raise ValueError(f"event_table needs exactly one row per event, got {n_event_rows}")
        for group in self.groups:
            table = rows.get(group)
            if not table:
                continue
            n = self._append(group, table)
            if n:
                self._seq[group].append((self._n_events, n))
        self._n_events += 1

    def _append(self, group: str, table: GroupRows) -> int:
        n, arrays = self._checked_rows(group, table)
        if n == 0:
            return 0
        pending = self._pending[group]
        for name, arr in arrays.items():
            if group == "wire_table" and name == "adc" and self._adc is not None:
                self._adc.append(arr)
                continue
            # Copy: the caller may reuse its arrays before the buffer is flushed.
            pending.setdefault(name, []).append(np.array(arr, dtype=self._dtypes[group][name]))
        self._pending_rows[group] += n
        if self._pending_rows[group] >= FLUSH_ROWS:
            self._flush_group(group)
        return n

    def _checked_rows(self, group: str, table: GroupRows) -> tuple[int, dict[str, np.ndarray]]:
        """(row count, the datasets as 2-D arrays) of one group's rows; ValueError if they do not fit."""
        lengths = {len(np.asarray(v)) for v in table.values()}
        if len(lengths) != 1:
            raise ValueError(f"{group}: datasets given with different row counts {sorted(lengths)}")
        n = lengths.pop()
        if n == 0:
            return 0, {}
        missing = set(TABLES[group]) - set(table)
        if missing:
            raise ValueError(f"{group}: rows given without {sorted(missing)}")
        unknown = set(table) - set(TABLES[group])
        if unknown:
            raise ValueError(f"{group}: datasets {sorted(unknown)} are not in the OpenSamples schema")
        arrays = {}
        for name, values in table.items():
            arr = np.asarray(values)
            if arr.ndim == 1:
                arr = arr.reshape(n, 1)
            width = dataset_width(group, name, self.geometry.n_ticks)
            if arr.ndim != 2 or arr.shape[1] != width:
                raise ValueError(f"{group}/{name}: rows of shape {arr.shape[1:]} given, the dataset is {width} wide")
            arrays[name] = arr
        return n, arrays

    def _flush_group(self, group: str) -> None:
        n = self._pending_rows[group]
        if n == 0:
            return
        grp = self._file[group]
        start = self._rows[group]
        for name, parts in self._pending[group].items():
            ds = grp[name]
            ds.resize(start + n, axis=0)
            ds[start : start + n] = np.concatenate(parts)
        self._rows[group] = start + n
        self._pending[group] = {}
        self._pending_rows[group] = 0

    def close(self) -> None:
        if not self._file.id.valid:
            return
        if self._adc is not None:
            self._adc.flush()
        for group in self.groups:
            self._flush_group(group)
            seq = np.asarray(self._seq[group], dtype=np.int64).reshape(-1, 2)
            self._file[group].create_dataset(SEQ_CNT, data=seq, dtype=np.int64)
        self._file.close()

    def __enter__(self) -> OpenSamplesWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            # Never leave a file that looks complete after a failure.
            self._file.close()
            self.path.unlink(missing_ok=True)


class _DirectChunkWriter:
    """Appends rows to a chunked float32 dataset (shuffle + gzip), writing only non-zero chunks.

    Rows that do not fill a whole row of chunks wait in `_tail` for the next event (or `flush`), so
    each chunk is compressed and written exactly once.
    """

    def __init__(self, ds: h5py.Dataset, chunks: tuple[int, int], level: int) -> None:
        self.ds = ds
        self.rows_per_chunk, self.cols_per_chunk = chunks
        self.width = int(ds.shape[1])
        self.level = level
        self.n_rows = 0  # rows appended so far (the dataset's length)
        self.written = 0  # rows already handed to HDF5 (a multiple of rows_per_chunk)
        self._tail = np.zeros((0, self.width), dtype=np.float32)

    def append(self, arr: np.ndarray) -> None:
        arr = np.asarray(arr, dtype=np.float32).reshape(-1, self.width)
        self.n_rows += len(arr)
        self.ds.resize(self.n_rows, axis=0)
        r = self.rows_per_chunk
        if len(self._tail):
            need = r - len(self._tail)
            self._tail = np.concatenate([self._tail, arr[:need]])
            arr = arr[need:]
            if len(self._tail) < r:
                return
            self._write_rows(self._tail)
        body = (len(arr) // r) * r
        if body:
            self._write_rows(arr[:body])
        self._tail = arr[body:].copy()

    def flush(self) -> None:
        if len(self._tail):
            pad = np.zeros((self.rows_per_chunk - len(self._tail), self.width), dtype=np.float32)
            self._write_rows(np.concatenate([self._tail, pad]))
            self._tail = self._tail[:0]

    def _write_rows(self, block: np.ndarray) -> None:
        """Write whole chunk rows starting at self.written; all-zero chunks are skipped."""
        r, c = self.rows_per_chunk, self.cols_per_chunk
        n_cr = len(block) // r
        n_cc = -(-self.width // c)
        if n_cc * c != self.width:
            block = np.pad(block, ((0, 0), (0, n_cc * c - self.width)))
        tiles = block.reshape(n_cr, r, n_cc, c)
        # Non-zero test on the bit patterns, so -0.0 and NaN count as data (max over the contiguous
        # axis first: much faster than any() over two strided axes).
        nonzero = (tiles.view(np.uint32).max(axis=3) != 0).any(axis=1)
        for i, j in zip(*np.nonzero(nonzero)):
            tile = np.ascontiguousarray(tiles[i, :, j, :])
            shuffled = tile.view(np.uint8).reshape(-1, 4).T.tobytes()  # HDF5 shuffle: byte planes
            payload = zlib.compress(shuffled, self.level)
            self.ds.id.write_direct_chunk((self.written + int(i) * r, int(j) * c), payload)
        self.written += n_cr * r
