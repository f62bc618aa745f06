"""Comparing two sweep points' ROC AUC, with the uncertainty of the difference.

Paired (same test events): both points are scored on the same bootstrap resamples
(`nuwire.stats.bootstrap.stratified_counts` of the shared labels), and the interval is that of
the per-resample difference. Events that both models find easy or hard move both AUCs together,
so this interval is much narrower than the two separate ones combined, and is the right one.

Unpaired (different test events, e.g. the `full` and `top50` cuts): the two measurements are
independent; the difference's interval combines the two intervals in quadrature. It says less,
and the two AUCs may answer different questions (top50 drops the lower half of the signal).

With several training seeds per point, each side's AUC is the mean over its seeds (on each
resample), and the spread across seeds (standard error of that mean) is added in quadrature
to the bootstrap interval. A difference is called significant at 95% when its 95% interval
excludes zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from nuwire.stats.binomial import Z95
from nuwire.stats.bootstrap import LEVELS, auc_resampled
from nuwire.stats.metrics import roc_auc
from nuwire.stats.multiplicity import bootstrap_p_value, normal_p_value


def seed_standard_error(values: Sequence[float]) -> float:
    """Standard error of the mean over seeds (0 with one seed)."""
    v = np.asarray(values, dtype=np.float64)
    return float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else 0.0


def _widen(centre: float, lo: float, hi: float, *, extra_sd: float, z: float) -> list[float]:
    return [centre - float(np.hypot(centre - lo, z * extra_sd)), centre + float(np.hypot(hi - centre, z * extra_sd))]


def paired_auc_difference(
    y_true: np.ndarray, scores_a: Sequence[np.ndarray], scores_b: Sequence[np.ndarray], *, counts: np.ndarray
) -> dict[str, Any]:
    """AUC(a) - AUC(b) on the same test events (same order as `y_true` and `counts`); each of
    scores_a and scores_b holds one score array per training seed."""
    auc_a = [roc_auc(y_true, s) for s in scores_a]
    auc_b = [roc_auc(y_true, s) for s in scores_b]
    if any(v is None for v in auc_a + auc_b):
        return {"method": "paired bootstrap", "delta": None, "error": None, "ci68": None, "ci95": None,
                "significant": False}  # fmt: skip
    delta = float(np.mean(auc_a) - np.mean(auc_b))
    resampled = np.mean([auc_resampled(y_true, s, counts) for s in scores_a], axis=0) - np.mean(
        [auc_resampled(y_true, s, counts) for s in scores_b], axis=0
    )
    seed_sd = float(np.hypot(seed_standard_error(auc_a), seed_standard_error(auc_b)))
    out: dict[str, Any] = {"method": "paired bootstrap", "delta": delta, "seed_sd": seed_sd}
    for name, level in LEVELS.items():
        lo, hi = np.percentile(resampled, [50 * (1 - level), 50 * (1 + level)])
        out[name] = _widen(delta, float(lo), float(hi), extra_sd=seed_sd, z=1.0 if name == "ci68" else Z95)
    out["error"] = (out["ci68"][1] - out["ci68"][0]) / 2
    out["significant"] = bool(out["ci95"][0] > 0 or out["ci95"][1] < 0)
    # Share of resamples in which b is at least as good: a one-sided bootstrap p-value of "a > b".
    out["fraction_b_not_worse"] = float(np.mean(resampled <= 0))
    # Two-sided, for the family-wise correction (nuwire.stats.multiplicity); the seed spread widens
    # the interval but is not in the resamples, so with several seeds the Gaussian reading of the
    # widened interval is used instead.
    out["p_value"] = bootstrap_p_value(resampled) if seed_sd == 0 else normal_p_value(delta, out["ci95"])
    return out


def unpaired_auc_difference(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """AUC(a) - AUC(b) of two intervals (`nuwire.stats.bootstrap.interval` dicts) measured on
    different events: independent errors added in quadrature, each side of each interval."""
    if a.get("value") is None or b.get("value") is None or a.get("ci95") is None or b.get("ci95") is None:
        return {"method": "unpaired", "delta": None, "error": None, "ci68": None, "ci95": None, "significant": False}
    delta = a["value"] - b["value"]
    out: dict[str, Any] = {"method": "unpaired (different test events)", "delta": float(delta)}
    for name in LEVELS:
        lo = np.hypot(a["value"] - a[name][0], b[name][1] - b["value"])
        hi = np.hypot(a[name][1] - a["value"], b["value"] - b[name][0])
        out[name] = [float(delta - lo), float(delta + hi)]
    out["error"] = (out["ci68"][1] - out["ci68"][0]) / 2
    out["significant"] = bool(out["ci95"][0] > 0 or out["ci95"][1] < 0)
    out["p_value"] = normal_p_value(float(delta), out["ci95"])
    return out
