"""Fidelity: synthetic `bnb` readouts against the real MicroBooNE reference, the notebook's way.

Simulates `n_readouts` bnb events on the full MicroBooNE geometry with `simulate_file` (timed:
generation + writing, wall and CPU seconds per event), reads the file back, and per plane sums each
wire's ADC over 6-tick blocks (no wire grouping) and histograms the non-zero sums like the
OpenSamples `WireImage` notebook (`nuwire.simulate.fidelity`, the code the tests call). Reports
the four figures per plane (median, min–max over readouts) beside the real event's where one exists
(plane 2), and writes into `out_dir`:
- `fidelity_plane2_histogram.png`: the real histogram and the synthetic median per bin (with the
  spread over readouts), log scale: the minimum-ionising shoulder and the tail;
- `fidelity_display_synthetic.png`: a typical synthetic readout (median plane-2 count of sums) drawn
  as the notebook draws the real one
  (6-tick sums, cutoff 10, saturation 100, `jet` 0–100, time block against wire);
- `fidelity_display_side_by_side.png`: that display next to the real one, when the real picture is
  found (`NUWIRE_REAL_REFERENCE`, or `shared/reference/real/` beside the repository or a level or two
  above it; pictures are not shipped);
- `fidelity_hit_multiplicity.png`: hits per wire summed over the readouts, per plane (the real
  figure's counterpart: dead groups, the noisy wire, short wires at the induction planes' ends).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from nuwire.figures import FigureContext, new_figure, save_figure
from nuwire.geometry import MICROBOONE, N_PLANES
from nuwire.io.h5schema import SEQ_CNT
from nuwire.simulate import simulate_file
from nuwire.simulate.channels import channel_status, run_period
from nuwire.simulate.fidelity import (
    EDGES,
    FIGURE_LABELS,
    FIGURES,
    block_sums,
    plane_figures,
    real_reference,
    summarise,
    within_factor,
)
from nuwire.simulate.hits import REAL_HITS_PER_READOUT
from nuwire.simulate.samples import run_number

SEED = 20250701
FACTOR = 1.3  # the acceptance: each plane-2 figure within this factor of the real event's
SYNTHETIC = FigureContext(synthetic=True)  # every figure here draws simulator readouts
CUTOFF, SATURATION = 10.0, 100.0  # the notebook's display scale for 6-tick sums
REAL_DISPLAY = "event-7004-331-16552-display.png"


def real_reference_dir() -> Path | None:
    env = os.environ.get("NUWIRE_REAL_REFERENCE")
    candidates = [Path(env)] if env else []
    candidates += [up / "shared" / "reference" / "real" for up in Path(__file__).resolve().parents[1:4]]
    return next((c for c in candidates if (c / REAL_DISPLAY).exists()), None)


def read_planes(path: Path, event: int) -> list[np.ndarray]:
    """The three (wires × ticks) planes of event `event` of a file, in wire order."""
    with h5py.File(path) as f:
        seq = f["wire_table"][SEQ_CNT][()]
        start = int(seq[:event, 1].sum())
        n = int(seq[event, 1])
        adc = f["wire_table/adc"][start : start + n]
        plane = f["wire_table/local_plane"][start : start + n, 0]
        wire = f["wire_table/local_wire"][start : start + n, 0].astype(np.int64)
    planes = []
    for p in range(N_PLANES):
        sel = plane == p
        img = np.zeros((MICROBOONE.n_wires[p], adc.shape[1]), np.float32)
        img[wire[sel]] = adc[sel]
        planes.append(img)
    return planes


def hit_multiplicity(path: Path) -> list[np.ndarray]:
    with h5py.File(path) as f:
        plane = f["hit_table/local_plane"][:, 0]
        wire = f["hit_table/local_wire"][:, 0]
    return [np.bincount(wire[plane == p], minlength=MICROBOONE.n_wires[p]) for p in range(N_PLANES)]


def draw_display(planes: list[np.ndarray], target: Path, title: str) -> None:
    """The notebook's three-plane display of one readout."""
    fig = new_figure(15.2, 16.0)  # the notebook's figure size, so lines thin out the same way
    axes = fig.subplots(3, 1)
    for p, (ax, plane) in enumerate(zip(axes, planes)):
        sums = block_sums(plane)
        img = np.where(sums < CUTOFF, 0.0, np.minimum(sums, SATURATION))
        # matplotlib's default (antialiased) resampling, as in the notebook: nearest would drop columns.
        ax.imshow(img.T, origin="lower", aspect="auto", cmap="jet", vmin=0, vmax=SATURATION)
        ax.set_title(f"Plane {p}")
        ax.set_xlabel("Wire")
        ax.set_ylabel("Time tick (6-tick blocks)")
    fig.suptitle(title)
    save_figure(fig, target, context=SYNTHETIC, dpi=100)


def draw_side_by_side(synthetic_png: Path, real_png: Path, target: Path) -> None:
    import matplotlib.image as mpimg

    fig = new_figure(16.0, 8.5)
    for i, (png, label) in enumerate(
        (
            (real_png, "real MicroBooNE readout 7004/331/16552 (OpenSamples notebook)"),
            (synthetic_png, "synthetic bnb readout (nuwire), drawn the same way"),
        )
    ):
        ax = fig.add_subplot(1, 2, i + 1)
        ax.imshow(mpimg.imread(png))
        ax.set_title(label, fontsize=9)
        ax.axis("off")
    save_figure(fig, target, context=SYNTHETIC, dpi=110)


