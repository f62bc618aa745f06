"""Rendering throughput and output size against the I/O floor and the thesis's PNGs.

For each input file:
- I/O floor: events/s of h5py reading each event's wire rows (`adc`, `local_plane`, `local_wire`,
  sliced with `event_id.seq_cnt`) and nothing else — no rendering could be faster.
- nuwire: events/s of `render_file` (read, place wires, render three planes, write Parquet + QC).
- Peak memory of `render_file`: the tracemalloc peak (numpy and Python allocations; h5py's and
  the HDF5 library's own buffers are not traced), measured in a second, untimed pass.
- Bytes per event: the Parquet file, against the same images as three PNGs per event written with
  Pillow's default PNG writer (the thesis's storage; encoded for at most `png_events` events and
  averaged), and against dense uint8 arrays (height × width bytes per plane).

Run: `python -m benchmarks.bench_render FILE.h5 [...]`. Without files it writes a small demo file
(straight tracks on the compact geometry) to a temporary directory first.
"""

from __future__ import annotations

import io
import json
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pyarrow.parquet as pq
from PIL import Image

from nuwire.images.render import RenderParams, densify, render_file
from nuwire.io.h5schema import SEQ_CNT
from nuwire.io.rawchunks import FILTER_DEFLATE


def io_floor(path: Path) -> tuple[int, float]:
    """(events, seconds) to read every event's wire rows with h5py alone."""
    start = time.perf_counter()
    with h5py.File(path, "r") as h5:
        wt = h5["wire_table"]
        seq = np.asarray(wt[SEQ_CNT][:], dtype=np.int64).reshape(-1, 2)
        begin = np.concatenate([[0], np.cumsum(seq[:, 1])[:-1]])
        for s, n in zip(begin.tolist(), seq[:, 1].tolist()):
            wt["adc"][s : s + n]
            wt["local_plane"][s : s + n]
            wt["local_wire"][s : s + n]
    return len(seq), time.perf_counter() - start


def inflate_only(path: Path, threads: int = 1) -> tuple[int, float]:
    """(events, seconds) to read every stored chunk of wire_table/adc raw and inflate it with
    libdeflate, in `threads` threads fed 64 chunks a task, and nothing else: the limit of any
    reader of these chunks (no unshuffle, no placing of values, no rendering)."""
    from concurrent.futures import ThreadPoolExecutor

    import deflate

    from nuwire.io.rawchunks import plan

    start = time.perf_counter()
    with h5py.File(path, "r") as h5:
        index = plan(h5)
        if isinstance(index, str):
            raise ValueError(f"{path}: no raw chunks to inflate: {index}")
        n_events = int(h5["event_table/event_id"].shape[0])
        room = index.chunk_bytes + 1
        dsid = h5["wire_table/adc"].id
        payloads = [dsid.read_direct_chunk((int(r), int(t)))[1] for r, t in zip(index.row, index.tick)]
    if FILTER_DEFLATE not in index.filters:
        raise ValueError(f"{path}: wire_table/adc is not deflated")
    bit = 1 << index.filters.index(FILTER_DEFLATE)  # set in a chunk's mask: stored without deflate
    deflated = [p for p, m in zip(payloads, index.mask.tolist()) if not m & bit]

    def inflate(batch: list[bytes]) -> int:
        return sum(len(deflate.zlib_decompress(p, room)) for p in batch)

    batches = [deflated[i : i + 64] for i in range(0, len(deflated), 64)]
    with ThreadPoolExecutor(threads) as pool:
        sum(pool.map(inflate, batches))
    return n_events, time.perf_counter() - start


def png_and_dense_per_event(parquet: Path, max_events: int) -> list[tuple[int, int]]:
    """(PNG bytes, dense bytes) of each of the first `max_events` events: three planes each."""
    sizes: list[tuple[int, int]] = []
    pf = pq.ParquetFile(parquet)
    for batch in pf.iter_batches(batch_size=3 * 16):
        cols = batch.to_pydict()
        for i in range(batch.num_rows):
            if cols["plane"][i] == 0:
                if len(sizes) == max_events:
                    return sizes
                sizes.append((0, 0))
            img = densify(
                cols["row"][i], cols["col"][i], cols["value"][i], height=cols["height"][i], width=cols["width"][i]
            )
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, format="PNG")  # Pillow defaults, as the thesis saved them
            png, dense = sizes[-1]
            sizes[-1] = (png + buf.tell(), dense + img.nbytes)
    return sizes


