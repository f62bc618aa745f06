"""Read MicroBooNE OpenSamples HDF5 files with plain h5py (no pynuml, no MPI).

The file is validated before any work. Events are read in file order: each group's
`event_id.seq_cnt` says where an event's rows start and how many there are, so one event's wires
are a single slice of `wire_table` — never a scan of `event_id`, never the whole table in memory.
Files without `seq_cnt` (other producers) fall back to grouping the `event_id` column once, with a
warning. The `adc` rows are read from raw chunks where `nuwire.io.rawchunks` can (several times
faster, same values) and through h5py otherwise, with the reason logged.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import h5py
import numpy as np
import pandas as pd

from nuwire.errors import InputFileError
from nuwire.geometry import GEOMETRY_ATTR, MICROBOONE, N_PLANES, Geometry
from nuwire.io.h5schema import REQUIRED_FOR_IMAGES, SEQ_CNT
from nuwire.io.inputs import hdf5_problem
from nuwire.io.rawchunks import CorruptChunkError, EventRows, RawChunkReader, TickRuns, plan

log = logging.getLogger(__name__)

NU_CANDIDATE_PDGS = (12, 14)


@dataclass(frozen=True)
class EventTruth:
    run: int
    subrun: int
    event: int
    is_cc: int
    nu_pdg: int
    nu_energy: float
    lep_energy: float
    nu_vtx: tuple[float, float, float]
    nu_vtx_wire_pos: tuple[int, int, int] | None
    nu_vtx_wire_time: float | None


@dataclass(frozen=True)
class RecoVertex:
    """Pandora's neutrino candidate vertex (highest nu_score among slice_pdg 12/14)."""

    wire_pos: tuple[float, float, float]
    tick: float


@dataclass
class Event:
    index: int
    run: int
    subrun: int
    event: int
    truth: EventTruth
    reco: RecoVertex | None
    planes: tuple[np.ndarray, ...] | None  # per plane (n_wires, n_ticks) float32; None if skipped
    skip_reason: str | None = None
    # Per plane, runs of ticks (positions in the plane) holding every sample with a nonzero bit
    # pattern, when the raw-chunk reader knows them (None otherwise): the renderer sums their
    # blocks without a scan of the zeros.
    nonzero: tuple[TickRuns, ...] | None = None
    # The values of those samples, all planes together (the renderer's ADC range check reads these).
    nonzero_values: np.ndarray | None = None


@dataclass(frozen=True)
class _PlaneRead:
    """What reading an event's planes gave: the planes, or None and the skip reason; with the raw
    reader, the nonzero samples of each plane and their values (see Event)."""

    planes: tuple[np.ndarray, ...] | None
    reason: str | None = None
    nonzero: tuple[TickRuns, ...] | None = None
    values: np.ndarray | None = None


def non_finite_reason(*arrays: np.ndarray) -> str:
    """The skip reason of an event with NaN or infinite ADC values (counted in row blocks, so the
    count needs no event-sized temporary array)."""
    bad = sum(
        int(np.count_nonzero(~np.isfinite(block))) for a in arrays for block in np.array_split(a, 16) if block.size
    )
    return f"{bad} non-finite (NaN or infinite) ADC values"


def _fail(path: Path, message: str) -> InputFileError:
    return InputFileError(f"{path}: {message}")


def _damaged(path: Path, what: str, err: OSError) -> InputFileError:
    """HDF5 found the file's structure but could not read `what` (a damaged chunk or index)."""
    return _fail(
        path,
        f"reading {what} failed ({err}); the file is probably truncated or damaged. Re-copy it and "
        "compare its size and checksum with the source.",
    )


