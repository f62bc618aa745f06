"""Read `wire_table/adc` chunk by chunk around h5py: raw chunks, fast inflate, sparse unshuffle.

h5py delivers an event's rows at the speed of HDF5's filter pipeline: zlib, one chunk at a time on
one thread, then a byte transpose for the shuffle filter. Here the event's stored chunks are read
raw (from their file addresses, or `read_direct_chunk`; a few ms per event), inflated with
libdeflate (`deflate`, about 4× zlib) in a bounded thread pool fed batches of chunks, and
un-shuffled *sparsely*: readouts are ~98% zero, so only the 8-item words with a nonzero byte in
any byte plane are gathered (one uint64 per byte plane) and transposed back into their items.
Such a hit word is kept whole as a run of 8 ticks (`TickRuns`; ~6 of its 8 samples are nonzero on
readouts), and from there on every step works per run, not per sample: the runs are placed into
the same float32 array h5py gives (NaN and -0.0 bit for bit), a plane's runs are its rows' runs,
and the renderer sums its blocks from them. Runs are kept in the parts they were decoded in,
with the rows each part spans: the rows of an event or of a plane are then whole parts plus a
search of the few parts across its edges.

Each chunk is inflated once per pass over the file: the runs of a chunk row that holds
the start of the next event are kept (sparse, small) for that event. With more than one thread,
`iter_events` asks for each event's decoding one event ahead (`prefetch`), so the pool decodes the
next event while its caller finishes and renders the current one. Memory per job: one event's
rows, the compressed chunks and runs of it and of the next one, and the batches in
flight (`BATCH_BYTES` of inflated data per worker, or one chunk where chunks are bigger).

Only what this module verifies it can reproduce is taken: a chunked dataset of a plain numeric
type, filters deflate and/or shuffle (each chunk's filter mask honoured), a zero fill value and a
file driver that `read_direct_chunk` reads. Anything else returns a reason from `plan`, and the
caller reads through h5py (same values, only slower) and logs that reason.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from nuwire.cpus import threads_or_job_cpus

try:  # libdeflate bindings; without them the dataset is read through h5py (see `plan`)
    import deflate as _deflate
except ImportError:  # pragma: no cover - the pinned dependency is installed with the package
    _deflate = None

DATASET = "/wire_table/adc"
FILTER_DEFLATE = h5py.h5z.FILTER_DEFLATE
FILTER_SHUFFLE = h5py.h5z.FILTER_SHUFFLE
SUPPORTED_FILTERS = {FILTER_DEFLATE: "deflate", FILTER_SHUFFLE: "shuffle"}
# Inflated bytes searched for nonzeros at a time, while they are in cache: 2 MB (16 chunks of the
# demo layout; 8 to 64 such chunks measured, 16 and up within a few % of each other).
CACHE_BYTES = 2 * 2**20
# Inflated bytes per task handed to a worker: a future costs ~60 µs, about what inflating one
# 128 kB chunk costs, so one future per chunk would spend as much on the pool as on the work.
# 8 MB (64 demo chunks) per task; a chunk bigger than that is a task of its own.
BATCH_BYTES = 8 * 2**20


class CorruptChunkError(ValueError):
    """A stored chunk does not decode to a chunk (the reader adds the file and the event)."""


@dataclass(frozen=True)
class ChunkIndex:
    """Where the stored chunks of the dataset are, sorted by (first row, first tick)."""

    chunk_rows: int  # rows per chunk
    chunk_ticks: int  # ticks per chunk
    itemsize: int
    dtype: np.dtype
    filters: tuple[int, ...]  # filter ids in pipeline (write) order
    row: np.ndarray  # int64 first row of each stored chunk
    tick: np.ndarray  # int32 first tick of each stored chunk
    address: np.ndarray  # int64 byte address of each stored chunk in the file
    size: np.ndarray  # int32 stored bytes of each chunk
    mask: np.ndarray  # int32 filter mask of each chunk (bit i set: filter i was skipped)

    @property
    def chunk_bytes(self) -> int:
        return self.chunk_rows * self.chunk_ticks * self.itemsize


def plan(h5: h5py.File) -> ChunkIndex | str:
    """The chunk index of `wire_table/adc`, or why the raw route cannot read it (a log line)."""
    if _deflate is None:
        return "the 'deflate' package (libdeflate) is not installed"
    if h5.driver != "sec2":
        return f"the file is open with HDF5 driver '{h5.driver}'"
    ds = h5[DATASET]
    dtype = ds.dtype
    if dtype.kind not in "fiu" or dtype.itemsize not in (1, 2, 4, 8) or dtype.shape or dtype.names is not None:
        return f"{DATASET} has type {dtype}, not a plain number"
    if ds.chunks is None:
        return f"{DATASET} is not chunked (contiguous or compact layout)"
    filters = _filters(ds)
    if isinstance(filters, str):
        return filters
    if not hasattr(ds.id, "chunk_iter"):
        return "this HDF5/h5py cannot list chunks (H5Dchunk_iter needs HDF5 >= 1.12.3)"
    columns = _list_chunks(ds)
    if isinstance(columns, str):
        return columns
    row, tick, address, size, mask = columns
    order = np.lexsort((tick, row))
    return ChunkIndex(
        chunk_rows=int(ds.chunks[0]),
        chunk_ticks=int(ds.chunks[1]),
        itemsize=int(dtype.itemsize),
        dtype=dtype,
        filters=filters,
        row=row[order],
        tick=tick[order],
        address=address[order],
        size=size[order],
        mask=mask[order],
    )


def _filters(ds: h5py.Dataset) -> tuple[int, ...] | str:
    """The dataset's filter ids in pipeline order, or why they cannot be undone here."""
    dcpl = ds.id.get_create_plist()
    filters = []
    for i in range(dcpl.get_nfilters()):
        code = int(dcpl.get_filter(i)[0])
        if code not in SUPPORTED_FILTERS:
            name = dcpl.get_filter(i)[3].decode(errors="replace") or "unnamed"
            return f"{DATASET} uses filter {code} ({name}); only deflate and shuffle are read raw"
        filters.append(code)
    if FILTER_SHUFFLE in filters and (filters.index(FILTER_SHUFFLE) != 0 or filters.count(FILTER_SHUFFLE) > 1):
        return f"{DATASET} has filters {filters} (shuffle after another filter is not read raw)"
    fill = np.zeros(1, dtype=ds.dtype)
    dcpl.get_fill_value(fill)
    if fill.view(np.uint8).any():
        return f"{DATASET} has fill value {fill[0]!r}, not 0"
    return tuple(filters)


