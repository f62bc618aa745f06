"""Evaluation figures of one sweep point. Each function draws one PNG and saves it with
`nuwire.figstyle.save_figure` (atomic; labelled when the data are synthetic).

Decisions follow `nuwire.metrics`: an event is called signal when score >= threshold.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm, TwoSlopeNorm
from matplotlib.ticker import FuncFormatter, NullFormatter

from nuwire.figstyle import new_figure, save_figure
from nuwire.metrics import roc_curve_points

PathLike = str | os.PathLike[str]
CATEGORIES = {"nue_cc": "νe CC (signal)", "numu_cc": "νμ CC", "nc": "NC"}
CLASS_NAMES = ("other", "νe CC")
MARKERS = ("o", "s", "D", "^", "v")


def _empty_note(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=10, color="dimgrey")


def plot_roc(
    y_true: np.ndarray,
    score: np.ndarray,
    test_metrics: Mapping[str, Any],
    path: PathLike,
    synthetic: bool,
    title: str = "ROC curve (test set)",
) -> None:
    """ROC curve with its AUC and the operating point of each threshold in
    ``test_metrics["thresholds"]`` (the "test" part of `nuwire.metrics.metrics_report`)."""
    fig = new_figure(6, 5.5)
    ax = fig.add_subplot()
    fpr, tpr, _ = roc_curve_points(y_true, score)
    auc = test_metrics.get("roc_auc")
    if fpr.size:
        ax.plot(fpr, tpr, color="C0", label=f"ROC (AUC {auc:.4f})")
        for i, (name, m) in enumerate(test_metrics.get("thresholds", {}).items()):
            if m.get("fpr") is None or m.get("tpr") is None:
                continue
            label = f"score ≥ {m['threshold']:.3f}" + (" (F1-optimal on val)" if name == "f1_opt_val" else "")
            ax.plot(m["fpr"], m["tpr"], linestyle="none", marker=MARKERS[i % len(MARKERS)], markersize=8,
                    color=f"C{i + 1}", label=label)
        ax.legend(loc="lower right", fontsize=8)
    else:
        _empty_note(ax, "ROC undefined: the test set holds one class only")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("background acceptance (false positive rate)")
    ax.set_ylabel("νe CC efficiency (true positive rate)")
    ax.set_title(title)
    save_figure(fig, path, synthetic)


def plot_training_curves(
    history: PathLike | pd.DataFrame, path: PathLike, synthetic: bool, best_epoch: int | None = None,
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
    save_figure(fig, path, synthetic)


def plot_score_distributions(
    score: np.ndarray,
    category: Sequence[str] | np.ndarray,
    path: PathLike,
    synthetic: bool,
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
    for i, (key, label) in enumerate(CATEGORIES.items()):
        values = score[category == key]
        if values.size:
            ax.hist(values, bins=edges, histtype="step", linewidth=1.6, color=f"C{i}", label=f"{label} ({values.size})")
            drawn = True
    for j, (name, t) in enumerate((thresholds or {}).items()):
        ax.axvline(t, color="grey", linestyle=("--", ":", "-.")[j % 3], linewidth=1,
                   label=f"threshold {name} = {t:.3f}")
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
    save_figure(fig, path, synthetic)


def wilson_interval(k: np.ndarray, n: np.ndarray, z: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Binomial proportion k/n with its Wilson score interval (z=1: 68%): (p, low, high).

    Unlike sqrt(p(1-p)/n) it does not shrink to zero at p = 0 or 1, which small test sets hit.
    NaN where n = 0."""
    k = np.asarray(k, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    safe_n = np.where(n > 0, n, 1.0)
    p = np.where(n > 0, k / safe_n, np.nan)
    denom = 1.0 + z * z / safe_n
    centre = (p + z * z / (2 * safe_n)) / denom
    half = z * np.sqrt(np.clip(p * (1 - p), 0.0, None) / safe_n + z * z / (4 * safe_n * safe_n)) / denom
    # The interval contains p and lies in [0, 1]; at p = 0 or 1 rounding puts a bound a few ulps on
    # the wrong side (and matplotlib refuses negative error bars), so clamp.
    with np.errstate(invalid="ignore"):
        low = np.clip(np.fmin(centre - half, p), 0.0, 1.0)
        high = np.clip(np.fmax(centre + half, p), 0.0, 1.0)
    return p, np.where(n > 0, low, np.nan), np.where(n > 0, high, np.nan)


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
    y_true: np.ndarray, score: np.ndarray, energy: np.ndarray, threshold: float, edges: np.ndarray
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
    threshold: float,
    path: PathLike,
    synthetic: bool,
    n_bins: int = 8,
    title: str | None = None,
) -> pd.DataFrame:
    """Efficiency (TPR) and purity against true neutrino energy at ``threshold``, Wilson 68%
    binomial error bars, bins at energy quantiles of all events. Returns the table drawn."""
    edges = energy_bins(nu_energy, n_bins)
    table = efficiency_purity(y_true, score, nu_energy, threshold, edges)
    centre = 0.5 * (table["lo"] + table["hi"]).to_numpy()
    half_width = 0.5 * (table["hi"] - table["lo"]).to_numpy()
    fig = new_figure(6.4, 4.6)
    ax = fig.add_subplot()
    for key, label, colour, shift in (("efficiency", "efficiency (TPR)", "C0", -0.1), ("purity", "purity", "C3", 0.1)):
        p = table[key].to_numpy()
        ok = np.isfinite(p)
        err = np.vstack([p - table[f"{key}_lo"].to_numpy(), table[f"{key}_hi"].to_numpy() - p])[:, ok]
        # A small horizontal shift keeps the two sets of error bars apart.
        ax.errorbar(centre[ok] + shift * half_width[ok], p[ok], xerr=half_width[ok] * (1 - abs(shift)), yerr=err,
                    linestyle="none", marker="o", markersize=4, color=colour, label=label)
    if not np.isfinite(table["efficiency"]).any() and not np.isfinite(table["purity"]).any():
        _empty_note(ax, "no signal and no selected events")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("true neutrino energy [GeV]")
    ax.set_ylabel("fraction")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title or f"Efficiency and purity, score ≥ {threshold:.3f} (test set)")
    save_figure(fig, path, synthetic)
    return table


