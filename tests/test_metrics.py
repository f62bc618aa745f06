"""nuwire.stats.metrics and evaluate's report of it (nuwire.evaluation.metrics) against scikit-learn, the degenerate
cases, and the validation-only threshold."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)

from nuwire.evaluation.metrics import metrics_report, threshold_name
from nuwire.stats.metrics import (
    FALLBACK_THRESHOLD,
    binary_metrics,
    f1_optimal_threshold,
    f1_scan,
    roc_auc,
    roc_curve_points,
)


def scored(seed: int, n: int = 300, decimals: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Labels and scores that separate somewhat; rounding makes many exact ties, also at 0.5 and 0.33."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0.0, 1.0).round(decimals)
    return y, s


@pytest.fixture(autouse=True)
def no_warnings():
    # Degenerate inputs must not warn (sklearn's UndefinedMetricWarning, numpy's divide-by-zero).
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("threshold", [0.5, 0.33, 0.0, 0.71, 1.0])
def test_binary_metrics_agree_with_sklearn(seed: int, threshold: float):
    y, s = scored(seed)
    assert np.isin(s, [0.5, 0.33]).sum() > 0  # ties at the fixed thresholds are exercised
    pred = (s >= threshold).astype(int)
    m = binary_metrics(y, s, threshold)
    assert m["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert m["recall"] == m["tpr"] == pytest.approx(recall_score(y, pred))
    if pred.any():
        assert m["precision"] == pytest.approx(precision_score(y, pred))
    assert m["f1"] == pytest.approx(f1_score(y, pred))
    assert m["tnr"] == pytest.approx(recall_score(1 - y, 1 - pred))
    assert m["fpr"] == pytest.approx(1 - m["tnr"])
    cm = confusion_matrix(y, pred, labels=[0, 1])
    assert m["confusion"] == cm.tolist()
    assert [m["tn"], m["fp"], m["fn"], m["tp"]] == cm.ravel().tolist()
    assert np.allclose(m["confusion_normalized"], confusion_matrix(y, pred, labels=[0, 1], normalize="true"))
    assert m["n"] == y.size and m["threshold"] == threshold


def test_score_at_threshold_is_positive():
    y = np.array([1, 0, 1, 0])
    s = np.array([0.5, 0.5, 0.33, 0.3299999])
    at_033 = binary_metrics(y, s, 0.33)
    assert (at_033["tp"], at_033["fp"], at_033["tn"], at_033["fn"]) == (2, 1, 1, 0)
    m = binary_metrics(y, s, 0.5)
    assert (m["tp"], m["fp"], m["tn"], m["fn"]) == (1, 1, 1, 1)


@pytest.mark.parametrize("seed", [0, 3])
def test_roc_agrees_with_sklearn(seed: int):
    y, s = scored(seed)
    assert roc_auc(y, s) == pytest.approx(roc_auc_score(y, s))
    for ours, theirs in zip(roc_curve_points(y, s), roc_curve(y, s)):
        np.testing.assert_allclose(ours, theirs)


def test_degenerate_inputs_are_defined_and_warning_free():
    only_bkg = np.zeros(5, dtype=int)
    s = np.array([0.1, 0.2, 0.6, 0.6, 0.9])
    m = binary_metrics(only_bkg, s, 0.5)
    assert m["tpr"] is None and m["recall"] is None  # no true signal: efficiency undefined
    assert m["precision"] == 0.0 and m["f1"] == 0.0  # 3 called signal, none right
    assert m["confusion_normalized"][1] == [None, None]
    assert roc_auc(only_bkg, s) is None
    assert all(a.size == 0 for a in roc_curve_points(only_bkg, s))

    nothing_called = binary_metrics(np.array([0, 0, 1]), np.array([0.1, 0.2, 0.3]), 0.5)
    assert nothing_called["precision"] is None  # nothing selected: purity undefined
    assert nothing_called["tpr"] == 0.0 and nothing_called["f1"] == 0.0

    all_bkg_none_called = binary_metrics(only_bkg, np.zeros(5), 0.5)
    assert all_bkg_none_called["f1"] is None and all_bkg_none_called["accuracy"] == 1.0

    ties = np.full(6, 0.4)
    assert roc_auc(np.array([0, 1, 0, 1, 0, 1]), ties) == 0.5

    empty = binary_metrics(np.array([], dtype=int), np.array([]), 0.5)
    assert empty["n"] == 0 and empty["accuracy"] is None

    report = metrics_report(only_bkg, s, test_true=only_bkg, test_score=s)
    assert report["threshold_choice"]["threshold"] == FALLBACK_THRESHOLD
    assert report["threshold_choice"]["fallback"] is True
    json.dumps(report, allow_nan=False)  # None, never NaN, in metrics.json


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="NaN"):
        binary_metrics([0, 1], [0.2, np.nan], 0.5)
    with pytest.raises(ValueError, match="0 or 1"):
        roc_auc([0, 2], [0.2, 0.3])
    with pytest.raises(ValueError, match="length"):
        metrics_report([0, 1], [0.1, 0.2], test_true=[0, 1, 1], test_score=[0.1, 0.2])


@pytest.mark.parametrize("seed", [0, 4, 5])
def test_f1_optimal_threshold_maximises_validation_f1(seed: int):
    y, s = scored(seed, n=200)
    t = f1_optimal_threshold(y, s)
    best_f1 = f1_score(y, (s >= t).astype(int))
    brute = max(f1_score(y, (s >= c).astype(int)) for c in np.unique(s))
    assert best_f1 == pytest.approx(brute)
    # The cut sits between two validation scores, not on one.
    assert not np.isin(t, s) or t == s.min()
    thr, f1 = f1_scan(y, s)
    np.testing.assert_allclose(f1, [f1_score(y, (s >= c).astype(int)) for c in thr])


def test_chosen_threshold_depends_on_validation_only():
    val_y, val_s = scored(10, n=150, decimals=3)
    test_y, test_s = scored(11, n=150, decimals=3)
    rng = np.random.default_rng(12)
    base = metrics_report(val_y, val_s, test_true=test_y, test_score=test_s)
    chosen = base["threshold_choice"]["threshold"]
    assert chosen == f1_optimal_threshold(val_y, val_s)

    # Any test set, however different (other size, flipped labels, scores reversed), leaves it put.
    for test_y2, test_s2 in [
        (1 - test_y, 1 - test_s),
        (rng.integers(0, 2, 40), rng.random(40)),
        (np.ones(7, dtype=int), np.full(7, 0.9)),
    ]:
        other = metrics_report(val_y, val_s, test_true=test_y2, test_score=test_s2)
        assert other["threshold_choice"] == base["threshold_choice"]
        assert other["test"]["thresholds"]["f1_opt_val"]["threshold"] == chosen
        assert other["val"] == base["val"]

    # A different validation set moves it.
    moved = metrics_report(val_y, np.clip(val_s + 0.2 * val_y, 0, 1), test_true=test_y, test_score=test_s)
    assert moved["threshold_choice"]["threshold"] != chosen
    moved = metrics_report(val_y, val_s**3, test_true=test_y, test_score=test_s)
    assert moved["threshold_choice"]["threshold"] != chosen


def test_report_layout():
    val_y, val_s = scored(20)
    test_y, test_s = scored(21)
    report = metrics_report(val_y, val_s, test_true=test_y, test_score=test_s)
    test = report["test"]
    assert set(test["thresholds"]) == {"0.5", "0.33", "f1_opt_val"}
    for name, t in (("0.5", 0.5), ("0.33", 0.33)):
        assert test["thresholds"][name] == binary_metrics(test_y, test_s, t)
    chosen = report["threshold_choice"]["threshold"]
    assert test["thresholds"]["f1_opt_val"] == binary_metrics(test_y, test_s, chosen)
    assert test["roc_auc"] == pytest.approx(roc_auc_score(test_y, test_s))
    assert test["n_events"] == test_y.size and test["n_signal"] == int(test_y.sum())
    assert report["val"]["n_events"] == val_y.size
    assert threshold_name(0.33) == "0.33" and threshold_name(0.5) == "0.5"
    json.dumps(report, allow_nan=False)
