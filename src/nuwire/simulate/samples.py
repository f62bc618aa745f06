"""What the two samples hold: flavour and interaction composition, energy spectra, event keys, seeds.

Compositions and energy statistics follow the real OpenSamples WithWire samples (see the project's
reference notes): the inclusive BNB sample has the beam's natural mix (νμ-dominated, ~72% CC), the νe
sample holds only CC νe/ν̄e. Neutrino energies are gamma-distributed, truncated to the real range,
with shape and scale chosen from the real mean and standard deviation; a gamma with those moments
also lands on the real median (1.08 and 1.46 GeV), which is why this family was chosen.

Every event has its own random streams, derived from (seed, sample, file index, event index,
stream), so the truth of event k never depends on how many events are in the file, and truth can be
drawn alone (cheaply, for statistics) by exactly the code that writes a file's event_table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nuwire.geometry import Geometry
from nuwire.io.keys import INCLUSIVE_SAMPLE, NUE_SAMPLE

SAMPLE_CODE = {INCLUSIVE_SAMPLE: 1, NUE_SAMPLE: 2}
# Both samples are simulated in the same run period, so they share one detector state (channel
# status, noise, cosmic rate, readout window): nothing but physics tells them apart. Keys stay
# unique through the subrun: file i of a sample is subrun SUBRUN_BASE[sample] + i.
RUN = 7001
SUBRUN_BASE = {INCLUSIVE_SAMPLE: 0, NUE_SAMPLE: 500}
TRUTH_STREAM, PHYSICS_STREAM = 0, 1

NUCLEON_MASS_GEV = 0.938
LEPTON_MASS_GEV = {11: 0.000511, 13: 0.10566, 12: 0.0, 14: 0.0}


@dataclass(frozen=True)
class SampleSpec:
    """Flavour fractions (pdg → probability), CC probability per |pdg|, energy spectrum (GeV)."""

    flavours: dict[int, float]
    cc_prob: dict[int, float]
    mean: float
    std: float
    lo: float
    hi: float


# Counts of the real inclusive sample: νμ 23,984, ν̄μ 208, νe 134, ν̄e 6; CC 17,564 of 24,332, of
# which CC νe/ν̄e 107. The CC probability of νe-type events is 107/140, the rest share what is left.
_BNB_N = 24_332
SAMPLES: dict[str, SampleSpec] = {
    INCLUSIVE_SAMPLE: SampleSpec(
        flavours={14: 23_984 / _BNB_N, -14: 208 / _BNB_N, 12: 134 / _BNB_N, -12: 6 / _BNB_N},
        cc_prob={12: 107 / 140, 14: (17_564 - 107) / (_BNB_N - 140)},
        mean=1.20,
        std=0.67,
        lo=0.06,
        hi=6.61,
    ),
    NUE_SAMPLE: SampleSpec(
        flavours={12: 19_448 / 19_940, -12: 492 / 19_940},
        cc_prob={12: 1.0},
        mean=1.62,
        std=0.86,
        lo=0.13,
        hi=6.13,
    ),
}

# A CC νμ needs the muon mass and a little kinetic energy; lower energies are redrawn.
NUMU_CC_MIN_GEV = 0.2


@dataclass(frozen=True)
class InteractionTruth:
    nu_pdg: int
    is_cc: bool
    nu_energy: float  # GeV
    y: float  # inelasticity: fraction of the energy given to the hadronic system
    lep_pdg: int
    lep_energy: float  # GeV, total energy of the outgoing lepton
    lep_cos: float  # cos of the lepton angle to the neutrino direction
    lep_phi: float
    nu_dir: tuple[float, float, float]
    vertex: tuple[float, float, float]  # cm
    beam_t0: float  # ticks: arrival within the 1.6 µs beam spill


def check_sample(sample: str) -> SampleSpec:
    try:
        return SAMPLES[sample]
    except KeyError:
        raise ValueError(f"unknown sample {sample!r}; valid samples are {sorted(SAMPLES)}") from None


def run_number(sample: str) -> int:
    """The run of every file of `sample`: the same for all samples (one run period)."""
    check_sample(sample)
    return RUN


def event_key(sample: str, file_index: int, event_index: int) -> tuple[int, int, int]:
    """(run, subrun, event) of event `event_index` of file `file_index` of `sample`."""
    if not 0 <= file_index < SUBRUN_BASE[NUE_SAMPLE]:
        raise ValueError(f"file_index must be in [0, {SUBRUN_BASE['nue']}), got {file_index}")
    return run_number(sample), SUBRUN_BASE[sample] + int(file_index), int(event_index) + 1


def event_rng(seed: int, sample: str, *, file_index: int, event_index: int, stream: int) -> np.random.Generator:
    key = (SAMPLE_CODE[sample], int(file_index), int(event_index), stream)
    return np.random.default_rng(np.random.SeedSequence(entropy=int(seed), spawn_key=key))


def gamma_shape_scale(mean: float, std: float) -> tuple[float, float]:
    shape = (mean / std) ** 2
    return shape, mean / shape


def draw_energy(spec: SampleSpec, rng: np.random.Generator, lo: float | None = None) -> float:
    """One neutrino energy (GeV) from the sample's truncated gamma spectrum."""
    shape, scale = gamma_shape_scale(spec.mean, spec.std)
    lo = spec.lo if lo is None else max(lo, spec.lo)
    while True:
        e = float(rng.gamma(shape, scale))
        if lo <= e <= spec.hi:
            return e


