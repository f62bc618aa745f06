"""Figures of what the network looks at: occlusion maps, first-layer feature maps and the 2-D
embedding of the penultimate-layer features. Saved with `nuwire.figures.save_figure`."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm, TwoSlopeNorm

from nuwire.figures import CATEGORY_LABELS, FigureContext, new_figure, save_figure

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class OcclusionPanel:
    image: np.ndarray  # (H, W) the view that was occluded
    drop: np.ndarray  # (H, W) log-odds drop per pixel (nuwire.evaluation.occlusion.occlusion_map)
    category: str  # true category key: nue_cc, numu_cc, nc
    score: float  # the model's νe score of the unoccluded event
    label: str = ""  # event key and view, shown in the title
    kind: str = ""  # confident signal, missed signal, ... (nuwire.evaluation.interpret.OCCLUSION_KINDS)
    patch: int = 0
    stride: int = 0
    positions: int = 0  # patch positions scored (those holding charge)


def _show_image(ax: Axes, image: np.ndarray) -> None:
    """Charge on a log colour scale, empty pixels white."""
    image = np.asarray(image, dtype=np.float64)
    positive = image[image > 0]
    if positive.size:
        ax.imshow(
            np.ma.masked_less_equal(image, 0),
            cmap="viridis",
            aspect="auto",
            interpolation="nearest",
            norm=LogNorm(vmin=positive.min(), vmax=max(positive.max(), positive.min() * 1.0001)),
        )
    else:
        ax.imshow(np.zeros_like(image), cmap="Greys", aspect="auto")
    ax.set_facecolor("white")


def plot_occlusion(
    panels: Sequence[OcclusionPanel], path: PathLike, *, context: FigureContext, note: str | None = None
) -> None:
    """One row per event: the image beside its occlusion map in νe log-odds (red: hiding the
    region lowers the log-odds of νe CC; blue: raises it), on a colour scale symmetric about 0.
    `note`: why there are none, when there are none."""
    n = max(1, len(panels))
    fig = new_figure(9.5, 3.7 * n)
    axes = np.atleast_2d(fig.subplots(n, 2, squeeze=False))
    if not panels:
        for ax in axes[0]:
            ax.set_axis_off()
        axes[0, 0].text(
            0.5,
            0.5,
            note or "no occlusion maps requested",
            ha="center",
            va="center",
            transform=axes[0, 0].transAxes,
            color="dimgrey",
        )
    for row, panel in zip(axes, panels):
        _show_image(row[0], panel.image)
        logit = np.log(panel.score / (1 - panel.score)) if 0 < panel.score < 1 else np.inf * np.sign(panel.score - 0.5)
        row[0].set_title(
            f"{panel.kind}: {CATEGORY_LABELS.get(panel.category, panel.category)}, score {panel.score:.3f} "
            f"(log-odds {logit:+.1f})\n{panel.label}",
            fontsize=8,
        )
        limit = float(np.abs(panel.drop).max())
        limit = limit if limit > 0 else 1.0  # a flat map: any symmetric scale shows it as zero
        im = row[1].imshow(
            panel.drop,
            cmap="RdBu_r",
            aspect="auto",
            interpolation="nearest",
            norm=TwoSlopeNorm(vcenter=0.0, vmin=-limit, vmax=limit),
        )
        fig.colorbar(im, ax=row[1], label="drop of νe log-odds")
        row[1].set_title(
            f"occlusion: {panel.patch}×{panel.patch} patch, stride {panel.stride}, "
            f"{panel.positions} charged positions scored",
            fontsize=8,
        )
        for ax in row:
            ax.set_xlabel("column (wire)")
            ax.set_ylabel("row (time)")
    save_figure(fig, path, context=context)


def plot_feature_maps(
    image: np.ndarray,
    maps: np.ndarray,
    label: str,
    *,
    path: PathLike,
    context: FigureContext,
    max_channels: int = 15,
) -> None:
    """The input view and the first `max_channels` output channels of the first convolution for
    one event (each channel on its own symmetric colour scale: the filters' signs are arbitrary)."""
    maps = np.asarray(maps, dtype=np.float64)
    shown = min(max_channels, maps.shape[0])
    cols = 4
    rows = int(np.ceil((shown + 1) / cols))
    fig = new_figure(2.6 * cols, 2.4 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols)).reshape(-1)
    _show_image(axes[0], image)
    axes[0].set_title("input", fontsize=8)
    for c in range(shown):
        ax = axes[c + 1]
        limit = float(np.abs(maps[c]).max()) or 1.0
        ax.imshow(maps[c], cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto", interpolation="nearest")
        ax.set_title(f"channel {c}", fontsize=8)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[shown + 1 :]:
        ax.set_axis_off()
    fig.suptitle(f"First-layer feature maps ({shown} of {maps.shape[0]} channels): {label}", fontsize=9)
    save_figure(fig, path, context=context)


def plot_embedding(
    coords: Mapping[str, object],
    category: np.ndarray,
    score: np.ndarray,
    *,
    path: PathLike,
    context: FigureContext,
    n_total: int,
) -> None:
    """PCA and t-SNE of the penultimate-layer features of the test events, coloured by true
    category (top) and by νe score (bottom). `coords` is `nuwire.evaluation.interpret.embed`."""
    fig = new_figure(10, 8.4)
    axes = fig.subplots(2, 2)
    category = np.asarray(category)
    n = category.size
    explained = coords.get("explained")
    titles = {"pca": f"PCA ({explained:.0%} of the variance)" if explained is not None else "PCA",
              "tsne": "t-SNE"}  # fmt: skip
    for j, key in enumerate(("pca", "tsne")):
        xy = coords.get(key)
        top, bottom = axes[0, j], axes[1, j]
        if xy is None:
            for ax in (top, bottom):
                ax.text(
                    0.5,
                    0.5,
                    f"too few test events ({n}) for {titles[key]}",
                    ha="center",
                    va="center",
                    transform=ax.transAxes,
                    color="dimgrey",
                )
            continue
        xy = np.asarray(xy)
        for i, (cat, name) in enumerate(CATEGORY_LABELS.items()):
            sel = category == cat
            if sel.any():
                top.scatter(xy[sel, 0], xy[sel, 1], s=10, color=f"C{i}", alpha=0.8, label=f"{name} ({int(sel.sum())})")
        top.legend(fontsize=7, markerscale=1.5)
        sc = bottom.scatter(xy[:, 0], xy[:, 1], c=score, cmap="coolwarm", vmin=0, vmax=1, s=10)
        fig.colorbar(sc, ax=bottom, label="νe score")
        top.set_title(f"{titles[key]}, by true category", fontsize=9)
        bottom.set_title(f"{titles[key]}, by νe score", fontsize=9)
    for ax in axes.reshape(-1):
        ax.set_xticks([])
        ax.set_yticks([])
    shown = f"{n} test events" + (f" (a random {n} of {n_total})" if n < n_total else "")
    fig.suptitle(f"Penultimate-layer features in two dimensions: {shown}", fontsize=10)
    save_figure(fig, path, context=context)
