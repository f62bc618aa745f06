"""Simulator speed and file size: seconds per event for generation and for writing, per geometry,
and how the adc chunk shape and gzip level trade writing time against size.

Measured on this machine, single-threaded, with the load average reported alongside (the machine is
shared, so wall times carry that noise; each figure is the median over events, and writer variants
are run twice, interleaved, keeping the faster pass). Generation and writing are timed separately on
the same events; `total_s_per_event` is a real `simulate_file` run (generation + writing + file
open/close), with its CPU time alongside, which a busy machine inflates much less than wall time.
Reads are of one event's adc rows, the way the reader slices them.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import h5py

from nuwire.geometry import COMPACT, MICROBOONE, Geometry
from nuwire.io.h5schema import TABLES
from nuwire.io.opensamples_writer import ADC_CHUNK, OpenSamplesWriter
from nuwire.simulate import simulate_file
from nuwire.simulate.event import simulate_event

SEED = 20250701
FULL_EVENTS = 8
COMPACT_EVENTS = 30
REPEATS = 2
WRITER_VARIANTS: list[tuple[tuple[int, int], int]] = [
    (ADC_CHUNK, 1),  # the default
    (ADC_CHUNK, 4),
    ((32, 256), 1),  # smaller chunks: less zero padding to deflate, but slower to read
    ((16, 6400), 1),  # whole-row chunks: every wire row with any signal is one chunk
    ((256, 256), 1),
]


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _generation(geometry: Geometry, n: int) -> tuple[list[dict], list[float]]:
    rows, times = [], []
    for k in range(n):
        sample = "nue" if k % 2 else "bnb"
        t = time.perf_counter()
        r, _ = simulate_event(sample, geometry, seed=SEED, file_index=0, event_index=k)
        times.append(time.perf_counter() - t)
        rows.append(r)
    return rows, times


def _writing(
    events: list[dict], geometry: Geometry, chunk: tuple[int, int], *, level: int, tmp: Path
) -> dict[str, Any]:
    """Median write and read time per event for one writer setting (the read is the event's adc slice)."""
    path = tmp / f"w_{chunk[0]}x{chunk[1]}_{level}.h5"
    write = []
    groups = tuple(TABLES)
    with OpenSamplesWriter(path, geometry=geometry, groups=groups, compression_level=level, adc_chunk=chunk) as w:
        for rows in events:
            t = time.perf_counter()
            w.add_event(rows)
            write.append(time.perf_counter() - t)
    size = path.stat().st_size
    read = []
    with h5py.File(path) as f:
        ds = f["wire_table/adc"]
        n_ch = geometry.n_channels
        for k in range(len(events)):
            t = time.perf_counter()
            ds[k * n_ch : (k + 1) * n_ch]
            read.append(time.perf_counter() - t)
    path.unlink()
    return {
        "adc_chunk": list(chunk),
        "gzip_level": level,
        "write_s_per_event": statistics.median(write),
        "read_adc_s_per_event": statistics.median(read),
        "mb_per_event": round(size / len(events) / 1e6, 3),
    }


def _writer_variants(
    events: list[dict], geometry: Geometry, variants: list[tuple[tuple[int, int], int]], *, tmp: Path
) -> list[dict[str, Any]]:
    """Each variant measured in REPEATS interleaved passes; the fastest pass counts (least disturbed
    by the other jobs on the machine)."""
    passes = [[_writing(events, geometry, c, level=lvl, tmp=tmp) for c, lvl in variants] for _ in range(REPEATS)]
    out = []
    for i in range(len(variants)):
        runs = [p[i] for p in passes]
        best = dict(runs[0])
        for key in ("write_s_per_event", "read_adc_s_per_event"):
            best[key] = round(min(r[key] for r in runs), 3)
        out.append(best)
    return out


def _geometry_figures(geometry: Geometry, n: int, variants: list[tuple[tuple[int, int], int]]) -> dict[str, Any]:
    load_before = _load()
    events, gen = _generation(geometry, n)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        writers = _writer_variants(events, geometry, variants, tmp=tmp)
        del events
        t, c = time.perf_counter(), time.process_time()
        summary = simulate_file(tmp / "f.h5", "bnb", n, geometry=geometry, seed=SEED, file_index=1)
        total = (time.perf_counter() - t) / n
        cpu = (time.process_time() - c) / n
    return {
        "events": n,
        "generate_s_per_event": round(statistics.median(gen), 3),
        "total_s_per_event": round(total, 3),
        "total_cpu_s_per_event": round(cpu, 3),  # CPU time of this process: less sensitive to load
        "file_mb_per_event": round(summary["bytes"] / n / 1e6, 3),
        "writer_variants": writers,
        "load_avg_1min_before": load_before,
        "load_avg_1min_after": _load(),
    }


def run() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "microboone": _geometry_figures(MICROBOONE, FULL_EVENTS, WRITER_VARIANTS),
        "compact": _geometry_figures(COMPACT, COMPACT_EVENTS, WRITER_VARIANTS[:1]),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