def draw_histogram(per_readout: list[np.ndarray], target: Path) -> None:
    ref = real_reference()
    counts = np.asarray(per_readout)
    centres = 0.5 * (EDGES[:-1] + EDGES[1:])
    fig = new_figure(7.0, 4.6)
    ax = fig.add_subplot()
    ax.stairs(ref["counts"], EDGES, label="real event 7004/331/16552 (digitised, ±3% per bar)", color="black", lw=1.5)
    ax.stairs(
        np.median(counts, axis=0),
        EDGES,
        label=f"synthetic bnb: median of {len(counts)} readouts",
        color="tab:red",
        lw=1.5,
    )
    ax.fill_between(
        centres,
        counts.min(axis=0),
        counts.max(axis=0),
        step="mid",
        color="tab:red",
        alpha=0.2,
        label="synthetic: min–max over readouts",
    )
    ax.axvspan(25, 35, color="tab:blue", alpha=0.08, label="real minimum-ionising shoulder (25–35)")
    ax.set_yscale("log")
    ax.set_xlabel("6-tick ADC sum, plane 2 (pixel intensity before cutoff)")
    ax.set_ylabel("sums per readout, per bin of 2")
    ax.legend(fontsize=7)
    save_figure(fig, target, context=SYNTHETIC)


def draw_multiplicity(mult: list[np.ndarray], n: int, target: Path) -> None:
    fig = new_figure(15.0, 3.8)
    axes = fig.subplots(1, 3)
    for p, ax in enumerate(axes):
        ax.hist(np.arange(len(mult[p])), bins=100, weights=mult[p])
        ax.set_title(f"hit multiplicity in plane {p} ({n} synthetic readouts)")
        ax.set_xlabel("wire")
        ax.set_ylabel("number of hits")
    save_figure(fig, target, context=SYNTHETIC)


def run(n_readouts: int = 12, out_dir: Path | None = None, file_index: int = 0) -> dict[str, Any]:
    """Simulate, compare, draw; returns the JSON-able record of the benchmark."""
    out_dir = Path(out_dir or tempfile.mkdtemp(prefix="fidelity_"))
    out_dir.mkdir(parents=True, exist_ok=True)
    load_before = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory(prefix="fidelity_data_") as tmp:
        path = Path(tmp) / "bnb_WithWire_00.h5"
        wall, cpu = time.perf_counter(), time.process_time()
        summary = simulate_file(path, "bnb", n_readouts, geometry=MICROBOONE, seed=SEED, file_index=file_index)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        per_plane: list[list[dict[str, float]]] = [[] for _ in range(N_PLANES)]
        plane2_counts = []
        for k in range(n_readouts):
            planes = read_planes(path, k)
            for p, plane in enumerate(planes):
                counts, figs = plane_figures(plane)
                per_plane[p].append(figs)
                if p == 2:
                    plane2_counts.append(counts)
        # Draw a typical readout: the one whose plane-2 count of sums is nearest the median.
        nonzero = np.array([f["nonzero"] for f in per_plane[2]])
        typical = int(np.argmin(np.abs(nonzero - np.median(nonzero))))
        draw_display(
            read_planes(path, typical),
            out_dir / "fidelity_display_synthetic.png",
            f"synthetic bnb readout {run_number('bnb')}/{file_index}/{typical + 1} (nuwire; the median "
            f"of {n_readouts} by plane-2 sums), 6-tick sums, cutoff 10, saturation 100",
        )
        mult = hit_multiplicity(path)
    real_dir = real_reference_dir()
    if real_dir is not None:
        draw_side_by_side(
            out_dir / "fidelity_display_synthetic.png",
            real_dir / REAL_DISPLAY,
            out_dir / "fidelity_display_side_by_side.png",
        )
    draw_histogram(plane2_counts, out_dir / "fidelity_plane2_histogram.png")
    draw_multiplicity(mult, n_readouts, out_dir / "fidelity_hit_multiplicity.png")

    real = real_reference()["figures"]
    planes = {}
    for p in range(N_PLANES):
        s = summarise(per_plane[p])
        planes[str(p)] = {
            name: {
                **s[name],
                "real": real[name] if p == 2 else None,
                "within": within_factor(s[name]["median"], real[name], FACTOR) if p == 2 else None,
            }
            for name in FIGURES
        }
    status = channel_status(MICROBOONE, run_period(run_number("bnb")))
    return {
        "name": "fidelity",
        "readouts": n_readouts,
        "geometry": MICROBOONE.name,
        "seed": SEED,
        "factor": FACTOR,
        "real_event": real_reference()["event"],
        "real_source": real_reference()["source"],
        "planes": planes,
        "all_plane2_within": all(planes["2"][n]["within"] for n in FIGURES),
        "generate_and_write_s_per_event": round(wall / n_readouts, 3),
        "generate_and_write_cpu_s_per_event": round(cpu / n_readouts, 3),
        "file_mb_per_event": round(summary["bytes"] / n_readouts / 1e6, 2),
        "cosmics_per_readout": round(summary["cosmics"] / n_readouts, 1),
        "hits_per_readout": round(summary["hits"] / n_readouts),
        "real_hits_per_readout": round(REAL_HITS_PER_READOUT),
        "dead_channel_fraction": round(status.dead_fraction, 3),
        "noisy_channels": int(status.very_noisy.sum() + status.mildly_noisy.sum()),
        "figures": sorted(str(p.name) for p in out_dir.glob("fidelity_*.png")),
        "figures_dir": str(out_dir),
        "real_display_found": real_dir is not None,
        "load_average_before": load_before,
        "load_average_after": round(os.getloadavg()[0], 2),
        "labels": FIGURE_LABELS,
    }


if __name__ == "__main__":
    import json
    import sys

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 12
    print(json.dumps(run(n, Path("results/benchmarks/fidelity")), indent=1))
