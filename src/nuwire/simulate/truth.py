"""Truth and reconstruction tables of one event: event_table and pandoraPrimary_table.

Rows are built from the same quantities the wires are made of, so they agree with the images: the
corrected vertex is the space-charge-displaced true vertex, its wire numbers and tick are where the
vertex charge lands. Pandora's vertex depends on what the event looks like, never on its label:
how well it is found and placed follows the visible energy and the prongs (tracks, showers) that
leave the vertex. (Hits are found on the waveforms: `nuwire.simulate.hits`.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nuwire.geometry import Geometry
from nuwire.simulate.detector import nearest_wires, space_charge
from nuwire.simulate.pandora import COSMIC_TAG_PROB, characterise, slice_efficiency
from nuwire.simulate.samples import InteractionTruth

# Vertex resolution by topology: where two or more prongs meet the vertex is pinned down; a lone
# track's start is less sure; a lone shower's start (a gap before the first charge) least.
VTX_SMEAR_CM = {"multi": 0.8, "track": 1.5, "shower": 2.5}
VTX_TAIL_PROB, VTX_TAIL_CM = 0.08, 10.0
PRONG_MIN_MEV = 15.0  # a primary with less visible energy than this makes no prong


@dataclass(frozen=True)
class Topology:
    """What reconstruction sees of the neutrino interaction: visible energy and prongs."""

    visible_mev: float
    shower_fraction: float
    n_tracks: int
    n_showers: int
    # Whether the primary daughter with the most hits is electromagnetic (nuwire.simulate.pandora);
    # None: not known (no hit), characterised as a track.
    leading_em: bool | None = None

    @property
    def kind(self) -> str:
        if self.n_tracks + self.n_showers >= 2:
            return "multi"
        return "shower" if self.n_showers else "track"


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


def _cosmic_point(entry: np.ndarray, t0: float, geometry: Geometry) -> np.ndarray:
    """Where Pandora would place a cosmic muon's start without a flash match (shifted by its t0)."""
    e = space_charge(entry[None], geometry)[0]
    e[0] += t0 * geometry.drift_cm_per_tick
    return e


def pandora_rows(
    truth: InteractionTruth,
    geometry: Geometry,
    topology: Topology,
    *,
    cosmic_entries: np.ndarray,
    cosmic_t0: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Pandora primaries: a neutrino candidate (or none) and a few cosmic slices.

    The emulation of `nuwire.simulate.pandora` (docs/pandora.md): the neutrino slice is found with
    the notebook-calibrated efficiency of its visible energy; its vertex is the corrected vertex
    smeared by the topology's resolution (with a tail of worse ones); its slice_pdg is 12 when its
    hit-dominant daughter is characterised shower-like, else 14. When it is not found, a cosmic
    muon's slice is sometimes tagged as the neutrino instead (its start, a low score, slice_pdg from
    the muon track's characterisation), else the event has no neutrino candidate. All of it depends
    on what the event looks like, never on its label. Cosmic slices sit at their muon's entry point,
    shifted in x by their arrival time.
    """
    vtx, pdg, score = [], [], []
    n_cosmics = len(cosmic_t0)
    if rng.random() < slice_efficiency(topology.visible_mev):
        corr, _, _ = vertex_readout(truth, geometry)
        width = VTX_TAIL_CM if rng.random() < VTX_TAIL_PROB else VTX_SMEAR_CM[topology.kind]
        vtx.append(corr + rng.normal(0.0, width, 3))
        pdg.append(characterise(bool(topology.leading_em), rng))
        score.append(rng.beta(6.0, 1.5))
    elif n_cosmics and rng.random() < COSMIC_TAG_PROB:
        i = int(rng.integers(n_cosmics))
        vtx.append(_cosmic_point(cosmic_entries[i], float(cosmic_t0[i]), geometry))
        pdg.append(characterise(False, rng))  # a cosmic muon's slice: its daughter is the muon track
        score.append(rng.beta(2.0, 5.0))
    n_cos = min(n_cosmics, 1 + int(rng.poisson(2.0)))
    pick = rng.choice(n_cosmics, size=n_cos, replace=False) if n_cos else np.zeros(0, np.int64)
    for i in pick:
        vtx.append(_cosmic_point(cosmic_entries[i], float(cosmic_t0[i]), geometry))
        pdg.append(13)
        score.append(rng.beta(1.0, 10.0))
    tick_list = [float(geometry.tick_from_x(v[0])) for v in vtx]
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
