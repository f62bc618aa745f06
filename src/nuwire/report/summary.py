"""The sweep summary: every point's test metrics with their errors (and, separately, the
thesis's real-data rows), the paired comparisons and their answer in words, the forest plot, the
ROC overlay, AUC per point, job runtimes/memory from Snakemake's benchmark files, and provenance.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve

from nuwire.evaluation.evaluate_plots import efficiency_text
from nuwire.figures import MARKERS, FigureContext, html_page, new_figure, save_figure
from nuwire.io.atomic import atomic_path, write_text
from nuwire.io.keys import INCLUSIVE_SAMPLE, NUE_SAMPLE
from nuwire.io.readers import open_parquet, read_json
from nuwire.provenance import provenance
from nuwire.report.comparisons import PointResult, answers, compare_all, holm_note, load_results, metric_rows
from nuwire.report.multiclass_summary import multiclass_html, multiclass_table
from nuwire.report.pandora_summary import draw_pandora_panel, pandora_html, pandora_table
from nuwire.report.thesis import SOURCE as THESIS_SOURCE
from nuwire.report.thesis import thesis_rows
from nuwire.stats.numfmt import format_cell, format_interval, format_pm

METRIC_COLUMNS = ["accuracy", "tpr", "tnr", "precision", "f1", "roc_auc"]
DISPLAY_COLUMNS = ["arch", "plane", "scale", "cut", "crop", "seeds", "threshold", *METRIC_COLUMNS, "brier",
                   "n_test", "n_signal", "best_epoch", "warnings"]  # fmt: skip


def _crop(crop: Any) -> str:
    return "whole" if crop is None or (isinstance(crop, float) and np.isnan(crop)) else str(int(crop))


def _threshold(name: str, value: float) -> str:
    return f"{value:.3f} (val F1-opt)" if name == "f1_opt_val" else f"{value:.3f}"


def display_table(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Formatted rows; with several training seeds a column gives the spread (standard deviation)
    of the AUC across them, which the ± already includes."""
    out = []
    for r in rows:
        out.append({
            "arch": r["arch"], "plane": r["plane"], "scale": f"{r['scale']:g}", "cut": r["cut"],
            "crop": _crop(r["crop"]),
            "seeds": str(r["seeds"]), "threshold": _threshold(r["threshold_name"], r["threshold"]),
            **{k: format_pm(r[k]["value"], r[k]["error"]) for k in [*METRIC_COLUMNS, "brier"]},
            "n_test": str(r["n_test"]), "n_signal": str(r["n_signal"]),
            "best_epoch": format_cell(r["best_epoch"]) if not isinstance(r["best_epoch"], list)
            else ", ".join(format_cell(e) for e in r["best_epoch"]),
            "warnings": r["warnings"],
        })  # fmt: skip
    columns = list(DISPLAY_COLUMNS)
    if any(r.get("target", "nue_cc") != "nue_cc" for r in rows):  # a binary-only sweep's table stays as it was
        for shown, r in zip(out, rows):
            shown["target"] = r.get("target", "nue_cc")
        columns.insert(columns.index("crop") + 1, "target")
    if any(r["seeds"] > 1 for r in rows):
        for shown, r in zip(out, rows):
            sd = r["roc_auc"].get("seed_sd")
            shown["roc_auc seed sd"] = format_pm(sd, r["roc_auc"]["error"]).split(" ± ")[0] if sd is not None else ""
        columns.insert(columns.index("roc_auc") + 1, "roc_auc seed sd")
    return pd.DataFrame(out, columns=columns)