def _names_read_errors(what: str) -> Callable[[Callable[..., pd.DataFrame]], Callable[..., pd.DataFrame]]:
    """Turn an HDF5 read error inside the method into an InputFileError naming the file and `what`."""

    def wrap(method: Callable[..., pd.DataFrame]) -> Callable[..., pd.DataFrame]:
        @functools.wraps(method)
        def inner(self: OpenSamplesFile, *args: object, **kwargs: object) -> pd.DataFrame:
            try:
                return method(self, *args, **kwargs)
            except OSError as err:
                raise _damaged(self.path, what, err) from None

        return inner

    return wrap


class OpenSamplesFile:
    """An open OpenSamples file. State is real here: an open HDF5 handle and cached indices."""

    def __init__(self, path: str | os.PathLike[str], *, raw_chunks: bool = True, threads: int | None = None) -> None:
        """`raw_chunks=False` reads `adc` through h5py only; `threads` bounds the raw reader's
        inflate pool (default: the CPUs this job may use)."""
        self.path = Path(path)
        self._h5 = _open_hdf5(self.path)
        self._raw: RawChunkReader | None = None
        try:
            self._validate()
            self._check_one_tpc()
            self.geometry = self._read_geometry()
            self.n_events = int(self._h5["event_table/event_id"].shape[0])
            self.n_ticks = int(self._h5["wire_table/adc"].shape[1])
            self._event_ids = np.asarray(self._h5["event_table/event_id"][:], dtype=np.int64)
            self._wire_slices = self._group_slices("wire_table")
            self.adc_route = self._choose_adc_route(raw_chunks, threads)
        except OSError as err:  # a damaged chunk of event_id or of an index
            self._h5.close()
            raise _damaged(self.path, "/event_table/event_id or the /wire_table index", err) from None
        except BaseException:
            self.close()
            raise

    def _choose_adc_route(self, raw_chunks: bool, threads: int | None) -> str:
        """Set up the raw-chunk reader if it can read this file; the route as a log line says."""
        if not raw_chunks:
            return "h5py (raw chunks not requested)"
        index = plan(self._h5)
        if isinstance(index, str):
            log.info("%s: reading /wire_table/adc through h5py (same values, slower): %s", self.path, index)
            return f"h5py ({index})"
        self._raw = RawChunkReader(self._h5, self.path, index, threads=threads)
        return f"raw chunks (libdeflate, {self._raw.threads} thread{'s' if self._raw.threads > 1 else ''})"

    # -- validation -------------------------------------------------------------------------
    def _validate(self) -> None:
        h5 = self._h5
        present = ", ".join(sorted(h5.keys())) or "none"
        if "event_table" not in h5:
            # Every OpenSamples file, WithWire or NoWire, has an event table.
            raise _fail(
                self.path,
                f"is not an OpenSamples file: it has no /event_table (groups present: {present}); it "
                "may be another experiment's or another program's HDF5 file. nuwire reads MicroBooNE "
                "OpenSamples 'WithWire' files: remove it from the input directory.",
            )
        if "wire_table" not in h5:
            raise _fail(
                self.path,
                "has no /wire_table, so it holds no wire readouts (this looks like a 'NoWire' "
                f"OpenSamples file; groups present: {present}). Use the 'WithWire' files of the "
                "sample instead.",
            )
        missing = []
        for group, names in REQUIRED_FOR_IMAGES.items():
            if group not in h5:
                missing.append(f"/{group}")
                continue
            for name in names:
                if name == SEQ_CNT:
                    continue  # optional: the reader falls back to grouping event_id
                if name not in h5[group]:
                    missing.append(f"/{group}/{name}")
        if missing:
            raise _fail(
                self.path,
                f"is missing {', '.join(missing)}, which image making needs. The file is not a "
                "complete OpenSamples WithWire file: re-copy it or remove it from the input directory.",
            )
        adc = h5["wire_table/adc"]
        if adc.ndim != 2:
            raise _fail(self.path, f"/wire_table/adc has shape {adc.shape}; expected (rows, ticks).")

    def _check_one_tpc(self) -> None:
        """Refuse a file with readouts of several TPCs: images here are of one TPC's three planes
        (MicroBooNE has one; other detectors' files repeat every wire once per TPC)."""
        wt = self._h5["wire_table"]
        if "tpc" not in wt or wt["tpc"].shape[0] == 0:
            return
        tpcs = np.unique(np.asarray(wt["tpc"][:]))
        if len(tpcs) > 1:
            raise _fail(
                self.path,
                f"/wire_table holds the readouts of {len(tpcs)} TPCs (tpc column values "
                f"{tpcs.tolist()[:8]}{' ...' if len(tpcs) > 8 else ''}), but nuwire makes images of a "
                "single-TPC detector such as MicroBooNE (one row per wire and plane per event). Remove "
                "the file from the input directory, or write one file per TPC.",
            )

    def _read_geometry(self) -> Geometry:
        raw = self._h5.attrs.get(GEOMETRY_ATTR)
        geometry = MICROBOONE if raw is None else Geometry.from_json(_as_str(raw))
        ticks = int(self._h5["wire_table/adc"].shape[1])
        if raw is None and ticks != geometry.n_ticks:
            # Real-file geometry: wires are MicroBooNE's, ticks are whatever the readout holds.
            geometry = Geometry(**{**geometry.__dict__, "n_ticks": ticks})
        elif ticks != geometry.n_ticks:
            raise _fail(
                self.path,
                f"/wire_table/adc is {ticks} ticks wide but the file's geometry attribute says "
                f"{geometry.n_ticks}; the file is inconsistent: regenerate it.",
            )
        return geometry

    # -- event slicing ----------------------------------------------------------------------
    def _group_slices(self, group: str) -> dict[int, tuple[int, int]]:
        """Map event index -> (start row, row count) for `group`."""
        grp = self._h5[group]
        if SEQ_CNT in grp:
            seq = np.asarray(grp[SEQ_CNT][:], dtype=np.int64).reshape(-1, 2)
            counts = seq[:, 1]
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
            n_rows = int(grp["event_id"].shape[0])
            if counts.sum() != n_rows:
                raise _fail(
                    self.path,
                    f"/{group}/{SEQ_CNT} counts {int(counts.sum())} rows but /{group}/event_id has "
                    f"{n_rows}; the index is corrupt: re-copy the file.",
                )
            if np.any(np.diff(seq[:, 0]) <= 0):
                raise _fail(self.path, f"/{group}/{SEQ_CNT} is not sorted by event index; re-copy the file.")
            if len(seq) and (seq[0, 0] < 0 or seq[-1, 0] >= len(self._event_ids)):
                raise _fail(self.path, f"/{group}/{SEQ_CNT} points at events beyond event_table.")
            return {int(e): (int(s), int(c)) for e, s, c in zip(seq[:, 0], starts, counts)}
        log.warning(
            "%s: /%s has no %s; grouping rows by event_id instead (slower, reads the event_id column once)",
            self.path,
            group,
            SEQ_CNT,
        )
        return self._slices_from_event_id(group)

    def _slices_from_event_id(self, group: str) -> dict[int, tuple[int, int]]:
        ids = np.asarray(self._h5[group]["event_id"][:], dtype=np.int64)
        if len(ids) == 0:
            return {}
        change = np.any(ids[1:] != ids[:-1], axis=1)
        starts = np.concatenate([[0], np.flatnonzero(change) + 1])
        counts = np.diff(np.concatenate([starts, [len(ids)]]))
        lookup = {tuple(row): i for i, row in enumerate(self._event_ids.tolist())}
        slices: dict[int, tuple[int, int]] = {}
        for start, count in zip(starts.tolist(), counts.tolist()):
            key = tuple(ids[start].tolist())
            if key not in lookup:
                raise _fail(self.path, f"/{group} has rows for event {key} which event_table lacks.")
            if lookup[key] in slices:
                raise _fail(
                    self.path,
                    f"/{group} rows of event {key} are not stored together; the file is not in OpenSamples order.",
                )
            slices[lookup[key]] = (start, count)
        return slices

    # -- tables -----------------------------------------------------------------------------
    def _column(self, group: str, name: str) -> np.ndarray:
        try:
            return np.asarray(self._h5[group][name][:])
        except OSError as err:
            raise _damaged(self.path, f"/{group}/{name}", err) from None

    def truth(self) -> pd.DataFrame:
        """One row per event in file order, read column by column (vectorised)."""
        et = self._h5["event_table"]
        ids = self._event_ids
        frame = pd.DataFrame(
            {
                "run": ids[:, 0].astype(np.int32),
                "subrun": ids[:, 1].astype(np.int32),
                "event": ids[:, 2].astype(np.int32),
                "is_cc": self._column("event_table", "is_cc")[:, 0].astype(np.int32),
                "nu_pdg": self._column("event_table", "nu_pdg")[:, 0].astype(np.int32),
                "nu_energy": self._column("event_table", "nu_energy")[:, 0].astype(np.float32),
                "lep_energy": self._column("event_table", "lep_energy")[:, 0].astype(np.float32),
            }
        )
        nan3 = np.full((self.n_events, 3), np.nan, dtype=np.float32)
        vtx = self._column("event_table", "nu_vtx") if "nu_vtx" in et else nan3
        wpos = self._column("event_table", "nu_vtx_wire_pos").astype(np.float32) if "nu_vtx_wire_pos" in et else nan3
        tick = (
            self._column("event_table", "nu_vtx_wire_time")[:, 0]
            if "nu_vtx_wire_time" in et
            else np.full(self.n_events, np.nan, dtype=np.float32)
        )
        for axis, i in (("x", 0), ("y", 1), ("z", 2)):
            frame[f"nu_vtx_{axis}"] = vtx[:, i].astype(np.float32)
        for p in range(N_PLANES):
            frame[f"nu_vtx_wire_{p}"] = wpos[:, p]
        frame["nu_vtx_tick"] = tick.astype(np.float32)
        return frame

    @_names_read_errors("/pandoraPrimary_table")
    def reco_vertices(self) -> pd.DataFrame:
        """Pandora's neutrino vertex per event (NaN where there is none or no pandora table)."""
        out = pd.DataFrame(
            {
                "run": self._event_ids[:, 0].astype(np.int32),
                "subrun": self._event_ids[:, 1].astype(np.int32),
                "event": self._event_ids[:, 2].astype(np.int32),
            }
        )
        wires = np.full((self.n_events, 3), np.nan, dtype=np.float32)
        ticks = np.full(self.n_events, np.nan, dtype=np.float32)
        grp = self._h5.get("pandoraPrimary_table")
        needed = ("event_id", "slice_pdg", "nu_score", "vtx_wire_pos", "vtx_wire_time")
        if grp is not None and all(n in grp for n in needed) and grp["event_id"].shape[0] > 0:
            ids = np.asarray(grp["event_id"][:], dtype=np.int64)
            pdg = np.abs(np.asarray(grp["slice_pdg"][:, 0]))
            score = np.asarray(grp["nu_score"][:, 0], dtype=np.float64)
            event_index = self._rows_to_event_index(ids)
            best = neutrino_candidates(event_index, pdg, score)
            if best.size:
                wires[event_index[best]] = np.asarray(grp["vtx_wire_pos"][:], dtype=np.float32)[best]
                ticks[event_index[best]] = np.asarray(grp["vtx_wire_time"][:, 0], dtype=np.float32)[best]
        for p in range(N_PLANES):
            out[f"reco_wire_{p}"] = wires[:, p]
        out["reco_tick"] = ticks
        return out

    def _rows_to_event_index(self, ids: np.ndarray) -> np.ndarray:
        """Event index of each (run, subrun, event) row; -1 where event_table lacks it."""
        return event_index_of(self._event_ids, ids)

    # -- events -----------------------------------------------------------------------------
    def iter_events(
        self, check_finite: bool = True, reuse_buffer: bool = False, indices: Sequence[int] | None = None
    ) -> Iterator[Event]:
        """Yield every event of event_table in file order, or those at `indices` in their order
        (skipped ones carry skip_reason).

        `check_finite=False` leaves NaN/inf ADC values in the planes for a caller that finds them
        itself at no extra cost (the renderer's exact block sums do): the check reads the whole
        event once more, about a quarter of the time h5py takes to read it.
        `reuse_buffer=True` lets the raw-chunk reader write every event's rows into one buffer:
        for a caller that is done with an event's planes before it asks for the next one.
        """
        truth = self.truth()
        reco = self.reco_vertices()
        if self._raw is not None:
            self._raw.reuse_buffer = reuse_buffer
        order = list(range(self.n_events)) if indices is None else [int(i) for i in indices]
        try:
            for k, index in enumerate(order):
                if self._raw is not None:  # decoded by the pool while this event is finished and used
                    ahead = order[k : k + 2] if k == 0 else order[k + 1 : k + 2]
                    for block in filter(None, map(self._wire_slices.get, ahead)):
                        self._raw.prefetch(*block)
                yield self._make_event(index, truth, reco, check_finite=check_finite)
        finally:
            if self._raw is not None:
                self._raw.reuse_buffer = False

    def read_event(self, index: int) -> Event:
        if not 0 <= index < self.n_events:
            raise IndexError(f"{self.path}: event index {index} outside 0..{self.n_events - 1}")
        return self._make_event(index, self.truth(), self.reco_vertices())

    def _make_event(self, index: int, truth: pd.DataFrame, reco: pd.DataFrame, *, check_finite: bool = True) -> Event:
        t = truth.iloc[index]
        run, subrun, event = int(t.run), int(t.subrun), int(t.event)
        wire_pos = tuple(t[f"nu_vtx_wire_{p}"] for p in range(N_PLANES))
        ev_truth = EventTruth(
            run=run,
            subrun=subrun,
            event=event,
            is_cc=int(t.is_cc),
            nu_pdg=int(t.nu_pdg),
            nu_energy=float(t.nu_energy),
            lep_energy=float(t.lep_energy),
            nu_vtx=(float(t.nu_vtx_x), float(t.nu_vtx_y), float(t.nu_vtx_z)),
            nu_vtx_wire_pos=None if np.isnan(wire_pos[0]) else tuple(int(w) for w in wire_pos),
            nu_vtx_wire_time=None if np.isnan(t.nu_vtx_tick) else float(t.nu_vtx_tick),
        )
        r = reco.iloc[index]
        reco_vtx = None
        if not np.isnan(r.reco_tick):
            reco_vtx = RecoVertex(
                wire_pos=tuple(float(r[f"reco_wire_{p}"]) for p in range(N_PLANES)), tick=float(r.reco_tick)
            )
        read = self._read_planes(index, check_finite)
        return Event(index, run, subrun, event, ev_truth, reco_vtx, read.planes, read.reason, read.nonzero, read.values)

    def _read_planes(self, index: int, check_finite: bool = True) -> _PlaneRead:
        block = self._wire_slices.get(index)
        if block is None:
            return _PlaneRead(None, "no wire rows in /wire_table for this event")
        if block[1] == 0:  # kept in the index with a count of 0: an empty image is not an event
            return _PlaneRead(None, f"no wire rows in /wire_table for this event (its {SEQ_CNT} entry counts 0 rows)")
        adc, plane, wire, nonzero = self._read_rows(index, *block)
        # One float64 sum finds any NaN/inf without a wire-table-sized temporary array (the raw
        # reader's nonzero values hold every NaN/inf, so their sum is as good and much shorter).
        if check_finite and not np.isfinite((adc if nonzero is None else nonzero.value).sum(dtype=np.float64)):
            return _PlaneRead(None, non_finite_reason(adc))
        unknown = ~np.isin(plane, np.arange(N_PLANES))
        if unknown.any():
            return _PlaneRead(None, f"wire rows with local_plane outside 0..2 ({np.unique(plane[unknown]).tolist()})")
        if self._in_channel_order(plane, wire):
            # The writer's usual layout: every wire once, plane by plane, in wire order. The planes
            # are then views of the rows just read: no second event-sized copy.
            edges = np.cumsum((0, *self.geometry.n_wires))
            planes = tuple(adc[edges[p] : edges[p + 1]] for p in range(N_PLANES))
            if nonzero is None:
                return _PlaneRead(planes)
            # plane p's rows are edges[p] .. edges[p+1] - 1, its wire the row - edges[p]
            by_plane = tuple(nonzero.runs_of_rows(int(edges[p]), int(edges[p + 1])) for p in range(N_PLANES))
            return _PlaneRead(planes, None, by_plane, nonzero.value)
        placed, reason = self._placed_planes(adc, plane, wire)
        if placed is None:
            return _PlaneRead(None, reason)
        if nonzero is None:
            return _PlaneRead(placed)
        return _PlaneRead(placed, None, _nonzero_by_plane(nonzero, plane, wire), nonzero.value)

    def _read_rows(
        self, index: int, start: int, count: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, EventRows | None]:
        """(adc, local_plane, local_wire, the raw reader's nonzeros or None) of one event's rows."""
        wt = self._h5["wire_table"]
        nonzero: EventRows | None = None
        try:
            if self._raw is not None:
                rows = self._raw.read_rows(start, count)
                adc, nonzero = rows.adc, rows
            else:
                adc = np.asarray(wt["adc"][start : start + count], dtype=np.float32)
            plane = np.asarray(wt["local_plane"][start : start + count, 0])
            # local_wire is float32 in the real writer; round rather than truncate.
            wire = np.rint(np.asarray(wt["local_wire"][start : start + count, 0])).astype(np.int64)
        except (OSError, CorruptChunkError) as err:
            raise _fail(
                self.path,
                f"reading the wire rows of event index {index} failed ({err}); the file is probably "
                "truncated or damaged. Re-copy it and compare its size and checksum with the source.",
            ) from None
        return adc, plane, wire, nonzero

    def _placed_planes(
        self, adc: np.ndarray, plane: np.ndarray, wire: np.ndarray
    ) -> tuple[tuple[np.ndarray, ...] | None, str | None]:
        """Dense planes from rows in any order (missing wires stay 0), or None and the skip reason."""
        planes = []
        for p in range(N_PLANES):
            n_wires = self.geometry.n_wires[p]
            sel = plane == p
            w = wire[sel]
            if w.size and (w.min() < 0 or w.max() >= n_wires):
                return None, f"plane {p} has wire numbers outside 0..{n_wires - 1}"
            if np.unique(w).size != w.size:
                return None, f"plane {p} has more than one row for the same wire"
            dense = np.zeros((n_wires, self.n_ticks), dtype=np.float32)
            # Place rows by local_wire: row order inside an event is not assumed.
            dense[w] = adc[sel]
            planes.append(dense)
        return tuple(planes), None

    def _in_channel_order(self, plane: np.ndarray, wire: np.ndarray) -> bool:
        if plane.size != self.geometry.n_channels:
            return False
        expected_plane = np.repeat(np.arange(N_PLANES), self.geometry.n_wires)
        expected_wire = np.concatenate([np.arange(n) for n in self.geometry.n_wires])
        return bool(np.array_equal(plane, expected_plane) and np.array_equal(wire, expected_wire))

    # -- context manager --------------------------------------------------------------------
    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()
        self._h5.close()

    def __enter__(self) -> OpenSamplesFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _nonzero_by_plane(rows: EventRows, plane: np.ndarray, wire: np.ndarray) -> tuple[TickRuns, ...]:
    """Per plane, the event's runs (one tick each) at their positions in the plane (rows placed by local_wire)."""
    n_ticks = rows.adc.shape[1]
    runs = rows.runs().single()
    row = runs.at // n_ticks
    tick = runs.at - row * n_ticks
    p, w = plane[row], wire[row]
    masks = [p == k for k in range(N_PLANES)]  # each mask once: these arrays hold ~1e6 samples
    return tuple(TickRuns(w[m] * n_ticks + tick[m], runs.values[m], 1) for m in masks)


