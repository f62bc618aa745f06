"""Electromagnetic showers: a stochastic bremsstrahlung / pair-production / Compton cascade.

Each pass of the loop advances every live particle by one interaction, vectorised over particles:
- an electron above the critical energy travels an exponential distance (mean BREM_STEP_CM), ionising
  at the minimum-ionising rate, then radiates a photon with a 1/k-like energy fraction and scatters;
- a photon travels an exponential distance without depositing (the gaps that make showers look
  "broken") and then pair-converts (above PAIR_MEV) or Compton-scatters;
- an electron below the critical energy ranges out as a multiply-scattered track.
The shower therefore develops over a few radiation lengths, widens with depth (low-energy daughters
scatter more), and its length grows with log(energy). As in MicroBooNE's simulation, shower
daughters get no particle rows of their own: their deposits belong to the shower's primary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

import numpy as np

from nuwire.simulate.material import CRITICAL_ENERGY_MEV, ELECTRON_MASS, MIP_DEDX, X0_CM
from nuwire.simulate.particles import ParticleRegistry
from nuwire.simulate.tracks import Deposits, TrackStart, propagate, rotate, straight_deposits

# Mean distance between bremsstrahlung emissions: with the log-uniform photon fraction below, the
# mean fraction radiated per emission is (1 - K_MIN)/ln(1/K_MIN), so this gives dE/E = dx/X0.
# Photons down to a few per mille of the electron's energy: the soft ones are what widen a shower
# towards its Molière radius (~9 cm in argon).
K_MIN = 0.003
BREM_STEP_CM = X0_CM * (1 - K_MIN) / np.log(1 / K_MIN)
PAIR_LENGTH_CM = 9.0 / 7.0 * X0_CM
PAIR_MEV = 10.0
PHOTOABSORB_MEV = 0.5  # below this a photon ends at its next interaction, as one blip
MAX_PASSES = 200


def compton_length_cm(energy_mev: np.ndarray) -> np.ndarray:
    """Photon attenuation length in argon between 0.1 and 10 MeV (fit to NIST XCOM)."""
    return 11.6 * np.power(np.maximum(energy_mev, 0.05), 0.4)


@dataclass
class EmSeeds:
    """Electrons (kinetic energy) and photons that start showers: collected per event, cascaded once."""

    is_electron: np.ndarray
    energy: np.ndarray  # MeV
    pos: np.ndarray  # (n, 3)
    direction: np.ndarray  # (n, 3)
    g4_id: np.ndarray  # registered primary, or -1 for cosmic overlay
    t0: np.ndarray

    @staticmethod
    def empty() -> EmSeeds:
        z = np.zeros(0)
        return EmSeeds(z.astype(bool), z, np.zeros((0, 3)), np.zeros((0, 3)), z.astype(np.int64), z)

    @staticmethod
    def concat(parts: list[EmSeeds]) -> EmSeeds:
        parts = [p for p in parts if len(p.energy)] or [EmSeeds.empty()]
        return EmSeeds(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(EmSeeds)))


@dataclass
class _Live:
    """Struct of arrays of the particles still in the cascade."""

    is_e: np.ndarray
    energy: np.ndarray
    pos: np.ndarray
    dir: np.ndarray
    owner: np.ndarray
    t0: np.ndarray
    primary: np.ndarray  # True while this is the registered primary itself (not a daughter)

    def take(self, sel: np.ndarray) -> _Live:
        return _Live(*(getattr(self, f.name)[sel] for f in fields(_Live)))

    @staticmethod
    def cat(parts: list[_Live]) -> _Live:
        return _Live(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(_Live)))

    def __len__(self) -> int:
        return len(self.energy)


# One function per process. Each draws its random numbers in a fixed order and appends the
# particles it makes to `parts`; shower() calls them in a fixed order, so an event is reproducible.


def _bremsstrahlung(hi: _Live, rng: np.random.Generator, parts: list[_Live]) -> tuple[np.ndarray, ...]:
    """High-energy electrons: ionise along a straight step, then radiate a photon and scatter.
    Returns the ionising step (start, direction, length, owner, t0, energy) for the deposits."""
    m = len(hi)
    step = np.minimum(rng.exponential(BREM_STEP_CM, m), 0.5 * hi.energy / MIP_DEDX)
    segment = (hi.pos.copy(), hi.dir.copy(), step, hi.owner, hi.t0, hi.energy)
    e_after = hi.energy - MIP_DEDX * step
    k = np.exp(rng.random(m) * np.log(K_MIN))
    e_gamma = k * e_after
    new_pos = hi.pos + hi.dir * step[:, None]
    # Space angle of a 2-D Gaussian of plane width θ0: Rayleigh, not θ0·|N|.
    theta_ms = rng.rayleigh(13.6 / e_after * np.sqrt(step / X0_CM))
    theta_g = ELECTRON_MASS / np.maximum(e_after, 1.0) * np.abs(rng.standard_normal(m))
    g_dir = rotate(hi.dir, theta_g, rng.uniform(0, 2 * np.pi, m))
    e_dir = rotate(hi.dir, theta_ms, rng.uniform(0, 2 * np.pi, m))
    parts.append(_Live(np.ones(m, bool), e_after - e_gamma, new_pos, e_dir, hi.owner, hi.t0, hi.primary))
    keep = e_gamma > PHOTOABSORB_MEV
    photons = _Live(np.zeros(m, bool), e_gamma, new_pos, g_dir, hi.owner, hi.t0, np.zeros(m, bool))
    parts.append(photons.take(keep))
    return segment


def _pair_production(pp: _Live, rng: np.random.Generator, parts: list[_Live]) -> None:
    """e- and e+ share the photon energy above threshold, nearly collinear."""
    q = len(pp)
    avail = pp.energy - 2 * ELECTRON_MASS
    u = rng.random(q)
    phi = rng.uniform(0, 2 * np.pi, q)
    for frac, dphi in ((u, 0.0), (1 - u, np.pi)):
        e = np.maximum(frac * avail, 0.0)
        theta = ELECTRON_MASS / np.maximum(e + ELECTRON_MASS, 1.0) * np.abs(rng.standard_normal(q))
        d = rotate(pp.dir, theta, phi + dphi)
        parts.append(_Live(np.ones(q, bool), e, pp.pos, d, pp.owner, pp.t0, np.zeros(q, bool)))


def _compton(cc: _Live, rng: np.random.Generator, parts: list[_Live]) -> None:
    """Compton scattering: electron energy uniform up to the Compton edge; the photon goes on."""
    q = len(cc)
    eps_min = 1.0 / (1.0 + 2.0 * cc.energy / ELECTRON_MASS)
    eps = eps_min + (1 - eps_min) * rng.random(q)
    e_out = eps * cc.energy
    cos_g = np.clip(1 - ELECTRON_MASS / e_out + ELECTRON_MASS / cc.energy, -1, 1)
    g_dir = rotate(cc.dir, np.arccos(cos_g), rng.uniform(0, 2 * np.pi, q))
    p_e = cc.dir * cc.energy[:, None] - g_dir * e_out[:, None]
    e_dir = p_e / np.maximum(np.linalg.norm(p_e, axis=1, keepdims=True), 1e-12)
    e_e = cc.energy - e_out
    parts.append(_Live(np.ones(q, bool), e_e, cc.pos, e_dir, cc.owner, cc.t0, np.zeros(q, bool)))
    parts.append(_Live(np.zeros(q, bool), e_out, cc.pos, g_dir, cc.owner, cc.t0, np.zeros(q, bool)))


def _photoabsorption(ab: _Live) -> Deposits:
    """Photons at or below the absorption energy: a point deposit where they stop."""
    point = np.zeros((len(ab), 3))
    return Deposits(ab.pos, ab.energy, np.full(len(ab), 0.05), ab.owner, ab.t0, point)


def shower(
    seeds: EmSeeds,
    registry: ParticleRegistry | None,
    *,
    world_lo: np.ndarray,
    world_hi: np.ndarray,
    rng: np.random.Generator,
) -> Deposits:
    """Develop showers from all seeds of an event at once; return their deposits.

    Particles leaving the box [world_lo, world_hi] are dropped (their energy escapes the detector).
    End points and end processes of registered primaries (g4_id > 0) are recorded in `registry`.
    """
    n = len(seeds.energy)
    owner = np.asarray(seeds.g4_id, np.int64)
    live = _Live(
        np.asarray(seeds.is_electron, bool),
        np.asarray(seeds.energy, np.float64),
        np.asarray(seeds.pos, np.float64).reshape(n, 3),
        np.asarray(seeds.direction, np.float64).reshape(n, 3),
        owner,
        np.asarray(seeds.t0, np.float64),
        owner > 0,
    )
    segments: list[tuple[np.ndarray, ...]] = []
    blips: list[Deposits] = []
    final: list[_Live] = []

    def end_primary(sub: _Live, where: np.ndarray, process: str) -> None:
        if registry is not None and sub.primary.any():
            registry.set_end(sub.owner[sub.primary], where[sub.primary], process)

    for _ in range(MAX_PASSES):
        if len(live) == 0:
            break
        inside = np.all((live.pos >= world_lo) & (live.pos <= world_hi), axis=1)
        end_primary(live.take(~inside), live.pos[~inside], "CoupledTransportation")
        live = live.take(inside)
        parts: list[_Live] = []

        # Low-energy electrons: collected, ranged out in one propagate() call at the end.
        low = live.is_e & (live.energy <= CRITICAL_ENERGY_MEV)
        final.append(live.take(low))

        # High-energy electrons: ionise along a straight step, then radiate and scatter.
        hi = live.take(live.is_e & (live.energy > CRITICAL_ENERGY_MEV))
        if len(hi):
            segments.append(_bremsstrahlung(hi, rng, parts))

        # Photons: fly without depositing, then convert, Compton-scatter or be absorbed.
        ph = live.take(~live.is_e)
        if len(ph):
            _photon_step(ph, rng, parts=parts, blips=blips, end_primary=end_primary)
        live = _Live.cat(parts) if parts else live.take(np.zeros(len(live), bool))

    deposits = [_segment_deposits(segments, rng)]
    last = _Live.cat(final) if final else None
    if last is not None and len(last):
        no_limit = np.full(len(last), 1e3)
        start = TrackStart(last.pos, last.dir, last.energy, last.owner, last.t0)
        res = propagate(start, mass=ELECTRON_MASS, max_len=no_limit, rng=rng)
        deposits.append(res.deposits)
        end_primary(last, res.end_pos, "eIoni")
    return Deposits.concat(deposits + blips)


def _photon_step(
    ph: _Live,
    rng: np.random.Generator,
    *,
    parts: list[_Live],
    blips: list[Deposits],
    end_primary: Callable[[_Live, np.ndarray, str], None],
) -> None:
    """Move photons to their next interaction and hand each to its process: pair production
    (daughters into `parts`), Compton scattering (into `parts`) or photoabsorption (a blip)."""
    pair = ph.energy > PAIR_MEV
    mean = np.where(pair, PAIR_LENGTH_CM, compton_length_cm(ph.energy))
    dist = rng.exponential(mean)
    absorbed = ph.energy <= PHOTOABSORB_MEV
    ph.pos = ph.pos + ph.dir * dist[:, None]
    pp, cc, ab = ph.take(pair), ph.take(~pair & ~absorbed), ph.take(absorbed)
    # Every end point is recorded before any process runs, in this order (the registry's row order).
    for sub, process in ((pp, "conv"), (cc, "compt"), (ab, "phot")):
        end_primary(sub, sub.pos, process)
    if len(pp):
        _pair_production(pp, rng, parts)
    if len(cc):
        _compton(cc, rng, parts)
    if len(ab):
        blips.append(_photoabsorption(ab))


def _segment_deposits(segments: list[tuple[np.ndarray, ...]], rng: np.random.Generator) -> Deposits:
    """The ionisation of every high-energy electron step of the event, in one vectorised call."""
    if not segments:
        return Deposits.empty()
    columns = [np.concatenate([s[i] for s in segments]) for i in range(6)]
    start, direction, length, owner, t0, ke = columns  # as _bremsstrahlung returns them
    return straight_deposits(TrackStart(start, direction, ke, owner, t0), length=length, dedx=MIP_DEDX, rng=rng)
