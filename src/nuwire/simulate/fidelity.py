"""How synthetic readouts compare with a real MicroBooNE readout, by the OpenSamples notebook's procedure.

The real reference is the `WireImage` notebook's histogram of the non-zero 6-tick sums of plane 2
of event 7004/331/16552 (100 bins of 2 from 0 to 200), digitised into
`reference/real_plane2_intensity.json` (source and reading error inside; the notebook counted every
plane-2 row three times, so the file holds 3× the counts, divided out here). The same procedure is
applied to a synthetic plane: sum each wire's ADC over blocks of 6 ticks (no wire grouping; the last
short block padded with zeros, as `block_reduce` does), keep the non-zero sums, histogram them in
the same bins (values outside [0, 200] fall outside, as in the notebook). Four figures summarise
a histogram: how many sums it holds, the fractions at or above 100 (they saturate at the default
scale) and in [10, 100), and counts in [30, 40) over [140, 160) (the minimum-ionising shoulder
against the tail).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

REFERENCE_PATH = Path(__file__).with_name("reference") / "real_plane2_intensity.json"
BLOCK_TICKS = 6
EDGES = np.arange(0.0, 202.0, 2.0)
FIGURES = ("nonzero", "frac_ge_100", "frac_10_100", "ratio_30_40_over_140_160")
FIGURE_LABELS = {
    "nonzero": "non-zero 6-tick sums in [0, 200]",
    "frac_ge_100": "fraction ≥ 100 (saturating)",
    "frac_10_100": "fraction in [10, 100)",
    "ratio_30_40_over_140_160": "counts [30, 40) / [140, 160)",
}


def block_sums(plane_adc: np.ndarray, block: int = BLOCK_TICKS) -> np.ndarray:
    """(wires, ceil(ticks / block)) sums over blocks of `block` ticks, zero-padded at the end."""
    wires, ticks = plane_adc.shape
    n_blocks = -(-ticks // block)
    padded = np.zeros((wires, n_blocks * block), dtype=np.float64)
    padded[:, :ticks] = plane_adc
    return padded.reshape(wires, n_blocks, block).sum(axis=2)


def intensity_histogram(sums: np.ndarray, edges: np.ndarray = EDGES) -> np.ndarray:
    """Counts of the non-zero sums in the bins `edges` (the notebook's histogram)."""
    values = sums[sums != 0]
    return np.histogram(values, bins=edges)[0].astype(np.float64)


def figures(counts: np.ndarray, edges: np.ndarray = EDGES) -> dict[str, float]:
    """The four summary figures of a histogram with bins `edges`."""
    lo = edges[:-1]
    total = float(counts.sum())
    tail = float(counts[(lo >= 140) & (lo < 160)].sum())
    return {
        "nonzero": total,
        "frac_ge_100": float(counts[lo >= 100].sum()) / max(total, 1.0),
        "frac_10_100": float(counts[(lo >= 10) & (lo < 100)].sum()) / max(total, 1.0),
        "ratio_30_40_over_140_160": float(counts[(lo >= 30) & (lo < 40)].sum()) / tail if tail else float("inf"),
    }


def plane_figures(plane_adc: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
    """Histogram and figures of one plane of one readout (wires × ticks ADC)."""
    counts = intensity_histogram(block_sums(plane_adc))
    return counts, figures(counts)


@lru_cache(maxsize=1)
def real_reference() -> dict:
    """The real event's plane-2 histogram (true counts) and its figures, with where it comes from."""
    raw = json.loads(REFERENCE_PATH.read_text())
    edges = np.asarray(raw["bin_edges"], np.float64)
    counts = np.asarray(raw["counts_times_3"], np.float64) / 3.0
    if not np.array_equal(edges, EDGES):
        raise ValueError(f"{REFERENCE_PATH}: bin edges differ from the notebook's 100 bins of 2 from 0 to 200")
    return {
        "event": raw["event"],
        "source": raw["source"],
        "edges": edges,
        "counts": counts,
        "figures": figures(counts, edges),
    }


def summarise(per_readout: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Median, min and max of each figure over readouts."""
    out = {}
    for name in FIGURES:
        values = np.asarray([f[name] for f in per_readout], np.float64)
        out[name] = {
            "median": float(np.median(values)),
            "min": float(values.min()),
            "max": float(values.max()),
            "n": len(values),
        }
    return out


def within_factor(synthetic: float, real: float, factor: float) -> bool:
    """Whether `synthetic` is within a factor `factor` of `real` (both positive)."""
    return bool(real > 0 and synthetic > 0 and 1 / factor <= synthetic / real <= factor)