def values_table(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """The same numbers for machines: value, error and 95% interval bounds as separate columns."""
    out = []
    for r in rows:
        flat = {k: r[k] for k in ("arch", "plane", "scale", "cut", "seeds", "threshold_name", "threshold", "n_test",
                                  "n_signal")}  # fmt: skip
        flat["crop"] = _crop(r["crop"])
        if any(x.get("target", "nue_cc") != "nue_cc" for x in rows):
            flat["target"] = r.get("target", "nue_cc")
        for k in [*METRIC_COLUMNS, "brier"]:
            ci = r[k].get("ci95") or [None, None]
            flat |= {k: r[k]["value"], f"{k}_err": r[k]["error"], f"{k}_ci95_lo": ci[0], f"{k}_ci95_hi": ci[1]}
        out.append(flat)
    return pd.DataFrame(out)


def thesis_table() -> pd.DataFrame:
    """The thesis's real-data rows, formatted like ours (published without uncertainties)."""
    frame = thesis_rows()
    shown = frame[["arch", "plane", "cut", "threshold"]].copy()
    shown["threshold"] = [f"{float(t):.3f}" if t else "not stated" for t in frame["threshold"]]
    for k in METRIC_COLUMNS:
        shown[k] = [f"{v:.3f}" for v in frame[k]]
    return shown


def runtime_table(benchmark_files: Sequence[str | os.PathLike[str]], jobs: Sequence[str]) -> pd.DataFrame:
    """Wall time, CPU time and peak memory of each job, from its Snakemake benchmark file.

    A job whose benchmark file has several rows (`--benchmark-repeats`) reports its last one."""
    rows = []
    for path, job in zip(benchmark_files, jobs, strict=True):
        bench = pd.read_csv(path, sep="\t")
        rows.append(
            {
                "job": job,
                "wall_s": float(bench["s"].iloc[-1]),
                "cpu_s": float(bench["cpu_time"].iloc[-1]) if "cpu_time" in bench else np.nan,
                "max_rss_mb": float(pd.to_numeric(bench["max_rss"], errors="coerce").iloc[-1]),
            }
        )
    return pd.DataFrame(rows, columns=["job", "wall_s", "cpu_s", "max_rss_mb"])


def provenance_html(
    config: Any,
    inputs_manifest: str | os.PathLike[str],
    *,
    metrics_files: Sequence[str | os.PathLike[str]],
    points: Sequence[dict],
    context: FigureContext,
) -> str:
    """The report's provenance page: the code, config and packages of this summary, every input
    file's size and checksum, and what each sweep point's metrics.json recorded about itself (a
    point trained by another commit or config than the rest shows up here)."""
    here = provenance(config, read_json(inputs_manifest, made_by="dataset"))

    def table(frame: pd.DataFrame) -> str:
        return frame.to_html(index=False, border=0, escape=True)

    code = pd.DataFrame(
        [
            ("nuwire version", here["nuwire_version"]),
            ("git commit", here["git_commit"]),
            ("effective config (SHA-256 of its canonical JSON)", here["config_hash"]),
        ],
        columns=["what", "value"],
    )
    packages = pd.DataFrame(sorted(here["packages"].items()), columns=["package", "version"])
    inputs = pd.DataFrame(here["inputs"], columns=["file", "size", "sha256"])
    recorded = []
    for path, point in zip(metrics_files, points, strict=True):
        prov = read_json(path, made_by="evaluate").get("provenance", {})
        recorded.append(
            {
                "sweep point": point["point"],
                "nuwire version": prov.get("nuwire_version", "not recorded"),
                "git commit": prov.get("git_commit", "not recorded"),
                "point config hash": prov.get("config_hash", "not recorded"),
                "inputs as this run": prov.get("inputs") == here["inputs"],
            }
        )
    style = (
        "<style>body{font-family:sans-serif;font-size:13px}table{border-collapse:collapse}"
        "td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:left}</style>"
    )
    source = (
        "<p><b>Synthetic data.</b> The input files below were written by the nuwire simulator in the "
        "OpenSamples format; they are not MicroBooNE files.</p>"
        if context.synthetic
        else "<p>Input: OpenSamples files.</p>"
    )
    body = "".join(
        [
            source,
            "<h3>Code and configuration of this summary</h3>",
            table(code),
            f"<h3>Input files ({len(inputs)})</h3>",
            table(inputs),
            "<h3>What each sweep point recorded in its metrics.json</h3>",
            table(pd.DataFrame(recorded)),
            "<h3>Package versions</h3>",
            table(packages),
        ]
    )
    return f"<!DOCTYPE html><html><head><meta charset='utf-8'>{style}</head><body>{body}</body></html>\n"


THESIS_CSS = "table.thesis{background:#f4f4f4;color:#333}"  # the thesis's rows, shaded apart from ours


def _page(body: str) -> str:
    return html_page(body, extra_css=THESIS_CSS)


def _html_table(frame: pd.DataFrame, *, context: FigureContext, resamples: int | None = None, extra: str = "") -> str:
    """This run's table, then, under its own heading and shading, the thesis's real-data rows."""
    source = ("<p><b>Synthetic data.</b> The rows of this run come from the nuwire simulator, not from MicroBooNE "
              "files.</p>" if context.synthetic else "<p>The rows of this run come from the OpenSamples files.</p>")  # fmt: skip
    how = (
        f"<p>Value ± error: the error is half the 68% interval of a stratified bootstrap over the test events"
        f"{f' ({resamples} resamples)' if resamples else ''}, and sets the digits shown; a value without ± did "
        "not vary over the resamples. n_test and n_signal are the test events (and signal events among them) "
        "each row was measured on.</p>"
    )
    ours = frame.to_html(index=False, border=0, escape=True)
    thesis = thesis_table().to_html(index=False, border=0, escape=True, classes="thesis")
    body = (
        f"<h3>This run (test set)</h3>{source}{how}{ours}{extra}"
        f"<h3>For reference only: {html.escape(THESIS_SOURCE)}</h3>"
        "<p>The thesis's published test-set results on plane 2 of the real files: not made by this workflow, not "
        "comparable row by row with synthetic results, and published without uncertainties (its test split held "
        "about 6,600 events, which puts the statistical error of an AUC near ±0.005).</p>" + thesis
    )
    return _page(body)


def comparisons_html(results: Sequence[PointResult], table: pd.DataFrame, *, context: FigureContext) -> str:
    """The comparison page: the answers in words, the table of every pair, and the sample control."""
    words = "".join(f"<p>{html.escape(line)}</p>" for line in answers(results, table))
    shown = pd.DataFrame({
        "a": table["a"], "b": table["b"], "test events": table["test events"], "comparison": table["method"],
        "ΔAUC (a − b)": [format_pm(d, e) for d, e in zip(table["delta_auc"], table["error"])],
        "95% interval": [format_interval(lo, hi, e)
                         for lo, hi, e in zip(table["ci95_lo"], table["ci95_hi"], table["error"])],
        "significant at 95% (uncorrected)": ["yes" if v else "no" for v in table["significant"]],
        "p (Holm)": ["—" if p is None or pd.isna(p) else f"{p:.2g}" for p in table["p_holm"]],
        "significant (Holm, family-wise 5%)": ["yes" if v else "no" for v in table["significant_holm"]],
    })  # fmt: skip
    control = sample_control_table(results)
    body = (
        context.page_note()
        + "<h3>What the test set can tell</h3>"
        + words
        + "<h3>Every pair of sweep points</h3>"
        + f"<p>{html.escape(holm_note(table))}</p>"
        + shown.to_html(index=False, border=0, escape=True)
        + "<h3>Sample-identity control (CC νe test events by sample, at the val-chosen threshold)</h3>"
        + control.to_html(index=False, border=0, escape=True)
    )
    return _page(body)


def sample_control_table(results: Sequence[PointResult]) -> pd.DataFrame:
    rows = []
    for r in results:
        for m in r.metrics:
            c = m.get("sample_control")
            if not c:
                continue
            inc, nue = c["groups"][INCLUSIVE_SAMPLE], c["groups"][NUE_SAMPLE]
            diff = c["efficiency_difference"]
            auc = c["sample_auc"]
            rows.append({
                "point": m["point"]["point"], "threshold": f"{c['threshold']:.3f}",
                "inclusive: selected / CC νe": f"{inc['n_selected']}/{inc['n_signal']}",
                "inclusive: efficiency": efficiency_text(inc),
                "νe files: selected / CC νe": f"{nue['n_selected']}/{nue['n_signal']}",
                "νe files: efficiency": efficiency_text(nue),
                "difference, 95%": format_interval(*(diff["ci95"] or [None, None]), inc["error"]),
                "sample AUC": format_pm(auc["value"], auc["error"]), "verdict": c["verdict"],
            })  # fmt: skip
    return pd.DataFrame(rows)


def roc_overlay(
    metrics_files: Sequence[str | os.PathLike[str]],
    predictions_files: Sequence[str | os.PathLike[str]],
    points: Sequence[dict],
    *,
    target: Path,
    context: FigureContext,
) -> None:
    fig = new_figure(7, 6)
    ax = fig.add_subplot()
    for path, predictions, point in zip(metrics_files, predictions_files, points, strict=True):
        preds = open_parquet(predictions, made_by="evaluate").read().to_pandas()
        test = preds[preds["split"] == "test"] if "split" in preds else preds
        if test["label"].nunique() < 2:
            continue
        fpr, tpr, _ = roc_curve(test["label"], test["score"])
        auc = read_json(path, made_by="evaluate")["test"]
        err = auc.get("uncertainty", {}).get("roc_auc", {}).get("error")
        ax.plot(fpr, tpr, label=f"{point['point']} (AUC {format_pm(auc['roc_auc'], err)})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("background acceptance (false positive rate)")
    ax.set_ylabel("νe CC efficiency (true positive rate)")
    ax.set_title("Test-set ROC curves of all sweep points")
    ax.legend(fontsize=7, loc="lower right")
    save_figure(fig, target, context=context)


def _thesis_lines(ax: Any) -> None:
    thesis = thesis_rows()
    thesis = thesis[(thesis["arch"] == "alexnet") & (thesis["threshold"] == "0.5")]
    for _, r in thesis.iterrows():
        ax.axvline(r["roc_auc"], color="grey", linestyle="--", linewidth=1)
        # Along the line: the two thesis lines sit close together, and horizontal labels would collide.
        ax.text(
            r["roc_auc"],
            0.02,
            f"thesis AlexNet {r['cut']} (real data) ",
            fontsize=7,
            va="bottom",
            ha="right",
            rotation=90,
            color="dimgrey",
            transform=ax.get_xaxis_transform(),
        )


def forest_plot(results: Sequence[PointResult], target: Path, *, context: FigureContext) -> None:
    """AUC of every point with its 68% (thick) and 95% (thin) intervals, sorted by AUC, one colour
    per cut; the thesis's real-data AlexNet AUCs as dashed reference lines."""
    ordered = sorted((r for r in results if r.auc()["value"] is not None), key=lambda r: r.auc()["value"])
    cuts = sorted({r.point["cut"] for r in ordered})
    baseline = any("pandora" in r.metrics[0] for r in ordered)
    fig = new_figure(12 if baseline else 8, 1.2 + 0.45 * max(len(ordered), 1))
    if baseline:  # a second panel: each network's CC νe efficiency at Pandora's purity against Pandora's
        ax, pandora_ax = fig.subplots(1, 2, width_ratios=[2, 1])
        draw_pandora_panel(pandora_ax, results, ordered)
    else:
        ax = fig.add_subplot()
    for i, r in enumerate(ordered):
        auc = r.auc()
        colour = f"C{cuts.index(r.point['cut']) % 10}"
        if auc["ci95"] is not None:
            ax.plot(auc["ci95"], [i, i], color=colour, linewidth=1.2)
            ax.plot(auc["ci68"], [i, i], color=colour, linewidth=4, solid_capstyle="butt")
        ax.plot([auc["value"]], [i], "o", color="black", markersize=4)
        seeds = f", {len(r.metrics)} seeds" if len(r.metrics) > 1 else ""
        ax.text(
            1.0,
            i,
            f" {format_pm(auc['value'], auc['error'])}  (n={r.labels.size}{seeds})",
            va="center",
            fontsize=7,
            transform=ax.get_yaxis_transform(),
        )
    for j, cut in enumerate(cuts):
        ax.plot([], [], color=f"C{j % 10}", linewidth=4, label=f"cut {cut}")
    _thesis_lines(ax)
    ax.set_yticks(range(len(ordered)), [p.base for p in ordered], fontsize=8)
    ax.set_ylim(-0.7, len(ordered) - 0.3)
    ax.set_xlim(0.4, 1.0)
    ax.set_xlabel("test ROC AUC (thick: 68% interval, thin: 95%)")
    ax.set_title("ROC AUC of every sweep point, sorted")
    ax.legend(fontsize=7, loc="lower left")
    save_figure(fig, target, context=context)


def auc_by_point(results: Sequence[PointResult], target: Path, *, context: FigureContext) -> None:
    """Test AUC against image scale, one colour per architecture and one marker per cut (the
    markers cycle past five cuts), 68% error bars; points at one scale are spread sideways."""
    ours = [r for r in results if r.auc()["value"] is not None]
    fig = new_figure(7, 4.5)
    ax = fig.add_subplot()
    archs = sorted({r.point["arch"] for r in ours})
    cuts = sorted({r.point["cut"] for r in ours})
    markers = {cut: MARKERS[i % len(MARKERS)] for i, cut in enumerate(cuts)}
    scales = sorted({float(r.point["scale"]) for r in ours})
    span = (scales[-1] - scales[0]) if len(scales) > 1 else 0.5
    spread = 0.4 * span / max(len(scales), 1)  # room beside each scale for the points sitting there
    for scale in scales:
        here = [r for r in ours if float(r.point["scale"]) == scale]
        for j, r in enumerate(here):
            auc = r.auc()
            x = scale + (j - (len(here) - 1) / 2) * spread / max(len(here), 1)
            err = None if auc["ci68"] is None else [[auc["value"] - auc["ci68"][0]], [auc["ci68"][1] - auc["value"]]]
            ax.errorbar(
                [x],
                [auc["value"]],
                yerr=err,
                color=f"C{archs.index(r.point['arch']) % 10}",
                marker=markers[r.point["cut"]],
                markersize=6,
                capsize=2,
                linestyle="none",
            )
    for i, arch in enumerate(archs):
        ax.scatter([], [], color=f"C{i % 10}", label=arch)
    for cut, marker in markers.items():
        ax.scatter([], [], color="black", marker=marker, label=f"cut {cut}")
    thesis = thesis_rows()
    for _, r in thesis[(thesis["arch"] == "alexnet") & (thesis["threshold"] == "0.5")].iterrows():
        ax.axhline(r["roc_auc"], color="grey", linestyle="--", linewidth=1)
        # x in axes coordinates: the label stays inside the plot whatever scales the sweep has.
        ax.text(
            0.01,
            r["roc_auc"],
            f"thesis AlexNet {r['cut']} (real data)",
            fontsize=7,
            va="bottom",
            transform=ax.get_yaxis_transform(),
        )
    if scales:
        ax.set_xlim(scales[0] - 0.6 * spread - 0.02, scales[-1] + 0.6 * spread + 0.02)
        ax.set_xticks(scales, [f"{s:g}" for s in scales])
    ax.set_xlabel("image scale")
    ax.set_ylabel("test ROC AUC (68% error bars)")
    ax.set_ylim(0.4, 1.0)
    ax.set_title("ROC AUC per sweep point")
    ax.legend(fontsize=7, ncols=2)
    save_figure(fig, target, context=context)


@dataclass(frozen=True)
class SummaryInputs:
    """What the summary rule reads: each point's metrics.json and predictions.parquet (in the order of
    `points`), the jobs' benchmark files (named by `benchmark_jobs`) and the input files' manifest."""

    metrics: Sequence[str | os.PathLike[str]]
    predictions: Sequence[str | os.PathLike[str]]
    benchmarks: Sequence[str | os.PathLike[str]]
    benchmark_jobs: Sequence[str]
    points: Sequence[dict]
    inputs_manifest: str | os.PathLike[str]


def run_summary(inputs: SummaryInputs, outputs: dict[str, str], *, config: Any, context: FigureContext) -> pd.DataFrame:
    """The summary rule: tables (TSV), pages (HTML), figures and runtimes; returns the display table."""
    metrics_files, predictions_files, points = inputs.metrics, inputs.predictions, inputs.points
    results = load_results(metrics_files, predictions_files, points)
    rows = metric_rows(results)
    table = display_table(rows)
    with atomic_path(outputs["table"]) as tmp:
        table.to_csv(tmp, sep="\t", index=False)
    with atomic_path(outputs["values"]) as tmp:
        values_table(rows).to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    resamples = results[0].metrics[0]["test"]["uncertainty"]["resamples"] if results else None
    extra = multiclass_html(results) + pandora_html(results, context=context)
    write_text(outputs["html"], _html_table(table, context=context, resamples=resamples, extra=extra))
    if "pandora" in outputs:
        with atomic_path(outputs["pandora"]) as tmp:
            pandora_table(results).to_csv(tmp, sep="\t", index=False)
    if "multiclass" in outputs:
        with atomic_path(outputs["multiclass"]) as tmp:
            multiclass_table(results).to_csv(tmp, sep="\t", index=False)
    comparisons = compare_all(results)
    with atomic_path(outputs["comparisons"]) as tmp:
        comparisons.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    write_text(outputs["comparisons_html"], comparisons_html(results, comparisons, context=context))
    forest_plot(results, Path(outputs["forest"]), context=context)
    roc_overlay(metrics_files, predictions_files, points, target=Path(outputs["roc"]), context=context)
    auc_by_point(results, Path(outputs["auc"]), context=context)
    runtimes = runtime_table(inputs.benchmarks, inputs.benchmark_jobs)
    with atomic_path(outputs["runtimes"]) as tmp:
        runtimes.to_csv(tmp, sep="\t", index=False, float_format="%.1f")
    page = provenance_html(config, inputs.inputs_manifest, metrics_files=metrics_files, points=points, context=context)
    write_text(outputs["provenance"], page)
    return table
