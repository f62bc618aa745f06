"""Hits of everything the readout saw, and their links to the simulated particles.

A hit is a pulse on one live wire: a run of ticks whose waveform exceeds the plane's threshold,
integrated over the run widened by HIT_PAD ticks each side (the Gaussian's tails), with the
charge-weighted mean tick and spread. It is found on the final waveforms, so cosmic-ray muons,
noise bursts and neutrino charge all make hits, as the real hit finder does: in an overlay sample
most hits are cosmic. `edep_table` links a hit to each simulated particle whose charge landed in
it (energy and share of the hit's simulated energy); hits of the cosmic overlay (real data in the
OpenSamples, no particles) and of noise have no rows there.

A run counts as a hit only if its peak reaches HIT_PEAK (a minimum pulse height, as the real
finder's). Its value is calibrated on the hit count: the Sample Exploration notebook of
uboone/OpenSamples prints 15,726.882 hits per readout (mean over the first 2,000 readouts of
bnb_NoWire_00.h5); with the run threshold alone the synthetic bnb readouts held about 1.6 times
that (25,136, docs/benchmarks.md §7). HIT_PEAK = 7.6 / 7.6 / 9.5 ADC gives 15,618 (standard error
930) over 24 microboone-geometry bnb readouts (seed 20250701, files 0 and 1). The cut lies within
the pulse heights of minimum-ionising crossings, so the count moves steeply with it (about -20%
per +1 ADC). Only hit_table and edep_table depend on it: the waveforms, hence the images, do not.
"""

from __future__ import annotations

import numpy as np

from nuwire.geometry import N_PLANES, Geometry
from nuwire.simulate.detector import Projected
from nuwire.simulate.readout import Readout, consecutive_runs, plane_of_rows

HIT_THRESHOLD = (2.0, 2.0, 2.5)  # ADC per tick
HIT_PEAK = (7.6, 7.6, 9.5)  # ADC per tick: calibrated, see the module doc
HIT_PAD = 3  # ticks added each side of the run above threshold when integrating
HIT_MIN_INTEGRAL = 5.0  # ADC·ticks
# The real figure HIT_PEAK is calibrated on (uboone/OpenSamples, "Sample Exploration.ipynb", saved output).
REAL_HITS_PER_READOUT = 15726.882


def _i32(a: object) -> np.ndarray:
    return np.asarray(a, dtype=np.int32)


def _f32(a: object) -> np.ndarray:
    return np.asarray(a, dtype=np.float32)


def find_hits(readout: Readout, geometry: Geometry) -> dict[str, np.ndarray]:
    """Hits as flat cell intervals plus their columns: lo, hi (flat), row, integral, time, rms."""
    n_ticks = geometry.n_ticks
    cells = readout.roi_cells
    q = readout.adc.reshape(-1)[cells].astype(np.float64)
    plane = plane_of_rows(geometry, cells // n_ticks)
    above = q > np.asarray(HIT_THRESHOLD)[plane]
    run_lo, run_hi = consecutive_runs(cells[above])
    # A run is a hit only if its peak reaches HIT_PEAK (the real finder's minimum pulse height);
    # the run and its integral stay those of the lower HIT_THRESHOLD.
    if len(run_lo):
        peak = np.maximum.reduceat(q[above], np.searchsorted(cells[above], run_lo))
        tall = peak >= np.asarray(HIT_PEAK)[plane_of_rows(geometry, run_lo // n_ticks)]
        run_lo, run_hi = run_lo[tall], run_hi[tall]
    row = run_lo // n_ticks
    lo = np.maximum(run_lo - HIT_PAD, row * n_ticks)
    hi = np.minimum(run_hi + HIT_PAD, row * n_ticks + n_ticks - 1)
    # Sums over the ROI cells inside [lo, hi] from cumulative sums (cells outside ROIs are zero).
    tick = (cells % n_ticks).astype(np.float64)
    j_lo = np.searchsorted(cells, lo, side="left")
    j_hi = np.searchsorted(cells, hi, side="right")

    def window_sum(values: np.ndarray) -> np.ndarray:
        cs = np.concatenate([[0.0], np.cumsum(values)])
        return cs[j_hi] - cs[j_lo]

    s0, s1, s2 = window_sum(q), window_sum(q * tick), window_sum(q * tick**2)
    found = s0 >= HIT_MIN_INTEGRAL
    s0, s1, s2 = s0[found], s1[found], s2[found]
    mean = s1 / s0
    rms = np.sqrt(np.maximum(s2 / s0 - mean**2, 0.09))
    return {"lo": lo[found], "hi": hi[found], "row": row[found], "integral": s0, "time": mean, "rms": rms}


def hit_tables(
    hits: dict[str, np.ndarray], proj: Projected, *, owner: np.ndarray, energy: np.ndarray, geometry: Geometry
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """hit_table and edep_table columns (without event_id) of one readout."""
    n_ticks = geometry.n_ticks
    first = np.concatenate([[0], np.cumsum(geometry.n_wires)[:-1]]).astype(np.int64)
    n_hits = len(hits["row"])
    plane = plane_of_rows(geometry, hits["row"])
    hit_table = {
        "hit_id": _i32(np.arange(n_hits)),
        "integral": _f32(hits["integral"]),
        "rms": _f32(hits["rms"]),
        "tpc": _i32(np.zeros(n_hits)),
        "local_plane": _i32(plane),
        "local_wire": _i32(hits["row"] - first[plane]),
        "local_time": _f32(hits["time"]),
    }
    # Which hit each particle's share of a deposit landed in.
    hit_of, own, de = [], [], []
    tick = np.rint(proj.tick).astype(np.int64)
    sim = owner > 0
    for p in range(N_PLANES):
        total = proj.adc[p].sum(axis=0)
        for s in range(2):
            sel = proj.ok[p, s] & sim
            cell = (first[p] + proj.wire[p, s][sel]) * n_ticks + tick[sel]
            k = np.searchsorted(hits["lo"], cell, side="right") - 1
            inside = (k >= 0) & (cell <= hits["hi"][np.maximum(k, 0)])
            hit_of.append(k[inside])
            own.append(owner[sel][inside])
            de.append((energy[sel] * proj.adc[p, s][sel] / np.maximum(total[sel], 1e-12))[inside])
    hit_idx, g4, e = (np.concatenate(a) for a in (hit_of, own, de))
    n_own = int(g4.max()) + 1 if len(g4) else 1
    ulink, link_of = np.unique(hit_idx * n_own + g4, return_inverse=True)
    e_link = np.bincount(link_of, weights=e, minlength=len(ulink))
    link_hit = ulink // n_own
    e_hit = np.bincount(link_hit, weights=e_link, minlength=n_hits)
    edep_table = {
        "hit_id": _i32(link_hit),
        "g4_id": _i32(ulink % n_own),
        "energy": _f32(e_link),
        "energy_fraction": _f32(e_link / np.maximum(e_hit[link_hit], 1e-12)),
    }
    return hit_table, edep_table
