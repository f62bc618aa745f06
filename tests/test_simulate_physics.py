"""The classes differ through physics, and only through physics; the samples match the real ones.

- Composition and neutrino-energy statistics of both samples against the real OpenSamples numbers,
  from the truth path that writes every file's event_table (2,000 events per sample, no wires).
- Near the true vertex on the collection plane, νe CC charge (showers) is spread more across its
  local direction than νμ CC charge (tracks): measured on generated files, no ML.
- Total event charge hardly separates νe CC from νμ CC on the MicroBooNE geometry, because cosmic
  muons carry most of it; the noise level is the same for both classes.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from scipy.spatial import cKDTree
from sklearn.metrics import roc_auc_score

from nuwire.geometry import COMPACT, MICROBOONE, Geometry
from nuwire.io.h5schema import SEQ_CNT
from nuwire.simulate import event_truth, simulate_file

# The real samples (reference notes on the OpenSamples WithWire files).
REFERENCE = {
    "bnb": {
        "mean": 1.20,
        "median": 1.08,
        "std": 0.67,
        "lo": 0.06,
        "hi": 6.61,
        "cc": 17_564 / 24_332,
        "flavours": {14: 23_984 / 24_332, -14: 208 / 24_332, 12: 134 / 24_332, -12: 6 / 24_332},
    },
    "nue": {
        "mean": 1.62,
        "median": 1.46,
        "std": 0.86,
        "lo": 0.13,
        "hi": 6.13,
        "cc": 1.0,
        "flavours": {12: 19_448 / 19_940, -12: 492 / 19_940},
    },
}
N_TRUTH = 2000


@pytest.mark.parametrize("sample", ["bnb", "nue"])
def test_energy_spectrum_and_composition_match_the_real_sample(sample: str) -> None:
    ref = REFERENCE[sample]
    truths = [
        event_truth(sample, MICROBOONE, seed=20250701, file_index=i // 100, event_index=i % 100) for i in range(N_TRUTH)
    ]
    energy = np.array([t.nu_energy for t in truths])
    for stat, value in (("mean", energy.mean()), ("median", np.median(energy)), ("std", energy.std())):
        assert abs(value / ref[stat] - 1) < 0.05, f"{sample} {stat} {value:.3f} vs {ref[stat]}"
    # The real range is the support: nothing outside it, and both ends are approached.
    assert ref["lo"] <= energy.min() < ref["lo"] + 0.25
    assert ref["hi"] - 3.0 < energy.max() <= ref["hi"]

    cc = np.mean([t.is_cc for t in truths])
    assert abs(cc / ref["cc"] - 1) < 0.05
    pdg = np.array([t.nu_pdg for t in truths])
    for flavour, p in ref["flavours"].items():
        got = np.mean(pdg == flavour)
        # Within 5% for the common flavours; the rare ones (a handful of 2,000) within 4 binomial σ.
        tolerance = max(0.05 * p, 4 * np.sqrt(p * (1 - p) / N_TRUTH))
        assert abs(got - p) <= tolerance, f"{sample} pdg {flavour}: {got:.4f} vs {p:.4f}"
    assert set(pdg) <= set(ref["flavours"])
    lep = np.array([t.lep_energy for t in truths])
    assert np.all((lep > 0) & (lep < energy))


# -- images ---------------------------------------------------------------------------------------


def _plane2_events(path: Path, geometry: Geometry) -> list[dict]:
    """Per event: is_cc, |pdg|, plane-2 charge as sparse (wire, tick, adc), true vertex wire/tick,
    total charge of all planes. Sparse, so a hundred MicroBooNE events fit in memory."""
    out = []
    first = sum(geometry.n_wires[:2])
    with h5py.File(path) as f:
        et = f["event_table"]
        seq = f["wire_table"][SEQ_CNT][()]
        starts = np.concatenate([[0], np.cumsum(seq[:, 1])])
        adc = f["wire_table/adc"]
        for k, (index, _) in enumerate(seq):
            block = adc[starts[k] : starts[k + 1]]
            plane2 = block[first:]
            w, t = np.nonzero(plane2)
            out.append(
                {
                    "is_cc": int(et["is_cc"][index, 0]),
                    "pdg": abs(int(et["nu_pdg"][index, 0])),
                    "w": w,
                    "t": t,
                    "q": plane2[w, t],
                    "shape": plane2.shape,
                    "wire": int(et["nu_vtx_wire_pos"][index, 2]),
                    "tick": float(et["nu_vtx_wire_time"][index, 0]),
                    "total": float(np.clip(block, 0, None).sum()),
                }
            )
    return out


def _classes(tmp: Path, geometry: Geometry, n_nue: int, n_bnb: int) -> tuple[list[dict], list[dict]]:
    nue = tmp / "nue_WithWire_00.h5"
    bnb = tmp / "bnb_WithWire_00.h5"
    simulate_file(nue, "nue", n_nue, geometry=geometry, seed=5, file_index=0)
    simulate_file(bnb, "bnb", n_bnb, geometry=geometry, seed=5, file_index=0)
    nue_cc = [e for e in _plane2_events(nue, geometry) if e["is_cc"] and e["pdg"] == 12]
    numu_cc = [e for e in _plane2_events(bnb, geometry) if e["is_cc"] and e["pdg"] == 14]
    return nue_cc, numu_cc


def _auc(signal: list[float], background: list[float]) -> float:
    y = np.r_[np.ones(len(signal)), np.zeros(len(background))]
    return float(roc_auc_score(y, np.r_[signal, background]))


def local_transverse_spread(ev: dict, geometry: Geometry, radius_cm: float = 30.0, local_cm: float = 1.0) -> float:
    """Charge-weighted mean, over pixels within `radius_cm` of the true vertex, of how far charge in a
    `local_cm` neighbourhood spreads across its local direction relative to along it
    (λ_min/λ_max of the neighbourhood's covariance; 1 for an isolated blob). A track is a thin
    line (≈0); a shower's branches, blips and curly low-energy electrons are not. The vertex
    neighbourhood keeps most cosmic charge out; 6-tick blocks make pixels about 0.3 cm square.
    """
    f = 6
    img = np.zeros((ev["shape"][0], -(-ev["shape"][1] // f)))
    np.add.at(img, (ev["w"], ev["t"] // f), ev["q"])
    w, t = np.nonzero(img > 10.0)
    q = img[w, t]
    x = (w - ev["wire"]) * geometry.wire_pitch_cm
    y = (t - ev["tick"] / f) * geometry.drift_cm_per_tick * f
    near = x**2 + y**2 < radius_cm**2
    if near.sum() < 10:
        return 0.0
    pts = np.c_[x[near], y[near]]
    score = np.ones(len(pts))
    for i, idx in enumerate(cKDTree(pts).query_ball_point(pts, local_cm)):
        if len(idx) >= 3:
            d = pts[idx] - pts[idx].mean(axis=0)
            lo, hi = np.linalg.eigvalsh(d.T @ d)
            score[i] = max(lo, 0.0) / max(hi, 1e-12)
    return float(np.average(score, weights=q[near]))


@pytest.mark.slow
def test_nue_charge_spreads_more_across_its_direction_than_numu(tmp_path: Path) -> None:
    nue_cc, numu_cc = _classes(tmp_path, COMPACT, n_nue=80, n_bnb=115)
    assert len(nue_cc) == 80 and len(numu_cc) >= 70
    s_nue = [local_transverse_spread(e, COMPACT) for e in nue_cc]
    s_numu = [local_transverse_spread(e, COMPACT) for e in numu_cc]
    ratio, auc = np.mean(s_nue) / np.mean(s_numu), _auc(s_nue, s_numu)
    assert ratio > 1.15, f"νe/νμ mean local transverse spread {ratio:.3f}"
    assert auc > 0.62, f"AUC of local transverse spread {auc:.3f}"


@pytest.mark.slow
def test_total_charge_separates_poorly_because_cosmics_dominate(tmp_path: Path) -> None:
    nue_cc, numu_cc = _classes(tmp_path, MICROBOONE, n_nue=45, n_bnb=60)
    assert len(nue_cc) == 45 and len(numu_cc) >= 35
    auc = _auc([e["total"] for e in nue_cc], [e["total"] for e in numu_cc])
    assert auc < 0.65, f"total charge separates νe CC from νμ CC with AUC {auc:.3f}"
    # Most plane-2 charge lies more than 1 m from the neutrino vertex: it is cosmic.
    far_share = []
    for e in nue_cc + numu_cc:
        q = np.clip(e["q"], 0, None)
        dw = (e["w"] - e["wire"]) * MICROBOONE.wire_pitch_cm
        dt = (e["t"] - e["tick"]) * MICROBOONE.drift_cm_per_tick
        dist2 = dw**2 + dt**2
        far_share.append(q[dist2 > 100.0**2].sum() / q.sum())
    assert np.median(far_share) > 0.5, f"median share of charge > 1 m from the vertex {np.median(far_share):.2f}"
    # The detector treats both classes alike: the same noise in the regions of interest.
    noise = {}
    for name, events in (("nue", nue_cc), ("numu", numu_cc)):
        quiet = np.concatenate([e["q"][np.abs(e["q"]) < 2.0] for e in events])
        noise[name] = quiet.std()
    assert abs(noise["nue"] / noise["numu"] - 1) < 0.05, f"noise in regions of interest {noise}"
