"""The sweep summary: every point's test metrics beside the thesis's real-data rows, the ROC
overlay, AUC per point, job runtimes/memory from Snakemake's benchmark files, and provenance.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve

from nuwire.atomic import atomic_path, write_text
from nuwire.failures import open_parquet, read_json
from nuwire.figstyle import new_figure, save_figure
from nuwire.provenance import provenance
from nuwire.thesis import SOURCE as THESIS_SOURCE
from nuwire.thesis import thesis_rows

METRIC_COLUMNS = ["accuracy", "tpr", "tnr", "precision", "f1", "roc_auc"]
THRESHOLD_NAMES = ("0.5", "0.33", "f1_opt_val")


def point_rows(metrics: dict[str, Any], point: dict[str, Any], source: str) -> list[dict[str, Any]]:
    """One row per threshold of one sweep point's metrics.json."""
    test = metrics["test"]
    rows = []
    for name in THRESHOLD_NAMES:
        m = test["thresholds"][name]
        rows.append(
            {
                "source": source,
                "arch": point["arch"],
                "plane": str(point["plane"]),
                "scale": point["scale"],
                "cut": point["cut"],
                "crop": point["crop"] if point["crop"] is not None else "",
                "threshold": name if name != "f1_opt_val" else f"{m['threshold']:.3f} (val F1-opt)",
                **{k: m.get(k) for k in METRIC_COLUMNS if k != "roc_auc"},
                "roc_auc": test["roc_auc"],
                "n_test": test.get("n_events"),
                "best_epoch": metrics.get("training", {}).get("best_epoch"),
                "warnings": "; ".join(metrics.get("warnings", [])),
            }
        )
    return rows


def summary_table(metrics_files: Sequence[str | os.PathLike[str]], points: Sequence[dict], synthetic: bool) -> pd.DataFrame:
    source = "this run (synthetic data)" if synthetic else "this run (OpenSamples files)"
    rows = []
    for path, point in zip(metrics_files, points):
        rows += point_rows(read_json(path, made_by="evaluate"), point, source)
    ours = pd.DataFrame(rows)
    return pd.concat([ours, thesis_rows()], ignore_index=True)


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
    metrics_files: Sequence[str | os.PathLike[str]],
    points: Sequence[dict],
    synthetic: bool,
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
        if synthetic
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


def _html_table(frame: pd.DataFrame, synthetic: bool) -> str:
    note = (
        "<p><b>Synthetic data.</b> Rows of this run come from the nuwire simulator, not from MicroBooNE "
        f"files. Rows labelled <i>{html.escape(THESIS_SOURCE)}</i> are the thesis's published results on "
        "real files, shown for reference.</p>"
        if synthetic
        else f"<p>Rows labelled <i>{html.escape(THESIS_SOURCE)}</i> are the thesis's published results.</p>"
    )
    table = frame.to_html(index=False, float_format=lambda v: f"{v:.4f}", na_rep="", border=0)
    style = (
        "<style>table{border-collapse:collapse;font-family:sans-serif;font-size:13px}"
        "td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}</style>"
    )
    return f"<!DOCTYPE html><html><head><meta charset='utf-8'>{style}</head><body>{note}{table}</body></html>\n"


def roc_overlay(metrics_files: Sequence[str | os.PathLike[str]], points: Sequence[dict], target: Path, synthetic: bool) -> None:
    fig = new_figure(7, 6)
    ax = fig.add_subplot()
    for path, point in zip(metrics_files, points):
        preds = open_parquet(Path(path).with_name("predictions.parquet"), made_by="evaluate").read().to_pandas()
        test = preds[preds["split"] == "test"] if "split" in preds else preds
        if test["label"].nunique() < 2:
            continue
        fpr, tpr, _ = roc_curve(test["label"], test["score"])
        auc = read_json(path, made_by="evaluate")["test"]["roc_auc"]
        ax.plot(fpr, tpr, label=f"{point['point']} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("background acceptance (false positive rate)")
    ax.set_ylabel("νe CC efficiency (true positive rate)")
    ax.set_title("Test-set ROC curves of all sweep points")
    ax.legend(fontsize=7, loc="lower right")
    save_figure(fig, target, synthetic=synthetic)


def auc_by_point(table: pd.DataFrame, target: Path, synthetic: bool) -> None:
    ours = table[table["source"] != THESIS_SOURCE].drop_duplicates(["arch", "plane", "scale", "cut", "crop"])
    fig = new_figure(7, 4.5)
    ax = fig.add_subplot()
    archs = sorted(ours["arch"].unique())
    markers = {cut: m for cut, m in zip(sorted(ours["cut"].unique()), "osD^v")}
    for i, arch in enumerate(archs):
        part = ours[ours["arch"] == arch]
        for _, r in part.iterrows():
            ax.scatter(float(r["scale"]), r["roc_auc"], color=f"C{i}", marker=markers[r["cut"]], s=40)
        ax.scatter([], [], color=f"C{i}", label=arch)
    for cut, marker in markers.items():
        ax.scatter([], [], color="black", marker=marker, label=f"cut {cut}")
    thesis = table[(table["source"] == THESIS_SOURCE) & (table["arch"] == "alexnet") & (table["threshold"] == "0.5")]
    for _, r in thesis.iterrows():
        ax.axhline(r["roc_auc"], color="grey", linestyle="--", linewidth=1)
        # x in axes coordinates: the label stays inside the plot whatever scales the sweep has.
        ax.text(0.01, r["roc_auc"], f"thesis AlexNet {r['cut']} (real data)", fontsize=7,
                va="bottom", transform=ax.get_yaxis_transform())
    ax.set_xlabel("image scale")
    ax.set_ylabel("test ROC AUC")
    ax.set_ylim(0.4, 1.0)
    ax.set_title("ROC AUC per sweep point")
    ax.legend(fontsize=7, ncols=2)
    save_figure(fig, target, synthetic=synthetic)


def run_summary(
    metrics_files: Sequence[str | os.PathLike[str]],
    benchmarks: Sequence[str | os.PathLike[str]],
    benchmark_jobs: Sequence[str],
    points: Sequence[dict],
    outputs: dict[str, str],
    synthetic: bool,
    config: Any,
    inputs_manifest: str | os.PathLike[str],
) -> pd.DataFrame:
    table = summary_table(metrics_files, points, synthetic)
    with atomic_path(outputs["table"]) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.4f")
    write_text(outputs["html"], _html_table(table, synthetic))
    roc_overlay(metrics_files, points, Path(outputs["roc"]), synthetic)
    auc_by_point(table, Path(outputs["auc"]), synthetic)
    runtimes = runtime_table(benchmarks, benchmark_jobs)
    with atomic_path(outputs["runtimes"]) as tmp:
        runtimes.to_csv(tmp, sep="\t", index=False, float_format="%.1f")
    write_text(outputs["provenance"], provenance_html(config, inputs_manifest, metrics_files, points, synthetic))
    return table
