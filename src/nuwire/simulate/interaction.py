"""The neutrino interaction's final state and everything it does in the argon.

Final state: the outgoing lepton (CC: e or μ; NC: the neutrino, invisible) plus a hadronic system
carrying the energy transfer y·E: nucleons and a Poisson number of pions whose mean grows with the
energy transfer, with π0s common in NC. Kinetic energy is shared among the hadrons at random;
their directions lean along the momentum transfer.

Then: muons, pions and protons are tracked (pions and protons may interact inelastically, giving
a kink and a secondary proton), stopped μ± and π+ give Michel electrons, muons knock out δ-rays,
electrons and photons (from π0 → γγ) shower.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nuwire.io.h5schema import PARTICLE_CATEGORY
from nuwire.simulate.material import ELECTRON_MASS, MASS_MEV, XI_CONST, max_energy_transfer
from nuwire.simulate.particles import ParticleRegistry
from nuwire.simulate.samples import InteractionTruth
from nuwire.simulate.showers import EmSeeds
from nuwire.simulate.tracks import STEP_CM, Deposits, TrackResult, TrackStart, box_exit_distance, propagate, rotate

MEV = 1000.0
BINDING_MEV = 20.0  # removal energy per knocked-out nucleon
PION_INEL_CM = 90.0  # mean free paths for inelastic interactions
PROTON_INEL_CM = 80.0
MICHEL_MAX_MEV = 52.8
MU_MINUS_DECAY_PROB = 0.25  # the rest are captured by argon nuclei
DELTA_MIN_MEV = 5.0
DELTA_MAX_MEV = 1000.0  # the rare harder knock-ons are left out (their share of the loss is ~1%)

PDG_MASS = {13: MASS_MEV["mu"], 211: MASS_MEV["pi"], 2212: MASS_MEV["p"], 11: ELECTRON_MASS}


@dataclass
class FinalState:
    pdg: np.ndarray  # (n,)
    ke: np.ndarray  # (n,) MeV
    direction: np.ndarray  # (n, 3)


def _iso(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def final_state(truth: InteractionTruth, rng: np.random.Generator) -> FinalState:
    """Outgoing particles of the interaction (the lepton first)."""
    nu_dir = np.asarray(truth.nu_dir)
    lep_dir = rotate(nu_dir[None], np.array([np.arccos(truth.lep_cos)]), np.array([truth.lep_phi]))[0]
    m_lep = PDG_MASS.get(abs(truth.lep_pdg), 0.0)
    lep_ke = truth.lep_energy * MEV - m_lep
    p_lep = np.sqrt(max(lep_ke * (lep_ke + 2 * m_lep), 0.0)) * lep_dir
    q = truth.nu_energy * MEV * nu_dir - p_lep
    q_dir = q / max(np.linalg.norm(q), 1e-9)

    e_had = truth.y * truth.nu_energy * MEV
    antinu = truth.nu_pdg < 0
    # Pions: more with more energy transfer. Charge mix by channel: CC ν mostly π+ (Δ++ → pπ+), NC
    # mostly π0 — about a fifth of NC events then carry a π0, as in the BNB (NCπ0 ≈ 5% of all events).
    n_pi = min(int(rng.poisson(max(0.0, 1.8 * (e_had / MEV - 0.15)))), 4)
    if not truth.is_cc:
        charge_p = (0.55, 0.25, 0.20)  # π0, π+, π-
    elif antinu:
        charge_p = (0.25, 0.20, 0.55)
    else:
        charge_p = (0.25, 0.55, 0.20)
    pions = rng.choice(np.array([111, 211, -211]), size=n_pi, p=charge_p)
    if not truth.is_cc:
        n_p, n_n = rng.poisson(0.9), rng.poisson(0.9)
    elif antinu:
        n_p, n_n = rng.poisson(0.4), 1 + rng.poisson(0.5)
    else:
        n_p, n_n = 1 + rng.poisson(0.5), rng.poisson(0.6)
    # Drop pions the energy transfer cannot pay for.
    while len(pions) and MASS_MEV["pi"] * len(pions) + BINDING_MEV * (n_p + n_n) > e_had:
        pions = pions[:-1]
    hadrons = np.concatenate([pions, np.full(n_p, 2212), np.full(n_n, 2112)]).astype(np.int64)
    budget = max(e_had - MASS_MEV["pi"] * len(pions) - BINDING_MEV * (n_p + n_n), 0.0)
    ke = rng.dirichlet(np.ones(len(hadrons))) * budget if len(hadrons) else np.zeros(0)
    dirs = _iso(rng, len(hadrons)) + q_dir
    dirs /= np.maximum(np.linalg.norm(dirs, axis=1, keepdims=True), 1e-9)
    return FinalState(
        pdg=np.concatenate([[truth.lep_pdg], hadrons]).astype(np.int64),
        ke=np.concatenate([[lep_ke], ke]),
        direction=np.vstack([lep_dir[None], dirs.reshape(-1, 3)]),
    )


def pi0_decay(ke: np.ndarray, direction: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Photon energies (n, 2) and directions (n, 2, 3) of π0 → γγ, isotropic in the π0 frame."""
    m = MASS_MEV["pi0"]
    e_pi = ke + m
    p_pi = np.sqrt(ke * (ke + 2 * m))
    beta = (p_pi / e_pi)[:, None]
    gamma = (e_pi / m)[:, None]
    s = _iso(rng, len(ke)) * (m / 2)
    par = np.sum(s * direction, axis=1, keepdims=True)
    perp = s - par * direction
    p1 = (gamma * (par + beta * m / 2)) * direction + perp
    p2 = p_pi[:, None] * direction - p1
    moms = np.stack([p1, p2], axis=1)
    energies = np.linalg.norm(moms, axis=2)
    return energies, moms / np.maximum(energies[..., None], 1e-9)


