"""Read `wire_table/adc` chunk by chunk around h5py: raw chunks, fast inflate, sparse unshuffle.

h5py delivers an event's rows at the speed of HDF5's filter pipeline: zlib, one chunk at a time on
one thread, then a byte transpose for the shuffle filter. Here the event's stored chunks are read
raw (from their file addresses, or `read_direct_chunk`; a few ms per event), inflated with libdeflate (`deflate`, about 4× zlib)
in a bounded thread pool fed batches of chunks, and un-shuffled *sparsely*: readouts are ~98% zero,
so only the 8-element groups with a nonzero byte in any byte plane are gathered and reassembled.
The result is the event's rows as the same float32 array h5py gives (zeros placed, nonzero values
scattered, NaN and -0.0 bit for bit) plus the coordinates of its nonzero samples, which the
renderer uses to find its candidate blocks without scanning the zeros.

Each chunk is inflated once per pass over the file: the nonzero samples of a chunk row that holds
the start of the next event are kept (sparse, small) for that event. With more than one thread,
`iter_events` has the next event's chunks decoded by the pool while its caller renders the current
one (`prefetch`). Memory per job: one event's rows, the compressed chunks and nonzero samples of it
and of the next one, and the batches in flight (`BATCH_BYTES` of inflated data per worker,
or one chunk where chunks are bigger).

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

from nuwire.cpus import job_cpus

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
    fill = np.zeros(1, dtype=dtype)
    dcpl.get_fill_value(fill)
    if fill.view(np.uint8).any():
        return f"{DATASET} has fill value {fill[0]!r}, not 0"
    if not hasattr(ds.id, "chunk_iter"):
        return "this HDF5/h5py cannot list chunks (H5Dchunk_iter needs HDF5 >= 1.12.3)"
    # The index of a real file may hold millions of chunks: numpy columns (28 bytes a chunk), not
    # a Python tuple per chunk (~150 bytes).
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
    order = np.lexsort((tick, row))
    return ChunkIndex(
        chunk_rows=int(ds.chunks[0]),
        chunk_ticks=int(ds.chunks[1]),
        itemsize=int(dtype.itemsize),
        dtype=dtype,
        filters=tuple(filters),
        row=row[order],
        tick=tick[order],
        address=address[order],
        size=size[order],
        mask=mask[order],
    )


@dataclass
class SparseRows:
    """Nonzero samples of some rows: key = row · n_ticks + tick (the sample's flat index in the
    dataset) and value (the dataset's own type)."""

    key: np.ndarray
    value: np.ndarray

    def select(self, keep: np.ndarray) -> SparseRows:
        return SparseRows(self.key[keep], self.value[keep])

    @staticmethod
    def concat(parts: list[SparseRows], dtype: np.dtype) -> SparseRows:
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return SparseRows(np.empty(0, np.int64), np.empty(0, dtype))
        return SparseRows(np.concatenate([p.key for p in parts]), np.concatenate([p.value for p in parts]))


@dataclass
class EventRows:
    """One event's `adc` rows as h5py would return them (float32) and where their nonzeros are."""

    adc: np.ndarray  # (count, n_ticks) float32
    flat: np.ndarray  # int64 index into adc.reshape(-1) of each nonzero sample
    value: np.ndarray  # float32 value of each nonzero sample

    def row_tick(self) -> tuple[np.ndarray, np.ndarray]:
        """(row within the event, tick) of each nonzero sample."""
        return np.divmod(self.flat, self.adc.shape[1])


Batch = list[tuple[int, int, int, "bytes | memoryview"]]  # (first row, first tick, filter mask, stored bytes)


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
        self.threads = max(1, threads if threads is not None else job_cpus()[0])
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
        self._carry: SparseRows | None = None
        # The decoding of the next event's chunk rows (first, last), started by `prefetch`.
        self._pending: tuple[tuple[int, int], _Job] | None = None
        # With `reuse_buffer`, every event's rows are written into one buffer, zeroed again only
        # where the previous event had nonzeros: a fresh event-sized array costs page faults on
        # all of its ~200 MB, more than inflating the event. Only for a caller that drops each
        # event's planes before it reads the next (render_file does).
        self.reuse_buffer = False
        self._buffer: np.ndarray | None = None
        self._dirty: np.ndarray | None = None

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
        ix = self._index
        out = self._output(count)
        if count == 0:
            return EventRows(out, np.empty(0, np.int64), np.empty(0, np.float32))
        end = start + count
        first_cr, last_cr = self._chunk_rows(start, count)
        parts: list[SparseRows] = []
        if self._carry is not None and self._carry_chunk_row == first_cr:
            parts.append(self._carry)  # this chunk row was inflated for the previous event
            first_cr += 1
        if first_cr <= last_cr:
            job = self._pending[1] if self._pending and self._pending[0] == (first_cr, last_cr) else None
            parts.extend((job or self._start(first_cr, last_cr)).result())
        self._pending = None  # a prefetch for another event is dropped (its workers just finish)
        found = SparseRows.concat(parts, ix.dtype)
        first, stop = start * self._n_ticks, end * self._n_ticks
        # Keep the whole last chunk row if it reaches past this event: the next event starts there.
        row_start = last_cr * ix.chunk_rows * self._n_ticks
        self._carry_chunk_row, self._carry = -1, None
        if (last_cr + 1) * ix.chunk_rows > end:
            self._carry_chunk_row, self._carry = last_cr, found.select(found.key >= row_start)
        mine = found.select((found.key >= first) & (found.key < stop))
        flat = mine.key - first
        value = mine.value.astype(np.float32, copy=False)  # what np.asarray(..., float32) does to h5py's array
        out.reshape(-1)[flat] = value
        if self.reuse_buffer:
            self._dirty = flat
        return EventRows(out, flat, value)

    def prefetch(self, start: int, count: int) -> None:
        """Start decoding the chunk rows of rows start .. start+count-1 in the pool's threads (call
        it after reading the event before them: while the caller works on that one)."""
        if self._pool is None or count == 0:
            return
        first_cr, last_cr = self._chunk_rows(start, count)
        if self._carry is not None and self._carry_chunk_row == first_cr:
            first_cr += 1
        if first_cr <= last_cr:
            self._pending = ((first_cr, last_cr), self._start(first_cr, last_cr))

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
            self._buffer[self._dirty] = 0.0
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
        items = list(zip(ix.row[lo:hi].tolist(), ix.tick[lo:hi].tolist(), ix.mask[lo:hi].tolist(), payloads))
        per_batch = self._group * max(1, BATCH_BYTES // (self._group * ix.chunk_bytes))
        job = _Job(self._decode_batch, [items[i : i + per_batch] for i in range(0, len(items), per_batch)])
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
        return [self._decode_group(batch[i : i + self._group]) for i in range(0, len(batch), self._group)]

    def _decode_group(self, batch: Batch) -> SparseRows:
        ix = self._index
        nbytes, n = ix.chunk_bytes, ix.chunk_rows * ix.chunk_ticks
        buf = np.empty((len(batch), nbytes), dtype=np.uint8)
        shuffled = np.zeros(len(batch), dtype=bool)
        for k, (r, t, mask, payload) in enumerate(batch):
            data: bytes | memoryview = payload
            # Undo the filters in reverse pipeline order; bit i of the mask: filter i was skipped.
            for i in reversed(range(len(ix.filters))):
                if mask >> i & 1:
                    continue
                if ix.filters[i] == FILTER_DEFLATE:
                    data = self._inflate(data, (r, t))
                elif ix.itemsize > 1:  # shuffle (filter 0, see `plan`): undone last, sparsely, below
                    shuffled[k] = True
            if len(data) != nbytes:
                raise self._corrupt((r, t), f"it holds {len(data)} bytes once decoded, the chunk size is {nbytes}")
            buf[k] = np.frombuffer(data, dtype=np.uint8)
        parts = []
        for flag in (True, False):
            sel = np.flatnonzero(shuffled == flag)
            if sel.size:
                take = buf if sel.size == len(buf) else buf[sel]
                elem, value = _nonzero_shuffled(take, n, ix.itemsize) if flag else _nonzero_plain(take, n, ix.itemsize)
                chunk, pos = np.divmod(elem, n)
                within_row, within_tick = np.divmod(pos, ix.chunk_ticks)
                corner = np.asarray([batch[i][:2] for i in sel], dtype=np.int64)  # (first row, first tick)
                tick = corner[chunk, 1] + within_tick
                key = (corner[chunk, 0] + within_row) * self._n_ticks + tick
                part = SparseRows(key, value.view(ix.dtype).reshape(-1))
                if self._n_ticks % ix.chunk_ticks:  # edge chunks are stored whole, padding included
                    part = part.select(tick < self._n_ticks)
                parts.append(part)
        return SparseRows.concat(parts, ix.dtype)

    def _inflate(self, data: bytes | memoryview, offset: tuple[int, int]) -> bytes:
        try:
            # One byte of room: a stream that inflates to more than a chunk is caught by its length.
            return _deflate.zlib_decompress(data, self._index.chunk_bytes + 1)
        except _deflate.DeflateError as err:
            raise self._corrupt(offset, f"its deflate stream is damaged ({err})") from None

    def _corrupt(self, offset: tuple[int, int], what: str) -> CorruptChunkError:
        return CorruptChunkError(f"the chunk of {DATASET} at offset {offset} is corrupted: {what}")


def _nonzero_shuffled(buf: np.ndarray, n: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(flat element index, value bytes as (k, size) uint8) of the nonzero items of shuffled chunks.

    A shuffled chunk stores byte 0 of every item, then byte 1, ... An item is nonzero iff any of its
    bytes is; the byte planes are OR-ed 8 bytes at a time (whole uint64 words), the words with any
    nonzero byte give candidate items, and only those are reassembled from the planes.
    (`np.nonzero(x != 0)` rather than `np.flatnonzero(x)`: on integers it is several times faster.)
    """
    planes = buf.reshape(len(buf), size, n)
    if n % 8 == 0:
        words = planes.view(np.uint64)  # (chunks, size, n / 8)
        any_bits = words[:, 0].copy()
        for k in range(1, size):
            np.bitwise_or(any_bits, words[:, k], out=any_bits)
        hit = np.nonzero(any_bits.reshape(-1) != 0)[0]
        chunk, word = np.divmod(hit, n // 8)
        cand = ((chunk * n + word * 8)[:, None] + np.arange(8)).reshape(-1)
    else:
        cand = np.nonzero(np.bitwise_or.reduce(planes, axis=1).reshape(-1) != 0)[0]
    chunk, pos = np.divmod(cand, n)
    flat, base = buf.reshape(-1), chunk * (size * n) + pos  # 1-D gathers are the cheapest
    items = np.empty((len(cand), size), dtype=np.uint8)
    for k in range(size):
        items[:, k] = flat.take(base + k * n)
    keep = np.nonzero(items.view(f"u{size}").reshape(-1) != 0)[0]
    return cand.take(keep), items.take(keep, axis=0)


def _nonzero_plain(buf: np.ndarray, n: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(flat element index, value bytes) of the nonzero items of unshuffled chunks."""
    words = buf.view(f"u{size}").reshape(-1)
    idx = np.nonzero(words != 0)[0]
    return idx, words.take(idx).view(np.uint8).reshape(-1, size)
