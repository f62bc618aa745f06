"""Shared figure conventions: non-interactive backend, the synthetic-data label, atomic saving."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # batch jobs on cluster nodes have no display

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from nuwire.io.atomic import atomic_path  # noqa: E402

LABEL_STRIP_INCHES = 0.2
SYNTHETIC_LABEL = "SYNTHETIC DATA (nuwire simulator), not MicroBooNE data"


def new_figure(width: float = 6.4, height: float = 4.8) -> Figure:
    return plt.figure(figsize=(width, height), layout="constrained")


def save_figure(fig: Figure, target: str | os.PathLike[str], synthetic: bool, dpi: int = 110) -> None:
    """Save `fig` atomically; figures made from synthetic data carry a visible label saying so."""
    # Keep a strip along the bottom free for the label, with or without it, so that the label
    # never covers axis labels and synthetic and real figures share one layout.
    strip = LABEL_STRIP_INCHES / fig.get_figheight()
    engine = fig.get_layout_engine()
    if engine is not None and "rect" in engine.get():
        engine.set(rect=(0, strip, 1, 1 - strip))
    if synthetic:
        fig.text(0.995, 0.005, SYNTHETIC_LABEL, ha="right", va="bottom", fontsize=7, color="firebrick")
    suffix = Path(target).suffix.lstrip(".") or "png"
    with atomic_path(target) as tmp:
        fig.savefig(tmp, dpi=dpi, format=suffix)
    plt.close(fig)
