"""Truth and reconstruction tables of one event: event_table, hit/edep_table, pandoraPrimary_table.

Rows are built from the same quantities the wires are made of, so they agree with the images: the
corrected vertex is the space-charge-displaced true vertex, its wire numbers and tick are where the
vertex charge lands; hits are the neutrino's charge per wire and time window; Pandora's vertex is the
corrected vertex smeared by a few centimetres.
"""

from __future__ import annotations

import numpy as np

from nuwire.geometry import N_PLANES, Geometry
from nuwire.simulate.detector import Projected, nearest_wires, space_charge
from nuwire.simulate.samples import InteractionTruth

HIT_WINDOW_TICKS = 16
HIT_MIN_ADC = 3.0  # hits below this integral would not be found
PANDORA_MISS_PROB = 0.03  # events whose neutrino slice is lost, on top of the invisible ones
PANDORA_MIN_VISIBLE_MEV = 10.0
VTX_SMEAR_CM = 1.5
VTX_TAIL_PROB, VTX_TAIL_CM = 0.1, 15.0
SHOWER_LIKE_FRACTION = 0.5


def _i32(a: object) -> np.ndarray:
    return np.asarray(a, dtype=np.int32)


def _f32(a: object) -> np.ndarray:
    return np.asarray(a, dtype=np.float32)


def vertex_readout(truth: InteractionTruth, geometry: Geometry) -> tuple[np.ndarray, np.ndarray, float]:
    """Corrected vertex (3,), its nearest wires (3,), and its tick (drift + beam arrival time)."""
    corr = space_charge(np.asarray(truth.vertex, np.float64)[None], geometry)[0]
    wires = nearest_wires(geometry, corr[None])[0]
    tick = float(geometry.tick_from_x(corr[0])) + truth.beam_t0
    return corr, wires, tick


def event_table_row(key: tuple[int, int, int], truth: InteractionTruth, geometry: Geometry) -> dict[str, np.ndarray]:
    corr, wires, tick = vertex_readout(truth, geometry)
    return {
        "event_id": _i32([key]),
        "is_cc": _i32([int(truth.is_cc)]),
        "nu_pdg": _i32([truth.nu_pdg]),
        "nu_energy": _f32([truth.nu_energy]),
        "lep_energy": _f32([truth.lep_energy]),
        "nu_dir": _f32([truth.nu_dir]),
        "nu_vtx": _f32([truth.vertex]),
        "nu_vtx_corr": _f32([corr]),
        "nu_vtx_wire_pos": _i32([wires]),
        "nu_vtx_wire_time": _f32([tick]),
    }


