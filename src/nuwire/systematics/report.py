"""The systematics summary: per (point, variation) the paired deltas as a table, an HTML page with
the robustness of each architecture in words, and one figure (variations × points)."""

from __future__ import annotations

import html
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nuwire.io.atomic import write_text
from nuwire.pipeline.failures import open_parquet, read_json
from nuwire.report.figstyle import new_figure, save_figure
from nuwire.stats.numfmt import format_interval, format_pm
from nuwire.systematics.deltas import METRICS, PairedDelta, difference, paired_delta
from nuwire.systematics.variations import Variation

PathLike = str | os.PathLike[str]
STYLE = (
    "<style>body{font-family:sans-serif;font-size:13px}table{border-collapse:collapse;margin-bottom:1em}"
    "td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}h3{margin-top:1.4em}</style>"
)


@dataclass
class Row:
    variation: Variation
    point: dict[str, Any]
    delta: PairedDelta


def _test_predictions(path: PathLike) -> pd.DataFrame:
    frame = open_parquet(path, made_by="evaluate").read().to_pandas()
    return frame[frame["split"] == "test"].reset_index(drop=True) if "split" in frame else frame


def measure(
    points: Sequence[Mapping[str, Any]],
    variations: Sequence[Variation],
    nominal_predictions: Sequence[PathLike],
    nominal_metrics: Sequence[PathLike],
    varied_predictions: Sequence[PathLike],
    resamples: int,
    seed: int,
) -> list[Row]:
    """Every (variation, point) pair; `varied_predictions` is variation-major (all points of the first
    variation, then the next), the nominal lists in the order of `points`."""
    rows = []
    nominal = [_test_predictions(p) for p in nominal_predictions]
    thresholds = [float(read_json(m, made_by="evaluate")["threshold_choice"]["threshold"]) for m in nominal_metrics]
    for i, variation in enumerate(variations):
        for j, point in enumerate(points):
            path = varied_predictions[i * len(points) + j]
            varied = _test_predictions(path)
            rows.append(
                Row(
                    variation,
                    dict(point),
                    paired_delta(
                        nominal[j], varied, threshold=thresholds[j], resamples=resamples, seed=seed, where=str(path)
                    ),
                )
            )
    return rows


def _cell(d: Mapping[str, Any]) -> str:
    return format_pm(d["delta"], d["error"] or None, fallback_decimals=3)


def values_table(rows: Sequence[Row]) -> pd.DataFrame:
    """One line per (variation, point), every number unrounded (for other tools)."""
    out = []
    for r in rows:
        line: dict[str, Any] = {"variation": r.variation.name, "point": r.point["point"], "arch": r.point["arch"],
                                "n_test": r.delta.n_events, "n_signal": r.delta.n_signal,
                                "threshold": r.delta.threshold}  # fmt: skip
        for m in METRICS:
            d = r.delta.deltas[m]
            line[f"{m}_nominal"] = r.delta.nominal[m]
            line[f"{m}_varied"] = r.delta.varied[m]
            line[f"delta_{m}"] = d["delta"]
            line[f"delta_{m}_error"] = d["error"]
            for name in ("ci68", "ci95"):
                line[f"delta_{m}_{name}_lo"] = None if d[name] is None else d[name][0]
                line[f"delta_{m}_{name}_hi"] = None if d[name] is None else d[name][1]
            line[f"delta_{m}_significant"] = d["significant"]
        out.append(line)
    return pd.DataFrame(out)


def display_table(rows: Sequence[Row]) -> pd.DataFrame:
    """The table the user reads: value ± error with the digits the error allows, the 95% interval beside."""
    out = []
    for r in rows:
        line: dict[str, Any] = {
            "variation": r.variation.name,
            "change": r.variation.describe(),
            "point": r.point["point"],
            "n_test": r.delta.n_events,
            "n_signal": r.delta.n_signal,
            "threshold": f"{r.delta.threshold:.3f}",
        }
        for m, label in (("auc", "ΔAUC"), ("efficiency", "Δ νe CC efficiency"), ("purity", "Δ purity")):
            d = r.delta.deltas[m]
            line[label] = _cell(d)
            line[f"{label} 95%"] = format_interval(*(d["ci95"] or (None, None)), d["error"] or None)
        out.append(line)
    return pd.DataFrame(out)