def png_and_dense_bytes(parquet: Path, max_events: int) -> tuple[int, int, int]:
    """(events encoded, PNG bytes, dense bytes) over the first `max_events` events of the file."""
    sizes = png_and_dense_per_event(parquet, max_events)
    return len(sizes), sum(p for p, _ in sizes), sum(d for _, d in sizes)


def bench_file(path: Path, params: RenderParams, png_events: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        n_events, io_s = io_floor(path)
        start = time.perf_counter()
        qc = render_file(path, out / "x.parquet", out / "x.qc.json", sample=path.stem, params=params)
        render_s = time.perf_counter() - start
        tracemalloc.start()
        render_file(path, out / "y.parquet", out / "y.qc.json", sample=path.stem, params=params)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rendered = max(1, qc["rendered"])
        parquet_bytes = (out / "x.parquet").stat().st_size
        encoded, png, dense = png_and_dense_bytes(out / "x.parquet", png_events)
    per_png = png / max(1, encoded)
    per_dense = dense / max(1, encoded)
    per_parquet = parquet_bytes / rendered
    return {
        "file": str(path),
        "events": n_events,
        "rendered": qc["rendered"],
        "events_per_s": {"io_floor": n_events / io_s, "nuwire_render": n_events / render_s},
        "render_over_io_time": render_s / io_s,
        "peak_traced_MB": peak / 2**20,
        "bytes_per_event": {"parquet": per_parquet, "png_x3": per_png, "dense_uint8": per_dense},
        "png_events_encoded": encoded,
        "parquet_vs_png": per_png / per_parquet,
        "parquet_vs_dense": per_dense / per_parquet,
    }


def run(files: Sequence[str | Path], params: RenderParams | None = None, png_events: int = 20) -> dict[str, Any]:
    params = params or RenderParams.from_config({})
    results = [bench_file(Path(f), params, png_events) for f in files]
    return {
        "params": json.loads(params.to_json()),
        "files": results,
        "process_max_rss_MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def demo_file(
    path: Path, n_events: int = 8, *, seed: int = 0, geometry_name: str = "compact", tracks: int = 12
) -> Path:
    """A file of straight tracks (pulses a few ticks wide) per plane, for a run without inputs."""
    from nuwire.geometry import get_geometry
    from nuwire.io.opensamples_writer import OpenSamplesWriter

    geometry = get_geometry(geometry_name)
    rng = np.random.default_rng(seed)
    groups = ("event_table", "wire_table")
    with OpenSamplesWriter(path, geometry=geometry, groups=groups) as writer:
        for k in range(n_events):
            planes = [np.zeros((n, geometry.n_ticks), np.float32) for n in geometry.n_wires]
            for plane in planes:
                n_w, n_t = plane.shape
                for _ in range(tracks):
                    w0, w1 = np.sort(rng.integers(0, n_w, 2))
                    wires = np.arange(w0, w1 + 1)
                    ticks = rng.uniform(0, n_t) + rng.uniform(-3, 3) * (wires - w0)
                    offsets = np.arange(-4, 5)
                    t = np.rint(ticks[:, None] + offsets[None, :]).astype(int)
                    ok = (t >= 0) & (t < n_t)
                    pulse = rng.uniform(20, 60) * np.exp(-0.5 * (offsets / 1.5) ** 2)
                    np.add.at(
                        plane,
                        (np.broadcast_to(wires[:, None], t.shape)[ok], t[ok]),
                        np.broadcast_to(pulse, t.shape)[ok].astype(np.float32),
                    )
            ids = np.concatenate([np.full(len(p), i, np.int32) for i, p in enumerate(planes)])
            wires = np.concatenate([np.arange(len(p), dtype=np.float32) for p in planes])
            n = len(ids)
            eid = np.asarray([[1, 0, k]], np.int32)
            writer.add_event(
                {
                    "event_table": {
                        "event_id": eid,
                        "is_cc": [1],
                        "nu_pdg": [12],
                        "nu_energy": [1.0],
                        "lep_energy": [0.5],
                        "nu_dir": [[0, 0, 1]],
                        "nu_vtx": [[1, 1, 1]],
                        "nu_vtx_corr": [[1, 1, 1]],
                        "nu_vtx_wire_pos": [[1, 1, 1]],
                        "nu_vtx_wire_time": [100.0],
                    },
                    "wire_table": {
                        "event_id": np.repeat(eid, n, axis=0),
                        "tpc": np.zeros(n, np.int32),
                        "local_plane": ids,
                        "local_wire": wires,
                        "adc": np.concatenate(planes),
                    },
                }
            )
    return path


if __name__ == "__main__":
    args = sys.argv[1:]
    if args:
        print(json.dumps(run(args), indent=2))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(run([demo_file(Path(tmp) / "demo.h5")]), indent=2))
