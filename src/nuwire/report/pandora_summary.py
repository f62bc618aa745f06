"""The summary's Pandora rows: for every point (each seed), Pandora's CC νe efficiency and purity on
its test events, the network's efficiency at Pandora's purity, and their difference and ratio with
paired bootstrap intervals (metrics.json's `pandora`, `nuwire.evaluation.pandora`); and the panel of
the forest plot that draws the differences."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import pandas as pd

from nuwire.evaluation.pandora import NO_BASELINE
from nuwire.figures import FigureContext
from nuwire.report.comparisons import PointResult
from nuwire.stats.numfmt import format_interval, format_pm

COLUMNS = ["point", "baseline", "n_test", "n_signal", "Pandora selected (CC νe)", "Pandora efficiency", "Pandora purity", "network efficiency at Pandora purity",
           "difference (network − Pandora)", "difference, 95%", "ratio (network / Pandora)", "ratio, 95%", "verdict"]  # fmt: skip


def _pm(block: dict[str, Any]) -> str:
    return format_pm(block.get("value"), block.get("error"))


def _ci95(block: dict[str, Any]) -> str:
    return format_interval(*(block.get("ci95") or [None, None]), block.get("error"))


def _verdict(diff: dict[str, Any]) -> str:
    ci = diff.get("ci95")
    if diff.get("value") is None or ci is None:
        return "cannot say"
    if ci[0] > 0:
        return "network more efficient at Pandora's purity (95%)"
    if ci[1] < 0:
        return "Pandora more efficient (95%)"
    return "cannot be told apart (95%)"


def pandora_table(results: Sequence[PointResult]) -> pd.DataFrame:
    rows = []
    for r in results:
        for m in r.metrics:
            b = m.get("pandora")
            if b is None:
                continue
            row = {"point": m["point"]["point"], "baseline": b.get("label", "Pandora"),
                   "n_test": str(b.get("n_events", ""))}  # fmt: skip
            if not b.get("available"):
                row |= {c: "" for c in COLUMNS[3:]}
                row["verdict"] = f"{NO_BASELINE}: {b.get('reason', '')}"
            else:
                diff, ratio = b["efficiency_difference"], b["efficiency_ratio"]
                row |= {
                    "n_signal": str(b.get("n_signal", "")),
                    "Pandora selected (CC νe)": f"{b.get('n_selected', '')} ({b.get('n_selected_signal', '')})",
                    "Pandora efficiency": _pm(b["efficiency"]), "Pandora purity": _pm(b["purity"]),
                    "network efficiency at Pandora purity": _pm(b["network_efficiency_at_pandora_purity"]),
                    "difference (network − Pandora)": _pm(diff), "difference, 95%": _ci95(diff),
                    "ratio (network / Pandora)": _pm(ratio), "ratio, 95%": _ci95(ratio), "verdict": _verdict(diff),
                }  # fmt: skip
            rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def pandora_html(results: Sequence[PointResult], *, context: FigureContext) -> str:
    table = pandora_table(results)
    if table.empty:
        return ""
    emulated = (
        "<p><b>Synthetic data:</b> the Pandora rows are the nuwire simulator's emulation of Pandora "
        "(docs/pandora.md), not Pandora itself.</p>"
        if context.synthetic
        else ""
    )
    return (
        "<h3>Against the traditional reconstruction: Pandora's CC νe call on the same test events</h3>"
        + emulated
        + "<p>"
        + html.escape(
            "Pandora's candidate is the slice of highest nu_score among slice_pdg 12/14 in pandoraPrimary_table; "
            "slice_pdg 12 calls the event CC νe-like, and an event without a candidate is not selected. The network's "
            "efficiency is its highest at any score threshold whose purity is at least Pandora's. ± is half the 68% "
            "interval of a paired bootstrap over the test events (Pandora's purity re-measured on each resample)."
        )
        + "</p>"
        + table.to_html(index=False, border=0, escape=True)
    )


def draw_pandora_panel(ax: Any, results: Sequence[PointResult], order: Sequence[PointResult]) -> bool:
    """Efficiency difference (network at Pandora's purity − Pandora) per point, in the AUC panel's
    order, 68% (thick) and 95% (thin); False when no point has a baseline."""
    drawn = False
    for i, r in enumerate(order):
        b = r.metrics[0].get("pandora") or {}
        if not b.get("available"):
            ax.text(0.0, i, " no baseline", va="center", fontsize=7, color="grey")
            continue
        d = b["efficiency_difference"]
        if d.get("value") is None:
            continue
        if d.get("ci95") is not None:
            ax.plot(d["ci95"], [i, i], color="C3", linewidth=1.2)
            ax.plot(d["ci68"], [i, i], color="C3", linewidth=4, solid_capstyle="butt")
        ax.plot([d["value"]], [i], "o", color="black", markersize=4)
        drawn = True
    ax.axvline(0.0, color="grey", linestyle=":", linewidth=1)
    ax.set_ylim(-0.7, len(order) - 0.3)
    ax.set_yticks([])
    emulated = any("emulation" in str((r.metrics[0].get("pandora") or {}).get("label", "")) for r in order)
    name = "emulated Pandora" if emulated else "Pandora"
    ax.set_xlabel(f"network − {name}: CC νe efficiency\nat {name}'s purity (68%, 95%)", fontsize=8)
    return drawn
