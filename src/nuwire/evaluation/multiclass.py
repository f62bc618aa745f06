"""Multi-class evaluation of a `flavour` point (νμ CC, νe CC, NC; `nuwire.events.targets`).

Everything on the test events, every number with its interval:
- the confusion matrix at the arg-max of the class probabilities: counts, and each row normalised to
  the true class with a Wilson interval per cell (`nuwire.stats.binomial`);
- per class: efficiency (called as the class among the events of the class) and purity (of the class
  among the events called so), Wilson intervals;
- the accuracy at the arg-max, with a Wilson interval;
- one-vs-rest ROC AUC per class (the class's probability ranking the class against the rest, as
  scikit-learn's `roc_auc_score(multi_class="ovr", average=None)`), with stratified bootstrap
  intervals, and their unweighted mean (sklearn's "macro" average) with a bootstrap interval over
  resamples stratified on the true class;
- per-class efficiency in bins of the true neutrino energy.

`multiclass_report` gives all of it as one JSON-ready dict (metrics.json's `multiclass`),
`plot_multiclass` draws the matrix and the efficiency against energy.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from nuwire.events.targets import CLASS_TITLES
from nuwire.figures import FigureContext, new_figure, save_figure
from nuwire.stats.binomial import Z68, Z95, wilson_interval
from nuwire.stats.bootstrap import auc_resampled, interval, stratified_counts
from nuwire.stats.metrics import roc_auc
from nuwire.stats.numfmt import format_interval, format_pm, format_value

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


def accuracy_interval(correct: int, n: int) -> dict[str, Any]:
    """The arg-max accuracy `correct` / `n` with its 68% and 95% Wilson intervals; `error` is half
    the 68% interval (the digits it is printed with). All None for no events."""
    if not n:
        return {"value": None, "error": None, "ci68": None, "ci95": None, "n_correct": 0, "n_events": 0}
    p, lo68, hi68 = (float(v) for v in wilson_interval(np.array(correct), np.array(n), Z68))
    _, lo95, hi95 = (float(v) for v in wilson_interval(np.array(correct), np.array(n), Z95))
    return {"value": p, "error": (hi68 - lo68) / 2, "ci68": [lo68, hi68], "ci95": [lo95, hi95],
            "n_correct": int(correct), "n_events": int(n)}  # fmt: skip


def macro_auc_interval(classes: np.ndarray, probs: np.ndarray, *, resamples: int, seed: int) -> dict[str, Any]:
    """The unweighted mean of the one-vs-rest AUCs with its bootstrap interval: every class's AUC on
    the same resamples, stratified on the true class (None where a class is absent)."""
    aucs = one_vs_rest_auc(classes, probs)
    k = probs.shape[1]
    value = float(np.mean(aucs)) if all(a is not None for a in aucs) else None
    counts = stratified_counts(classes, resamples, seed)
    draws = np.mean([auc_resampled((classes == c).astype(np.int64), probs[:, c], counts) for c in range(k)], axis=0)
    return interval(value, draws) | {"n_events": int(classes.size)}


def one_vs_rest_auc(classes: np.ndarray, probs: np.ndarray) -> list[float | None]:
    """ROC AUC of each class's probability for that class against the rest (None: class absent or alone)."""
    classes = np.asarray(classes, dtype=np.int64)
    return [roc_auc((classes == c).astype(np.int64), probs[:, c]) for c in range(probs.shape[1])]


def efficiency_by_energy(
    classes: np.ndarray, predicted: np.ndarray, energy: np.ndarray, *, names: Sequence[str]
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
    *,
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
    return {
        "classes": list(names),
        "decision": "arg-max of the class probabilities",
        "n_events": int(classes.size),
        "n_per_class": [int(v) for v in row_total],
        "confusion": counts.tolist(),
        "confusion_normalized": _wilson(counts, np.repeat(row_total[:, None], k, axis=1)),
        "efficiency": _wilson(np.diag(counts), row_total),
        "purity": _wilson(np.diag(counts), col_total),
        "accuracy": accuracy_interval(int(np.trace(counts)), int(classes.size)),
        "roc_auc_ovr": auc_intervals,
        "roc_auc_ovr_macro": macro_auc_interval(classes, probs, resamples=resamples, seed=seed),
        "efficiency_by_energy": efficiency_by_energy(classes, predicted, energy, names=names),
        "interval": "Wilson score (68% and 95%) for proportions and the accuracy; stratified bootstrap for the "
        "AUCs (the macro mean's resamples stratified on the true class)",
    }


def _cell(report: Mapping[str, Any], i: int, j: int) -> str:
    norm = report["confusion_normalized"]
    v = norm["value"][i][j]
    if v is None:
        return "—"
    lo, hi = norm["ci68_lo"][i][j], norm["ci68_hi"][i][j]
    error = (hi - lo) / 2  # the digits: those of half the 68% interval
    return f"{format_value(v, error)}\n{format_interval(lo, hi, error)}\n({report['confusion'][i][j]})"


def overall_words(report: Mapping[str, Any]) -> str:
    """'accuracy 0.62, 68% [0.58, 0.66] (250 of 400); macro AUC 0.80 ± 0.02 (400 events)'."""
    acc, macro = report["accuracy"], report["roc_auc_ovr_macro"]
    if acc["value"] is None:
        words = "accuracy — (no events)"
    else:
        shown = f"{format_value(acc['value'], acc['error'])}, 68% {format_interval(*acc['ci68'], acc['error'])}"
        words = f"accuracy {shown} ({acc['n_correct']} of {acc['n_events']})"
    auc = format_pm(macro["value"], macro["error"]) if macro["value"] is not None else "—"
    return f"{words}; macro one-vs-rest AUC {auc} ({macro['n_events']} events)"


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
    fig.suptitle(
        f"Flavour classification, {report['n_events']} test events; one-vs-rest AUC: {aucs}\n{overall_words(report)}",
        fontsize=10,
    )
    save_figure(fig, path, context=context)
