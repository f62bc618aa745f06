"""Paired differences between a point's varied and nominal test scores (same events, same resamples).

For one sweep point and one variation: ΔAUC, Δ νe CC efficiency (TPR) and Δ purity (precision) at
the point's validation-chosen threshold, each varied − nominal. Both score sets are evaluated on the
same stratified bootstrap resamples of the test events (`nuwire.stats.bootstrap`, drawn in
`canonical_order` with evaluate's seed, so they are the resamples of the point's own intervals),
and each interval is the percentile interval of the per-resample difference. A variation that
leaves every score unchanged gives exactly 0 with the interval [0, 0].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from nuwire.errors import NuwireError
from nuwire.io.keys import EVENT_KEY
from nuwire.stats.bootstrap import (
    auc_resampled,
    canonical_order,
    interval,
    stratified_counts,
    threshold_metrics_resampled,
)
from nuwire.stats.metrics import roc_auc

METRICS = {"auc": "ROC AUC", "efficiency": "νe CC efficiency", "purity": "purity"}


@dataclass
class PairedDelta:
    """One (point, variation): the measured differences, their intervals and per-resample values."""

    n_events: int
    n_signal: int
    threshold: float
    nominal: dict[str, float | None]
    varied: dict[str, float | None]
    deltas: dict[str, dict[str, Any]]
    resampled: dict[str, np.ndarray]  # metric -> (resamples,) varied − nominal


def aligned(nominal: pd.DataFrame, varied: pd.DataFrame, where: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, nominal scores, varied scores) of the same test events in canonical order; the two
    frames must hold exactly the same events with the same labels."""
    nominal = nominal.reset_index(drop=True)
    order = canonical_order(nominal)
    nominal = nominal.iloc[order].reset_index(drop=True)
    merged = nominal[[*EVENT_KEY, "label", "score"]].merge(
        varied[[*EVENT_KEY, "label", "score"]], on=list(EVENT_KEY), how="left", suffixes=("", "_varied")
    )
    if len(varied) != len(nominal) or merged["score_varied"].isna().any():
        raise NuwireError(
            f"{where}: the varied predictions do not hold the nominal test events ({len(varied)} events against "
            f"{len(nominal)}). The event index changed since they were scored; rerun the systematics jobs."
        )
    if not (merged["label"].to_numpy() == merged["label_varied"].to_numpy()).all():
        raise NuwireError(f"{where}: labels differ between the nominal and varied predictions of the same events.")
    y = merged["label"].to_numpy(dtype=np.int64)
    return y, merged["score"].to_numpy(np.float64), merged["score_varied"].to_numpy(np.float64)


def _measured(y: np.ndarray, score: np.ndarray, threshold: float) -> dict[str, float | None]:
    ones = np.ones((1, y.size), dtype=np.int32)
    at = threshold_metrics_resampled(y, score, ones, threshold=threshold)
    value = {"auc": roc_auc(y, score), "efficiency": float(at["tpr"][0]), "purity": float(at["precision"][0])}
    return {k: (None if v is None or not np.isfinite(v) else float(v)) for k, v in value.items()}


def _resampled(y: np.ndarray, score: np.ndarray, *, threshold: float, counts: np.ndarray) -> dict[str, np.ndarray]:
    at = threshold_metrics_resampled(y, score, counts, threshold=threshold)
    return {"auc": auc_resampled(y, score, counts), "efficiency": at["tpr"], "purity": at["precision"]}


def difference(value: float | None, samples: np.ndarray) -> dict[str, Any]:
    """The measured difference with the percentile intervals of its resampled values
    (`nuwire.stats.bootstrap.interval`); `significant` when the 95% interval excludes 0."""
    iv = interval(value, samples)
    ci95 = iv["ci95"]
    significant = ci95 is not None and bool(ci95[0] > 0 or ci95[1] < 0)
    return {"delta": iv["value"] if ci95 is not None else None, "error": iv["error"], "ci68": iv["ci68"],
            "ci95": ci95, "significant": significant}  # fmt: skip


@dataclass(frozen=True)
class Nominal:
    """A point's nominal test predictions, measured once for all its variations: the events in
    canonical order, the resamples and the metrics on them."""

    predictions: pd.DataFrame
    threshold: float
    counts: np.ndarray  # (resamples, n) stratified bootstrap counts in canonical order
    measured: dict[str, float | None]
    resampled: dict[str, np.ndarray]


def nominal_metrics(predictions: pd.DataFrame, threshold: float, *, resamples: int, seed: int) -> Nominal:
    """The nominal side of every `paired_delta` of one point."""
    y, score, _ = aligned(predictions, predictions, "nominal predictions")
    counts = stratified_counts(y, resamples, seed)
    return Nominal(predictions, float(threshold), counts, _measured(y, score, threshold),
                   _resampled(y, score, threshold=threshold, counts=counts))  # fmt: skip


def paired_delta(nominal: Nominal, varied: pd.DataFrame, where: str = "predictions") -> PairedDelta:
    """Varied − nominal ΔAUC, Δ efficiency and Δ purity at the nominal's threshold on shared resamples."""
    y, _, s_var = aligned(nominal.predictions, varied, where)
    threshold, nom = nominal.threshold, nominal.measured
    var, r_var = _measured(y, s_var, threshold), _resampled(y, s_var, threshold=threshold, counts=nominal.counts)
    resampled, deltas = {}, {}
    for m in METRICS:
        resampled[m] = r_var[m] - nominal.resampled[m]
        value = None if nom[m] is None or var[m] is None else var[m] - nom[m]
        deltas[m] = difference(value, resampled[m])
    return PairedDelta(int(y.size), int(y.sum()), float(threshold), nom, var, deltas, resampled)
