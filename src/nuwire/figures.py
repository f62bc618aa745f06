"""How every figure and page of a run looks, below every module that draws one: the
non-interactive backend, the figure context (whether the data are synthetic, so that each figure
and page says so), atomic saving, the category names and markers, and the HTML pages' style."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # batch jobs on cluster nodes have no display

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from nuwire.io.atomic import atomic_path  # noqa: E402

LABEL_STRIP_INCHES = 0.2
SYNTHETIC_LABEL = "SYNTHETIC DATA (nuwire simulator), not MicroBooNE data"
# The true event categories as figures name them, in drawing order (colours C0, C1, ... follow it).
CATEGORY_TITLES = {"nue_cc": "νe CC", "numu_cc": "νμ CC", "nc": "NC", "other_cc": "other CC"}
# The categories of a test set's figures, the signal marked as such.
CATEGORY_LABELS = {k: CATEGORY_TITLES[k] + (" (signal)" if k == "nue_cc" else "") for k in ("nue_cc", "numu_cc", "nc")}
MARKERS = ("o", "s", "D", "^", "v")  # cycled past five series
# The HTML pages' style: the tables' rules, then a page's own, then the headings'.
_TABLE_CSS = (
    "body{font-family:sans-serif;font-size:13px}table{border-collapse:collapse;margin-bottom:1em}"
    "td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}"
)


@dataclass(frozen=True)
class FigureContext:
    """What every figure and page of one run shares: whether its data come from the simulator
    (then each figure carries a visible label, and each page a note, saying so)."""

    synthetic: bool

    def page_note(self) -> str:
        """The note opening a report page made from synthetic data ('' otherwise)."""
        return (
            "<p><b>Synthetic data.</b> Made from the nuwire simulator, not MicroBooNE files.</p>"
            if self.synthetic
            else ""
        )


def html_page(body: str, *, extra_css: str = "") -> str:
    """A report page: `body` under the shared style (`extra_css`: rules of this page only)."""
    style = f"<style>{_TABLE_CSS}{extra_css}h3{{margin-top:1.4em}}</style>"
    return f"<!DOCTYPE html><html><head><meta charset='utf-8'>{style}</head><body>{body}</body></html>\n"


def new_figure(width: float = 6.4, height: float = 4.8) -> Figure:
    return plt.figure(figsize=(width, height), layout="constrained")


def save_figure(fig: Figure, target: str | os.PathLike[str], *, context: FigureContext, dpi: int = 110) -> None:
    """Save `fig` atomically; figures made from synthetic data carry a visible label saying so."""
    # Keep a strip along the bottom free for the label, with or without it, so that the label
    # never covers axis labels and synthetic and real figures share one layout.
    strip = LABEL_STRIP_INCHES / fig.get_figheight()
    engine = fig.get_layout_engine()
    if engine is not None and "rect" in engine.get():
        engine.set(rect=(0, strip, 1, 1 - strip))
    if context.synthetic:
        fig.text(0.995, 0.005, SYNTHETIC_LABEL, ha="right", va="bottom", fontsize=7, color="firebrick")
    suffix = Path(target).suffix.lstrip(".") or "png"
    with atomic_path(target) as tmp:
        fig.savefig(tmp, dpi=dpi, format=suffix)
    plt.close(fig)
