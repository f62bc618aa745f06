"""Bytes per event of the same images in four stores, and what the Parquet encoding options give.

- nuwire: the image Parquet of `render_file` (its file size over its events; one figure per file).
- thesis PNGs: three PNG files per event, Pillow's default PNG writer, mode "L"
  (`bench_render.png_and_dense_per_event`; one figure per event).
- thesis pickles: what the thesis kept in RAM and on disk: per input file a pandas DataFrame of the
  manifest (event id, energies, is_cc, pdg, the three PNG names) with three more columns holding
  each plane as a `torch.sparse_coo` tensor of the decoded 8-bit image (int64 indices, uint8
  values), saved with `DataFrame.to_pickle` (one figure per file). Pickle is only the baseline.
- dense uint8: height × width bytes per plane (one figure per event).

Encoding study: the same rows rewritten with other standard Parquet encodings and zstd levels,
and the order-0 entropy of the pixel values, a floor for any lossless store of this schema that
codes values independently (57% of them are 255, the rest spread over 1..254).
Target: nuwire's Parquet ≤ 0.25 × the PNGs.
"""

from __future__ import annotations

import io
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from benchmarks import load_average, spread
from benchmarks.bench_render import png_and_dense_per_event
from nuwire.images import render
from nuwire.images.render import RenderParams, densify, render_file
from nuwire.io.opensamples import OpenSamplesFile

TARGET_PARQUET_OVER_PNG = 0.25


def thesis_pickle_bytes(h5: Path, parquet: Path) -> tuple[int, int]:
    """(events, bytes) of the thesis's pickled DataFrame for one input file (see module docstring)."""
    with OpenSamplesFile(h5) as f:
        truth = f.truth()
    table = pq.read_table(parquet).to_pandas()
    rows = []
    for (run, subrun, event), planes in table.groupby(["run", "subrun", "event"], sort=False):
        t = truth[(truth.run == run) & (truth.subrun == subrun) & (truth.event == event)].iloc[0]
        row: dict[str, Any] = {
            "run": run,
            "subrun": subrun,
            "event": event,
            "nu_energy": t.nu_energy,
            "lep_energy": t.lep_energy,
            "is_cc": t.is_cc,
            "nu_pdg": t.nu_pdg,
        }
        for r in planes.sort_values("plane").itertuples():
            row[f"png_{r.plane}"] = f"{h5.stem}_{run}_{subrun}_{event}_plane{r.plane}.png"
            dense = densify(r.row, r.col, r.value, height=r.height, width=r.width)  # = the decoded PNG
            row[f"image_{r.plane}"] = torch.from_numpy(dense).to_sparse()
        rows.append(row)
    buf = io.BytesIO()
    pd.DataFrame(rows).to_pickle(buf)
    return len(rows), buf.tell()


# Alternative writer settings for the encoding study: all standard Parquet, same schema and rows.
VARIANTS: dict[str, dict[str, Any]] = {
    "current (zstd 9, value dict, row delta, col plain)": {},
    "zstd 3": {"compression_level": 3},
    "zstd 19": {"compression_level": 19},
    "col delta": {
        "column_encoding": {"row.list.element": "DELTA_BINARY_PACKED", "col.list.element": "DELTA_BINARY_PACKED"},
    },
    "value + col byte-stream-split": {
        "use_dictionary": ["sample"],
        "column_encoding": {
            "row.list.element": "DELTA_BINARY_PACKED",
            "col.list.element": "BYTE_STREAM_SPLIT",
            "value.list.element": "BYTE_STREAM_SPLIT",
        },
    },
    "all plain": {"use_dictionary": False, "column_encoding": None},
}