def hit_rows(
    proj: Projected, owner: np.ndarray, energy: np.ndarray
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Gaussian hits of the neutrino's charge (owner > 0) and their links to particles.

    A hit is the charge on one wire within a HIT_WINDOW_TICKS window: integral = summed charge,
    time = charge-weighted mean tick, rms = spread of deposit times with the pulse width. Cosmic
    overlay (owner -1) is real data in the OpenSamples and has no truth links; it is left out here.
    """
    planes, wires, ticks, adcs, sig2, owners, des = [], [], [], [], [], [], []
    nu = owner > 0
    for p in range(N_PLANES):
        sel = proj.ok[p] & nu
        planes.append(np.full(int(sel.sum()), p))
        wires.append(proj.wire[p][sel])
        ticks.append(proj.tick[sel])
        adcs.append(proj.adc[p][sel])
        sig2.append(proj.sigma[p][sel] ** 2)
        owners.append(owner[sel])
        des.append(energy[sel])
    plane, wire, tick, adc, s2, own, de = (np.concatenate(a) for a in (planes, wires, ticks, adcs, sig2, owners, des))
    key = (plane * 10_000 + wire) * 10_000 + np.floor(tick / HIT_WINDOW_TICKS).astype(np.int64) + 1000
    uniq, hit_of = np.unique(key, return_inverse=True)
    q = np.bincount(hit_of, weights=adc, minlength=len(uniq))
    qt = np.bincount(hit_of, weights=adc * tick, minlength=len(uniq))
    t_mean = qt / np.maximum(q, 1e-12)
    spread = adc * ((tick - t_mean[hit_of]) ** 2 + s2)
    var = np.bincount(hit_of, weights=spread, minlength=len(uniq)) / np.maximum(q, 1e-12)
    found = q >= HIT_MIN_ADC
    new_id = np.cumsum(found) - 1
    first = np.zeros(len(uniq), np.int64)
    first[hit_of[::-1]] = np.arange(len(hit_of))[::-1]
    hits = {
        "hit_id": _i32(np.arange(int(found.sum()))),
        "integral": _f32(q[found]),
        "rms": _f32(np.sqrt(var[found])),
        "tpc": _i32(np.zeros(int(found.sum()))),
        "local_plane": _i32(plane[first][found]),
        "local_wire": _f32(wire[first][found]),
        "local_time": _f32(t_mean[found]),
    }
    # edep: energy per (hit, particle), and its share of the hit's energy.
    keep = found[hit_of]
    n_own = int(own.max()) + 1 if len(own) else 1
    link = new_id[hit_of[keep]] * n_own + own[keep]
    ulink, link_of = np.unique(link, return_inverse=True)
    e_link = np.bincount(link_of, weights=de[keep], minlength=len(ulink))
    link_hit = ulink // n_own
    e_hit = np.bincount(link_hit, weights=e_link, minlength=int(found.sum()))
    edeps = {
        "hit_id": _i32(link_hit),
        "g4_id": _i32(ulink % n_own),
        "energy": _f32(e_link),
        "energy_fraction": _f32(e_link / np.maximum(e_hit[link_hit], 1e-12)),
    }
    return hits, edeps


def pandora_rows(
    truth: InteractionTruth,
    geometry: Geometry,
    visible_mev: float,
    shower_fraction: float,
    cosmic_entries: np.ndarray,
    cosmic_t0: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Pandora primaries: a neutrino candidate (unless lost) and a few cosmic slices.

    The candidate is shower-like (slice_pdg 12) when most of the neutrino's visible energy is in
    electromagnetic showers, else track-like (14); its vertex is the corrected vertex smeared by a
    few cm (with a 10% tail of worse reconstructions); nothing is found for invisible events and for
    a few per cent of the rest. Cosmic slices sit at their muon's entry point, shifted in x by their
    arrival time as Pandora would place them without a flash match.
    """
    vtx, pdg, score, tick_list = [], [], [], []
    found = visible_mev >= PANDORA_MIN_VISIBLE_MEV and rng.random() >= PANDORA_MISS_PROB
    if found:
        corr, _, _ = vertex_readout(truth, geometry)
        width = VTX_TAIL_CM if rng.random() < VTX_TAIL_PROB else VTX_SMEAR_CM
        v = corr + rng.normal(0.0, width, 3)
        vtx.append(v)
        pdg.append(12 if shower_fraction > SHOWER_LIKE_FRACTION else 14)
        score.append(rng.beta(6.0, 1.5))
        tick_list.append(float(geometry.tick_from_x(v[0])))
    n_cos = min(len(cosmic_t0), 1 + int(rng.poisson(2.0)))
    pick = rng.choice(len(cosmic_t0), size=n_cos, replace=False) if n_cos else np.zeros(0, np.int64)
    for i in pick:
        e = space_charge(cosmic_entries[i][None], geometry)[0]
        e[0] += cosmic_t0[i] * geometry.drift_cm_per_tick
        vtx.append(e)
        pdg.append(13)
        score.append(rng.beta(1.0, 10.0))
        tick_list.append(float(geometry.tick_from_x(e[0])))
    n = len(vtx)
    if n == 0:
        return {}
    vtx_arr = np.asarray(vtx)
    return {
        "slice_id": _i32(np.arange(n)),
        "slice_pdg": _i32(pdg),
        "nu_score": _f32(score),
        "flashmatch_score": _f32(rng.exponential(5.0, n)),
        "vtx": _f32(vtx_arr),
        "vtx_wire_pos": _i32(nearest_wires(geometry, vtx_arr)),
        "vtx_wire_time": _f32(tick_list),
    }
