"""Binary-classification metrics for the νe CC score, as plain numpy functions.

Conventions
-----------
* Labels are 0 (background) and 1 (CC νe/ν̄e); the score is the softmax probability of class 1.
* An event is called signal when ``score >= threshold`` (a score exactly at the threshold is
  positive), at every threshold, here and in the figures.
* A ratio whose denominator is zero (precision with no event called signal, TPR with no true
  signal, ...) is ``None``, written as ``null`` in JSON, not 0.0: "no events to measure" must not
  read as "measured and bad". F1 is ``2 TP / (2 TP + FP + FN)``, defined whenever that
  denominator is not zero (it is the harmonic mean of precision and recall where both exist, and
  0.0 when there is signal but none of it is found). ROC AUC is ``None`` with one class only;
  with all scores equal it is 0.5.
* The F1-optimal threshold is chosen on the validation set only; the test set is scored at it.
* The Brier score is the mean of (score - label)^2 (0 is perfect; 0.25 is a constant 0.5).
* Uncertainties of the test-set numbers come from `nuwire.stats.bootstrap` (test events only).

Agreement with scikit-learn: where a value is defined it equals accuracy_score, precision_score,
recall_score, f1_score, roc_auc_score and confusion_matrix applied to ``score >= threshold``
(see tests/test_metrics.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import roc_auc_score, roc_curve

from nuwire.stats.calibration import brier_score

SCORE_RULE = "signal when score >= threshold"
FALLBACK_THRESHOLD = 0.5  # used when the validation set cannot choose one (no signal in it)


def _checked(y_true: ArrayLike, score: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Labels as int64 0/1 and scores as float64, same length, finite; else ValueError."""
    y = np.asarray(y_true).reshape(-1)
    s = np.asarray(score, dtype=np.float64).reshape(-1)
    if y.shape != s.shape:
        raise ValueError(f"labels ({y.size}) and scores ({s.size}) differ in length")
    if y.size and not np.isin(y, (0, 1)).all():
        raise ValueError(f"labels must be 0 or 1, found {np.unique(y)[:10].tolist()}")
    if not np.isfinite(s).all():
        raise ValueError(f"{int((~np.isfinite(s)).sum())} of {s.size} scores are NaN or infinite")
    return y.astype(np.int64), s


def _ratio(num: int, den: int) -> float | None:
    return float(num / den) if den else None


def predict(score: ArrayLike, threshold: float) -> np.ndarray:
    """0/1 decisions: 1 where score >= threshold."""
    return (np.asarray(score, dtype=np.float64) >= threshold).astype(np.int64)


def confusion_counts(y_true: ArrayLike, score: ArrayLike, threshold: float) -> dict[str, int]:
    y, s = _checked(y_true, score)
    pred = s >= threshold
    pos = y == 1
    return {
        "tp": int(np.count_nonzero(pred & pos)),
        "fp": int(np.count_nonzero(pred & ~pos)),
        "tn": int(np.count_nonzero(~pred & ~pos)),
        "fn": int(np.count_nonzero(~pred & pos)),
    }


def binary_metrics(y_true: ArrayLike, score: ArrayLike, threshold: float) -> dict[str, Any]:
    """Metrics of the cut ``score >= threshold``.

    Keys: threshold, n, tp, fp, tn, fn, accuracy, tpr (= recall, signal efficiency), tnr, fpr,
    precision (= purity), recall, f1, confusion ([[tn, fp], [fn, tp]]: rows true class 0/1,
    columns predicted 0/1, as sklearn's confusion_matrix) and confusion_normalized (each row
    divided by its total; a row with no events is [None, None]).
    """
    c = confusion_counts(y_true, score, threshold)
    tp, fp, tn, fn = c["tp"], c["fp"], c["tn"], c["fn"]
    n = tp + fp + tn + fn
    rows = [[tn, fp], [fn, tp]]
    return {
        "threshold": float(threshold),
        "n": n,
        **c,
        "accuracy": _ratio(tp + tn, n),
        "tpr": _ratio(tp, tp + fn),
        "tnr": _ratio(tn, tn + fp),
        "fpr": _ratio(fp, tn + fp),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "confusion": rows,
        "confusion_normalized": [[_ratio(v, sum(row)) for v in row] for row in rows],
    }


def roc_auc(y_true: ArrayLike, score: ArrayLike) -> float | None:
    """Area under the ROC curve; None when only one class is present (it is undefined)."""
    y, s = _checked(y_true, score)
    if np.unique(y).size < 2:
        return None
    return float(roc_auc_score(y, s))


def roc_curve_points(
    y_true: ArrayLike, score: ArrayLike, drop_intermediate: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds) as sklearn's roc_curve; three empty arrays with one class only."""
    y, s = _checked(y_true, score)
    if np.unique(y).size < 2:
        empty = np.empty(0, dtype=np.float64)
        return empty, empty.copy(), empty.copy()
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=drop_intermediate)
    return fpr, tpr, thr