def readout_geometry(path: str | os.PathLike[str]) -> Geometry | None:
    """The geometry the images of `path` will have (wires per plane, ticks), read from its attribute
    and `adc` shape only; None if the file cannot be read that far (its render job says why)."""
    try:
        with h5py.File(path, "r") as h5:
            raw = h5.attrs.get(GEOMETRY_ATTR)
            ticks = int(h5["wire_table/adc"].shape[1])
        geometry = MICROBOONE if raw is None else Geometry.from_json(_as_str(raw))
    except (OSError, KeyError, IndexError, TypeError, ValueError):
        return None
    return Geometry(**{**geometry.__dict__, "n_ticks": ticks})


def _open_hdf5(path: Path) -> h5py.File:
    if not path.exists():
        raise InputFileError(f"{path}: no such file. Check the input directory in config/config.yaml.")
    try:
        return h5py.File(path, "r")
    except OSError as err:
        if "unable to lock file" in str(err).lower():  # HDF5's file lock, not damage
            raise InputFileError(
                f"{path}: is open for writing by another process (HDF5 refused to open it: {err}). Wait "
                "until that program (a copy or download still writing it, a writer, an h5py session in "
                "mode 'a' or 'w') has closed the file, then run again. If nothing writes it, the lock is "
                "stale (a file system without working locks, e.g. some NFS mounts): set "
                "HDF5_USE_FILE_LOCKING=FALSE in the environment."
            ) from None
        if (problem := hdf5_problem(path)) is not None:  # empty, or no HDF5 signature
            raise InputFileError(
                f"{path}: {problem}. Remove it from the input directory or replace it with the real OpenSamples file."
            ) from None
        raise InputFileError(
            f"{path}: HDF5 library cannot open it ({err}); it is probably truncated or damaged in "
            "transfer. Re-copy the file and compare its size and checksum with the source."
        ) from None


