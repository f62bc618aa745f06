"""Training input: model-ready batches per second and RAM, nuwire's in-RAM set against the thesis's.

Both routes deliver (16, 1, H, W) float32 batches of plane 2 at scale 0.5 in a shuffled order,
and each batch is read once by the consumer, as a model's first layer would
(`bench_data._throughput`):
- nuwire: `SparseImageSet` (run-length coded in RAM) densified per batch by `make_loader`;
- thesis: per sample, open and decode its plane-2 PNG (Pillow), rescale with nearest neighbour,
  convert to a float tensor, stack.
RAM: nuwire's set against the same images dense (uint8) and as the thesis held them
(`torch.sparse_coo` of the 8-bit image: int64 row and column indices plus a uint8 value, 17 bytes
per lit pixel). The images are the plane-2 images of the benchmark's rendered files.
Target: nuwire ≥ 10 × the thesis route in samples per second.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from benchmarks import load_average, spread
from benchmarks.bench_data import BATCH, SCALE, _events_in, _memory, _throughput, _write_pngs

TARGET_SPEEDUP = 10.0
COO_BYTES_PER_PIXEL = 2 * 8 + 1  # torch.sparse_coo: int64 (row, col) + uint8 value


def run(
    parquet_files: Sequence[str | Path],
    n_events: int = 64,
    *,
    repeats: int = 3,
    min_seconds: float = 1.5,
    seed: int = 0,
) -> dict[str, Any]:
    torch.set_num_threads(1)  # loader work is single-threaded on both routes
    files = [Path(f) for f in parquet_files]
    events = _events_in(files, n_events)
    memory = _memory(files, events)
    with tempfile.TemporaryDirectory(prefix="bench_input_") as tmp:
        pngs = _write_pngs(Path(tmp), files, events)
        runs = [_throughput(files, events, pngs, seed=seed + k, min_seconds=min_seconds) for k in range(repeats)]
    full = memory["plane2_scale1"]
    return {
        "name": "input",
        "events": len(events),
        "batch": BATCH,
        "scale": SCALE,
        "samples_per_s": {
            "nuwire": spread(r["sparse_set"] for r in runs),
            "thesis_png": spread(r["thesis_png"] for r in runs),
        },
        "speedup": spread(r["ratio"] for r in runs),
        "memory": memory,
        "ram_dense_uint8_over_nuwire": round(1 / full["sparse_over_dense_uint8"], 1),
        "ram_dense_uint8_over_thesis_coo": round(1 / (COO_BYTES_PER_PIXEL * full["occupancy"]), 1),
        "target": {"speedup": TARGET_SPEEDUP},
        "load_average": load_average(),
    }


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(sys.argv[1:], repeats=2), indent=2))