def _list_chunks(ds: h5py.Dataset) -> tuple[np.ndarray, ...] | str:
    """(first row, first tick, address, size, filter mask) of every stored chunk, in index order;
    or why the index cannot be listed. The index of a real file may hold millions of chunks: numpy
    columns (28 bytes a chunk), not a Python tuple per chunk (~150 bytes)."""
    try:
        n = int(ds.id.get_num_chunks())
        row, address = np.empty(n, np.int64), np.empty(n, np.int64)
        tick, size, mask = np.empty(n, np.int32), np.empty(n, np.int32), np.empty(n, np.int32)
        seen = [0]

        def visit(info: Any) -> None:
            k = seen[0]
            row[k], tick[k] = info.chunk_offset
            address[k], size[k], mask[k] = info.byte_offset, info.size, info.filter_mask
            seen[0] = k + 1

        ds.id.chunk_iter(visit)
    except (OSError, RuntimeError, IndexError) as err:  # a damaged index: h5py names it when the event is read
        return f"its chunk index cannot be listed ({err})"
    if seen[0] != n:
        return f"its chunk index lists {seen[0]} of {n} chunks"
    return row, tick, address, size, mask


@dataclass(frozen=True)
class TickRuns:
    """Samples as runs of `width` consecutive ticks of one row: run k holds the samples at positions
    at[k] × width .. at[k] × width + width - 1 of a row-major (rows, n_ticks) array (n_ticks a
    multiple of width), values[k] (float32, zeros included). Shuffled chunks decode to 8-tick runs
    (a hit word: ~6 nonzero samples of 8 on readouts), so every later step, placing the values,
    splitting planes, summing blocks, does one operation per run, not per sample."""

    at: np.ndarray  # int64
    values: np.ndarray  # (n, width) float32
    width: int

    def shifted(self, by: int) -> TickRuns:
        """The runs with `by` runs taken from every position (an array's rows further on)."""
        return TickRuns(self.at - by, self.values, self.width)

    def select(self, keep: np.ndarray) -> TickRuns:
        return TickRuns(self.at[keep], self.values[keep], self.width)

    def single(self) -> TickRuns:
        """The same samples as runs of one tick."""
        if self.width == 1:
            return self
        at = (self.at * self.width)[:, None] + np.arange(self.width)
        return TickRuns(at.reshape(-1), self.values.reshape(-1, 1), 1)


