"""Write files in the OpenSamples HDF5 layout, one event at a time.

Used by the simulator and by tests that need hand-made files (shuffled wire rows, missing rows,
NaN ADC). Events are appended in order; each group's rows for an event are stored consecutively,
and on close every group gets its `event_id.seq_cnt` ([event index, row count], int64, one row per
event that has rows in that group), exactly as the real writer lays them out.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import h5py
import numpy as np

from nuwire.geometry import GEOMETRY_ATTR, MICROBOONE, Geometry
from nuwire.schema import SEQ_CNT, STR, TABLES, dataset_width

# Rows per chunk: small enough that reading one event's wires decompresses little beyond it,
# large enough to compress well. (16 × 6400 float32 = 400 kB per chunk on full geometry.)
WIRE_CHUNK_ROWS = 16
TABLE_CHUNK_ROWS = 1024

GroupRows = Mapping[str, np.ndarray]


class OpenSamplesWriter:
    """Append events to a new file; `close()` (or the context manager) writes the seq_cnt index."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        geometry: Geometry = MICROBOONE,
        groups: tuple[str, ...] = tuple(TABLES),
        compression_level: int = 1,
        write_geometry_attr: bool = True,
    ) -> None:
        self.path = Path(path)
        self.geometry = geometry
        self.groups = groups
        self._level = compression_level
        self._file = h5py.File(self.path, "w")
        self._rows = {g: 0 for g in groups}
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
            chunk_rows = WIRE_CHUNK_ROWS if name == "adc" else TABLE_CHUNK_ROWS
            h5_dtype = h5py.string_dtype() if dtype == STR else dtype
            grp.create_dataset(
                name,
                shape=(0, width),
                maxshape=(None, width),
                dtype=h5_dtype,
                chunks=(chunk_rows, width),
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
        grp = self._file[group]
        lengths = {len(np.asarray(v)) for v in table.values()}
        if len(lengths) != 1:
            raise ValueError(f"{group}: datasets given with different row counts {sorted(lengths)}")
        n = lengths.pop()
        if n == 0:
            return 0
        missing = set(TABLES[group]) - set(table)
        if missing:
            raise ValueError(f"{group}: rows given without {sorted(missing)}")
        start = self._rows[group]
        for name, values in table.items():
            arr = np.asarray(values)
            if arr.ndim == 1:
                arr = arr.reshape(n, 1)
            ds = grp[name]
            ds.resize(start + n, axis=0)
            ds[start : start + n] = arr
        self._rows[group] = start + n
        return n

    def close(self) -> None:
        if not self._file.id.valid:
            return
        for group in self.groups:
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
