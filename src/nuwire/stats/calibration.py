"""Calibration of the νe score on the test set: the reliability table and the Brier score.

A calibrated score s means "a fraction s of events scored s are signal". That fraction depends
on the test set's class balance (the datasets here are about half signal, far from a beam's
0.5%), so calibration is a statement about this test set, not about the beam.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from nuwire.stats.binomial import wilson_interval


def brier_score(y_true: ArrayLike, score: ArrayLike) -> float | None:
    """Mean squared difference of score and label (0/1); None without events. The one home of the
    Brier score: `nuwire.evaluation.metrics` reports it, `bootstrap.brier_resampled` resamples it."""
    y = np.asarray(y_true, dtype=np.float64).reshape(-1)
    s = np.asarray(score, dtype=np.float64).reshape(-1)
    return float(np.mean((s - y) ** 2)) if y.size else None


def reliability_table(y_true: ArrayLike, score: ArrayLike, n_bins: int = 10) -> pd.DataFrame:
    """Per equal-width score bin: events, signal events, mean score, signal fraction with its
    Wilson 68% interval (NaN for an empty bin). The last bin includes a score of 1."""
    y = np.asarray(y_true).astype(np.int64).reshape(-1)
    s = np.asarray(score, dtype=np.float64).reshape(-1)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.searchsorted(edges, s, side="right") - 1, 0, n_bins - 1)
    n = np.bincount(idx, minlength=n_bins)
    k = np.bincount(idx, weights=y, minlength=n_bins)
    total = np.bincount(idx, weights=s, minlength=n_bins)
    mean = np.divide(total, n, out=np.full(n_bins, np.nan), where=n > 0)
    frac, lo, hi = wilson_interval(k, n)
    return pd.DataFrame({"lo": edges[:-1], "hi": edges[1:], "n": n, "n_signal": k.astype(np.int64),
                         "mean_score": mean, "fraction": frac, "fraction_lo": lo, "fraction_hi": hi})  # fmt: skip
