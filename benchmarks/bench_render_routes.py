"""Four ways from OpenSamples HDF5 to plane images, in events per second on the same files.

(a) I/O floor: h5py reads each event's wire rows (`adc`, `local_plane`, `local_wire`, sliced with
    `event_id.seq_cnt`) and nothing else (`bench_render.io_floor`). No renderer can beat it.
(r) reader: `OpenSamplesFile.iter_events` alone on one thread (raw chunks, nuwire's checks and plane
    views), to split nuwire's time between reading and rendering.
(b) nuwire: `render_file` end to end (read, check, render three planes, write Parquet + QC), on one
    thread and (b2) on two (its Parquet and QC must equal one thread's byte for byte).
(c) notebook: what a user of the OpenSamples example notebooks writes. The wire table of an event
    comes as pynuml's `File.get_dataframe` builds it: one DataFrame per dataset, 2-D datasets
    split into `adc_0` … `adc_6399` columns, concatenated side by side. Then per plane
    `df.query("local_plane == p")`, the adc columns as a float64 array (float64 so the pixels are
    exactly the documented formula's, which is checked: the images equal nuwire's), the tick
    blocks summed by reshape + sum, the wire blocks by a pandas groupby on local_wire // dw,
    cutoff, saturation and 8-bit scaling vectorised in numpy. Every step is whole-array numpy or
    pandas, no Python loop over wires or pixels: an honest re-implementation, not a strawman.
    It is slow (seconds per event), so it runs on the first `notebook_events` events of each file.
(d) thesis: nuwire's renderer for the images (so only the storage differs), then what the thesis
    stored: three PNG files per event written by Pillow's default PNG writer (mode "L") and one
    CSV manifest row per event (event id, energies, is_cc, pdg, the three file names).

Routes run interleaved (a r b b2 d, a r b b2 d, …) so that other jobs' load hits them alike; every
figure is min/median/max over the repeats, and each ratio pairs the repeats that ran back to back.

Then the chunk layouts (`layouts`): the first file as the demo writes it and copies of its first
`layout_events` events stored as other writers store `adc`; on each, interleaved: the I/O floor,
inflate-only (raw chunks inflated with libdeflate and nothing else: the limit of any raw reader),
nuwire's render on 1 and 2 threads, and nuwire's render through h5py (the route before raw chunks).
The raw route's Parquet must equal the h5py route's byte for byte, which is recorded.
Then one file as long as the real ones' order of magnitude (`long_file`): the floor and (b), (b2).
Targets: (b) ≥ 2 × (a) on one thread, ≥ 3 × (a) on two; (b) ≥ 10 × (c).
"""

from __future__ import annotations

import csv
import shutil
import tempfile
import tracemalloc
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
from PIL import Image

from benchmarks import Timing, interleaved, load_average, paired_ratio, rate_figures, spread, timed
from benchmarks.bench_render import inflate_only, io_floor
from nuwire.images.render import ReadOptions, RenderParams, read_event_images, render_file, render_plane
from nuwire.io.h5schema import SEQ_CNT
from nuwire.io.opensamples import OpenSamplesFile

TARGET_OVER_FLOOR = 2.0  # one thread
TARGET_OVER_FLOOR_2 = 3.0  # two threads
TARGET_OVER_NOTEBOOK = 10.0
NOTEBOOK_REPEATS = 3  # at most: the notebook route takes seconds per event

# Other writers' layouts of wire_table/adc, as h5py's create_dataset options (every chunk stored).
OTHER_LAYOUTS: dict[str, dict[str, Any]] = {
    # hep_hpc's ntuple writer buffers whole rows and writes them as one chunk: whole-row chunks,
    # gzip, no shuffle.
    "hep_hpc-like: 64 whole rows, gzip-6, no shuffle": {
        "chunks": (64, None),
        "compression": "gzip",
        "compression_opts": 6,
    },
    "odd tiles: 100 × 1000, shuffle + gzip-4": {
        "chunks": (100, 1000),
        "shuffle": True,
        "compression": "gzip",
        "compression_opts": 4,
    },
}