def robustness_words(rows: Sequence[Row]) -> list[str]:
    """Most and least robust architecture by the mean |ΔAUC| over its points and the variations,
    claimed only where the 95% interval of the paired difference of that mean excludes 0. Only points
    on the same test events (the most common cut) are compared, so their resamples are shared."""
    if not rows:
        return ["No variations were measured."]
    cuts = pd.Series([r.point["cut"] for r in rows]).value_counts()
    cut = str(cuts.index[0])
    by_arch: dict[str, list[Row]] = {}
    for r in rows:
        if r.point["cut"] == cut:
            by_arch.setdefault(str(r.point["arch"]), []).append(r)
    if len(by_arch) < 2:
        return [f"Only one architecture ({', '.join(by_arch)}) was varied: no ranking of architectures."]

    def mean_abs(arch: str) -> tuple[float, np.ndarray]:
        rs = [r for r in by_arch[arch] if r.delta.deltas["auc"]["delta"] is not None]
        if not rs:
            return float("nan"), np.full(1, np.nan)
        value = float(np.mean([abs(r.delta.deltas["auc"]["delta"]) for r in rs]))
        return value, np.mean([np.abs(r.delta.resampled["auc"]) for r in rs], axis=0)

    measured = {a: mean_abs(a) for a in sorted(by_arch)}
    ranked = sorted((a for a in measured if np.isfinite(measured[a][0])), key=lambda a: measured[a][0])
    if len(ranked) < 2:
        return ["Too few defined AUCs to rank the architectures."]
    words = [
        "Mean |ΔAUC| over the variations and points of each architecture (cut "
        f"{cut}): "
        + "; ".join(
            f"{a} {format_pm(measured[a][0], difference(measured[a][0], measured[a][1])['error'] or None)}"
            for a in ranked
        )
        + "."
    ]

    def separated(a: str, others: Sequence[str]) -> bool:
        return all(
            difference(measured[a][0] - measured[b][0], measured[a][1] - measured[b][1])["significant"] for b in others
        )

    best, worst = ranked[0], ranked[-1]
    if separated(best, ranked[1:]):
        words.append(f"Most robust: {best} (its mean |ΔAUC| is below every other architecture's at 95%).")
    else:
        words.append(f"{best} moves least, but the 95% intervals do not single it out as the most robust.")
    if separated(worst, ranked[:-1]):
        words.append(f"Least robust: {worst} (its mean |ΔAUC| is above every other architecture's at 95%).")
    else:
        words.append(f"{worst} moves most, but the 95% intervals do not single it out as the least robust.")
    return words


def systematics_html(rows: Sequence[Row], table: pd.DataFrame, synthetic: bool, resamples: int) -> str:
    note = "<p><b>Synthetic data.</b> Made from the nuwire simulator, not MicroBooNE files.</p>" if synthetic else ""
    how = (
        "<p>Each Δ is varied − nominal for the same test events scored by the same trained weights (never "
        "retrained), at the point's validation-chosen threshold for efficiency and purity. Value ± error: half the "
        f"68% interval of a paired stratified bootstrap ({resamples} resamples shared by both scorings); the 95% "
        "interval beside it. A Δ whose 95% interval excludes 0 is a shift the test set can see.</p>"
        # The issue asks for Pandora's shift "where there is one": there is none to measure here.
        "<p>Pandora's baseline does not move with a variation: its call is read from the input file's "
        "pandoraPrimary_table, made once on the nominal readout, and nuwire cannot rerun Pandora on the varied "
        "wires. Its shift under a variation is therefore not measured (docs/statistics.md).</p>"
    )
    variations = {r.variation.name: r.variation for r in rows}
    listing = "".join(
        f"<li><b>{html.escape(n)}</b>: {html.escape(v.describe())} (seed {v.seed})</li>" for n, v in variations.items()
    )
    words = "".join(f"<p>{html.escape(w)}</p>" for w in robustness_words(rows))
    body = (
        f"{note}<h3>Detector variations</h3><ul>{listing}</ul>{how}<h3>Robustness by architecture</h3>{words}"
        f"<h3>Every point under every variation (test set)</h3>{table.to_html(index=False, border=0, escape=True)}"
    )
    return f"<!DOCTYPE html><html><head><meta charset='utf-8'>{STYLE}</head><body>{body}</body></html>\n"


