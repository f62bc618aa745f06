"""The metrics evaluate writes for a point (`metrics.json`): the score's metrics on the validation
and test splits at the fixed thresholds and at the validation-chosen F1-optimal one, and the
warnings for a split without signal or background. The maths and its conventions (a score at the
threshold is signal, undefined ratios are None, the threshold chosen on validation only):
`nuwire.stats.metrics`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from numpy.typing import ArrayLike

from nuwire.stats.calibration import brier_score
from nuwire.stats.metrics import SCORE_RULE, binary_metrics, checked, f1_optimal_threshold, roc_auc


def threshold_name(threshold: float) -> str:
    """'0.5', '0.33': the key a fixed threshold has in metrics_report."""
    return format(float(threshold), "g")


def split_metrics(y_true: ArrayLike, score: ArrayLike, thresholds: dict[str, float]) -> dict[str, Any]:
    y, s = checked(y_true, score)
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
    *,
    test_true: ArrayLike,
    test_score: ArrayLike,
    thresholds: Sequence[float] = (0.5, 0.33),
) -> dict[str, Any]:
    """Metrics at the fixed thresholds and at the validation-chosen F1-optimal one (the test split by
    keyword: the threshold is chosen on the first pair, and a swap would choose it on test data).

    ``report["test"]["thresholds"][name]`` holds binary_metrics on the TEST set for name in
    "0.5", "0.33" (threshold_name of each fixed threshold) and "f1_opt_val"; each entry records
    its threshold value. ``report["val"]`` has the same on the validation set (where the
    F1-optimal entry is, by construction, an optimistic number). ``report["threshold_choice"]``
    says how the third threshold was chosen.
    """
    val_y, val_s = checked(val_true, val_score)
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
