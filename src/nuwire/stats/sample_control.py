"""Sample-identity control: does the network score CC νe events by the file they came from?

In the OpenSamples files the signal comes almost all from the νe sample and the background from
the inclusive (bnb) sample, so a network could learn to tell the samples apart (run period,
detector conditions, generator settings) instead of the physics. The inclusive sample's own
CC νe events are the control: if the network learned νe CC interactions, they are selected as
often as the νe sample's, and their scores are distributed alike.

Two measures, on the test set's CC νe events only:
* the efficiency at the chosen threshold per sample group, with Wilson intervals, and the
  difference (inclusive minus νe sample) with Newcombe's 95% interval;
* the "sample AUC": the probability that a νe-sample event outscores an inclusive one, with a
  stratified bootstrap interval (0.5 = the scores do not tell the samples apart).
A difference is flagged when either test's 97.5% interval excludes "no difference" (two tests
at 97.5% each keep the chance of a false flag at most 5%: Bonferroni). With a handful of
inclusive CC νe events (the demo's) the intervals are wide and nothing can be flagged: that is
the honest answer, shown as such.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from nuwire.io.inputs import sample_group
from nuwire.io.keys import INCLUSIVE_SAMPLE, NUE_SAMPLE
from nuwire.stats.binomial import Z68, Z95, newcombe_difference, wilson_interval
from nuwire.stats.bootstrap import (
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    auc_resampled,
    canonical_order,
    interval,
    stratified_counts,
)
from nuwire.stats.metrics import roc_auc

SIGNAL_CATEGORY = "nue_cc"
FLAG_LEVEL = 0.975  # per test; two tests, so at most 5% false flags in all
Z_FLAG = 2.241403
# A percentile bootstrap of a handful of events is not an interval one can trust (two events give
# three possible resamples); below this many CC νe events per sample only the efficiency is tested.
MIN_AUC_EVENTS = 10


def _group_row(group: str, score: np.ndarray, threshold: float) -> dict[str, Any]:
    n, k = int(score.size), int((score >= threshold).sum())
    p, lo68, hi68 = (float(v) for v in wilson_interval(np.array(k), np.array(n), Z68))
    _, lo95, hi95 = (float(v) for v in wilson_interval(np.array(k), np.array(n), Z95))
    ok = n > 0
    return {
        "group": group, "n_signal": n, "n_selected": k,
        "efficiency": p if ok else None,
        "ci68": [lo68, hi68] if ok else None, "ci95": [lo95, hi95] if ok else None,
        "error": (hi68 - lo68) / 2 if ok else None,
        "median_score": float(np.median(score)) if ok else None,
    }  # fmt: skip


def sample_identity_control(
    test: pd.DataFrame, threshold: float, *, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED
) -> dict[str, Any]:
    """The control on test predictions (columns sample, run, subrun, event, category, score)."""
    signal = test[test["category"] == SIGNAL_CATEGORY]
    signal = signal.iloc[canonical_order(signal)]
    groups = signal["sample"].map(sample_group).to_numpy()
    score = signal["score"].to_numpy(dtype=np.float64)
    rows = {g: _group_row(g, score[groups == g], threshold) for g in (INCLUSIVE_SAMPLE, NUE_SAMPLE)}
    inc, nue = rows[INCLUSIVE_SAMPLE], rows[NUE_SAMPLE]
    inc_counts, nue_counts = (inc["n_selected"], inc["n_signal"]), (nue["n_selected"], nue["n_signal"])
    d, lo, hi = newcombe_difference(inc_counts, nue_counts)
    _, flag_lo, flag_hi = newcombe_difference(inc_counts, nue_counts, z=Z_FLAG)
    comparable = inc["n_signal"] > 0 and nue["n_signal"] > 0
    from_nue = (groups == NUE_SAMPLE).astype(np.int64)
    both = from_nue[(groups == NUE_SAMPLE) | (groups == INCLUSIVE_SAMPLE)]
    both_score = score[(groups == NUE_SAMPLE) | (groups == INCLUSIVE_SAMPLE)]
    auc = roc_auc(both, both_score) if comparable else None
    if comparable:
        resampled = auc_resampled(both, both_score, stratified_counts(both, resamples, seed))
        sample_auc = interval(auc, resampled)
        auc_lo, auc_hi = np.percentile(resampled, [50 * (1 - FLAG_LEVEL), 50 * (1 + FLAG_LEVEL)])
    else:
        sample_auc = {"value": None, "error": None, "ci68": None, "ci95": None}
    eff_differs = comparable and (flag_lo > 0 or flag_hi < 0)
    auc_testable = comparable and min(inc["n_signal"], nue["n_signal"]) >= MIN_AUC_EVENTS
    auc_differs = auc_testable and not auc_lo <= 0.5 <= auc_hi
    if not comparable:
        verdict = "cannot tell: a sample has no CC νe events in the test set"
    elif eff_differs or auc_differs:
        verdict = "DIFFERENCE: the network scores CC νe events of the two samples differently (95% overall)"
    else:
        verdict = "no difference at 95% (overall)"
    return {
        "threshold": float(threshold),
        "groups": rows,
        "efficiency_difference": {
            "value": None if not comparable else d,
            "ci95": None if not comparable else [lo, hi],
            "of": f"{INCLUSIVE_SAMPLE} minus {NUE_SAMPLE}",
        },  # fmt: skip
        "sample_auc": sample_auc
        | {
            "of": f"P(score of a {NUE_SAMPLE} event > score of a {INCLUSIVE_SAMPLE} event)",
            "tested": bool(auc_testable),
        },
        "flag": bool(eff_differs or auc_differs),
        "verdict": verdict,
    }