def michel_energy(rng: np.random.Generator, n: int) -> np.ndarray:
    """Michel spectrum x²(3 - 2x) up to 52.8 MeV (rejection sampling, vectorised)."""
    out = np.empty(0)
    while len(out) < n:
        x = rng.random(2 * n + 4)
        keep = rng.random(len(x)) < x**2 * (3 - 2 * x)
        out = np.concatenate([out, x[keep]])
    return out[:n] * MICHEL_MAX_MEV


@dataclass
class ChargedTracks:
    """Tracks given to `track_particles`: pdg, kinetic energy, start, direction, owner id."""

    pdg: np.ndarray
    ke: np.ndarray
    start: np.ndarray
    direction: np.ndarray
    g4_id: np.ndarray
    t0: np.ndarray


def track_particles(
    tr: ChargedTracks,
    registry: ParticleRegistry | None,
    world: tuple[np.ndarray, np.ndarray],
    *,
    rng: np.random.Generator,
    max_len: np.ndarray | None = None,
    interactions: bool = True,
    step: float = STEP_CM,
) -> tuple[Deposits, EmSeeds]:
    """Muons, pions, protons: tracks, inelastic kinks with a secondary, Michels and δ-rays.

    `step` is the tracking step (cm); charge sharing between wires makes any step up to a wire
    pitch give the same charge per wire, so long straight tracks may take longer steps.

    Returns the track deposits and the electrons that start showers (Michels, δ-rays), which the
    caller cascades together with every other shower of the event. With `registry` None the
    particles are cosmic overlay: deposits only, owner g4_id -1.

    The random numbers are drawn in a fixed order (interaction lengths, tracking, decays, Michels,
    secondaries, δ-rays), so that a seed gives the same event.
    """
    lo, hi = world
    n = len(tr.ke)
    if n == 0:
        return Deposits.empty(), EmSeeds.empty()
    apdg = np.abs(tr.pdg)
    mass = np.array([PDG_MASS[int(a)] for a in apdg])
    exit_len = box_exit_distance(tr.start, tr.direction, lo=lo, hi=hi) if max_len is None else max_len
    inel_len = _inelastic_lengths(apdg, interactions, rng)
    cut = np.where(apdg == 13, DELTA_MIN_MEV, np.inf)  # muons make their δ-rays as particles (below)
    res = propagate(
        TrackStart(tr.start, tr.direction, tr.ke, tr.g4_id, tr.t0),
        mass=mass,
        max_len=np.minimum(exit_len, inel_len),
        rng=rng,
        step=step,
        delta_cut_mev=cut,
    )
    interacted = ~res.stopped & (inel_len < exit_len)
    # Michel electrons: μ+ always decays, μ- mostly captured; stopped π+ → μ+ → e+ (the 4 MeV μ is ignored).
    mu_minus_decays = (tr.pdg == 13) & (rng.random(n) < MU_MINUS_DECAY_PROB)
    decays = res.stopped & ((tr.pdg == -13) | mu_minus_decays | (tr.pdg == 211))
    if registry is not None:
        registry.set_end(tr.g4_id, res.end_pos, _end_processes(tr.pdg, res, decays, interacted=interacted))

    parts, seeds = [res.deposits], []
    if decays.any():
        seeds.append(_michels(tr, res, decays, registry=registry, rng=rng))
    if interacted.any():
        sec_dep, sec_seeds = _inelastic_secondaries(tr, res, interacted, registry=registry, world=world, rng=rng)
        parts.append(sec_dep)
        seeds.append(sec_seeds)
    mu = np.flatnonzero(apdg == 13)
    if len(mu):
        seeds.append(_delta_rays(tr, mu, res, registry=registry, rng=rng))
    return Deposits.concat(parts), EmSeeds.concat(seeds)


