"""Seeded, stratified bootstrap of test-set metrics, vectorised over resamples.

A resample draws the test set's signal events with replacement (as many as there are) and,
separately, its background events: the class counts stay fixed, as in the test set itself, so
every resample has both classes and every metric stays defined where it was. A resample is a
matrix of counts (how many times each event is drawn), one row per resample; every metric is
then a weighted sum, computed for all resamples at once:

* confusion counts at a threshold: ``TP = W_signal @ [score >= t]`` (one matrix-vector product);
* ROC AUC from ranks: with the background sorted by score, the running sum of its weights gives,
  for each signal event, the weighted number of background events scored below it (ties count
  one half): the Mann–Whitney statistic, no sort per resample;
* the Brier score: ``W @ (score - label)^2 / n``.

Intervals are percentile intervals of the resampled values: 68.27% (central, "1σ") and 95%.
The ``error`` shown as ± in the report is half the width of the 68% interval. The threshold is
held fixed (it was chosen on the validation set): the intervals are those of the test-set
measurement at that cut. Only test events enter here.

Events are put in a canonical order (by sample, run, subrun, event: `canonical_order`) before
the counts are drawn, so two sweep points scored on the same test events get the same resamples
in evaluate and in the summary's paired comparisons.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from nuwire.io.keys import EVENT_KEY
from nuwire.schema import section_defaults

# The workflow's (the schema's evaluate.bootstrap_resamples and .bootstrap_seed): the defaults of
# callers outside it.
_EVALUATE = section_defaults("evaluate")
DEFAULT_RESAMPLES: int = _EVALUATE["bootstrap_resamples"]
DEFAULT_SEED: int = _EVALUATE["bootstrap_seed"]
LEVELS = {"ci68": 0.6827, "ci95": 0.95}
METHOD = "stratified percentile bootstrap over test events (signal and background resampled separately)"
THRESHOLD_METRICS = ("accuracy", "tpr", "tnr", "precision", "f1")
CHUNK = 250  # resamples per block: bounds memory at CHUNK x n_events floats


def canonical_order(frame: pd.DataFrame) -> np.ndarray:
    """Row positions that sort `frame` by its event key: the order resamples are drawn in."""
    keys = frame[list(EVENT_KEY)].reset_index(drop=True)
    return keys.sort_values(list(EVENT_KEY), kind="stable").index.to_numpy()


def stratified_counts(y_true: ArrayLike, resamples: int, seed: int) -> np.ndarray:
    """(resamples, n) int32: how often each event is drawn, each class separately (signal and
    background; a multi-class label's every class), so every resample keeps the class totals."""
    y = np.asarray(y_true).astype(np.int64).reshape(-1)
    if resamples < 1:
        raise ValueError(f"resamples must be 1 or more, got {resamples}")
    rng = np.random.default_rng(seed)
    counts = np.zeros((resamples, y.size), dtype=np.int32)
    for cls in np.unique(y):  # binary labels: 0 then 1, as always (the same draws)
        idx = np.flatnonzero(y == cls)
        if idx.size:
            counts[:, idx] = rng.multinomial(idx.size, np.full(idx.size, 1.0 / idx.size), size=resamples)
    return counts


def _blocks(n: int) -> Iterator[slice]:
    for start in range(0, n, CHUNK):
        yield slice(start, min(start + CHUNK, n))


def auc_resampled(y_true: ArrayLike, score: ArrayLike, counts: np.ndarray) -> np.ndarray:
    """ROC AUC of every resample, (resamples,); NaN for all when a class is missing."""
    y = np.asarray(y_true).astype(bool).reshape(-1)
    s = np.asarray(score, dtype=np.float64).reshape(-1)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return np.full(counts.shape[0], np.nan)
    neg_order = np.argsort(s[~y], kind="stable")
    neg_sorted = s[~y][neg_order]
    pos_scores = s[y]
    below = np.searchsorted(neg_sorted, pos_scores, side="left")
    upto = np.searchsorted(neg_sorted, pos_scores, side="right")
    w_pos = counts[:, y]
    w_neg = counts[:, ~y][:, neg_order]
    out = np.empty(counts.shape[0])
    for b in _blocks(counts.shape[0]):
        cum = np.zeros((b.stop - b.start, n_neg + 1))
        np.cumsum(w_neg[b], axis=1, out=cum[:, 1:])
        wins = cum[:, below] + 0.5 * (cum[:, upto] - cum[:, below])  # weighted background below each signal
        out[b] = np.einsum("ij,ij->i", w_pos[b], wins)
    return out / (n_pos * n_neg)


def threshold_metrics_resampled(
    y_true: ArrayLike, score: ArrayLike, counts: np.ndarray, *, threshold: float
) -> dict[str, np.ndarray]:
    """accuracy, tpr, tnr, precision, f1 and fpr (background acceptance) of ``score >= threshold``
    for every resample; NaN where a ratio has no denominator (as `nuwire.stats.metrics` gives
    None). The counts must keep the signal and background totals (`stratified_counts` does)."""
    y = np.asarray(y_true).astype(bool).reshape(-1)
    called = np.asarray(score, dtype=np.float64).reshape(-1) >= threshold
    w = counts.astype(np.float64)
    tp = w[:, y] @ called[y]
    fp = w[:, ~y] @ called[~y]
    n_pos, n_neg = float(y.sum()), float((~y).sum())
    fn, tn = n_pos - tp, n_neg - fp
    called_n, f1_den = tp + fp, 2 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "accuracy": (tp + tn) / (n_pos + n_neg) if n_pos + n_neg else np.full(tp.shape, np.nan),
            "tpr": tp / n_pos if n_pos else np.full(tp.shape, np.nan),
            "tnr": tn / n_neg if n_neg else np.full(tp.shape, np.nan),
            "precision": np.where(called_n > 0, tp / np.where(called_n > 0, called_n, 1.0), np.nan),
            "f1": np.where(f1_den > 0, 2 * tp / np.where(f1_den > 0, f1_den, 1.0), np.nan),
            "fpr": fp / n_neg if n_neg else np.full(tp.shape, np.nan),
        }


