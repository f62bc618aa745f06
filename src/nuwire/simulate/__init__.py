"""Synthetic MicroBooNE OpenSamples files: physics-motivated events in exactly the real HDF5 schema.

    simulate_file(path, "nue", n_events=26, geometry=MICROBOONE, seed=1, file_index=3) -> summary
    simulate_files(out_dir, "bnb", n_files=18, events_per_file=28, geometry=MICROBOONE, seed=1)

Event k of file i of a sample depends only on (seed, sample, i, k), so a file is the same whichever
function made it. Keys: run = 7001 for both samples (one run period, so one channel-status map),
subrun = file index (+ 500 for nue), event = k + 1,
unique across all files of both samples. Classes differ only through the simulated physics: the
detector, noise and cosmic overlay are the same code with the same settings for every event.

Modules: samples (composition, spectra, seeds) → interaction (final state, tracking; with tracks,
showers, material, particles) → cosmics → detector (charge on wires) → readout (waveforms, with
channels: the channel-status map) → hits → truth (tables) → event (one readout); fidelity compares
readouts with the real reference.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from tqdm import tqdm

from nuwire.geometry import Geometry
from nuwire.io.atomic import atomic_path
from nuwire.io.h5schema import TABLES
from nuwire.io.opensamples_writer import OpenSamplesWriter
from nuwire.simulate.event import simulate_event
from nuwire.simulate.samples import SAMPLES, check_sample, event_truth, run_number

__all__ = ["SAMPLES", "event_truth", "file_name", "run_number", "simulate_event", "simulate_file", "simulate_files"]


def file_name(sample: str, file_index: int) -> str:
    return f"{sample}_WithWire_{file_index:02d}.h5"


def simulate_file(
    path: str | os.PathLike[str],
    sample: str,
    n_events: int,
    *,
    geometry: Geometry,
    seed: int,
    file_index: int,
    progress: bool = False,
) -> dict:
    """Write one file of `n_events` events atomically; return summary counts."""
    check_sample(sample)
    if n_events < 1:
        raise ValueError(f"n_events must be at least 1, got {n_events}")
    if file_index < 0:
        raise ValueError(f"file_index must be >= 0, got {file_index}")
    t_start = time.perf_counter()
    counts = {"events": 0, "cc": 0, "nue_cc": 0, "numu_cc": 0, "nc": 0, "particles": 0, "cosmics": 0, "hits": 0}
    with atomic_path(path) as tmp:
        with OpenSamplesWriter(tmp, geometry=geometry, groups=tuple(TABLES)) as writer:
            for k in tqdm(range(n_events), desc=Path(path).name, unit="event", disable=not progress):
                rows, summary = simulate_event(sample, geometry, seed=seed, file_index=file_index, event_index=k)
                writer.add_event(rows)
                et = rows["event_table"]
                is_cc, pdg = int(et["is_cc"][0]), abs(int(et["nu_pdg"][0]))
                counts["events"] += 1
                counts["cc"] += is_cc
                counts["nc"] += 1 - is_cc
                counts["nue_cc"] += int(is_cc and pdg == 12)
                counts["numu_cc"] += int(is_cc and pdg == 14)
                counts["particles"] += summary.n_particles
                counts["cosmics"] += summary.n_cosmics
                counts["hits"] += summary.n_hits
    counts["bytes"] = Path(path).stat().st_size
    counts["seconds"] = round(time.perf_counter() - t_start, 3)
    meta = {"path": str(path), "sample": sample, "file_index": file_index, "geometry": geometry.name, "seed": seed}
    return {**meta, **counts}


def simulate_files(
    out_dir: str | os.PathLike[str],
    sample: str,
    n_files: int,
    *,
    events_per_file: int,
    geometry: Geometry,
    seed: int,
) -> list[Path]:
    """Write files 0..n_files-1 of `sample` into `out_dir` as {sample}_WithWire_{i:02d}.h5."""
    check_sample(sample)
    out = Path(out_dir)
    paths = []
    for i in range(n_files):
        path = out / file_name(sample, i)
        simulate_file(path, sample, events_per_file, geometry=geometry, seed=seed, file_index=i)
        paths.append(path)
    return paths
