"""Multi-class evaluation of a `flavour` point (νμ CC, νe CC, NC; `nuwire.events.targets`).

Everything on the test events, every number with its interval:
- the confusion matrix at the arg-max of the class probabilities: counts, and each row normalised to
  the true class with a Wilson interval per cell (`nuwire.stats.binomial`);
- per class: efficiency (called as the class among the events of the class) and purity (of the class
  among the events called so), Wilson intervals;
- one-vs-rest ROC AUC per class (the class's probability ranking the class against the rest, as
  scikit-learn's `roc_auc_score(multi_class="ovr", average=None)`), with stratified bootstrap
  intervals, and their unweighted mean (sklearn's "macro" average);
- per-class efficiency in bins of the true neutrino energy.

`multiclass_report` gives all of it as one JSON-ready dict (metrics.json's `multiclass`),
`plot_multiclass` draws the matrix and the efficiency against energy.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from nuwire.evaluation.metrics import roc_auc
from nuwire.events.targets import CLASS_TITLES
from nuwire.figures import FigureContext, new_figure, save_figure
from nuwire.stats.binomial import Z68, Z95, wilson_interval
from nuwire.stats.bootstrap import auc_resampled, interval, stratified_counts
from nuwire.stats.numfmt import format_pm

PathLike = str | os.PathLike[str]
# Neutrino-energy bin edges (GeV) of the efficiency-against-energy table: the BNB flux's range.
ENERGY_EDGES = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, np.inf)


def confusion_matrix(classes: np.ndarray, predicted: np.ndarray, k: int) -> np.ndarray:
    """(k, k) counts: row the true class, column the called one (scikit-learn's convention)."""
    classes = np.asarray(classes, dtype=np.int64)
    predicted = np.asarray(predicted, dtype=np.int64)
    return np.bincount(classes * k + predicted, minlength=k * k).reshape(k, k)


def _wilson(k: np.ndarray, n: np.ndarray) -> dict[str, Any]:
    """Arrays of a proportion with its 68% and 95% Wilson intervals, JSON-ready (None where n = 0)."""
    p, lo68, hi68 = wilson_interval(k, n, Z68)
    _, lo95, hi95 = wilson_interval(k, n, Z95)

    def clean(a: np.ndarray) -> Any:
        return [None if not np.isfinite(v) else float(v) for v in np.ravel(a)]

    shape = np.shape(p)
    out = {"value": clean(p), "ci68_lo": clean(lo68), "ci68_hi": clean(hi68), "ci95_lo": clean(lo95),
           "ci95_hi": clean(hi95)}  # fmt: skip
    if len(shape) == 2:
        out = {key: [v[i * shape[1] : (i + 1) * shape[1]] for i in range(shape[0])] for key, v in out.items()}
    return out


def one_vs_rest_auc(classes: np.ndarray, probs: np.ndarray) -> list[float | None]:
    """ROC AUC of each class's probability for that class against the rest (None: class absent or alone)."""
    classes = np.asarray(classes, dtype=np.int64)
    return [roc_auc((classes == c).astype(np.int64), probs[:, c]) for c in range(probs.shape[1])]


def efficiency_by_energy(
    classes: np.ndarray, predicted: np.ndarray, energy: np.ndarray, names: Sequence[str]
) -> list[dict[str, Any]]:
    """Per class and true-energy bin: events of the class, how many were called the class, efficiency."""
    energy = np.asarray(energy, dtype=np.float64)
    bins = np.digitize(energy, ENERGY_EDGES[1:-1])  # 0 .. len(edges) - 2
    rows = []
    for c, name in enumerate(names):
        mine = classes == c
        n = np.bincount(bins[mine], minlength=len(ENERGY_EDGES) - 1)
        k = np.bincount(bins[mine & (predicted == c)], minlength=len(ENERGY_EDGES) - 1)
        eff = _wilson(k, n)
        for b in range(len(ENERGY_EDGES) - 1):
            rows.append({
                "class": name, "energy_lo": float(ENERGY_EDGES[b]),
                "energy_hi": None if not np.isfinite(ENERGY_EDGES[b + 1]) else float(ENERGY_EDGES[b + 1]),
                "n": int(n[b]), "selected": int(k[b]),
                **{key: values[b] for key, values in eff.items()},
            })  # fmt: skip
    return rows


def multiclass_report(
    classes: np.ndarray,
    probs: np.ndarray,
    energy: np.ndarray,
    names: Sequence[str],
    resamples: int,
    seed: int,
) -> dict[str, Any]:
    """The multi-class metrics of one test set (see the module docstring). `classes` are the true
    class indices, `probs` the (n, k) class probabilities; both in the order the bootstrap draws
    (`nuwire.stats.bootstrap.canonical_order`) for intervals shared between points."""
    classes = np.asarray(classes, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    k = len(names)
    predicted = probs.argmax(axis=1)
    counts = confusion_matrix(classes, predicted, k)
    row_total = counts.sum(axis=1)
    col_total = counts.sum(axis=0)
    aucs = one_vs_rest_auc(classes, probs)
    auc_intervals = []
    for c in range(k):
        y = (classes == c).astype(np.int64)
        draws = stratified_counts(y, resamples, seed + c)  # its own stream per class, stratified on it
        auc_intervals.append(interval(aucs[c], auc_resampled(y, probs[:, c], draws)))
    defined = [a for a in aucs if a is not None]
    return {
        "classes": list(names),
        "decision": "arg-max of the class probabilities",
        "n_events": int(classes.size),
        "n_per_class": [int(v) for v in row_total],
        "confusion": counts.tolist(),
        "confusion_normalized": _wilson(counts, np.repeat(row_total[:, None], k, axis=1)),
        "efficiency": _wilson(np.diag(counts), row_total),
        "purity": _wilson(np.diag(counts), col_total),
        "accuracy": float(np.trace(counts) / classes.size) if classes.size else None,
        "roc_auc_ovr": auc_intervals,
        "roc_auc_ovr_macro": float(np.mean(defined)) if len(defined) == k else None,
        "efficiency_by_energy": efficiency_by_energy(classes, predicted, energy, names),
        "interval": "Wilson score (68% and 95%) for proportions; stratified bootstrap for the AUCs",
    }


def _cell(report: Mapping[str, Any], i: int, j: int) -> str:
    norm = report["confusion_normalized"]
    v = norm["value"][i][j]
    if v is None:
        return "—"
    lo, hi = norm["ci68_lo"][i][j], norm["ci68_hi"][i][j]
    return f"{v:.2f}\n[{lo:.2f}, {hi:.2f}]\n({report['confusion'][i][j]})"


def plot_multiclass(
    report: Mapping[str, Any] | None, path: PathLike, *, context: FigureContext, note: str = ""
) -> None:
    """Row-normalised 3×3 matrix (68% Wilson interval and count in each cell) and per-class efficiency
    against the true neutrino energy; for a two-class point a page saying why there is none."""
    if report is None:
        fig = new_figure(6, 2)
        fig.text(0.5, 0.5, note or "two-class point: no multi-class evaluation", ha="center", va="center")
        save_figure(fig, path, context=context)
        return
    names = report["classes"]
    titles = [CLASS_TITLES.get(n, n) for n in names]
    k = len(names)
    fig = new_figure(12, 4.8)
    ax, ax2 = fig.subplots(1, 2)
    values = np.array([[np.nan if v is None else v for v in row] for row in report["confusion_normalized"]["value"]])
    ax.imshow(np.nan_to_num(values), cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            ax.text(j, i, _cell(report, i, j), ha="center", va="center", fontsize=8,
                    color="white" if np.nan_to_num(values[i, j]) > 0.6 else "black")  # fmt: skip
    ax.set_xticks(range(k), [f"called {t}" for t in titles])
    ax.set_yticks(range(k), [f"true {t}" for t in titles])
    ax.set_title("arg-max confusion, normalised per true class\n(68% Wilson interval, count)", fontsize=9)
    rows = report["efficiency_by_energy"]
    finite = [r["energy_hi"] for r in rows if r["energy_hi"] is not None]
    top = max(finite) + 1.0 if finite else 1.0
    for c, (name, title) in enumerate(zip(names, titles)):
        mine = [r for r in rows if r["class"] == name and r["n"] > 0]
        if not mine:
            continue
        lo = np.array([r["energy_lo"] for r in mine])
        hi = np.array([top if r["energy_hi"] is None else r["energy_hi"] for r in mine])
        x = (lo + hi) / 2 + (c - 1) * 0.04
        y = np.array([r["value"] for r in mine], dtype=np.float64)
        err = np.array([y - [r["ci68_lo"] for r in mine], [r["ci68_hi"] for r in mine] - y])
        ax2.errorbar(
            x,
            y,
            xerr=(hi - lo) / 2,
            yerr=err,
            fmt="o",
            capsize=2,
            label=f"{title} ({sum(r['n'] for r in mine)} events)",
        )
    ax2.set_ylim(0, 1.05)
    ax2.set_xlabel("true neutrino energy (GeV; last bin open)")
    ax2.set_ylabel("efficiency at the arg-max (68% Wilson)")
    ax2.set_title("per-class efficiency against neutrino energy (test set)", fontsize=9)
    ax2.legend(fontsize=7)
    aucs = ", ".join(
        f"{t} {format_pm(a['value'], a['error'])}" if a["value"] is not None else f"{t} —"
        for t, a in zip(titles, report["roc_auc_ovr"])
    )
    fig.suptitle(f"Flavour classification, {report['n_events']} test events; one-vs-rest AUC: {aucs}", fontsize=10)
    save_figure(fig, path, context=context)