def _join(runs: list[TickRuns]) -> TickRuns:
    """One TickRuns of several (runs of one tick if their widths differ)."""
    if len(runs) == 1:
        return runs[0]
    if not runs:
        return TickRuns(np.empty(0, np.int64), np.empty((0, 1), np.float32), 1)
    if len({r.width for r in runs}) > 1:
        runs = [r.single() for r in runs]
    return TickRuns(np.concatenate([r.at for r in runs]), np.concatenate([r.values for r in runs]), runs[0].width)


def row_items(a: np.ndarray) -> np.ndarray:
    """A C-contiguous 2-D array as a 1-D array of its rows, each row one opaque item: a fancy index
    moves such items several times faster than rows of numbers (measured: 0.4 against 2 ms for
    120,000 rows of 8 float32)."""
    return a.view(np.dtype((np.void, a.shape[1] * a.itemsize))).reshape(-1)


def _concat(arrays: list[np.ndarray], dtype: Any) -> np.ndarray:
    if len(arrays) == 1:
        return arrays[0]
    return np.concatenate(arrays) if arrays else np.empty(0, dtype)


@dataclass(frozen=True)
class SparseRows:
    """The runs holding the nonzero samples of some stored chunks, positions in the dataset. Every
    row lies in first_row .. stop_row - 1, the rows of those chunks: a part wholly inside a row
    range is taken as it is, and only the few parts across its edges are searched."""

    runs: TickRuns
    first_row: int
    stop_row: int


def within(parts: list[SparseRows], lo: int, hi: int, *, n_ticks: int) -> list[SparseRows]:
    """The runs of `parts` in rows lo .. hi - 1 (rows of `n_ticks` samples)."""
    out = []
    for part in parts:
        if part.stop_row <= lo or part.first_row >= hi or not len(part.runs.at):
            continue
        if part.first_row < lo or part.stop_row > hi:
            runs, per_row = part.runs, n_ticks // part.runs.width
            runs = runs.select((runs.at >= lo * per_row) & (runs.at < hi * per_row))
            part = SparseRows(runs, part.first_row, part.stop_row)
        out.append(part)
    return out