def plot_confusion(
    metrics_at_threshold: Mapping[str, Any], path: PathLike, synthetic: bool, title: str | None = None
) -> None:
    """Counts and row-normalised confusion matrices side by side, from one binary_metrics entry."""
    counts = np.asarray(metrics_at_threshold["confusion"], dtype=np.int64)
    norm = np.array([[np.nan if v is None else v for v in row] for row in metrics_at_threshold["confusion_normalized"]],
                    dtype=np.float64)
    fig = new_figure(9, 4.2)
    axes = fig.subplots(1, 2)
    panels = ((axes[0], counts, "counts", lambda v: f"{int(v)}"), (axes[1], norm, "normalised per true class",
                                                                    lambda v: "—" if np.isnan(v) else f"{v:.3f}"))
    for ax, matrix, label, fmt in panels:
        shown = np.nan_to_num(matrix.astype(np.float64), nan=0.0)
        vmax = shown.max() if shown.max() > 0 else 1.0
        ax.imshow(shown, cmap="Blues", vmin=0, vmax=vmax)
        for (i, j), v in np.ndenumerate(matrix):
            ax.text(j, i, fmt(v), ha="center", va="center", fontsize=12,
                    color="white" if shown[i, j] > 0.6 * vmax else "black")
        ax.set_xticks([0, 1], [f"called {c}" for c in CLASS_NAMES])
        ax.set_yticks([0, 1], [f"true {c}" for c in CLASS_NAMES])
        ax.set_title(label)
    t = metrics_at_threshold["threshold"]
    fig.suptitle(title or f"Confusion matrix at score ≥ {t:.3f} (test set)")
    save_figure(fig, path, synthetic)


@dataclass(frozen=True)
class OcclusionPanel:
    image: np.ndarray  # (H, W) the view that was occluded
    drop: np.ndarray  # (H, W) score drop per pixel (nuwire.occlusion.occlusion_map)
    category: str  # true category key: nue_cc, numu_cc, nc
    score: float  # the model's νe score of the unoccluded event
    label: str = ""  # event key and view, shown in the title


def plot_occlusion(
    panels: Sequence[OcclusionPanel], path: PathLike, synthetic: bool, patch: int | None = None,
    stride: int | None = None, note: str | None = None,
) -> None:
    """One row per event: the image (log colour scale, empty pixels white) beside its occlusion
    map (red: hiding the region lowers the νe score; blue: raises it). `note`: why there are none."""
    n = max(1, len(panels))
    fig = new_figure(9, 3.6 * n)
    axes = np.atleast_2d(fig.subplots(n, 2, squeeze=False))
    if not panels:
        for ax in axes[0]:
            ax.set_axis_off()
        _empty_note(axes[0, 0], note or "no occlusion maps requested")
    for row, panel in zip(axes, panels):
        image = np.asarray(panel.image, dtype=np.float64)
        positive = image[image > 0]
        if positive.size:
            row[0].imshow(np.ma.masked_less_equal(image, 0), cmap="viridis", aspect="auto", interpolation="nearest",
                          norm=LogNorm(vmin=positive.min(), vmax=max(positive.max(), positive.min() * 1.0001)))
        else:
            row[0].imshow(np.zeros_like(image), cmap="Greys", aspect="auto")
        row[0].set_facecolor("white")
        row[0].set_title(f"{CATEGORIES.get(panel.category, panel.category)}, score {panel.score:.3f}\n{panel.label}",
                         fontsize=9)
        limit = float(np.abs(panel.drop).max()) or 1e-6
        im = row[1].imshow(panel.drop, cmap="RdBu_r", aspect="auto", interpolation="nearest",
                           norm=TwoSlopeNorm(vcenter=0.0, vmin=-limit, vmax=limit))
        fig.colorbar(im, ax=row[1], label="νe score drop")
        detail = f" ({patch}×{patch} patch, stride {stride})" if patch is not None else ""
        row[1].set_title(f"occlusion map{detail}", fontsize=9)
        for ax in row:
            ax.set_xlabel("column (wire)")
            ax.set_ylabel("row (time)")
    save_figure(fig, path, synthetic)
