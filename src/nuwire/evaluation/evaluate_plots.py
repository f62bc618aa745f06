"""Evaluation figures of one sweep point. Each function draws one PNG and saves it with
`nuwire.figures.save_figure` (atomic; labelled when the data are synthetic).

Decisions follow `nuwire.stats.metrics`: an event is called signal when score >= threshold.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, NullFormatter

from nuwire.figures import CATEGORY_LABELS, MARKERS, FigureContext, new_figure, save_figure
from nuwire.io.keys import INCLUSIVE_SAMPLE, NUE_SAMPLE
from nuwire.stats.binomial import wilson_interval
from nuwire.stats.metrics import roc_curve_points
from nuwire.stats.numfmt import format_interval, format_pm

PathLike = str | os.PathLike[str]
CLASS_NAMES = ("other", "νe CC")


def _empty_note(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=10, color="dimgrey")


def plot_roc(
    y_true: np.ndarray,
    score: np.ndarray,
    test_metrics: Mapping[str, Any],
    *,
    path: PathLike,
    context: FigureContext,
    title: str = "ROC curve (test set)",
    baseline: Mapping[str, Any] | None = None,
) -> None:
    """ROC curve with its AUC and the operating point of each threshold in
    ``test_metrics["thresholds"]`` (the "test" part of `nuwire.evaluation.metrics.metrics_report`),
    and Pandora's selection as a point when ``baseline`` (`nuwire.evaluation.pandora.baseline_report`)
    has one."""
    fig = new_figure(6, 5.5)
    ax = fig.add_subplot()
    fpr, tpr, _ = roc_curve_points(y_true, score)
    auc = test_metrics.get("roc_auc")
    auc_err = test_metrics.get("uncertainty", {}).get("roc_auc", {}).get("error")
    if fpr.size:
        ax.plot(fpr, tpr, color="C0", label=f"ROC (AUC {format_pm(auc, auc_err)}, {len(y_true)} events)")
        for i, (name, m) in enumerate(test_metrics.get("thresholds", {}).items()):
            if m.get("fpr") is None or m.get("tpr") is None:
                continue
            label = f"score ≥ {m['threshold']:.3f}" + (" (F1-optimal on val)" if name == "f1_opt_val" else "")
            ax.plot(
                m["fpr"],
                m["tpr"],
                linestyle="none",
                marker=MARKERS[i % len(MARKERS)],
                markersize=8,
                color=f"C{i + 1}",
                label=label,
            )
        if baseline and baseline.get("available"):
            e, f = baseline["efficiency"], baseline["fpr"]
            xerr = None if f["ci68"] is None else [[f["value"] - f["ci68"][0]], [f["ci68"][1] - f["value"]]]
            yerr = None if e["ci68"] is None else [[e["value"] - e["ci68"][0]], [e["ci68"][1] - e["value"]]]
            ax.errorbar([f["value"]], [e["value"]], xerr=xerr, yerr=yerr, marker="*", markersize=12, color="black",
                        linestyle="none", capsize=2, label=f"{baseline['label']}: efficiency "
                        f"{format_pm(e['value'], e['error'])}, purity "
                        f"{format_pm(baseline['purity']['value'], baseline['purity']['error'])}")  # fmt: skip
        ax.legend(loc="lower right", fontsize=8)
    else:
        _empty_note(ax, "ROC undefined: the test set holds one class only")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("background acceptance (false positive rate)")
    ax.set_ylabel("νe CC efficiency (true positive rate)")
    ax.set_title(title)
    save_figure(fig, path, context=context)


def plot_training_curves(
    history: PathLike | pd.DataFrame,
    path: PathLike,
    *,
    context: FigureContext,
    best_epoch: int | None = None,
    title: str = "Training history",
) -> None:
    """Loss, accuracy, ROC AUC (train and validation) and learning rate per epoch, from
    history.csv (columns epoch, train_loss, val_loss, train_acc, val_acc, train_auc, val_auc, lr).
    ``best_epoch`` (the one whose weights are evaluated) is marked with a dashed line."""
    frame = history if isinstance(history, pd.DataFrame) else pd.read_csv(history)
    fig = new_figure(11, 3.6)
    axes = fig.subplots(1, 4)
    epoch = frame["epoch"].to_numpy()
    for ax, (key, label) in zip(axes[:3], (("loss", "loss"), ("acc", "accuracy"), ("auc", "ROC AUC"))):
        for split, style in (("train", "-"), ("val", "--")):
            values = pd.to_numeric(frame[f"{split}_{key}"], errors="coerce").to_numpy()
            ax.plot(epoch, values, style, marker="o", markersize=3, label=split)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.legend(fontsize=8)
    axes[3].plot(epoch, frame["lr"].to_numpy(), marker="o", markersize=3, color="C2")
    axes[3].set_xlabel("epoch")
    axes[3].set_ylabel("learning rate")
    if (frame["lr"] > 0).all() and frame["lr"].max() > 10 * frame["lr"].min():
        axes[3].set_yscale("log")
    if best_epoch is not None:
        for ax in axes:
            ax.axvline(best_epoch, color="grey", linestyle=":", linewidth=1)
    fig.suptitle(title + (f" (best validation epoch {best_epoch})" if best_epoch is not None else ""))
    save_figure(fig, path, context=context)


def plot_score_distributions(
    score: np.ndarray,
    category: Sequence[str] | np.ndarray,
    path: PathLike,
    *,
    context: FigureContext,
    thresholds: Mapping[str, float] | None = None,
    bins: int = 40,
    title: str = "νe score per true category (test set)",
) -> None:
    """Histogram of the score per true category (nue_cc, numu_cc, nc), log y; vertical lines at
    ``thresholds`` (name -> value)."""
    score = np.asarray(score, dtype=np.float64)
    category = np.asarray(category)
    edges = np.linspace(0.0, 1.0, bins + 1)
    fig = new_figure(6.4, 4.6)
    ax = fig.add_subplot()
    drawn = False
    for i, (key, label) in enumerate(CATEGORY_LABELS.items()):
        values = score[category == key]
        if values.size:
            ax.hist(values, bins=edges, histtype="step", linewidth=1.6, color=f"C{i}", label=f"{label} ({values.size})")
            drawn = True
    for j, (name, t) in enumerate((thresholds or {}).items()):
        ax.axvline(
            t, color="grey", linestyle=("--", ":", "-.")[j % 3], linewidth=1, label=f"threshold {name} = {t:.3f}"
        )
    if drawn:
        ax.set_yscale("log")  # only with data: a log axis of nothing warns
        ax.set_ylim(bottom=0.5)  # a bin with one event stays visible
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.legend(fontsize=8)
    else:
        _empty_note(ax, "no events")
    ax.set_xlim(0, 1)
    ax.set_xlabel("νe CC score (softmax probability)")
    ax.set_ylabel("events per bin")
    ax.set_title(title)
    save_figure(fig, path, context=context)


def energy_bins(energy: np.ndarray, n_bins: int = 8) -> np.ndarray:
    """Bin edges at quantiles of the energies (about equal events per bin, so comparable errors)."""
    energy = np.asarray(energy, dtype=np.float64)
    energy = energy[np.isfinite(energy)]
    if energy.size == 0:
        return np.array([0.0, 1.0])
    edges = np.unique(np.quantile(energy, np.linspace(0.0, 1.0, n_bins + 1)))
    if edges.size < 2:
        edges = np.array([edges[0] - 0.5, edges[0] + 0.5])
    return edges


def efficiency_purity(
    y_true: np.ndarray, score: np.ndarray, energy: np.ndarray, *, threshold: float, edges: np.ndarray
) -> pd.DataFrame:
    """Per energy bin: signal efficiency (selected signal / signal) and purity (selected signal /
    selected), with Wilson intervals. Events outside the edges are left out."""
    y = np.asarray(y_true).astype(bool)
    sel = np.asarray(score, dtype=np.float64) >= threshold
    energy = np.asarray(energy, dtype=np.float64)
    n_bins = edges.size - 1
    # The last bin is closed on the right so the maximum energy is counted.
    idx = np.clip(np.searchsorted(edges, energy, side="right") - 1, 0, n_bins - 1)
    inside = np.isfinite(energy) & (energy >= edges[0]) & (energy <= edges[-1])

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(idx[inside & mask], minlength=n_bins)

    n_sig, n_sig_sel, n_sel = count(y), count(y & sel), count(sel)
    eff, eff_lo, eff_hi = wilson_interval(n_sig_sel, n_sig)
    pur, pur_lo, pur_hi = wilson_interval(n_sig_sel, n_sel)
    return pd.DataFrame({
        "lo": edges[:-1], "hi": edges[1:], "n_signal": n_sig, "n_selected": n_sel, "n_signal_selected": n_sig_sel,
        "efficiency": eff, "efficiency_lo": eff_lo, "efficiency_hi": eff_hi,
        "purity": pur, "purity_lo": pur_lo, "purity_hi": pur_hi,
    })  # fmt: skip


def plot_efficiency(
    y_true: np.ndarray,
    score: np.ndarray,
    nu_energy: np.ndarray,
    *,
    threshold: float,
    path: PathLike,
    context: FigureContext,
    title: str | None = None,
) -> pd.DataFrame:
    """Efficiency (TPR) and purity against true neutrino energy at ``threshold``, Wilson 68%
    binomial error bars, bins at energy quantiles of all events. Returns the table drawn."""
    edges = energy_bins(nu_energy)
    table = efficiency_purity(y_true, score, nu_energy, threshold=threshold, edges=edges)
    centre = 0.5 * (table["lo"] + table["hi"]).to_numpy()
    half_width = 0.5 * (table["hi"] - table["lo"]).to_numpy()
    fig = new_figure(6.4, 4.6)
    ax = fig.add_subplot()
    for key, label, colour, shift in (("efficiency", "efficiency (TPR)", "C0", -0.1), ("purity", "purity", "C3", 0.1)):
        p = table[key].to_numpy()
        ok = np.isfinite(p)
        err = np.vstack([p - table[f"{key}_lo"].to_numpy(), table[f"{key}_hi"].to_numpy() - p])[:, ok]
        # A small horizontal shift keeps the two sets of error bars apart.
        ax.errorbar(
            centre[ok] + shift * half_width[ok],
            p[ok],
            xerr=half_width[ok] * (1 - abs(shift)),
            yerr=err,
            linestyle="none",
            marker="o",
            markersize=4,
            color=colour,
            label=label,
        )
    if not np.isfinite(table["efficiency"]).any() and not np.isfinite(table["purity"]).any():
        _empty_note(ax, "no signal and no selected events")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("true neutrino energy [GeV]")
    ax.set_ylabel("fraction")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title or f"Efficiency and purity, score ≥ {threshold:.3f} (test set)")
    save_figure(fig, path, context=context)
    return table


def plot_confusion(
    metrics_at_threshold: Mapping[str, Any], path: PathLike, *, context: FigureContext, title: str | None = None
) -> None:
    """Counts and row-normalised confusion matrices side by side, from one binary_metrics entry."""
    counts = np.asarray(metrics_at_threshold["confusion"], dtype=np.int64)
    norm = np.array(
        [[np.nan if v is None else v for v in row] for row in metrics_at_threshold["confusion_normalized"]],
        dtype=np.float64,
    )
    fig = new_figure(9, 4.2)
    axes = fig.subplots(1, 2)
    panels = (
        (axes[0], counts, "counts", lambda v: f"{int(v)}"),
        (axes[1], norm, "normalised per true class", lambda v: "—" if np.isnan(v) else f"{v:.3f}"),
    )
    for ax, matrix, label, fmt in panels:
        shown = np.nan_to_num(matrix.astype(np.float64), nan=0.0)
        vmax = shown.max() if shown.max() > 0 else 1.0
        ax.imshow(shown, cmap="Blues", vmin=0, vmax=vmax)
        for (i, j), v in np.ndenumerate(matrix):
            ax.text(
                j,
                i,
                fmt(v),
                ha="center",
                va="center",
                fontsize=12,
                color="white" if shown[i, j] > 0.6 * vmax else "black",
            )
        ax.set_xticks([0, 1], [f"called {c}" for c in CLASS_NAMES])
        ax.set_yticks([0, 1], [f"true {c}" for c in CLASS_NAMES])
        ax.set_title(label)
    t = metrics_at_threshold["threshold"]
    fig.suptitle(title or f"Confusion matrix at score ≥ {t:.3f} (test set)")
    save_figure(fig, path, context=context)


def plot_reliability(
    table: pd.DataFrame,
    brier: Mapping[str, Any],
    path: PathLike,
    *,
    context: FigureContext,
    title: str = "Reliability of the νe score (test set)",
) -> None:
    """Signal fraction per score bin against the bin's mean score (Wilson 68% error bars) over the
    diagonal of a calibrated score, with the events per bin below; the Brier score ± its
    bootstrap error in the legend. `table` is `nuwire.stats.calibration.reliability_table`."""
    fig = new_figure(6.2, 6.0)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    ok = table["n"].to_numpy() > 0
    frac = table["fraction"].to_numpy()[ok]
    err = np.vstack([frac - table["fraction_lo"].to_numpy()[ok], table["fraction_hi"].to_numpy()[ok] - frac])
    n = int(table["n"].sum())
    label = f"test events ({n}; Brier {format_pm(brier.get('value'), brier.get('error'))})"
    top.errorbar(
        table["mean_score"].to_numpy()[ok], frac, yerr=err, marker="o", linestyle="none", color="C0", label=label
    )
    top.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="calibrated")
    top.set_ylim(-0.02, 1.02)
    top.set_ylabel("fraction of νe CC events in the bin")
    top.legend(fontsize=8, loc="upper left")
    top.set_title(title)
    centres = 0.5 * (table["lo"] + table["hi"]).to_numpy()
    bottom.bar(
        centres, table["n"].to_numpy(), width=(table["hi"] - table["lo"]).to_numpy(), color="C7", edgecolor="white"
    )
    bottom.set_ylabel("events")
    bottom.set_xlabel("νe CC score (softmax probability)")
    bottom.set_xlim(0, 1)
    save_figure(fig, path, context=context)


def efficiency_text(row: Mapping[str, Any]) -> str:
    """'0.75, 68% [0.54, 0.89]': a binomial efficiency with its (asymmetric) Wilson interval."""
    if row.get("efficiency") is None:
        return "no events"
    return f"{row['efficiency']:.2f}, 68% {format_interval(*row['ci68'], row['error'])}"


def plot_sample_control(
    test: pd.DataFrame, control: Mapping[str, Any], path: PathLike, *, context: FigureContext
) -> None:
    """The sample-identity control (`nuwire.stats.sample_control`): score distributions of the CC νe
    test events of each sample group (left) and their efficiency at the threshold with Wilson
    68% and 95% intervals (right), with the verdict as title."""
    from nuwire.io.inputs import sample_group

    fig = new_figure(10, 4.2)
    left, right = fig.subplots(1, 2)
    signal = test[test["category"] == "nue_cc"]
    groups = signal["sample"].map(sample_group).to_numpy()
    edges = np.linspace(0, 1, 21)
    names = {INCLUSIVE_SAMPLE: f"inclusive ({INCLUSIVE_SAMPLE}) files", NUE_SAMPLE: "νe files"}
    for i, (key, row) in enumerate(control["groups"].items()):
        values = signal["score"].to_numpy()[groups == key]
        if values.size:
            left.hist(
                values,
                bins=edges,
                histtype="step",
                density=True,
                linewidth=1.6,
                color=f"C{i}",
                label=f"{names.get(key, key)} ({values.size} CC νe)",
            )
        eff = row["efficiency"]
        if eff is not None:
            for ci, width in (("ci95", 1.0), ("ci68", 3.0)):
                right.plot(row[ci], [i, i], color=f"C{i}", linewidth=width, solid_capstyle="butt")
            right.plot([eff], [i], "o", color=f"C{i}")
            # Wilson intervals are asymmetric near 0 and 1: shown as intervals, not as ±.
            right.text(
                eff,
                i + 0.18,
                f"{row['n_selected']}/{row['n_signal']} = {efficiency_text(row)}",
                ha="center",
                fontsize=8,
            )
        else:
            right.text(0.5, i, "no CC νe events", ha="center", va="center", fontsize=8, color="dimgrey")
    left.axvline(
        control["threshold"], color="grey", linestyle="--", linewidth=1, label=f"threshold {control['threshold']:.3f}"
    )
    left.set_xlim(0, 1)
    left.set_xlabel("νe CC score")
    left.set_ylabel("events per unit score (normalised)")
    left.legend(fontsize=8, loc="upper left")
    left.set_title("CC νe test events by sample", fontsize=10)
    keys = list(control["groups"])
    right.set_yticks(range(len(keys)), [names.get(k, k) for k in keys])
    right.set_ylim(-0.6, len(keys) - 0.4)
    right.set_xlim(0, 1.05)
    right.set_xlabel(f"efficiency at score ≥ {control['threshold']:.3f} (thick 68%, thin 95%)")
    right.set_title("efficiency by sample", fontsize=10)
    fig.suptitle(f"Sample-identity control: {control['verdict']}", fontsize=10)
    save_figure(fig, path, context=context)
