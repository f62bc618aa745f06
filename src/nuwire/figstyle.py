"""Shared figure conventions: non-interactive backend, the synthetic-data label, atomic saving."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # batch jobs on cluster nodes have no display

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from nuwire.atomic import atomic_path  # noqa: E402

SYNTHETIC_LABEL = "SYNTHETIC DATA (nuwire simulator), not MicroBooNE data"


def new_figure(width: float = 6.4, height: float = 4.8) -> Figure:
    return plt.figure(figsize=(width, height), layout="constrained")


def save_figure(fig: Figure, target: str | os.PathLike[str], synthetic: bool, dpi: int = 110) -> None:
    """Save `fig` atomically; figures made from synthetic data carry a visible label saying so."""
    if synthetic:
        # Keep a strip along the bottom free for the label, so it never covers axis labels.
        engine = fig.get_layout_engine()
        strip = 0.22 / fig.get_figheight()
        if engine is not None and hasattr(engine, "set") and "rect" in getattr(engine, "get", lambda: {})():
            engine.set(rect=(0, strip, 1, 1 - strip))
        else:
            fig.subplots_adjust(bottom=max(fig.subplotpars.bottom, strip + 0.08))
        fig.text(0.995, 0.005, SYNTHETIC_LABEL, ha="right", va="bottom", fontsize=7, color="firebrick")
    suffix = Path(target).suffix.lstrip(".") or "png"
    with atomic_path(target) as tmp:
        fig.savefig(tmp, dpi=dpi, format=suffix)
    plt.close(fig)