# -- (r) the reader alone ------------------------------------------------------------------------
def read_only(files: Sequence[Path]) -> int:
    """Events delivered by nuwire's reader (planes as arrays, checks done), nothing rendered."""
    n = 0
    for path in files:
        with OpenSamplesFile(path, threads=1) as f:  # one thread, as (b)
            for ev in f.iter_events():
                n += ev.planes is not None
                ev.planes = None  # as render_file does: never two events' planes in memory
    return n


# -- (b) nuwire -----------------------------------------------------------------------------------
def nuwire_route(
    files: Sequence[Path], out: Path, params: RenderParams, *, threads: int = 1, raw_chunks: bool = True
) -> int:
    n = 0
    for path in files:
        qc = render_file(
            path,
            out / f"{path.stem}.parquet",
            out / f"{path.stem}.qc.json",
            sample=path.stem,
            params=params,
            read=ReadOptions(threads=threads, raw_chunks=raw_chunks),
        )
        n += qc["rendered"]
    return n


def render_peak_mb(path: Path, params: RenderParams) -> float:
    """tracemalloc peak of render_file on one file: numpy and Python allocations (not HDF5's own)."""
    with tempfile.TemporaryDirectory() as tmp:
        tracemalloc.start()
        try:
            render_file(path, Path(tmp) / "p.parquet", Path(tmp) / "p.qc.json", sample=path.stem, params=params)
            return tracemalloc.get_traced_memory()[1] / 2**20
        finally:
            tracemalloc.stop()


# -- (c) the notebook route -----------------------------------------------------------------------
def _pynuml_frame(wt: h5py.Group, start: int, count: int, *, adc_columns: list[str]) -> pd.DataFrame:
    """One event's wire table the way pynuml's get_dataframe presents it (see module docstring)."""
    rows = slice(start, start + count)
    parts = [
        pd.DataFrame(np.array(wt["event_id"][rows]), columns=["run", "subrun", "event"]),
        pd.DataFrame(np.array(wt["local_plane"][rows]), columns=["local_plane"]),
        pd.DataFrame(np.array(wt["local_wire"][rows]), columns=["local_wire"]),
        pd.DataFrame(np.array(wt["adc"][rows]), columns=adc_columns),
    ]
    return pd.concat(parts, axis="columns")


def notebook_images(df: pd.DataFrame, adc_columns: list[str], params: RenderParams) -> list[np.ndarray]:
    """The three dense uint8 images of one event, from its pynuml-style DataFrame."""
    images = []
    for p in range(3):  # noqa: B007 (used as @p in the query string)
        plane = df.query("local_plane == @p")
        adc = plane[adc_columns].to_numpy(dtype=np.float64)
        n_ticks = adc.shape[1]
        pad = -n_ticks % params.dt  # a trailing partial tick block is summed as it is
        if pad:
            adc = np.pad(adc, ((0, 0), (0, pad)))
        by_time = adc.reshape(len(plane), -1, params.dt).sum(axis=2)
        wire_block = np.rint(plane["local_wire"].to_numpy()).astype(int) // params.dw
        s = pd.DataFrame(by_time).groupby(wire_block).sum().to_numpy().T  # (time blocks, wire blocks)
        scaled = np.clip(np.round(255 * np.minimum(s, params.sat) / params.sat), 1, 255)
        images.append(np.where((s >= params.cutoff) & (s > 0), scaled, 0).astype(np.uint8))
    return images


def notebook_route(files: Sequence[Path], events_per_file: int, params: RenderParams) -> tuple[int, list]:
    """(events, images) of the notebook route over the first `events_per_file` events of each file."""
    n, images = 0, []
    for path in files:
        with h5py.File(path, "r") as h5:
            wt = h5["wire_table"]
            seq = np.asarray(wt[SEQ_CNT][:], dtype=np.int64).reshape(-1, 2)
            starts = np.concatenate([[0], np.cumsum(seq[:, 1])[:-1]])
            adc_columns = [f"adc_{i}" for i in range(wt["adc"].shape[1])]
            ids = np.asarray(wt["event_id"][starts[:events_per_file]])
            for k in range(min(events_per_file, len(seq))):
                df = _pynuml_frame(wt, int(starts[k]), int(seq[k, 1]), adc_columns=adc_columns)
                images.append((path.stem, tuple(int(x) for x in ids[k]), notebook_images(df, adc_columns, params)))
                n += 1
    return n, images