def _rewrite(table: pa.Table, options: dict[str, Any]) -> tuple[int, float]:
    """(bytes, seconds) of writing `table` as render does, with `options` overriding its settings."""
    base = {
        "compression": render.COMPRESSION,
        "compression_level": render.COMPRESSION_LEVEL,
        "use_dictionary": ["sample", "value.list.element"],
        "column_encoding": {"row.list.element": "DELTA_BINARY_PACKED", "col.list.element": "PLAIN"},
        "write_statistics": ["run", "subrun", "event", "plane"],
    }
    base.update(options)
    if base["column_encoding"] is None:
        del base["column_encoding"]
    buf = io.BytesIO()
    start = time.process_time()
    with pq.ParquetWriter(buf, table.schema, **base) as writer:
        for k in range(0, table.num_rows, 3 * render.ROW_GROUP_EVENTS):  # render's row groups
            writer.write_table(table.slice(k, 3 * render.ROW_GROUP_EVENTS))
    return buf.tell(), time.process_time() - start


def encoding_study(parquets: Sequence[Path]) -> dict[str, Any]:
    tables = [pq.read_table(p) for p in parquets]
    events = sum(t.num_rows for t in tables) / 3
    values = np.concatenate([t["value"].combine_chunks().flatten().to_numpy() for t in tables])
    counts = np.bincount(values, minlength=256)[1:]
    p = counts[counts > 0] / counts.sum()
    entropy_bits = float(-(p * np.log2(p)).sum())
    variants = {}
    for name, options in VARIANTS.items():
        sizes = [_rewrite(t, options) for t in tables]
        variants[name] = {
            "kB_per_event": round(sum(b for b, _ in sizes) / events / 1e3, 1),
            "write_cpu_ms_per_event": round(1e3 * sum(s for _, s in sizes) / events, 1),
        }
    return {
        "lit_pixels_per_event": round(len(values) / events),
        "value_entropy_bits": round(entropy_bits, 3),
        "fraction_255": round(float(counts[-1] / counts.sum()), 3),
        "value_entropy_floor_kB_per_event": round(entropy_bits * len(values) / 8 / events / 1e3, 1),
        "variants": variants,
    }


def run(files: Sequence[str | Path], params: RenderParams | None = None) -> dict[str, Any]:
    params = params or RenderParams.from_config({})
    files = [Path(f) for f in files]
    with tempfile.TemporaryDirectory(prefix="bench_storage_") as tmp:
        parquets, parquet_per_event, events_per_file, png, dense, pickle = [], [], [], [], [], []
        for h5 in files:
            out = Path(tmp) / f"{h5.stem}.parquet"
            qc = render_file(h5, out, Path(tmp) / f"{h5.stem}.qc.json", sample=h5.stem, params=params)
            parquets.append(out)
            parquet_per_event.append(out.stat().st_size / max(1, qc["rendered"]))
            events_per_file.append(max(1, qc["rendered"]))
            sizes = png_and_dense_per_event(out, qc["rendered"])
            png += [p for p, _ in sizes]
            dense += [d for _, d in sizes]
            n, b = thesis_pickle_bytes(h5, out)
            pickle.append(b / max(1, n))
        study = encoding_study(parquets)
    kb = {
        "parquet": spread(np.divide(parquet_per_event, 1e3), 1),
        "png_x3": spread(np.divide(png, 1e3), 1),
        "thesis_pickle": spread(np.divide(pickle, 1e3), 1),
        "dense_uint8": spread(np.divide(dense, 1e3), 1),
    }
    parquet_mean = float(np.average(parquet_per_event, weights=events_per_file))  # = total bytes / events
    ratio = parquet_mean / float(np.mean(png))
    return {
        "name": "storage",
        "files": [str(f) for f in files],
        "events": len(png),
        "kB_per_event": kb,
        "parquet_over_png": round(ratio, 3),
        "png_over_parquet": round(1 / ratio, 2),
        "pickle_over_parquet": round(float(np.average(pickle, weights=events_per_file)) / parquet_mean, 1),
        "dense_over_parquet": round(float(np.mean(dense)) / parquet_mean, 1),
        "encoding_study": study,
        "target": {"parquet_over_png": TARGET_PARQUET_OVER_PNG},
        "load_average": load_average(),
    }


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(sys.argv[1:]), indent=2))
