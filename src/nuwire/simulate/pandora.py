"""The simulator's emulation of Pandora's neutrino-slice decisions (docs/pandora.md).

Two decisions of real Pandora are emulated, each the way Pandora makes it:

- Is the neutrino slice found? With an efficiency calibrated to the saved output of the OpenSamples
  "Pandora metrics" notebook (uboone/OpenSamples, `Pandora metrics.ipynb` at commit ddeaab0, inclusive
  BNB file): the neutrino-slice tagging efficiency of CC events in the active volume, in 0.5 GeV bins of
  true neutrino energy, read off its figure. Reconstruction sees only the deposited energy, so the
  efficiency is looked up at the energy a CC event of that visible energy has on average (visible /
  `CC_VISIBLE_FRACTION`, the simulator's median for CC events) and falls to zero for an interaction
  that leaves almost nothing. When the slice is missed, a cosmic slice is tagged as the neutrino with
  probability `COSMIC_TAG_PROB`, chosen so that about one in eight neutrino-tagged slices holds no
  neutrino hits (the notebook's purity histogram of neutrino slices); otherwise the event has no
  neutrino candidate at all.
- slice_pdg 12 or 14? In LArContent's NeutrinoPropertiesAlgorithm a neutrino slice is called 12
  exactly when its primary daughter with the most hits was characterised as shower-like, 14
  otherwise. Here the daughter with the most hits is found from the event's own hit and edep tables,
  and its characterisation is drawn with confusion: an electromagnetic daughter (electron, photon) is
  called shower-like with probability `P_SHOWER_LIKE["em"]` (the share of photon PFParticles with a
  track-shower score below 0.5 in the notebook's histogram), a track (muon, proton, pion) with
  `P_SHOWER_LIKE["track"]`, an assumption of this emulation that no figure at hand fixes.

So a π0 shower that outshines the tracks of an NC or νμ CC event gives 12, and a νe CC event whose
proton track has more hits than the electron shower gives 14, as in Pandora.
"""

from __future__ import annotations

import numpy as np

from nuwire.simulate.particles import ParticleRegistry

# Neutrino-slice tagging efficiency of CC events in the active volume against true neutrino energy:
# bin centres (GeV) and values read off the figure of the notebook's cell "Neutrino Slice ID
# Efficiency" (uboone/OpenSamples `Pandora metrics.ipynb`, commit ddeaab069b0c, bins 0-3 GeV by 0.5).
NOTEBOOK_ENERGY_GEV = np.array([0.25, 0.75, 1.25, 1.75, 2.25, 2.75])
NOTEBOOK_EFFICIENCY = np.array([0.61, 0.74, 0.77, 0.80, 0.77, 0.88])
# Median of visible (plane-2 deposited) over true neutrino energy of the simulator's CC events
# (68 CC events among 40 simulated of each sample, MICROBOONE geometry; docs/pandora.md).
CC_VISIBLE_FRACTION = 0.60
VISIBLE_SCALE_MEV = 6.0  # below a few MeV deposited there is nothing to find
# When the neutrino slice is missed: chance that a cosmic slice is tagged as the neutrino instead.
# With the demo's mean tagging efficiency near 0.75 this makes about 1 in 8 tagged slices a cosmic
# one, the notebook's share of neutrino slices with under 10% neutrino hits (103 of 866).
COSMIC_TAG_PROB = 0.40
P_SHOWER_LIKE = {"em": 0.86, "track": 0.10}
EM_PDGS = (11, 22)


def slice_efficiency(visible_mev: float) -> float:
    """Probability that Pandora finds and tags the neutrino slice of an interaction depositing `visible_mev`."""
    equivalent_gev = visible_mev / (1000.0 * CC_VISIBLE_FRACTION)
    curve = float(np.interp(equivalent_gev, NOTEBOOK_ENERGY_GEV, NOTEBOOK_EFFICIENCY))
    return curve * (1.0 - float(np.exp(-visible_mev / VISIBLE_SCALE_MEV)))


def leading_daughter_is_em(registry: ParticleRegistry, hit_table: dict, edep_table: dict) -> bool | None:
    """Whether the neutrino's primary daughter (instance) with the most hits is electromagnetic; None
    when the neutrino made no hit. Each hit belongs to the particle of its largest energy share, as
    the OpenSamples notebook assigns them."""
    hit_id = np.asarray(edep_table.get("hit_id", []), dtype=np.int64).reshape(-1)
    if hit_id.size == 0 or len(hit_table.get("hit_id", [])) == 0:
        return None
    g4 = np.asarray(edep_table["g4_id"], dtype=np.int64).reshape(-1)
    fraction = np.asarray(edep_table["energy_fraction"], dtype=np.float64).reshape(-1)
    order = np.lexsort((-fraction, hit_id))
    first = np.r_[True, hit_id[order][1:] != hit_id[order][:-1]]
    owner = g4[order][first]
    owner = owner[(owner > 0) & (owner <= registry.n)]
    instance = registry.instance[owner - 1]
    instance = instance[instance > 0]
    if instance.size == 0:
        return None
    leading = int(np.bincount(instance).argmax())
    return bool(np.isin(np.abs(registry.pdg[leading - 1]), EM_PDGS))


def characterise(is_em: bool, rng: np.random.Generator) -> int:
    """slice_pdg from the hit-dominant daughter's track/shower characterisation, with confusion."""
    shower_like = rng.random() < P_SHOWER_LIKE["em" if is_em else "track"]
    return 12 if shower_like else 14