def event_index_of(event_ids: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Position in `event_ids` (event_table's (run, subrun, event) rows) of each of `rows`; -1 where
    event_table lacks it."""
    keys, row_keys = _event_keys(event_ids, rows)
    order = np.argsort(keys)
    pos = np.clip(np.searchsorted(keys[order], row_keys), 0, len(keys) - 1)
    return np.where(keys[order][pos] == row_keys, order[pos], -1)


def neutrino_candidates(event_index: np.ndarray, pdg: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Rows of pandoraPrimary_table that are their event's neutrino candidate: among the rows with
    |slice_pdg| 12 or 14 of a listed event, the one with the highest nu_score (the reconstructed
    vertex and the Pandora baseline both use it)."""
    rows = np.flatnonzero(np.isin(np.abs(pdg), NU_CANDIDATE_PDGS) & (event_index >= 0))
    rows = rows[np.lexsort((-score[rows], event_index[rows]))]  # by event, best score first
    first = np.concatenate([[True], event_index[rows][1:] != event_index[rows][:-1]]) if rows.size else rows
    return rows[first.astype(bool)]


def _event_keys(*id_arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """One int64 key per (run, subrun, event) row of each array, for vectorised matching: the rank
    of the row among the distinct rows of all arrays, so equal keys mean equal rows for any values
    (bit-packing the three numbers into one int64 would merge events whose numbers overflow it)."""
    rows = [np.asarray(a, dtype=np.int64).reshape(-1, 3) for a in id_arrays]
    _, inverse = np.unique(np.concatenate(rows), axis=0, return_inverse=True)
    return tuple(np.split(inverse.reshape(-1).astype(np.int64), np.cumsum([len(r) for r in rows])[:-1]))


def _as_str(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