def notebook_matches_nuwire(images: list, parquet_dir: Path) -> bool:
    """The notebook route's images equal nuwire's (same formula, so this must hold)."""
    for stem, (run, subrun, event), planes in images:
        ours = read_event_images(parquet_dir / f"{stem}.parquet", run=run, subrun=subrun, event=event)
        if not all(np.array_equal(a, b) for a, b in zip(planes, ours)):
            return False
    return True


# -- (d) the thesis route -------------------------------------------------------------------------
MANIFEST_HEADER = ["run", "subrun", "event", "nu_energy", "lep_energy", "is_cc", "nu_pdg", "png_0", "png_1", "png_2"]


def thesis_route(files: Sequence[Path], out: Path, params: RenderParams) -> int:
    """Render, three PNGs and a CSV manifest row per event, one manifest per input file."""
    n = 0
    for path in files:
        with OpenSamplesFile(path, threads=1) as f, open(out / f"{path.stem}.csv", "w", newline="") as fh:
            manifest = csv.writer(fh)
            manifest.writerow(MANIFEST_HEADER)
            for ev in f.iter_events():
                if ev.planes is None:
                    continue
                names = []
                for p, adc in enumerate(ev.planes):
                    image = Image.fromarray(render_plane(adc, params))  # uint8 2-D -> mode "L"
                    names.append(f"{path.stem}_{ev.run}_{ev.subrun}_{ev.event}_plane{p}.png")
                    image.save(out / names[-1])  # Pillow's default PNG settings
                ev.planes = None  # as render_file does: never two events' planes in memory
                t = ev.truth
                manifest.writerow([ev.run, ev.subrun, ev.event, t.nu_energy, t.lep_energy, t.is_cc, t.nu_pdg, *names])
                n += 1
    return n