def _inelastic_lengths(apdg: np.ndarray, interactions: bool, rng: np.random.Generator) -> np.ndarray:
    """Distance to each particle's inelastic interaction (cm): pions and protons only; inf otherwise."""
    inel_len = np.full(len(apdg), np.inf)
    if interactions:
        is_pi, is_p = apdg == 211, apdg == 2212
        inel_len[is_pi] = rng.exponential(PION_INEL_CM, int(is_pi.sum()))
        inel_len[is_p] = rng.exponential(PROTON_INEL_CM, int(is_p.sum()))
    return inel_len


def _end_processes(pdg: np.ndarray, res: TrackResult, decays: np.ndarray, *, interacted: np.ndarray) -> np.ndarray:
    """The Geant4 name of the process that ended each track, as the particle table records it."""
    apdg = np.abs(pdg)
    process = np.full(len(pdg), "CoupledTransportation", dtype=object)
    stopped_mu = res.stopped & (apdg == 13)
    process[stopped_mu] = np.where(decays[stopped_mu], "Decay", "muMinusCaptureAtRest")
    stopped_pi = res.stopped & (apdg == 211)
    process[stopped_pi] = np.where(pdg[stopped_pi] > 0, "Decay", "hBertiniCaptureAtRest")
    process[res.stopped & (apdg == 2212)] = "hIoni"
    process[interacted] = np.array([f"{_g4_name(int(p))}Inelastic" for p in pdg[interacted]], dtype=object)
    return process


def _michels(
    tr: ChargedTracks,
    res: TrackResult,
    decays: np.ndarray,
    *,
    registry: ParticleRegistry | None,
    rng: np.random.Generator,
) -> EmSeeds:
    """The decay electrons of the tracks that stopped and decayed, isotropic from their end points."""
    k = int(decays.sum())
    e = michel_energy(rng, k)
    d = _iso(rng, k)
    pdg = np.where(tr.pdg[decays] == 13, 11, -11)  # μ- gives e-, μ+ and π+ give e+
    michel = PARTICLE_CATEGORY["michel"]
    momentum = _momentum_gev(e, ELECTRON_MASS)
    owner = _register(
        registry, pdg, tr.g4_id[decays], start=res.end_pos[decays], momentum=momentum, process="Decay", category=michel
    )
    return EmSeeds(np.ones(k, bool), e, res.end_pos[decays], d, owner, tr.t0[decays])


def _inelastic_secondaries(
    tr: ChargedTracks,
    res: TrackResult,
    interacted: np.ndarray,
    *,
    registry: ParticleRegistry | None,
    world: tuple[np.ndarray, np.ndarray],
    rng: np.random.Generator,
) -> tuple[Deposits, EmSeeds]:
    """Inelastic interactions: a secondary proton and, half the time, the pion carrying on with a kink.

    The secondaries are tracked without further interactions."""
    idx = np.flatnonzero(interacted)
    left = res.end_ke[idx]
    p_ke = left * rng.uniform(0.1, 0.5, len(idx))
    has_p = p_ke > 15.0
    kink = (np.abs(tr.pdg[idx]) == 211) & (rng.random(len(idx)) < 0.5) & (left - p_ke > 20.0)
    src = np.concatenate([idx[has_p], idx[kink]])
    if not len(src):
        return Deposits.empty(), EmSeeds.empty()
    s_pdg = np.concatenate([np.full(int(has_p.sum()), 2212), tr.pdg[idx[kink]]]).astype(np.int64)
    s_ke = np.concatenate([p_ke[has_p], (left - p_ke)[kink] * rng.uniform(0.3, 0.8, int(kink.sum()))])
    n_kink = int(kink.sum())
    kinked = rotate(res.end_dir[idx[kink]], rng.uniform(0.3, 1.2, n_kink), rng.uniform(0, 2 * np.pi, n_kink))
    s_dir = np.vstack([_iso(rng, int(has_p.sum())), kinked])
    s_mass = np.array([PDG_MASS[int(a)] for a in np.abs(s_pdg)])
    process = np.array([f"{_g4_name(int(p))}Inelastic" for p in tr.pdg[src]], dtype=object)
    momentum = _momentum_gev(s_ke, s_mass)
    owner = _register(
        registry, s_pdg, tr.g4_id[src], start=res.end_pos[src], momentum=momentum, process=process, category=None
    )
    sec = ChargedTracks(s_pdg, s_ke, res.end_pos[src], s_dir, owner, tr.t0[src])
    return track_particles(sec, registry, world, rng=rng, interactions=False)