def brier_resampled(y_true: ArrayLike, score: ArrayLike, counts: np.ndarray) -> np.ndarray:
    """Brier score (mean squared difference of score and label) of every resample."""
    y = np.asarray(y_true, dtype=np.float64).reshape(-1)
    sq = (np.asarray(score, dtype=np.float64).reshape(-1) - y) ** 2
    if y.size == 0:
        return np.full(counts.shape[0], np.nan)
    return counts.astype(np.float64) @ sq / y.size


def interval(value: float | None, samples: np.ndarray) -> dict[str, Any]:
    """The value measured on the test set itself with its percentile intervals from `samples`.

    Keys: value, error (half-width of the 68% interval), ci68, ci95 ([low, high]) and defined
    (the fraction of resamples where the metric exists). Without any defined resample the
    interval parts are None."""
    samples = np.asarray(samples, dtype=np.float64)
    ok = samples[np.isfinite(samples)]
    out: dict[str, Any] = {"value": None if value is None else float(value)}
    if ok.size == 0 or value is None:
        return out | {"error": None, "ci68": None, "ci95": None, "defined": float(ok.size / max(samples.size, 1))}
    for name, level in LEVELS.items():
        lo, hi = np.percentile(ok, [50 * (1 - level), 50 * (1 + level)])
        out[name] = [float(lo), float(hi)]
    out["error"] = float((out["ci68"][1] - out["ci68"][0]) / 2)
    out["defined"] = float(ok.size / samples.size)
    return out


def bootstrap_report(
    y_true: ArrayLike,
    score: ArrayLike,
    measured: Mapping[str, Any],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    counts: np.ndarray | None = None,
) -> dict[str, Any]:
    """Intervals of every test metric of `measured` (the "test" block of
    `nuwire.evaluation.metrics.metrics_report`, plus an optional "brier" value): ROC AUC, Brier score and,
    at each of its thresholds, accuracy, TPR, TNR, precision and F1.

    `y_true` and `score` must be in `canonical_order` for resamples to be shared between points;
    `counts` (from `stratified_counts`) may be passed to reuse them."""
    y = np.asarray(y_true).astype(np.int64).reshape(-1)
    s = np.asarray(score, dtype=np.float64).reshape(-1)
    if counts is None:
        counts = stratified_counts(y, resamples, seed)
    report: dict[str, Any] = {
        "method": METHOD,
        "resamples": int(counts.shape[0]),
        "seed": int(seed),
        "error_is": "half-width of the 68% interval",
        "n_events": int(y.size),
        "n_signal": int(y.sum()),
        "roc_auc": interval(measured.get("roc_auc"), auc_resampled(y, s, counts)),
        "brier": interval(measured.get("brier"), brier_resampled(y, s, counts)),
        "thresholds": {},
    }
    for name, m in measured.get("thresholds", {}).items():
        resampled = threshold_metrics_resampled(y, s, counts, threshold=m["threshold"])
        report["thresholds"][name] = {k: interval(m.get(k), resampled[k]) for k in THRESHOLD_METRICS}
    return report