# -- chunk layouts ---------------------------------------------------------------------------------
def relayout(src: Path, dst: Path, n_events: int, *, create: dict[str, Any]) -> Path:
    """The first `n_events` events of `src` with wire_table/adc stored as `create` says (h5py's
    own filters), copied a block of whole chunk rows at a time (never the whole table in memory)."""
    with h5py.File(src, "r") as a, h5py.File(dst, "w") as b:
        for key, value in a.attrs.items():
            b.attrs[key] = value
        seq = np.asarray(a["wire_table"][SEQ_CNT][:n_events], dtype=np.int64).reshape(-1, 2)
        rows = int(seq[:, 1].sum())
        for group in ("event_table", "wire_table"):
            g = b.create_group(group)
            events = n_events if group == "event_table" else rows
            for name, ds in a[group].items():
                if name == "adc" or (group == "wire_table" and name == SEQ_CNT):
                    continue
                g.create_dataset(name, data=ds[:events])
        b["wire_table"].create_dataset(SEQ_CNT, data=seq)
        adc = a["wire_table/adc"]
        chunks = tuple(c or adc.shape[1] for c in create["chunks"])
        out = b["wire_table"].create_dataset(
            "adc", shape=(rows, adc.shape[1]), dtype=adc.dtype, **{**create, "chunks": chunks}
        )
        step = chunks[0] * max(1, 1024 // chunks[0])
        for r in range(0, rows, step):
            out[r : min(rows, r + step)] = adc[r : min(rows, r + step)]
    return dst


def layouts(path: Path, tmp: Path, params: RenderParams, *, repeats: int, layout_events: int) -> list[dict[str, Any]]:
    """Per layout: events/s and CPU ms/event of each route, paired ratios, byte identity."""
    files = {"demo writer: 128 × 256, shuffle + gzip-1 (all-zero chunks not stored)": path}
    for i, (name, create) in enumerate(OTHER_LAYOUTS.items()):
        files[name] = relayout(path, tmp / f"layout{i}.h5", layout_events, create=create)
    out = tmp / "layout_images"
    out.mkdir(exist_ok=True)
    results = []
    for name, h5 in files.items():
        routes = {
            "io_floor": lambda h5=h5: io_floor(h5)[0],
            "inflate_1": lambda h5=h5: inflate_only(h5, 1)[0],
            "inflate_2": lambda h5=h5: inflate_only(h5, 2)[0],
            "raw_1": lambda h5=h5: nuwire_route([h5], out / "raw1", params, threads=1),
            "raw_2": lambda h5=h5: nuwire_route([h5], out / "raw2", params, threads=2),
            "h5py": lambda h5=h5: nuwire_route([h5], out / "h5py", params, raw_chunks=False),
        }
        for d in ("raw1", "raw2", "h5py"):
            (out / d).mkdir(exist_ok=True)
        t = interleaved(routes, repeats)
        same = all(
            (out / d / f"{h5.stem}.parquet").read_bytes() == (out / "h5py" / f"{h5.stem}.parquet").read_bytes()
            for d in ("raw1", "raw2")
        )
        with h5py.File(h5, "r") as f:
            chunks = f["wire_table/adc"].chunks
        results.append(
            {
                "layout": name,
                "chunks": list(chunks),
                "events": t["io_floor"][0].items,
                "MB_per_event_on_disk": round(h5.stat().st_size / 1e6 / t["io_floor"][0].items, 2),
                "cpu_ms_per_event": {k: _per_event_ms(v) for k, v in t.items()},
                "wall_ms_per_event": {k: spread(1e3 * x.wall_s / x.items for x in v) for k, v in t.items()},
                "over_floor": {k: paired_ratio(t[k], t["io_floor"]) for k in routes if k != "io_floor"},
                "over_floor_cpu": {k: paired_ratio(t[k], t["io_floor"], cpu=True) for k in routes if k != "io_floor"},
                "raw_images_identical_to_h5py": same,
            }
        )
    return results


# -- a file as long as the real ones --------------------------------------------------------------
def long_file(path: Path, tmp: Path, params: RenderParams, *, repeats: int) -> dict[str, Any]:
    """The floor and nuwire on one and two threads, interleaved, on one long file. The real files
    hold ~1,165 events each (the thesis's 132,816 PNGs, 3 per event, from 38 files), the others
    here 12: per file, listing the chunk index, decoding the first event with nothing to overlap
    and writing the last row group (zstd) are a few hundred ms, which 12 events carry and a real
    file spreads thin."""
    out1, out2 = tmp / "long_1", tmp / "long_2"
    out1.mkdir(exist_ok=True)
    out2.mkdir(exist_ok=True)
    t = interleaved(
        {
            "io_floor": lambda: io_floor(path)[0],
            "nuwire": lambda: nuwire_route([path], out1, params),
            "nuwire_2": lambda: nuwire_route([path], out2, params, threads=2),
        },
        repeats,
    )
    return {
        "file": str(path),
        "events": t["io_floor"][0].items,
        "repeats": repeats,
        "cpu_ms_per_event": {k: _per_event_ms(v) for k, v in t.items()},
        "wall_ms_per_event": {k: spread(1e3 * x.wall_s / x.items for x in v) for k, v in t.items()},
        "nuwire_over_floor": paired_ratio(t["nuwire"], t["io_floor"]),
        "nuwire_2_over_floor": paired_ratio(t["nuwire_2"], t["io_floor"]),
        "nuwire_2_output_identical": (out1 / f"{path.stem}.parquet").read_bytes()
        == (out2 / f"{path.stem}.parquet").read_bytes(),
    }


# -- the benchmark ---------------------------------------------------------------------------------
def _per_event_ms(timings: Sequence[Timing]) -> dict[str, float | int]:
    return spread(1e3 * t.cpu_s / t.items for t in timings)


def run(
    files: Sequence[str | Path],
    params: RenderParams | None = None,
    *,
    repeats: int = 3,
    notebook_events: int = 1,
    layout_repeats: int = 3,
    layout_events: int = 4,
    long: tuple[Path, int] | None = None,
) -> dict[str, Any]:
    """Every route on `files`, then the layouts and, given `long` (a file, its repeats), `long_file`."""
    params = params or RenderParams.from_config({})
    files = [Path(f) for f in files]
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="bench_routes_") as tmp:
        tmp = Path(tmp)
        out_b, out_d = tmp / "nuwire", tmp / "thesis"

        def fresh(d: Path) -> Path:
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir()
            return d

        out_b2 = tmp / "nuwire_2"
        routes = {
            "io_floor": lambda: sum(io_floor(p)[0] for p in files),
            "reader": lambda: read_only(files),
            "nuwire": lambda: nuwire_route(files, fresh(out_b), params),
            "nuwire_2": lambda: nuwire_route(files, fresh(out_b2), params, threads=2),
            "thesis": lambda: thesis_route(files, fresh(out_d), params),
        }
        read_only(files[:1])  # warm the page cache and imports before the first timed round
        t = interleaved(routes, repeats)
        kept: dict[str, list] = {}

        def notebook_once() -> int:
            n, kept["images"] = notebook_route(files, notebook_events, params)
            return n

        notebook = [timed(notebook_once) for _ in range(min(repeats, NOTEBOOK_REPEATS))]
        identical = notebook_matches_nuwire(kept["images"], out_b)
        two_threads_same = all((out_b2 / p.name).read_bytes() == p.read_bytes() for p in out_b.iterdir())
        thesis_bytes = sum(p.stat().st_size for p in out_d.iterdir())
        peak = render_peak_mb(files[0], params)
        by_layout = layouts(files[0], tmp, params, repeats=layout_repeats, layout_events=layout_events)
        by_length = None if long is None else long_file(long[0], tmp, params, repeats=long[1])
    rates = {name: rate_figures(v) for name, v in {**t, "notebook": notebook}.items()}
    events = t["nuwire"][0].items
    return {
        "name": "render_routes",
        "files": [str(f) for f in files],
        "events": events,
        "notebook_events": notebook[0].items,
        "repeats": repeats,
        "params": {"dw": params.dw, "dt": params.dt, "threshold": params.threshold, "saturation": params.saturation},
        "events_per_s": rates,
        "cpu_ms_per_event": {name: _per_event_ms(v) for name, v in {**t, "notebook": notebook}.items()},
        "nuwire_over_floor": paired_ratio(t["nuwire"], t["io_floor"]),
        "nuwire_over_floor_cpu": paired_ratio(t["nuwire"], t["io_floor"], cpu=True),
        "nuwire_2_over_floor": paired_ratio(t["nuwire_2"], t["io_floor"]),
        "nuwire_2_output_identical": two_threads_same,
        # The notebook route ran after the others (it is too slow to interleave event for event), so
        # its ratio pairs repeat i of each (as many pairs as it has repeats).
        "nuwire_over_notebook": paired_ratio(t["nuwire"], notebook),
        "nuwire_over_notebook_cpu": paired_ratio(t["nuwire"], notebook, cpu=True),
        "reader_over_floor_cpu": paired_ratio(t["reader"], t["io_floor"], cpu=True),
        "notebook_images_equal_nuwire": identical,
        "thesis_output_bytes_per_event": thesis_bytes / max(1, t["thesis"][0].items),
        "render_file_peak_traced_MB": round(peak, 1),
        "layouts": by_layout,
        "long_file": by_length,
        "targets": {
            "nuwire_over_floor": TARGET_OVER_FLOOR,
            "nuwire_over_floor_2_threads": TARGET_OVER_FLOOR_2,
            "nuwire_over_notebook": TARGET_OVER_NOTEBOOK,
        },
        "load_average_before": load_before,
        "load_average_after": load_average(),
    }


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(sys.argv[1:], repeats=2), indent=2))
