"""Cosmic-ray muons overlaid on every readout, as in MicroBooNE (a surface detector).

Muons arrive with the sea-level zenith distribution (intensity ∝ cos²θ, so ∝ cos³θ through a
horizontal plane) and a momentum spectrum ∝ (E + 2.5 GeV)^-2.7, uniformly in time. They are drawn on
a horizontal plane above the detector that is wide enough for inclined muons to reach every face
(top, sides, ends), over a time span covering every arrival whose charge can reach the readout
window; the muons whose line crosses the active volume and whose charge lands, at least partly,
inside the window are kept. So the rate is the flux through all faces, and a muon that crossed
before or after the trigger appears displaced in tick and cut by the window's time edges. Stopping
muons give Michel electrons, every muon knocks out δ-rays (through the same code as neutrino
muons), and energetic ones now and then radiate a photon that showers. Cosmics are real-data
overlay in the OpenSamples, so they have no particle rows (their deposits carry owner -1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nuwire.geometry import Geometry
from nuwire.simulate.interaction import ChargedTracks, track_particles
from nuwire.simulate.material import MASS_MEV
from nuwire.simulate.showers import EmSeeds
from nuwire.simulate.tracks import Deposits, box_chord

FLUX_HZ_PER_M2 = 167.0  # muons through a horizontal surface at sea level: ~1 per cm² per minute
TICK_S = 0.5e-6
MIN_MEAN_COSMICS = 10.0  # small test detectors still get a cosmic-dominated readout
COSMIC_STEP_CM = 0.3  # one wire pitch: cosmic muons are most of the charge, and twice the step halves its cost
MARGIN_HEIGHTS = 2.0  # the generation plane extends this many detector heights beyond each side
# Radiative losses of a muon in argon, b·E per cm (bremsstrahlung and pair production): photons
# above RADIATE_MIN_MEV with a 1/k spectrum, b·ln(E/k_min) of them per cm.
RADIATIVE_B_PER_CM = 1.0e-5
RADIATE_MIN_MEV = 30.0
# The soft component of air showers that reaches a surface detector: electrons and photons above
# SOFT_MIN_MEV through the top face, spectrum ∝ E^-2; each showers near where it enters.
SOFT_EM_HZ_PER_M2 = 60.0
SOFT_MIN_MEV, SOFT_MAX_MEV = 20.0, 2000.0
# ³⁹Ar in atmospheric argon: 1 Bq/kg of β decays (end point 565 keV), a blip each, all over the volume;
# and MeV Compton electrons of γs from cosmic neutrons (captures, inelastic scatters) and the
# cryostat's radioactivity, a similar number with a falling spectrum up to several MeV.
AR39_BQ_PER_KG = 1.0
AR39_ENDPOINT_MEV = 0.565
GAMMA_BLIPS_PER_KG_S = 1.0
GAMMA_MEAN_MEV, GAMMA_MAX_MEV = 1.2, 8.0
DENSITY_KG_PER_CM3 = 1.396e-3
SPECTRUM_OFFSET_GEV = 2.5
SPECTRUM_INDEX = 2.7
E_MIN_GEV, E_MAX_GEV = 0.2, 1000.0


@dataclass
class CosmicSet:
    deposits: Deposits
    seeds: EmSeeds  # Michel electrons and δ-rays, showered with the rest of the event
    entry: np.ndarray  # (n, 3) where each muon enters the active volume
    t0: np.ndarray  # (n,) ticks


def _generation_plane(geometry: Geometry) -> tuple[np.ndarray, np.ndarray]:
    """Corners (x, z) of the horizontal plane above the box on which muon lines are drawn."""
    lo = np.array([geometry.active_x_cm[0], geometry.active_z_cm[0]])
    hi = np.array([geometry.active_x_cm[1], geometry.active_z_cm[1]])
    margin = MARGIN_HEIGHTS * (geometry.active_y_cm[1] - geometry.active_y_cm[0])
    return lo - margin, hi + margin


def _time_span(geometry: Geometry) -> tuple[float, float]:
    """Arrival ticks (relative to the trigger) whose charge may reach the window [0, n_ticks)."""
    x0, x1 = geometry.active_x_cm
    return float(-geometry.tick_from_x(x1)), float(geometry.n_ticks - geometry.tick_from_x(x0))


def mean_candidates(geometry: Geometry) -> float:
    """Expected muons through the generation plane during the time span (most miss the box)."""
    (a0, b0), (a1, b1) = _generation_plane(geometry)
    area_m2 = (a1 - a0) * (b1 - b0) / 1e4
    t_lo, t_hi = _time_span(geometry)
    return FLUX_HZ_PER_M2 * area_m2 * (t_hi - t_lo) * TICK_S


def _energies(rng: np.random.Generator, n: int) -> np.ndarray:
    a, g = SPECTRUM_OFFSET_GEV, 1 - SPECTRUM_INDEX
    lo, hi = (E_MIN_GEV + a) ** g, (E_MAX_GEV + a) ** g
    return (lo + rng.random(n) * (hi - lo)) ** (1 / g) - a


def _lines(
    geometry: Geometry, rng: np.random.Generator, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """n muon lines from the generation plane: entry point, direction, chord, and which cross the box."""
    lo = np.array([geometry.active_x_cm[0], geometry.active_y_cm[0], geometry.active_z_cm[0]])
    hi = np.array([geometry.active_x_cm[1], geometry.active_y_cm[1], geometry.active_z_cm[1]])
    cos_z = rng.random(n) ** 0.25
    sin_z = np.sqrt(1 - cos_z**2)
    phi = rng.uniform(0, 2 * np.pi, n)
    d = np.stack([sin_z * np.cos(phi), -cos_z, sin_z * np.sin(phi)], axis=1)
    (a0, b0), (a1, b1) = _generation_plane(geometry)
    p = np.stack([rng.uniform(a0, a1, n), np.full(n, hi[1]), rng.uniform(b0, b1, n)], axis=1)
    t_in, t_out = box_chord(p, d, lo=lo, hi=hi)
    t_in = np.maximum(t_in, 0.0)
    hit = t_out - t_in > 1.0
    return p + d * t_in[:, None], d, np.maximum(t_out - t_in, 0.0), hit


def _radiated_photons(tracks: ChargedTracks, chord: np.ndarray, rng: np.random.Generator) -> EmSeeds:
    """Now and then an energetic muon radiates a hard photon somewhere along its chord: a cosmic shower."""
    e = tracks.ke + MASS_MEV["mu"]
    mean = RADIATIVE_B_PER_CM * chord * np.log(np.maximum(e / RADIATE_MIN_MEV, 1.0))
    k = rng.poisson(mean)
    total = int(k.sum())
    if total == 0:
        return EmSeeds.empty()
    which = np.repeat(np.arange(len(e)), k)
    energy = RADIATE_MIN_MEV * (e[which] / RADIATE_MIN_MEV) ** rng.random(total)  # 1/k spectrum
    energy = np.minimum(energy, 0.5 * tracks.ke[which])
    where = tracks.start[which] + tracks.direction[which] * (rng.random(total) * chord[which])[:, None]
    owner = np.full(total, -1, np.int64)
    return EmSeeds(np.zeros(total, bool), energy, where, tracks.direction[which], owner, tracks.t0[which])


def _soft_em(geometry: Geometry, rng: np.random.Generator) -> EmSeeds:
    """Electrons and photons of air showers entering through the top face during the time span."""
    (x0, x1), (z0, z1) = geometry.active_x_cm, geometry.active_z_cm
    t_lo, t_hi = _time_span(geometry)
    area_m2 = (x1 - x0) * (z1 - z0) / 1e4
    n = int(rng.poisson(SOFT_EM_HZ_PER_M2 * area_m2 * (t_hi - t_lo) * TICK_S))
    if n == 0:
        return EmSeeds.empty()
    u = rng.random(n)
    energy = 1 / (1 / SOFT_MIN_MEV - u * (1 / SOFT_MIN_MEV - 1 / SOFT_MAX_MEV))
    cos_z = rng.random(n) ** 0.25
    sin_z = np.sqrt(1 - cos_z**2)
    phi = rng.uniform(0, 2 * np.pi, n)
    d = np.stack([sin_z * np.cos(phi), -cos_z, sin_z * np.sin(phi)], axis=1)
    pos = np.stack([rng.uniform(x0, x1, n), np.full(n, geometry.active_y_cm[1]), rng.uniform(z0, z1, n)], axis=1)
    return EmSeeds(rng.random(n) < 0.5, energy, pos, d, np.full(n, -1, np.int64), rng.uniform(t_lo, t_hi, n))


def radiological_blips(geometry: Geometry, rng: np.random.Generator) -> Deposits:
    """³⁹Ar β decays and MeV γ Compton electrons: point-like deposits uniform in volume and time span."""
    lo = np.array([geometry.active_x_cm[0], geometry.active_y_cm[0], geometry.active_z_cm[0]])
    hi = np.array([geometry.active_x_cm[1], geometry.active_y_cm[1], geometry.active_z_cm[1]])
    mass_kg = float(np.prod(hi - lo)) * DENSITY_KG_PER_CM3
    t_lo, t_hi = _time_span(geometry)
    exposure = mass_kg * (t_hi - t_lo) * TICK_S
    n_beta = int(rng.poisson(AR39_BQ_PER_KG * exposure))
    n_gamma = int(rng.poisson(GAMMA_BLIPS_PER_KG_S * exposure))
    n = n_beta + n_gamma
    pos = lo + rng.random((n, 3)) * (hi - lo)
    beta = AR39_ENDPOINT_MEV * rng.beta(1.6, 2.5, n_beta)  # mean ≈ 0.22 MeV, like the β spectrum
    gamma = np.minimum(rng.exponential(GAMMA_MEAN_MEV, n_gamma) + 0.1, GAMMA_MAX_MEV)
    energy = np.concatenate([beta, gamma])
    # A Compton electron of a few MeV runs ~1 cm: spread as a step of its range in a random direction.
    direction = rng.standard_normal((n, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    length = np.maximum(energy / 2.1, 0.05)
    owner, t0 = np.full(n, -1, np.int64), rng.uniform(t_lo, t_hi, n)
    return Deposits(pos, energy, length, owner, t0, direction * length[:, None])


def cosmics(geometry: Geometry, world: tuple[np.ndarray, np.ndarray], rng: np.random.Generator) -> CosmicSet:
    n_try = int(rng.poisson(mean_candidates(geometry)))
    entry, direction, chord, hit = _lines(geometry, rng, n_try)
    t_lo, t_hi = _time_span(geometry)
    t0 = rng.uniform(t_lo, t_hi, n_try)
    # Keep muons whose charge reaches the window: ticks of the chord's x-range, shifted by t0.
    x_end = entry[:, 0] + direction[:, 0] * chord
    tick_lo = geometry.tick_from_x(np.minimum(entry[:, 0], x_end)) + t0
    tick_hi = geometry.tick_from_x(np.maximum(entry[:, 0], x_end)) + t0
    seen = hit & (tick_hi > 0) & (tick_lo < geometry.n_ticks)
    entry, direction, chord, t0 = entry[seen], direction[seen], chord[seen], t0[seen]
    # Tiny test detectors: top up with muons anywhere in the window, so cosmics still dominate.
    short = int(rng.poisson(MIN_MEAN_COSMICS)) - len(t0) if mean_candidates(geometry) < 50 else 0
    if short > 0:
        e2, d2, c2, h2 = _lines(geometry, rng, 40 * short)
        e2, d2, c2 = e2[h2][:short], d2[h2][:short], c2[h2][:short]
        x2 = e2[:, 0] + d2[:, 0] * c2
        lo2, hi2 = geometry.tick_from_x(np.minimum(e2[:, 0], x2)), geometry.tick_from_x(np.maximum(e2[:, 0], x2))
        t2 = rng.uniform(-hi2, geometry.n_ticks - lo2)
        entry, direction = np.vstack([entry, e2]), np.vstack([direction, d2])
        chord, t0 = np.concatenate([chord, c2]), np.concatenate([t0, t2])
    n = len(t0)
    if n == 0:
        return CosmicSet(radiological_blips(geometry, rng), _soft_em(geometry, rng), np.zeros((0, 3)), np.zeros(0))
    ke = _energies(rng, n) * 1000.0 - MASS_MEV["mu"]
    ke = np.maximum(ke, 1.0)
    charge = np.where(rng.random(n) < 0.55, -13, 13)  # μ+/μ- ≈ 1.2 at sea level
    tracks = ChargedTracks(charge.astype(np.int64), ke, entry, direction, np.full(n, -1, np.int64), t0)
    deposits, seeds = track_particles(
        tracks, None, world, rng=rng, max_len=chord, interactions=False, step=COSMIC_STEP_CM
    )
    seeds = EmSeeds.concat([seeds, _radiated_photons(tracks, chord, rng), _soft_em(geometry, rng)])
    deposits = Deposits.concat([deposits, radiological_blips(geometry, rng)])
    return CosmicSet(deposits, seeds, entry, t0)