def f1_scan(y_true: ArrayLike, score: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """F1 of ``score >= t`` for every distinct score t, highest t first: (thresholds, f1).

    One sort and two cumulative sums instead of a pass over the data per threshold.
    """
    y, s = _checked(y_true, score)
    if s.size == 0:
        return np.empty(0), np.empty(0)
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]
    tp = np.cumsum(y_sorted)
    fp = np.cumsum(1 - y_sorted)
    # Tied scores go positive together: keep the last index of each run of equal scores.
    last = np.r_[s_sorted[1:] != s_sorted[:-1], True]
    tp, fp, thr = tp[last], fp[last], s_sorted[last]
    n_pos = int(y.sum())
    den = tp + fp + n_pos  # 2TP + FP + FN, since TP + FN = n_pos
    f1 = np.divide(2.0 * tp, den, out=np.zeros(tp.shape, dtype=np.float64), where=den > 0)
    return thr, f1


def f1_optimal_threshold(y_true_val: ArrayLike, score_val: ArrayLike) -> float:
    """The threshold that maximises F1 on the VALIDATION set (never pass test data here).

    Every threshold between two neighbouring distinct scores gives the same validation decisions;
    the midpoint is returned, so the cut does not sit on a validation event's score. At the lowest
    score (everything called signal) that score itself is returned. F1 ties go to the higher
    threshold (fewer events called signal). With no signal in the validation set F1 is 0 at every
    threshold and FALLBACK_THRESHOLD (0.5) is returned.
    """
    y, _ = _checked(y_true_val, score_val)
    thr, f1 = f1_scan(y_true_val, score_val)
    if thr.size == 0 or not y.any():
        return FALLBACK_THRESHOLD
    best = int(np.argmax(f1))  # first maximum = highest threshold among ties
    if best + 1 < thr.size:
        return float((thr[best] + thr[best + 1]) / 2.0)
    return float(thr[best])


def threshold_name(threshold: float) -> str:
    """'0.5', '0.33': the key a fixed threshold has in metrics_report."""
    return format(float(threshold), "g")


def split_metrics(y_true: ArrayLike, score: ArrayLike, thresholds: dict[str, float]) -> dict[str, Any]:
    y, s = _checked(y_true, score)
    return {
        "n_events": int(y.size),
        "n_signal": int(y.sum()),
        "roc_auc": roc_auc(y, s),
        "brier": brier_score(y, s),
        "thresholds": {name: binary_metrics(y, s, t) for name, t in thresholds.items()},
    }


def split_warnings(report: dict[str, Any]) -> list[str]:
    """Warnings for splits of a metrics_report without signal or without background: the AUC and
    the rates that need the missing class are undefined there, which must read as a warning, not a blank."""
    out = []
    for split in ("val", "test"):
        block = report.get(split) or {}
        n, n_signal = block.get("n_events", 0), block.get("n_signal", 0)
        missing = (
            "no events"
            if n == 0
            else "no signal (CC νe) events"
            if n_signal == 0
            else ("no background events" if n_signal == n else None)
        )
        if missing:
            out.append(
                f"{split} split has {missing} ({n_signal} signal of {n}): ROC AUC and the rates of the "
                "missing class are undefined. Use more input files, another split or a looser cut."
            )
    return out


def metrics_report(
    val_true: ArrayLike,
    val_score: ArrayLike,
    test_true: ArrayLike,
    test_score: ArrayLike,
    thresholds: Sequence[float] = (0.5, 0.33),
) -> dict[str, Any]:
    """Metrics at the fixed thresholds and at the validation-chosen F1-optimal one.

    ``report["test"]["thresholds"][name]`` holds binary_metrics on the TEST set for name in
    "0.5", "0.33" (threshold_name of each fixed threshold) and "f1_opt_val"; each entry records
    its threshold value. ``report["val"]`` has the same on the validation set (where the
    F1-optimal entry is, by construction, an optimistic number). ``report["threshold_choice"]``
    says how the third threshold was chosen.
    """
    val_y, val_s = _checked(val_true, val_score)
    chosen = f1_optimal_threshold(val_y, val_s)
    named = {threshold_name(t): float(t) for t in thresholds}
    named["f1_opt_val"] = chosen
    return {
        "score_rule": SCORE_RULE,
        "threshold_choice": {
            "name": "f1_opt_val",
            "threshold": chosen,
            "method": "maximum F1 on the validation set",
            "fallback": bool(not val_y.any()),  # True: no validation signal, FALLBACK_THRESHOLD used
        },
        "val": split_metrics(val_y, val_s, named),
        "test": split_metrics(test_true, test_score, named),
    }