def _draw_choice(options: dict[int, float], rng: np.random.Generator) -> int:
    keys = list(options)
    p = np.asarray([options[k] for k in keys], dtype=np.float64)
    return int(keys[int(rng.choice(len(keys), p=p / p.sum()))])


def draw_inelasticity(is_cc: bool, antineutrino: bool, rng: np.random.Generator) -> float:
    # Antineutrino CC has the (1-y)² helicity suppression of large y; NC here is what gives visible
    # hadrons, so its y leans higher than CC's.
    if not is_cc:
        return float(rng.beta(1.3, 1.9))
    return float(rng.beta(1.0, 3.2) if antineutrino else rng.beta(1.1, 2.2))


def draw_truth(sample: str, geometry: Geometry, rng: np.random.Generator) -> InteractionTruth:
    """The interaction of one event: flavour, CC/NC, energies, lepton angle, vertex, direction."""
    spec = check_sample(sample)
    nu_pdg = _draw_choice(spec.flavours, rng)
    is_cc = bool(rng.random() < spec.cc_prob[abs(nu_pdg)])
    numu_cc = is_cc and abs(nu_pdg) == 14
    energy = draw_energy(spec, rng, lo=NUMU_CC_MIN_GEV if numu_cc else None)
    sign = 1 if nu_pdg > 0 else -1
    lep_pdg = sign * (abs(nu_pdg) - 1) if is_cc else nu_pdg
    m_lep = LEPTON_MASS_GEV[abs(lep_pdg)]
    # Redraw y until the lepton gets at least its mass plus 10 MeV (always possible: E >= 0.2 for νμ CC).
    while True:
        y = draw_inelasticity(is_cc, nu_pdg < 0, rng)
        lep_energy = energy * (1.0 - y)
        if lep_energy >= m_lep + 0.01:
            break
    # Q² = 2 M x y E and Q² ≈ 2 E E_l (1 - cos θ) give the lepton angle from x (Bjorken) and y.
    x_bj = float(rng.beta(3.0, 1.5))
    lep_cos = float(np.clip(1.0 - NUCLEON_MASS_GEV * x_bj * y / lep_energy, -1.0, 1.0))
    lep_phi = float(rng.uniform(0, 2 * np.pi))
    d = np.array([rng.normal(0, 0.003), rng.normal(0, 0.003), 1.0])
    d /= np.linalg.norm(d)
    vertex = tuple(float(rng.uniform(*r)) for r in (geometry.active_x_cm, geometry.active_y_cm, geometry.active_z_cm))
    return InteractionTruth(
        nu_pdg=nu_pdg,
        is_cc=is_cc,
        nu_energy=energy,
        y=y,
        lep_pdg=lep_pdg,
        lep_energy=lep_energy,
        lep_cos=lep_cos,
        lep_phi=lep_phi,
        nu_dir=(float(d[0]), float(d[1]), float(d[2])),
        vertex=vertex,  # type: ignore[arg-type]
        beam_t0=float(rng.uniform(0.0, 3.2)),
    )


def event_truth(sample: str, geometry: Geometry, *, seed: int, file_index: int, event_index: int) -> InteractionTruth:
    """The truth of one event, from its own stream: the same whether or not wires are simulated."""
    check_sample(sample)
    return draw_truth(
        sample, geometry, event_rng(seed, sample, file_index=file_index, event_index=event_index, stream=TRUTH_STREAM)
    )