@dataclass
class EventRows:
    """One event's `adc` rows as h5py would return them (float32) and the runs holding their
    nonzero samples, kept in the parts they were decoded in (see `SparseRows`) so that the runs
    of a plane are cheap to take."""

    adc: np.ndarray  # (count, n_ticks) float32
    start: int  # dataset row of adc[0]
    parts: list[SparseRows]  # the runs, rows start .. start + count - 1
    value: np.ndarray  # float32, every sample of the runs (all nonzero samples, some zeros)

    def runs(self) -> TickRuns:
        """All runs, positions in `adc`."""
        return self.runs_of_rows(0, self.adc.shape[0])

    def runs_of_rows(self, lo: int, hi: int) -> TickRuns:
        """The runs in event rows lo .. hi - 1, positions in adc[lo:hi]."""
        n_ticks = self.adc.shape[1]
        runs = _join([p.runs for p in within(self.parts, self.start + lo, self.start + hi, n_ticks=n_ticks)])
        return runs.shifted((self.start + lo) * n_ticks // runs.width)


Batch = tuple[int, list["bytes | memoryview"]]  # (index of its first chunk, stored bytes of its chunks)


class _Job:
    """Decoding a list of batches of chunks: every thread that calls `work` takes the next batch
    until none is left (a free thread never waits behind a slow one); `result` joins in, waits for
    the batches others took, and returns the parts in batch order or raises the first error."""

    def __init__(self, decode: Callable[[Batch], list[SparseRows]], batches: list[Batch]) -> None:
        self.batches = batches
        self._decode = decode
        self._done: list[list[SparseRows]] = [[] for _ in batches]
        self._taken = self._finished = 0
        self._error: BaseException | None = None
        self._cond = threading.Condition()

    def work(self) -> None:
        while True:
            with self._cond:
                if self._taken == len(self.batches) or self._error is not None:
                    return
                k = self._taken
                self._taken += 1
            try:
                parts = self._decode(self.batches[k])
            except BaseException as err:  # a corrupted chunk: raised to the reader by `result`
                parts, error = [], err
            else:
                error = None
            with self._cond:
                self._done[k] = parts
                self._error = self._error or error
                self._finished += 1
                self._cond.notify_all()

    def result(self) -> list[SparseRows]:
        self.work()
        with self._cond:
            self._cond.wait_for(lambda: self._finished == self._taken)
            if self._error is not None:
                raise self._error
        return [part for parts in self._done for part in parts]


class RawChunkReader:
    """Reads row ranges of `wire_table/adc` in file order from raw chunks (see module doc)."""

    def __init__(self, h5: h5py.File, path: Path, index: ChunkIndex, *, threads: int | None = None) -> None:
        self.path = path
        self._ds = h5[DATASET]
        self._n_rows, self._n_ticks = (int(n) for n in self._ds.shape)
        self._index = index
        self._group = max(1, CACHE_BYTES // index.chunk_bytes)  # chunks searched for nonzeros at once
        self.threads = threads_or_job_cpus(threads)
        # threads - 1 workers: the calling thread decodes too instead of waiting for them.
        self._pool = ThreadPoolExecutor(self.threads - 1, thread_name_prefix="inflate") if self.threads > 1 else None
        self._fd = os.open(path, os.O_RDONLY)
        # Chunks are read straight from the file at their addresses (one read per event where they
        # lie together, as writers store them) when the first chunk read so equals what HDF5 reads;
        # otherwise (a user block, an address base) one `read_direct_chunk` per chunk.
        self._by_address = self._addresses_are_file_offsets()
        # All nonzeros of the last chunk row read when it reaches past the event read: the next
        # event starts there. Kept whole, so it serves any event that needs that chunk row.
        self._carry_chunk_row = -1
        self._carry: list[SparseRows] | None = None
        # Decodings started ahead by `prefetch`, by chunk rows (first, last): the next events'.
        self._pending: dict[tuple[int, int], _Job] = {}
        # The chunk row the event after the last one prefetched will take from it (-1: none).
        self._ahead_carry = -1
        # With `reuse_buffer`, every event's rows are written into one buffer, zeroed again only
        # where the previous event had nonzeros: a fresh event-sized array costs page faults on
        # all of its ~200 MB, more than inflating the event. Only for a caller that drops each
        # event's planes before it reads the next (render_file does).
        self.reuse_buffer = False
        self._buffer: np.ndarray | None = None
        self._dirty: list[tuple[np.ndarray, int]] | None = None  # where the last event's runs were placed

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _addresses_are_file_offsets(self) -> bool:
        ix = self._index
        if not len(ix.row):
            return True
        try:
            _, expected = self._ds.id.read_direct_chunk((int(ix.row[0]), int(ix.tick[0])))
        except (OSError, ValueError, KeyError):
            return False  # the chunk itself is named as corrupted when its event is read
        return os.pread(self._fd, int(ix.size[0]), int(ix.address[0])) == expected

    # -- one event ---------------------------------------------------------------------------
    def read_rows(self, start: int, count: int) -> EventRows:
        """Rows start .. start+count-1 as float32 (like h5py's read) plus their nonzero samples."""
        out = self._output(count)
        if count == 0:
            return EventRows(out, start, [], np.empty(0, np.float32))
        end = start + count
        first_cr, last_cr = self._chunk_rows(start, count)
        parts: list[SparseRows] = []
        if self._carry is not None and self._carry_chunk_row == first_cr:
            parts.extend(self._carry)  # this chunk row was inflated for the previous event
            first_cr += 1
        prefetched = self._pending.pop((first_cr, last_cr), None)
        if first_cr <= last_cr:
            parts.extend((prefetched or self._start(first_cr, last_cr)).result())
        while len(self._pending) > 1:  # a prefetch for another event is dropped (its workers just finish)
            self._pending.pop(next(iter(self._pending)))
        # Keep the last chunk row if it reaches past this event: the next event starts there.
        rows, n_ticks = self._index.chunk_rows, self._n_ticks
        self._carry_chunk_row, self._carry = -1, None
        if (last_cr + 1) * rows > end:
            self._carry_chunk_row, self._carry = (
                last_cr,
                within(parts, last_cr * rows, (last_cr + 1) * rows, n_ticks=n_ticks),
            )
        if prefetched is None:  # not read in the prefetched order: the next prefetch follows this event
            self._ahead_carry = self._carry_chunk_row
        mine = within(parts, start, end, n_ticks=n_ticks)
        # Placed part by part (no event-sized index array is joined), run by run: one row of
        # `width` values per run. The values are already what np.asarray(..., float32) makes of h5py's.
        placed = []
        for part in mine:
            runs = part.runs
            at = runs.at - start * n_ticks // runs.width
            row_items(out.reshape(-1, runs.width))[at] = row_items(runs.values)
            placed.append((at, runs.width))
        if self.reuse_buffer:
            self._dirty = placed
        value = _concat([p.runs.values.reshape(-1) for p in mine], np.float32)
        return EventRows(out, start, mine, value)

    def prefetch(self, start: int, count: int) -> None:
        """Start decoding the chunk rows of rows start .. start+count-1 in the pool's threads.

        Called for each event in the order they will be read, one event ahead of the reads (and
        for the first before it is read), the pool works on the next event while the caller
        finishes and renders this one. The chunk row an event shares with the one before it is
        left to that one's decoding (it is carried over, see `read_rows`)."""
        if self._pool is None or count == 0:
            return
        first_cr, last_cr = self._chunk_rows(start, count)
        if self._ahead_carry == first_cr:
            first_cr += 1
        self._ahead_carry = last_cr if (last_cr + 1) * self._index.chunk_rows > start + count else -1
        if first_cr <= last_cr and (first_cr, last_cr) not in self._pending:
            self._pending[(first_cr, last_cr)] = self._start(first_cr, last_cr)

    def _chunk_rows(self, start: int, count: int) -> tuple[int, int]:
        return start // self._index.chunk_rows, (start + count - 1) // self._index.chunk_rows

    def _output(self, count: int) -> np.ndarray:
        """A zeroed (count, n_ticks) float32 array: fresh, or the reused buffer (see __init__)."""
        need = count * self._n_ticks
        if not self.reuse_buffer:
            return np.zeros((count, self._n_ticks), dtype=np.float32)
        if self._buffer is None or self._buffer.size < need:
            self._buffer, self._dirty = np.zeros(need, dtype=np.float32), None
        elif self._dirty is not None:
            size = self._buffer.size
            for at, width in self._dirty:
                row_items(self._buffer[: size - size % width].reshape(-1, width))[at] = np.zeros(
                    1, (np.void, 4 * width)
                )
            self._dirty = None
        return self._buffer[:need].reshape(count, self._n_ticks)

    # -- chunks ------------------------------------------------------------------------------
    def _start(self, first_cr: int, last_cr: int) -> _Job:
        """Read the stored chunks of chunk rows first_cr..last_cr here and hand their decoding, in
        batches, to a job that the pool's threads start on now (the caller joins in `result`)."""
        ix = self._index
        lo = int(np.searchsorted(ix.row, first_cr * ix.chunk_rows, side="left"))
        hi = int(np.searchsorted(ix.row, (last_cr + 1) * ix.chunk_rows, side="left"))
        if lo == hi:  # no stored chunks: all zero (writers skip all-zero chunks)
            return _Job(self._decode_batch, [])
        payloads = self._read_chunks(lo, hi)
        per_batch = self._group * max(1, BATCH_BYTES // (self._group * ix.chunk_bytes))
        job = _Job(self._decode_batch, [(lo + i, payloads[i : i + per_batch]) for i in range(0, hi - lo, per_batch)])
        if self._pool is not None:
            for _ in range(min(self.threads - 1, len(job.batches))):
                self._pool.submit(job.work)
        return job

    def _read_chunks(self, lo: int, hi: int) -> list[bytes | memoryview]:
        """The stored bytes of chunks lo..hi-1: one read of the span they lie in when it is compact."""
        ix = self._index
        offsets = [(int(r), int(t)) for r, t in zip(ix.row[lo:hi], ix.tick[lo:hi])]
        if not self._by_address:
            out: list[bytes | memoryview] = []
            for offset in offsets:
                try:
                    out.append(self._ds.id.read_direct_chunk(offset)[1])
                except (OSError, ValueError, KeyError) as err:
                    raise self._corrupt(offset, f"its stored bytes cannot be read ({err})") from None
            return out
        address, size = ix.address[lo:hi], ix.size[lo:hi]
        first, stop = int(address.min()), int((address + size).max())
        if stop - first <= 2 * int(size.sum()) + 2**20:
            blob = memoryview(os.pread(self._fd, stop - first, first))
            pieces = [blob[a - first : a - first + n] for a, n in zip(address.tolist(), size.tolist())]
        else:
            pieces = [memoryview(os.pread(self._fd, n, a)) for a, n in zip(address.tolist(), size.tolist())]
        for offset, piece, n in zip(offsets, pieces, size.tolist()):
            if len(piece) != n:
                raise self._corrupt(offset, "the file ends before the chunk does (truncated file)")
        return pieces

    def _decode_batch(self, batch: Batch) -> list[SparseRows]:
        """Nonzero samples of a batch of chunks, taken CACHE_BYTES at a time: each group is
        inflated into one buffer that stays in cache while its nonzeros are found (a pass over a
        whole event's inflated bytes would run at memory speed, several times slower)."""
        first, payloads = batch
        return [
            part
            for i in range(0, len(payloads), self._group)
            for part in self._decode_group(first + i, payloads[i : i + self._group])
        ]

    def _decode_group(self, first: int, payloads: list[bytes | memoryview]) -> list[SparseRows]:
        """Nonzero samples of the stored chunks first, first + 1, ... (one part per filter path)."""
        ix = self._index
        stop = first + len(payloads)
        buf = np.empty((len(payloads), ix.chunk_bytes), dtype=np.uint8)
        masks = ix.mask[first:stop]
        if masks.any():  # some chunk skipped a filter: undo each chunk's own pipeline
            shuffled = np.zeros(len(payloads), dtype=bool)
            for k, (payload, mask) in enumerate(zip(payloads, masks.tolist())):
                data, shuffled[k] = self._unfilter(payload, chunk=first + k, mask=mask)
                self._place(buf[k], data, chunk=first + k)
        else:  # every chunk went through the whole pipeline (the usual case): one loop, no branches
            inflate = FILTER_DEFLATE in ix.filters
            for k, payload in enumerate(payloads):
                self._place(buf[k], self._inflate(payload, first + k) if inflate else payload, chunk=first + k)
            shuffled = np.full(len(payloads), FILTER_SHUFFLE in ix.filters and ix.itemsize > 1)
        return [self._nonzero(buf, first=first, sel=sel, shuffled=flag) for flag, sel in _by_flag(shuffled)]

    def _unfilter(self, payload: bytes | memoryview, *, chunk: int, mask: int) -> tuple[bytes | memoryview, bool]:
        """The chunk's bytes with its filters but shuffle undone, and whether it is left shuffled
        (undone last, sparsely). Reverse pipeline order; bit i of the mask: filter i was skipped."""
        ix = self._index
        data, shuffled = payload, False
        for i in reversed(range(len(ix.filters))):
            if mask >> i & 1:
                continue
            if ix.filters[i] == FILTER_DEFLATE:
                data = self._inflate(data, chunk)
            elif ix.itemsize > 1:  # shuffle: filter 0 (see `plan`)
                shuffled = True
        return data, shuffled

    def _place(self, row: np.ndarray, data: bytes | memoryview, *, chunk: int) -> None:
        if len(data) != len(row):
            raise self._corrupt(chunk, f"it holds {len(data)} bytes once decoded, the chunk size is {len(row)}")
        row[:] = np.frombuffer(data, dtype=np.uint8)

    def _nonzero(self, buf: np.ndarray, *, first: int, sel: np.ndarray | None, shuffled: bool) -> SparseRows:
        """The runs holding the nonzero samples of buf's chunks `sel` (all where None); chunk k is
        stored chunk first + k. Shuffled chunks give 8-tick runs where 8-tick words lie in one row
        of a chunk and of the dataset; otherwise every nonzero sample is a run of its own."""
        ix, n_ticks = self._index, self._n_ticks
        take = buf if sel is None else buf[sel]
        words = shuffled and ix.chunk_ticks % 8 == 0 and n_ticks % 8 == 0
        find = _hit_words if words else _nonzero_shuffled if shuffled else _nonzero_plain
        chunk, row, tick, value = find(take, ix.chunk_ticks, ix.itemsize)
        index = np.arange(first, first + len(buf)) if sel is None else first + sel
        corner_row, corner_tick = ix.row[index], ix.tick[index]
        tick = corner_tick[chunk] + tick
        width = 8 if words else 1
        # What np.asarray(..., float32) does to h5py's array (native order, float32).
        values = value.view(ix.dtype).astype(np.float32).reshape(-1, width)
        runs = TickRuns(((corner_row[chunk] + row) * n_ticks + tick) // width, values, width)
        if n_ticks % ix.chunk_ticks:  # edge chunks are stored whole, padding included
            runs = runs.select(tick < n_ticks)  # a run lies wholly before or after the edge (n_ticks % width == 0)
        return SparseRows(runs, int(corner_row.min()), int(corner_row.max()) + ix.chunk_rows)

    def _inflate(self, data: bytes | memoryview, chunk: int) -> bytes:
        try:
            # One byte of room: a stream that inflates to more than a chunk is caught by its length.
            return _deflate.zlib_decompress(data, self._index.chunk_bytes + 1)
        except _deflate.DeflateError as err:
            raise self._corrupt(chunk, f"its deflate stream is damaged ({err})") from None

    def _corrupt(self, chunk: int | tuple[int, int], what: str) -> CorruptChunkError:
        """The error naming a stored chunk (its index in the chunk index, or its offset)."""
        if isinstance(chunk, int):
            chunk = (int(self._index.row[chunk]), int(self._index.tick[chunk]))
        return CorruptChunkError(f"the chunk of {DATASET} at offset {chunk} is corrupted: {what}")


def _by_flag(flags: np.ndarray) -> list[tuple[bool, np.ndarray | None]]:
    """(flag, positions holding it) for each value of a bool array; None: all of them."""
    if flags.all() or not flags.any():
        return [(bool(flags[0]), None)] if len(flags) else []
    return [(flag, np.flatnonzero(flags == flag)) for flag in (True, False)]


# What the finders return: (chunk, row in it, tick in it) of each run found (a sample, or an 8-tick
# hit word) and its values as unsigned `size`-byte ints ((runs × width) of them).
Located = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _hit_words(buf: np.ndarray, chunk_ticks: int, size: int) -> Located:
    """The 8-tick words of shuffled chunks that hold a nonzero sample (buf: one chunk per row,
    `chunk_ticks` ticks a chunk row, a multiple of 8), as `Located`.

    A shuffled chunk stores byte 0 of every item, then byte 1, ... An item is nonzero iff any of its
    bytes is; the byte planes are OR-ed 8 bytes at a time (whole uint64 words). Only the words with
    a nonzero byte are gathered (one uint64 per byte plane) and transposed back into their 8 items:
    a hit word, not an item, is the unit of work from here on (zeros in it are kept: a word holds
    ~6 nonzero samples on readouts, and a zero changes no sum).
    (`np.nonzero(x != 0)` rather than `np.flatnonzero(x)`: on integers it is several times faster.)
    """
    n = buf.shape[1] // size
    words = buf.reshape(len(buf), size, n).view(np.uint64)  # (chunks, size, n / 8)
    hit = np.nonzero(np.bitwise_or.reduce(words, axis=1).reshape(-1) != 0)[0]
    chunk, word = np.divmod(hit, n // 8)
    flat, base = words.reshape(-1), chunk * (size * n // 8) + word
    gathered = np.empty((len(hit), size), dtype=np.uint64)  # [hit, byte plane]: 8 items' byte k
    for k in range(size):
        gathered[:, k] = flat.take(base + k * (n // 8))
    # (hit, plane, item) bytes -> (hit, item, plane): the items' bytes in order, one plane at a
    # time (a strided copy per plane is ~1.6× faster than numpy's copy of the transposed view).
    planes = gathered.view(np.uint8).reshape(len(hit), size, 8)
    items = np.empty((len(hit), 8, size), dtype=np.uint8)
    for k in range(size):
        items[:, :, k] = planes[:, k]
    row, tick = np.divmod(word * 8, chunk_ticks)  # a word lies in one row (chunk_ticks % 8 == 0)
    return chunk, row, tick, items.view(f"u{size}")


def _nonzero_shuffled(buf: np.ndarray, chunk_ticks: int, size: int) -> Located:
    """The nonzero items of shuffled chunks whose 8-item words may span rows, item by item."""
    n = buf.shape[1] // size
    planes = buf.reshape(len(buf), size, n)
    cand = np.nonzero(np.bitwise_or.reduce(planes, axis=1).reshape(-1) != 0)[0]
    chunk, pos = np.divmod(cand, n)
    flat, base = buf.reshape(-1), chunk * (size * n) + pos  # 1-D gathers are the cheapest
    items = np.empty((len(cand), size), dtype=np.uint8)
    for k in range(size):
        items[:, k] = flat.take(base + k * n)
    row, tick = np.divmod(pos, chunk_ticks)
    return chunk, row, tick, items.view(f"u{size}").reshape(-1)


def _nonzero_plain(buf: np.ndarray, chunk_ticks: int, size: int) -> Located:
    """The nonzero items of chunks stored unshuffled, item by item."""
    n = buf.shape[1] // size
    words = buf.view(f"u{size}").reshape(-1)
    idx = np.nonzero(words != 0)[0]
    chunk, pos = np.divmod(idx, n)
    row, tick = np.divmod(pos, chunk_ticks)
    return chunk, row, tick, words.take(idx)
