"""Dataset figures: energy spectra per sample group and event displays read back from the Parquet."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from nuwire.figures import CATEGORY_TITLES, FigureContext, new_figure, save_figure
from nuwire.geometry import N_PLANES
from nuwire.images.render import read_event_images

ENERGY_LABELS = {"nu_energy": "neutrino energy [GeV]", "lep_energy": "lepton energy [GeV]"}
EXPECTED = ("nue_cc", "numu_cc", "nc")  # a display is missing something if one of these is absent
DISPLAY_MAX_PIXELS = 400  # per axis: larger images are max-pooled for drawing only


def plot_energy(
    truth: pd.DataFrame,
    target: str | os.PathLike[str],
    *,
    context: FigureContext,
    signal_median: float | None = None,
) -> None:
    """Neutrino (top) and lepton (bottom) energy histograms, a column per sample group + combined.

    `signal_median` (the median lepton energy of signal events of the index, where the "top50" cut
    falls) is marked on the lepton row when given.
    """
    groups = sorted(truth["sample_group"].unique()) + ["combined"]
    fig = new_figure(3.2 * len(groups), 5.6)
    axes = fig.subplots(2, len(groups), squeeze=False)
    for r, column in enumerate(("nu_energy", "lep_energy")):
        values = truth[column].to_numpy(np.float64)
        top = float(np.nanmax(values)) if len(values) else 1.0
        bins = np.linspace(0.0, max(top, 1e-3) * 1.02, 41)
        for c, group in enumerate(groups):
            ax = axes[r, c]
            sel = np.ones(len(truth), bool) if group == "combined" else (truth["sample_group"] == group).to_numpy()
            v = values[sel]
            ax.hist(v, bins=bins, color="C0" if group != "combined" else "C2", histtype="stepfilled", alpha=0.8)
            if len(v):
                summary = f"mean {v.mean():.2f}, median {np.median(v):.2f} GeV"
                ax.set_title(f"{group}: {len(v)} events\n{summary}", fontsize=9)
            else:
                ax.set_title(f"{group}: no events", fontsize=9)
            if column == "lep_energy" and signal_median is not None and np.isfinite(signal_median):
                ax.axvline(
                    signal_median, color="firebrick", ls="--", lw=1, label=f"signal median {signal_median:.2f} GeV"
                )
                if c == len(groups) - 1:
                    ax.legend(fontsize=7, loc="upper right")
            ax.set_xlabel(ENERGY_LABELS[column])
            if c == 0:
                ax.set_ylabel("events")
    save_figure(fig, target, context=context)


def choose_display_events(index: pd.DataFrame, n_per_category: int) -> pd.DataFrame:
    """The first `n_per_category` events of each category in index order (deterministic)."""
    if n_per_category <= 0:
        return index.iloc[0:0]
    return index.groupby("category", sort=False).head(n_per_category)


def max_pool(image: np.ndarray, limit: int = DISPLAY_MAX_PIXELS) -> tuple[np.ndarray, int, int]:
    """Block-max an image so neither axis exceeds `limit` (thin tracks stay visible when drawn small)."""
    h, w = image.shape
    fr, fc = max(1, -(-h // limit)), max(1, -(-w // limit))
    if fr == 1 and fc == 1:
        return image, 1, 1
    padded = np.zeros((-(-h // fr) * fr, -(-w // fc) * fc), dtype=image.dtype)
    padded[:h, :w] = image
    pooled = padded.reshape(padded.shape[0] // fr, fr, padded.shape[1] // fc, fc).max(axis=(1, 3))
    return pooled, fr, fc


def _title(ev: pd.Series) -> str:
    cat = CATEGORY_TITLES.get(ev["category"], ev["category"])
    anti = " (antineutrino)" if ev["antineutrino"] else ""
    return (
        f"{ev['sample']}  run {ev['run']} subrun {ev['subrun']} event {ev['event']}: {cat}{anti}, "
        f"pdg {ev['nu_pdg']}, Eν {ev['nu_energy']:.2f} GeV, E_lep {ev['lep_energy']:.2f} GeV"
    )


def plot_event_displays(
    index: pd.DataFrame,
    image_files: dict[str, Path],
    target: str | os.PathLike[str],
    *,
    context: FigureContext,
    n_per_category: int = 2,
) -> pd.DataFrame:
    """All three planes of a few events per category, true (×) and Pandora (○) vertices marked.

    Images are read back from the Parquet (densified from the sparse pixels), so the display shows
    exactly what training sees. Returns the events shown.
    """
    import matplotlib.colors as mcolors
    import matplotlib.pyplot as plt

    chosen = choose_display_events(index, n_per_category)
    present = [c for c in CATEGORY_TITLES if c in set(chosen["category"])]
    missing = [c for c in EXPECTED if c not in present]
    n_rows = max(1, len(chosen)) + (1 if missing and len(chosen) else 0)
    fig = new_figure(12.0, 3.2 * n_rows)
    subfigs = np.atleast_1d(fig.subfigures(n_rows, 1))
    cmap = plt.get_cmap("viridis").with_extremes(bad="white")  # zero pixels (masked) are background
    norm = mcolors.Normalize(vmin=1, vmax=255)
    row = 0
    for category in present:
        for _, ev in chosen[chosen["category"] == category].iterrows():
            sub = subfigs[row]
            row += 1
            sub.suptitle(_title(ev), fontsize=9)
            planes = read_event_images(image_files[ev["sample"]], run=ev["run"], subrun=ev["subrun"], event=ev["event"])
            axes = sub.subplots(1, N_PLANES)
            for p, ax in enumerate(axes):
                h, w = planes[p].shape
                pooled, _, _ = max_pool(planes[p])
                # extent in image pixels: pixel (r, c) spans [c, c+1) × [r, r+1), matching the index.
                image = ax.imshow(
                    np.ma.masked_equal(pooled, 0),
                    cmap=cmap,
                    norm=norm,
                    extent=(0, w, h, 0),
                    aspect="auto",
                    interpolation="nearest",
                )
                ax.plot(
                    ev[f"truth_col_p{p}"], ev[f"truth_row_p{p}"], "x", color="red", ms=9, mew=2, label="true vertex"
                )
                ax.plot(
                    ev[f"reco_col_p{p}"],
                    ev[f"reco_row_p{p}"],
                    "o",
                    mfc="none",
                    mec="magenta",
                    ms=12,
                    mew=1.5,
                    label="Pandora vertex",
                )
                ax.set_xlim(0, w)
                ax.set_ylim(h, 0)
                ax.set_title(f"plane {p} ({ev[f'npix_p{p}']} pixels)", fontsize=8)
                ax.set_xlabel("wire block", fontsize=8)
                if p == 0:
                    ax.set_ylabel("time block", fontsize=8)
                ax.tick_params(labelsize=7)
            if row == 1:
                axes[-1].legend(fontsize=7, loc="upper right")
            # Same 1..255 scale on every row; a bar per row keeps every row's panels the same width.
            sub.colorbar(image, ax=axes, shrink=0.8, label="pixel value")
    if missing or not len(chosen):
        sub = subfigs[min(row, n_rows - 1)]
        names = ", ".join(CATEGORY_TITLES[c] for c in missing) if missing else "any category"
        sub.text(0.5, 0.5, f"no rendered events of {names} in this dataset", ha="center", va="center")
    save_figure(fig, target, context=context)
    return chosen
