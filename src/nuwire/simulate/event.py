"""One simulated readout: the neutrino interaction, the cosmic overlay, the wires and all tables."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from nuwire.geometry import Geometry
from nuwire.io.h5schema import PARTICLE_CATEGORY
from nuwire.simulate.channels import channel_status, run_period
from nuwire.simulate.cosmics import cosmics
from nuwire.simulate.detector import active_box, project
from nuwire.simulate.hits import find_hits, hit_tables
from nuwire.simulate.interaction import MEV, ChargedTracks, final_state, pi0_decay, track_particles
from nuwire.simulate.material import ELECTRON_MASS, MASS_MEV
from nuwire.simulate.pandora import leading_daughter_is_em
from nuwire.simulate.particles import ParticleRegistry
from nuwire.simulate.readout import waveforms
from nuwire.simulate.samples import PHYSICS_STREAM, InteractionTruth, event_key, event_rng, event_truth
from nuwire.simulate.showers import EmSeeds, shower
from nuwire.simulate.tracks import Deposits, box_exit_distance
from nuwire.simulate.truth import PRONG_MIN_MEV, Topology, event_table_row, pandora_rows

WORLD_MARGIN_CM = 30.0  # particles are followed this far beyond the active volume, then dropped
TRACKED = (13, 211, 2212)
INVISIBLE = (12, 14, 2112)
PRIMARY_MASS = {
    11: ELECTRON_MASS,
    13: MASS_MEV["mu"],
    211: MASS_MEV["pi"],
    111: MASS_MEV["pi0"],
    2212: MASS_MEV["p"],
    2112: MASS_MEV["n"],
}

Rows = dict[str, dict[str, np.ndarray]]


@dataclass
class EventSummary:
    n_particles: int
    n_cosmics: int
    nu_visible_mev: float
    cosmic_visible_mev: float
    n_hits: int


def world_box(geometry: Geometry) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = active_box(geometry)
    return lo - WORLD_MARGIN_CM, hi + WORLD_MARGIN_CM


def neutrino_deposits(
    truth: InteractionTruth, registry: ParticleRegistry, geometry: Geometry, *, rng: np.random.Generator
) -> tuple[Deposits, EmSeeds]:
    """Register the final state and follow its tracks; return their deposits and the shower seeds."""
    world = world_box(geometry)
    fs = final_state(truth, rng)
    n = len(fs.pdg)
    vtx = np.broadcast_to(np.asarray(truth.vertex, np.float64), (n, 3))
    apdg = np.abs(fs.pdg)
    mass = np.array([PRIMARY_MASS.get(int(a), 0.0) for a in apdg])
    momentum = np.sqrt(np.maximum(fs.ke * (fs.ke + 2 * mass), 0.0)) / MEV
    invisible = np.isin(apdg, INVISIBLE)
    own_instance = registry.n + 1 + np.arange(n)
    ids = registry.add(
        fs.pdg, 0, vtx, momentum_gev=momentum, start_process="primary", instance=np.where(invisible, -1, own_instance)
    )
    t0 = np.full(n, truth.beam_t0)
    parts: list[Deposits] = []
    seeds: list[EmSeeds] = []

    if invisible.any():
        d = fs.direction[invisible]
        leave = vtx[invisible] + d * box_exit_distance(vtx[invisible], d, lo=world[0], hi=world[1])[:, None]
        registry.set_end(ids[invisible], leave, "CoupledTransportation")
    tracked = np.isin(apdg, TRACKED)
    if tracked.any():
        tr = ChargedTracks(
            fs.pdg[tracked], fs.ke[tracked], vtx[tracked], fs.direction[tracked], ids[tracked], t0[tracked]
        )
        dep, sd = track_particles(tr, registry, world, rng=rng)
        parts.append(dep)
        seeds.append(sd)
    em = apdg == 11
    if em.any():
        seeds.append(EmSeeds(np.ones(int(em.sum()), bool), fs.ke[em], vtx[em], fs.direction[em], ids[em], t0[em]))
    pi0 = apdg == 111
    if pi0.any():
        registry.set_end(ids[pi0], vtx[pi0], "Decay")
        energies, dirs = pi0_decay(fs.ke[pi0], fs.direction[pi0], rng)
        k = 2 * int(pi0.sum())
        start = np.repeat(vtx[pi0], 2, axis=0)
        e = energies.ravel()
        # Each photon is its own instance: two showers, not one.
        g_ids = registry.add(
            np.full(k, 22),
            np.repeat(ids[pi0], 2),
            start,
            momentum_gev=e / MEV,
            start_process="Decay",
            category=np.full(k, PARTICLE_CATEGORY["photon"], np.int32),
            instance=registry.n + 1 + np.arange(k),
        )
        seeds.append(EmSeeds(np.zeros(k, bool), e, start, dirs.reshape(-1, 3), g_ids, np.full(k, truth.beam_t0)))
    return Deposits.concat(parts), EmSeeds.concat(seeds)


def topology(registry: ParticleRegistry, owner: np.ndarray, energy: np.ndarray) -> Topology:
    """Visible energy and prongs of the neutrino interaction (deposits owned by registered particles)."""
    nu = owner > 0
    inst = registry.instance[owner[nu] - 1]
    e_inst = np.bincount(np.maximum(inst, 0), weights=np.where(inst > 0, energy[nu], 0.0), minlength=registry.n + 1)
    is_em = np.zeros(registry.n + 1, bool)
    is_em[1:] = np.isin(np.abs(registry.pdg[: registry.n]), (11, 22))
    prong = e_inst > PRONG_MIN_MEV
    visible = float(energy[nu].sum())
    shower = float(e_inst[is_em].sum())
    return Topology(visible, shower / max(visible, 1e-9), int((prong & ~is_em).sum()), int((prong & is_em).sum()))


def simulate_event(
    sample: str, geometry: Geometry, *, seed: int, file_index: int, event_index: int
) -> tuple[Rows, EventSummary]:
    """All groups' rows of event `event_index` of file `file_index` (deterministic in the arguments)."""
    truth = event_truth(sample, geometry, seed=seed, file_index=file_index, event_index=event_index)
    rng = event_rng(seed, sample, file_index=file_index, event_index=event_index, stream=PHYSICS_STREAM)
    key = event_key(sample, file_index, event_index)

    registry = ParticleRegistry()
    world = world_box(geometry)
    nu, nu_seeds = neutrino_deposits(truth, registry, geometry, rng=rng)
    cos = cosmics(geometry, world, rng)
    em = shower(EmSeeds.concat([nu_seeds, cos.seeds]), registry, world_lo=world[0], world_hi=world[1], rng=rng)
    deposits = Deposits.concat([nu, cos.deposits, em])
    proj, inside = project(deposits, geometry)
    status = channel_status(geometry, run_period(key[0]))
    readout = waveforms(proj, geometry, status, rng=rng)

    owner = deposits.g4_id[inside]
    energy = deposits.de[inside]
    on_plane2 = proj.ok[2].any(axis=0)
    nu_vis = float(energy[(owner > 0) & on_plane2].sum())
    cos_vis = float(energy[(owner < 0) & on_plane2].sum())
    topo = topology(registry, owner[on_plane2], energy[on_plane2])
    hits, edeps = hit_tables(find_hits(readout, geometry), proj, owner=owner, energy=energy, geometry=geometry)
    topo = replace(topo, leading_em=leading_daughter_is_em(registry, hits, edeps))
    pandora = pandora_rows(truth, geometry, topo, cosmic_entries=cos.entry, cosmic_t0=cos.t0, rng=rng)

    n_ch = geometry.n_channels
    eid = np.asarray([key], dtype=np.int32)
    plane = np.concatenate([np.full(n, p, np.int32) for p, n in enumerate(geometry.n_wires)])
    wire = np.concatenate([np.arange(n, dtype=np.float32) for n in geometry.n_wires])
    rows: Rows = {
        "event_table": event_table_row(key, truth, geometry),
        "wire_table": {
            "event_id": np.repeat(eid, n_ch, axis=0),
            "tpc": np.zeros(n_ch, np.int32),
            "local_plane": plane,
            "local_wire": wire,
            "adc": readout.adc,
        },
        "particle_table": registry.table(),
        "hit_table": hits,
        "edep_table": edeps,
        "pandoraPrimary_table": pandora,
    }
    for group, table in rows.items():
        if group != "event_table" and table:
            n = len(next(iter(table.values())))
            table["event_id"] = np.repeat(eid, n, axis=0)
    summary = EventSummary(registry.n, len(cos.t0), nu_vis, cos_vis, len(hits["hit_id"]))
    return rows, summary
