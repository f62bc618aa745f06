"""Cosmic-ray muons overlaid on every readout, as in MicroBooNE (a surface detector).

Muons arrive with the sea-level zenith distribution (intensity ∝ cos²θ, so ∝ cos³θ through a
horizontal plane) and a momentum spectrum ∝ (E + 2.5 GeV)^-2.7, at random times across the readout:
a muon that crossed before or after the trigger has its charge shifted in drift time, so it appears
displaced in tick — and partly cut off at the edges of the readout window. Stopping muons give
Michel electrons and every muon knocks out δ-rays, through the same code as neutrino muons. Cosmics
are real-data overlay in the OpenSamples, so they have no particle rows (their deposits carry
owner -1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nuwire.geometry import Geometry
from nuwire.simulate.interaction import ChargedTracks, track_particles
from nuwire.simulate.material import MASS_MEV
from nuwire.simulate.showers import EmSeeds
from nuwire.simulate.tracks import Deposits, box_chord

FLUX_HZ_PER_M2 = 150.0  # muons above ~0.2 GeV through a horizontal surface at sea level
TICK_S = 0.5e-6
MIN_MEAN_COSMICS = 10.0  # small test detectors still get a cosmic-dominated readout
SPECTRUM_OFFSET_GEV = 2.5
SPECTRUM_INDEX = 2.7
E_MIN_GEV, E_MAX_GEV = 0.2, 1000.0


@dataclass
class CosmicSet:
    deposits: Deposits
    seeds: EmSeeds  # Michel electrons and δ-rays, showered with the rest of the event
    entry: np.ndarray  # (n, 3) where each muon enters the active volume
    t0: np.ndarray  # (n,) ticks


def mean_cosmics(geometry: Geometry) -> float:
    """Expected muons per readout: flux × top area × the time window in which a crossing is seen."""
    (x0, x1), (z0, z1) = geometry.active_x_cm, geometry.active_z_cm
    area_m2 = (x1 - x0) * (z1 - z0) / 1e4
    drift_ticks = (x1 - x0) / geometry.drift_cm_per_tick
    window_s = (geometry.n_ticks + 0.5 * drift_ticks) * TICK_S
    return max(FLUX_HZ_PER_M2 * area_m2 * window_s, MIN_MEAN_COSMICS)


def _energies(rng: np.random.Generator, n: int) -> np.ndarray:
    a, g = SPECTRUM_OFFSET_GEV, 1 - SPECTRUM_INDEX
    lo, hi = (E_MIN_GEV + a) ** g, (E_MAX_GEV + a) ** g
    return (lo + rng.random(n) * (hi - lo)) ** (1 / g) - a


def _lines(geometry: Geometry, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n downward lines that cross the active volume: entry point, direction, chord length."""
    lo = np.array([geometry.active_x_cm[0], geometry.active_y_cm[0], geometry.active_z_cm[0]])
    hi = np.array([geometry.active_x_cm[1], geometry.active_y_cm[1], geometry.active_z_cm[1]])
    height = hi[1] - lo[1]
    entries, dirs, chords = [], [], []
    found = 0
    while found < n:
        m = 4 * (n - found) + 8
        cos_z = rng.random(m) ** 0.25
        sin_z = np.sqrt(1 - cos_z**2)
        phi = rng.uniform(0, 2 * np.pi, m)
        d = np.stack([sin_z * np.cos(phi), -cos_z, sin_z * np.sin(phi)], axis=1)
        # Points on the plane just above the box, over an area wide enough for inclined muons.
        margin = 2.0 * height
        px = rng.uniform(lo[0] - margin, hi[0] + margin, m)
        pz = rng.uniform(lo[2] - margin, hi[2] + margin, m)
        p = np.stack([px, np.full(m, hi[1]), pz], axis=1)
        t_in, t_out = box_chord(p, d, lo, hi)
        hit = t_out - t_in > 1.0
        entries.append(p[hit] + d[hit] * t_in[hit, None])
        dirs.append(d[hit])
        chords.append((t_out - t_in)[hit])
        found += int(hit.sum())
    return np.concatenate(entries)[:n], np.concatenate(dirs)[:n], np.concatenate(chords)[:n]


def cosmics(geometry: Geometry, world: tuple[np.ndarray, np.ndarray], rng: np.random.Generator) -> CosmicSet:
    n = int(rng.poisson(mean_cosmics(geometry)))
    if n == 0:
        return CosmicSet(Deposits.empty(), EmSeeds.empty(), np.zeros((0, 3)), np.zeros(0))
    entry, direction, chord = _lines(geometry, rng, n)
    ke = _energies(rng, n) * 1000.0 - MASS_MEV["mu"]
    ke = np.maximum(ke, 1.0)
    charge = np.where(rng.random(n) < 0.55, -13, 13)  # μ+/μ- ≈ 1.2 at sea level
    # Arrival time: any time at which part of the track lands inside the readout window.
    x_end = entry[:, 0] + direction[:, 0] * chord
    tick_lo = geometry.tick_from_x(np.minimum(entry[:, 0], x_end))
    tick_hi = geometry.tick_from_x(np.maximum(entry[:, 0], x_end))
    t0 = rng.uniform(-tick_hi, geometry.n_ticks - tick_lo)
    tracks = ChargedTracks(charge.astype(np.int64), ke, entry, direction, np.full(n, -1, np.int64), t0)
    deposits, seeds = track_particles(tracks, None, world, rng, max_len=chord, interactions=False)
    return CosmicSet(deposits, seeds, entry, t0)