def systematics_figure(rows: Sequence[Row], target: PathLike, synthetic: bool) -> None:
    """Variations × points: Δ νe CC efficiency as colour, each cell annotated with Δ efficiency and
    ΔAUC (± error; * where the 95% interval excludes 0)."""
    names = list(dict.fromkeys(r.variation.name for r in rows))
    points = list(dict.fromkeys(r.point["point"] for r in rows))
    grid = np.full((len(names), len(points)), np.nan)
    fig = new_figure(3.5 + 2.0 * max(len(points), 1), 1.8 + 0.8 * max(len(names), 1))
    ax = fig.add_subplot()
    for r in rows:
        i, j = names.index(r.variation.name), points.index(r.point["point"])
        eff, auc = r.delta.deltas["efficiency"], r.delta.deltas["auc"]
        if eff["delta"] is not None:
            grid[i, j] = eff["delta"]
        text = "\n".join(
            f"{label} {_cell(d)}{'*' if d['significant'] else ''}" for label, d in (("Δeff", eff), ("ΔAUC", auc))
        )
        ax.text(j, i, text, ha="center", va="center", fontsize=7)
    limit = float(np.nanmax(np.abs(grid))) if np.isfinite(grid).any() and np.nanmax(np.abs(grid)) > 0 else 0.1
    image = ax.imshow(grid, cmap="RdBu", vmin=-limit, vmax=limit, aspect="auto")
    fig.colorbar(image, ax=ax, label="Δ νe CC efficiency (varied − nominal)")
    ax.set_xticks(range(len(points)), points, fontsize=7, rotation=20, ha="right")
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_title(
        "Shift of each point under each detector variation\n(same test events; * : 95% interval excludes 0)", fontsize=9
    )
    save_figure(fig, target, synthetic=synthetic)


def run_systematics_summary(
    points: Sequence[Mapping[str, Any]],
    variations: Mapping[str, Mapping[str, Any]],
    nominal_predictions: Sequence[PathLike],
    nominal_metrics: Sequence[PathLike],
    varied_predictions: Sequence[PathLike],
    evaluate_settings: Mapping[str, Any],
    outputs: Mapping[str, PathLike],
    synthetic: bool,
) -> pd.DataFrame:
    """The systematics_summary rule: table (TSV), values (TSV), HTML page and figure."""
    from nuwire.evaluation.evaluate import EvaluateSettings

    settings = EvaluateSettings.from_config(evaluate_settings)
    parsed = [Variation.from_config(name, spec) for name, spec in variations.items()]
    rows = measure(points, parsed, nominal_predictions, nominal_metrics, varied_predictions,
                   settings.bootstrap_resamples, settings.bootstrap_seed)  # fmt: skip
    table = display_table(rows)
    write_text(outputs["table"], table.to_csv(sep="\t", index=False))
    write_text(outputs["values"], values_table(rows).to_csv(sep="\t", index=False))
    write_text(outputs["html"], systematics_html(rows, table, synthetic, settings.bootstrap_resamples))
    systematics_figure(rows, Path(outputs["figure"]), synthetic)
    return table