def _g4_name(pdg: int) -> str:
    return {211: "pi+", -211: "pi-", 2212: "proton", 13: "mu-", -13: "mu+"}.get(pdg, "hadron")


def _momentum_gev(ke: np.ndarray, mass: float | np.ndarray) -> np.ndarray:
    """Momentum (GeV/c) of particles of kinetic energy `ke` and mass `mass` (MeV)."""
    return np.sqrt(np.maximum(ke * (ke + 2 * np.asarray(mass)), 0.0)) / MEV


def _register(
    registry: ParticleRegistry | None,
    pdg: np.ndarray,
    parent: np.ndarray,
    *,
    start: np.ndarray,
    momentum: np.ndarray,
    process: str | np.ndarray,
    category: int | None,
) -> np.ndarray:
    """Add particle rows (returns their ids) or, for cosmic overlay, return owner -1."""
    k = len(pdg)
    if registry is None:
        return np.full(k, -1, np.int64)
    cat = None if category is None else np.full(k, category, np.int32)
    return registry.add(pdg, parent, start, momentum_gev=momentum, start_process=process, category=cat)


def _delta_rays(
    tr: ChargedTracks,
    mu: np.ndarray,
    res: TrackResult,
    *,
    registry: ParticleRegistry | None,
    rng: np.random.Generator,
) -> EmSeeds:
    """Knock-on electrons above DELTA_MIN_MEV along muons: per step, a Poisson number with the 1/T²
    spectrum up to the kinematic limit. Their energy is the share `propagate` left out of the
    muon's own deposits (delta_cut_mev), so it is taken from the track, not added on top."""
    dep = res.deposits
    on_mu = np.flatnonzero(np.isin(res.step_track, mu))
    if len(on_mu) == 0:
        return EmSeeds.empty()
    ke = res.step_ke[on_mu]
    gamma = 1 + ke / MASS_MEV["mu"]
    beta2 = np.clip(1 - 1 / gamma**2, 1e-6, 1.0)
    t_up = np.minimum(max_energy_transfer(ke, MASS_MEV["mu"]), DELTA_MAX_MEV)
    rate = XI_CONST * dep.dx[on_mu] / beta2 * np.clip(1 / DELTA_MIN_MEV - 1 / t_up, 0.0, None)
    counts = rng.poisson(rate)
    total = int(counts.sum())
    if total == 0:
        return EmSeeds.empty()
    step = np.repeat(on_mu, counts)
    which = res.step_track[step]
    hi_inv = 1 / np.repeat(t_up, counts)
    t = 1 / (1 / DELTA_MIN_MEV - rng.random(total) * (1 / DELTA_MIN_MEV - hi_inv))
    cos_t = np.sqrt(t / (t + 2 * ELECTRON_MASS))
    mu_dir = dep.step[step] / np.maximum(np.linalg.norm(dep.step[step], axis=1, keepdims=True), 1e-12)
    d = rotate(mu_dir, np.arccos(np.clip(cos_t, -1, 1)), rng.uniform(0, 2 * np.pi, total))
    pos = dep.pos[step]
    delta = PARTICLE_CATEGORY["delta"]
    momentum = _momentum_gev(t, ELECTRON_MASS)
    owner = _register(
        registry, np.full(total, 11), tr.g4_id[which], start=pos, momentum=momentum, process="muIoni", category=delta
    )
    return EmSeeds(np.ones(total, bool), t, pos, d, owner, tr.t0[which])
