"""The summary's multi-class section: for every `flavour` point (each training seed), the 3×3
confusion matrix at the arg-max (counts and row-normalised with 68% Wilson intervals), each class's
efficiency and purity, and its one-vs-rest ROC AUC (metrics.json's `multiclass`,
`nuwire.evaluation.multiclass`)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import pandas as pd

from nuwire.evaluation.multiclass import overall_words
from nuwire.events.targets import CLASS_TITLES
from nuwire.report.comparisons import PointResult
from nuwire.stats.numfmt import format_interval, format_pm, format_value

COLUMNS = ["point", "true class", "n", "called νμ CC", "called νe CC", "called NC", "efficiency", "purity",
           "one-vs-rest AUC"]  # fmt: skip


def _fraction(block: dict[str, Any], *at: int) -> str:
    """value [68% low, high] of a Wilson block, to the digits of half its interval, or — where the
    row is empty."""
    pick = (lambda a: a[at[0]][at[1]]) if len(at) == 2 else (lambda a: a[at[0]])
    value = pick(block["value"])
    if value is None:
        return "—"
    lo, hi = pick(block["ci68_lo"]), pick(block["ci68_hi"])
    error = (hi - lo) / 2
    return f"{format_value(value, error)} {format_interval(lo, hi, error)}"


def multiclass_table(results: Sequence[PointResult]) -> pd.DataFrame:
    """One row per flavour point (seed) and true class; the called-as cells are 'count (row fraction
    [68% interval])'."""
    rows = []
    for r in results:
        for m in r.metrics:
            mc = m.get("multiclass")
            if not mc:
                continue
            names = mc["classes"]
            called = {name: j for j, name in enumerate(names)}
            for i, name in enumerate(names):
                auc = mc["roc_auc_ovr"][i]
                row = {"point": m["point"]["point"], "true class": CLASS_TITLES.get(name, name),
                       "n": str(mc["n_per_class"][i])}  # fmt: skip
                for column, cls in (("called νμ CC", "numu_cc"), ("called νe CC", "nue_cc"), ("called NC", "nc")):
                    j = called[cls]
                    row[column] = f"{mc['confusion'][i][j]} ({_fraction(mc['confusion_normalized'], i, j)})"
                row["efficiency"] = _fraction(mc["efficiency"], i)
                row["purity"] = _fraction(mc["purity"], i)
                row["one-vs-rest AUC"] = format_pm(auc["value"], auc.get("error"))
                rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def overall_lines(results: Sequence[PointResult]) -> list[str]:
    """Per flavour point (seed): its arg-max accuracy and macro AUC, each with its interval."""
    return [f"{m['point']['point']}: {overall_words(m['multiclass'])}" for r in results for m in r.metrics
            if m.get("multiclass")]  # fmt: skip


def multiclass_html(results: Sequence[PointResult]) -> str:
    """The section of summary.html ('' when the sweep has no flavour point)."""
    table = multiclass_table(results)
    if table.empty:
        return ""
    overall = "".join(f"<p>{html.escape(line)}</p>" for line in overall_lines(results))
    return (
        "<h3>Flavour points: three-class confusion at the arg-max (test set)</h3>"
        "<p>Rows are the true class; each called-as cell gives the count and, in brackets, the fraction of the "
        "true class with its 68% Wilson interval. Efficiency: called as its own class; purity: of the events "
        "called so, the share truly of the class. One-vs-rest AUC: the class's probability ranking it against "
        "the other two, ± half the 68% stratified-bootstrap interval.</p>"
        + table.to_html(index=False, border=0, escape=True).replace("\\n", "<br>")
        + "<p>Accuracy: the share of the test events called as their true class, with its 68% Wilson interval; "
        "macro one-vs-rest AUC: the mean of the three, ± half the 68% interval of a bootstrap stratified on the "
        "true class.</p>"
        + overall
        + "<p>"
        + html.escape("The flavour points also appear in the table above through their P(CC νe).")
        + "</p>"
    )
