"""The Pandora baseline: reading pandoraPrimary_table from a hand-written file, the efficiency and
purity it gives, the network's efficiency at Pandora's purity, and "no baseline" without the table."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from nuwire.evaluation.pandora import NO_BASELINE, baseline_report, efficiency_at_purity, pandora_calls
from nuwire.figures import FigureContext
from nuwire.stats.bootstrap import stratified_counts

# Six events (run 1, subrun 1, events 1..6). Their Pandora slices (event, slice_pdg, nu_score):
SLICES = [
    (1, 12, 0.9), (1, 13, 0.99),  # event 1: candidate pdg 12 (the cosmic's higher score does not count) -> νe-like
    (2, 14, 0.8), (2, 12, 0.3),   # event 2: highest nu_score among 12/14 is the 14 -> not νe-like
    (3, 12, 0.7),                 # event 3: νe-like
    (4, 13, 0.5),                 # event 4: only a cosmic slice -> no candidate, not selected
    (5, -12, 0.6), (5, 14, 0.2),  # event 5: |slice_pdg| 12 wins -> νe-like
    # event 6: no slice at all -> no candidate
]  # fmt: skip
LABELS = np.array([1, 1, 0, 1, 0, 0])  # CC νe truth of events 1..6


def write_file(path: Path, with_table: bool = True) -> Path:
    with h5py.File(path, "w") as h5:
        h5.create_dataset("event_table/event_id", data=np.array([[1, 1, e] for e in range(1, 7)], dtype=np.int32))
        if with_table:
            rows = np.array([[1, 1, e] for e, _, _ in SLICES], dtype=np.int32)
            h5.create_dataset("pandoraPrimary_table/event_id", data=rows)
            h5.create_dataset("pandoraPrimary_table/slice_pdg", data=np.array([[p] for _, p, _ in SLICES], np.int32))
            h5.create_dataset("pandoraPrimary_table/nu_score", data=np.array([[s] for _, _, s in SLICES], np.float32))
    return path


def test_calls_follow_the_highest_nu_score_candidate(tmp_path: Path) -> None:
    calls = pandora_calls(write_file(tmp_path / "bnb_WithWire_00.h5"), "bnb_WithWire_00")
    assert calls["event"].tolist() == [1, 2, 3, 4, 5, 6]
    assert calls["pandora_candidate"].tolist() == [True, True, True, False, True, False]
    assert calls["pandora_nue"].tolist() == [True, False, True, False, True, False]
    assert calls["pandora_table"].all()


def test_efficiency_and_purity_by_hand(tmp_path: Path) -> None:
    calls = pandora_calls(write_file(tmp_path / "f.h5"), "f")
    test = calls[["sample", "run", "subrun", "event"]].assign(label=LABELS)
    # Selected: events 1, 3, 5; signal: 1, 2, 4. Efficiency 1/3 (event 1 of 1, 2, 4), purity 1/3 (1 of 1, 3, 5).
    score = np.array([0.9, 0.8, 0.1, 0.7, 0.2, 0.3])  # a network that ranks every signal above the background
    counts = stratified_counts(LABELS, 200, 3)
    report = baseline_report(test, score, calls, counts=counts, context=FigureContext(synthetic=False))
    assert report["available"] and report["label"] == "Pandora (pandoraPrimary_table)"
    assert report["efficiency"]["value"] == pytest.approx(1 / 3)
    assert report["purity"]["value"] == pytest.approx(1 / 3)
    assert report["fpr"]["value"] == pytest.approx(2 / 3)
    assert (report["n_selected"], report["n_selected_signal"], report["n_with_candidate"]) == (3, 1, 4)
    # The perfect ranking reaches purity 1 ≥ 1/3 at every signal: efficiency 1 at Pandora's purity.
    assert report["network_efficiency_at_pandora_purity"]["value"] == pytest.approx(1.0)
    assert report["efficiency_difference"]["value"] == pytest.approx(2 / 3)
    assert report["efficiency_ratio"]["value"] == pytest.approx(3.0)
    lo, hi = report["efficiency_difference"]["ci95"]
    assert lo <= 2 / 3 <= hi


def test_efficiency_at_purity_by_hand() -> None:
    y = np.array([1, 0, 1, 0, 1])
    score = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    # Thresholds from the top: (eff, purity) = (1/3, 1), (1/3, 1/2), (2/3, 2/3), (2/3, 1/2), (1, 3/5).
    w = np.ones((3, 5))
    eff, thr = efficiency_at_purity(y, score, purity=np.array([0.6, 0.65, 1.01]), weights=w)
    assert eff[0] == pytest.approx(1.0) and thr[0] == pytest.approx(0.5)
    assert eff[1] == pytest.approx(2 / 3) and thr[1] == pytest.approx(0.7)
    assert np.isnan(eff[2])  # no threshold is purer than 1


def test_a_file_without_the_table_gives_no_baseline(tmp_path: Path) -> None:
    calls = pandora_calls(write_file(tmp_path / "g.h5", with_table=False), "g")
    assert not calls["pandora_table"].any() and not calls["pandora_nue"].any()
    test = calls[["sample", "run", "subrun", "event"]].assign(label=LABELS)

    def report_of(found: pd.DataFrame | None, *, synthetic: bool) -> dict:
        counts = stratified_counts(LABELS, 10, 1)
        return baseline_report(
            test, np.linspace(0, 1, 6), found, counts=counts, context=FigureContext(synthetic=synthetic)
        )

    report = report_of(calls, synthetic=True)
    assert report["available"] is False and report["status"] == NO_BASELINE
    assert "pandoraPrimary_table" in report["reason"] and "6 of 6 test events" in report["reason"]
    assert report["label"] == "Pandora (the simulator's emulation)"
    report = report_of(None, synthetic=False)
    assert report["status"] == NO_BASELINE
    assert report["reason"].startswith("no input file")
