"""nuwire.stats: bootstrap intervals against an independent recomputation, their 1/√n scaling,
paired comparisons that find a real difference and not an absent one, the sample-identity
control, calibration and the value ± error formatting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import brier_score_loss, roc_auc_score

from nuwire.evaluation.metrics import metrics_report
from nuwire.stats.bootstrap import (
    auc_resampled,
    bootstrap_report,
    canonical_order,
    stratified_counts,
    threshold_metrics_resampled,
)
from nuwire.stats.calibration import brier_score, reliability_table
from nuwire.stats.compare import paired_auc_difference, unpaired_auc_difference
from nuwire.stats.numfmt import error_decimals, format_cell, format_interval, format_pm
from nuwire.stats.sample_control import sample_identity_control


def scores(n: int, seed: int, separation: float = 1.0, signal_fraction: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < signal_fraction).astype(np.int64)
    s = 1 / (1 + np.exp(-(rng.normal(0, 1, n) + separation * (2 * y - 1))))
    return y, s


def predictions_file(tmp_path, n_test: int, seed: int) -> pd.DataFrame:
    """A predictions.parquet as evaluate writes it (real Parquet), read back."""
    y, s = scores(n_test + 100, seed)
    split = np.r_[np.full(100, "val"), np.full(n_test, "test")]
    frame = pd.DataFrame({
        "sample": np.where(y == 1, "nue_WithWire_00", "bnb_WithWire_00"), "run": 1, "subrun": 0,
        "event": np.arange(y.size)[::-1], "split": split, "label": y, "score": s,
        "category": np.where(y == 1, "nue_cc", "nc"), "nu_energy": 1.0, "lep_energy": 0.5,
    })  # fmt: skip
    frame.to_parquet(tmp_path / "predictions.parquet", index=False)
    return pd.read_parquet(tmp_path / "predictions.parquet")


def test_resampled_metrics_equal_sklearn_on_the_same_resamples():
    y, s = scores(300, 0)
    s = s.round(2)  # ties
    counts = stratified_counts(y, 25, seed=3)
    assert (counts[:, y == 1].sum(axis=1) == y.sum()).all()  # stratified: class counts fixed
    auc = auc_resampled(y, s, counts)
    at = threshold_metrics_resampled(y, s, counts, threshold=0.5)
    for b in range(counts.shape[0]):
        idx = np.repeat(np.arange(y.size), counts[b])
        assert auc[b] == pytest.approx(roc_auc_score(y[idx], s[idx]), abs=1e-12)
        pred = s[idx] >= 0.5
        assert at["tpr"][b] == pytest.approx(pred[y[idx] == 1].mean())
        assert at["precision"][b] == pytest.approx(y[idx][pred].mean())


def test_interval_agrees_with_an_independent_recomputation_from_predictions_parquet(tmp_path):
    pred = predictions_file(tmp_path, 600, seed=1)
    test = pred[pred["split"] == "test"].reset_index(drop=True)
    val = pred[pred["split"] == "val"]
    order = canonical_order(test)
    y, s = test["label"].to_numpy()[order], test["score"].to_numpy()[order]
    measured = metrics_report(val["label"], val["score"], test_true=y, test_score=s)["test"]
    ours = bootstrap_report(y, s, measured, resamples=2000, seed=11)

    # Independently: plain numpy indices, sklearn's AUC and accuracy, another random stream.
    rng = np.random.default_rng(999)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    aucs, accs = [], []
    t = measured["thresholds"]["0.5"]["threshold"]
    for _ in range(2000):
        idx = np.r_[rng.choice(pos, pos.size), rng.choice(neg, neg.size)]
        aucs.append(roc_auc_score(y[idx], s[idx]))
        accs.append(np.mean((s[idx] >= t) == y[idx]))
    for name, theirs in (("roc_auc", aucs), ("accuracy", accs)):
        mine = ours["roc_auc"] if name == "roc_auc" else ours["thresholds"]["0.5"]["accuracy"]
        lo95, hi95 = np.percentile(theirs, [2.5, 97.5])
        lo68, hi68 = np.percentile(theirs, [15.865, 84.135])
        width = hi95 - lo95
        # Two Monte Carlo estimates of the same percentiles: equal to a few percent of the width.
        assert mine["ci95"] == pytest.approx([lo95, hi95], abs=0.1 * width), name
        assert mine["ci68"] == pytest.approx([lo68, hi68], abs=0.1 * width), name
        assert mine["error"] == pytest.approx((hi68 - lo68) / 2, rel=0.1), name
    assert ours["n_events"] == 600 and ours["n_signal"] == int(y.sum())


def test_intervals_shrink_as_one_over_root_n():
    widths = {}
    for n in (400, 1600, 6400):
        y, s = scores(n, seed=n)
        measured = {"roc_auc": roc_auc_score(y, s), "thresholds": {"0.5": {"threshold": 0.5, "accuracy": 0.0}}}
        rep = bootstrap_report(y, s, measured, resamples=1000, seed=5)
        widths[n] = (rep["roc_auc"]["error"], rep["thresholds"]["0.5"]["accuracy"]["error"])
    for metric in (0, 1):
        for small, large in ((400, 1600), (1600, 6400)):
            assert widths[small][metric] / widths[large][metric] == pytest.approx(2.0, rel=0.2)


def test_bootstrap_is_seeded():
    y, s = scores(200, 2)
    m = {"roc_auc": roc_auc_score(y, s), "thresholds": {}}
    assert bootstrap_report(y, s, m, resamples=200, seed=1) == bootstrap_report(y, s, m, resamples=200, seed=1)
    assert bootstrap_report(y, s, m, resamples=200, seed=1) != bootstrap_report(y, s, m, resamples=200, seed=2)


def two_models(n: int, seed: int, better: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels and the scores of two models that share what makes an event hard (a common latent)
    and differ in their own noise; model a separates `better` more than b."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.5).astype(np.int64)
    shared = rng.normal(0, 1, n) + (2 * y - 1)
    a = shared + better * (2 * y - 1) + rng.normal(0, 0.5, n)
    b = shared + rng.normal(0, 0.5, n)
    return y, a, b


def test_paired_comparison_finds_a_real_difference_and_not_an_absent_one():
    y, a, b = two_models(600, 0, better=0.25)
    counts = stratified_counts(y, 1000, seed=4)
    real = paired_auc_difference(y, [a], [b], counts=counts)
    assert real["delta"] > 0 and real["significant"] and real["ci95"][0] > 0
    # Unpaired, the same two measurements say less: the paired interval is the narrower one.
    ia = {"value": roc_auc_score(y, a), **dict(zip(("ci68", "ci95"), _ci(y, a, counts)))}
    ib = {"value": roc_auc_score(y, b), **dict(zip(("ci68", "ci95"), _ci(y, b, counts)))}
    unpaired = unpaired_auc_difference(ia, ib)
    assert unpaired["delta"] == pytest.approx(real["delta"])
    assert real["ci95"][1] - real["ci95"][0] < 0.7 * (unpaired["ci95"][1] - unpaired["ci95"][0])

    y, a, b = two_models(600, 1, better=0.0)
    equal = paired_auc_difference(y, [a], [b], counts=stratified_counts(y, 1000, seed=4))
    assert not equal["significant"] and equal["ci95"][0] < 0 < equal["ci95"][1]


def _ci(y, s, counts):
    r = auc_resampled(y, s, counts)
    return [list(np.percentile(r, [15.865, 84.135])), list(np.percentile(r, [2.5, 97.5]))]


def test_seed_spread_widens_the_paired_interval():
    y, a, b = two_models(400, 2, better=0.1)
    counts = stratified_counts(y, 500, seed=1)
    one = paired_auc_difference(y, [a], [b], counts=counts)
    rng = np.random.default_rng(0)
    seeds_a = [a + rng.normal(0, 1.0, a.size) for _ in range(3)]
    many = paired_auc_difference(y, seeds_a, [b], counts=counts)
    assert many["seed_sd"] > 0 and one["seed_sd"] == 0
    assert many["ci95"][1] - many["ci95"][0] > one["ci95"][1] - one["ci95"][0]


def control_frame(tmp_path, n_per_sample: int, shift: float, seed: int) -> pd.DataFrame:
    """CC νe test events of both samples (plus background), inclusive ones shifted down by
    `shift` in logit, written as real Parquet and read back."""
    rng = np.random.default_rng(seed)
    rows = []
    for group, offset in (("bnb", -shift), ("nue", 0.0)):
        logit = rng.normal(1.0 + offset, 1.0, n_per_sample)
        rows.append(pd.DataFrame({"sample": f"{group}_WithWire_01", "run": 1, "subrun": 1,
                                  "event": np.arange(n_per_sample), "category": "nue_cc",
                                  "score": 1 / (1 + np.exp(-logit)), "label": 1}))  # fmt: skip
    rows.append(pd.DataFrame({"sample": "bnb_WithWire_02", "run": 1, "subrun": 2, "event": np.arange(50),
                              "category": "numu_cc", "score": rng.random(50), "label": 0}))  # fmt: skip
    pd.concat(rows, ignore_index=True).to_parquet(tmp_path / "predictions.parquet", index=False)
    return pd.read_parquet(tmp_path / "predictions.parquet")


def test_sample_control_flags_a_network_that_tells_the_samples_apart(tmp_path):
    flagged = sample_identity_control(control_frame(tmp_path, 1500, shift=0.5, seed=3), threshold=0.5, resamples=500)
    assert flagged["flag"] and flagged["verdict"].startswith("DIFFERENCE")
    assert flagged["efficiency_difference"]["ci95"][1] < 0  # inclusive CC νe selected less often
    assert flagged["sample_auc"]["ci95"][0] > 0.5
    same = sample_identity_control(control_frame(tmp_path, 1500, shift=0.0, seed=0), threshold=0.5, resamples=500)
    assert not same["flag"] and same["verdict"] == "no difference at 95% (overall)"
    assert same["groups"]["bnb"]["n_signal"] == 1500


def test_sample_control_with_a_handful_of_events_is_honestly_wide(tmp_path):
    frame = control_frame(tmp_path, 200, shift=0.5, seed=2)
    inclusive = frame["sample"].str.startswith("bnb")
    frame = pd.concat([frame[inclusive].head(2), frame[~inclusive]])
    control = sample_identity_control(frame, threshold=0.5, resamples=500)
    lo, hi = control["groups"]["bnb"]["ci95"]
    assert control["groups"]["bnb"]["n_signal"] == 2 and hi - lo > 0.6 and not control["flag"]
    assert not control["sample_auc"]["tested"]  # two events: no score-distribution test
    none = sample_identity_control(frame[frame["sample"].str.startswith("nue")], threshold=0.5, resamples=100)
    assert none["verdict"].startswith("cannot tell") and none["groups"]["bnb"]["efficiency"] is None


def test_calibration_of_a_calibrated_score():
    rng = np.random.default_rng(0)
    s = rng.random(20000)
    y = (rng.random(s.size) < s).astype(int)  # calibrated by construction
    table = reliability_table(y, s, n_bins=10)
    assert table["n"].sum() == s.size
    inside = (table["fraction_lo"] - 3 * (table["fraction_hi"] - table["fraction_lo"]) <= table["mean_score"]) & (
        table["mean_score"] <= table["fraction_hi"] + 3 * (table["fraction_hi"] - table["fraction_lo"])
    )
    assert inside.all()
    assert brier_score(y, s) == pytest.approx(brier_score_loss(y, s))
    assert reliability_table([1], [1.0], n_bins=4)["n"].tolist() == [0, 0, 0, 1]  # score 1 in the last bin


@pytest.mark.parametrize(
    ("value", "error", "text"),
    [
        (0.8384, 0.0312, "0.838 ± 0.031"),
        (0.8384, 0.0962, "0.84 ± 0.10"),
        (0.8384, 0.0047, "0.838 ± 0.005"),
        (0.8384, 0.0355, "0.84 ± 0.04"),
        (157.3, 12.4, "157 ± 12"),
        (1234.0, 356.0, "1200 ± 400"),
        (0.5, 0.0, "0.500"),
        (None, 0.1, ""),
    ],
)
def test_value_pm_error_digits(value, error, text):
    assert format_pm(value, error) == text


def test_table_cells_and_intervals():
    assert format_cell(157.0) == "157" and format_cell(np.int64(6)) == "6" and format_cell(None) == ""
    assert format_cell(0.12345) == "0.123" and format_cell("whole") == "whole"
    assert format_interval(0.781, 0.903, 0.03) == "[0.781, 0.903]" and format_interval(float("nan"), 1.0, 0.1) == ""
    assert format_pm(float("nan"), 0.1) == ""
    assert error_decimals(0.0999) == 2 and error_decimals(float("nan")) is None
