"""The sweep's results as measurements: each point's metrics over its training seeds with their
errors, every pair of points compared, and the project's two questions answered in words.

A *point* here is a sweep point without its seed (`SweepPoint.base_path`); with several
`train.seeds` its value is the mean over seeds, and its error the bootstrap error (mean over
seeds) and the standard error of that mean over seeds, added in quadrature.

Two points scored on the same test events (same split and cut) are compared paired, on shared
bootstrap resamples (`nuwire.stats.compare.paired_auc_difference`); points on different events
(`full` against `top50`) only unpaired, and marked so. Everything here comes from the test
predictions and metrics that evaluate wrote: no validation or training event enters.

With many pairs, some differ "at 95%" by chance alone, so every verdict in words is Holm's
family-wise one over all the pairs compared (`nuwire.stats.multiplicity`); the table keeps the
uncorrected 95% interval beside it. A `flavour` point enters through its P(CC νe), like any other,
and is paired with its `nue_cc` twin to answer whether learning the flavours makes a better CC νe
selector.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from nuwire.io.keys import EVENT_KEY
from nuwire.io.readers import open_parquet, read_json
from nuwire.stats.binomial import Z95
from nuwire.stats.bootstrap import (
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    THRESHOLD_METRICS,
    canonical_order,
    stratified_counts,
)
from nuwire.stats.compare import paired_auc_difference, seed_standard_error, unpaired_auc_difference
from nuwire.stats.multiplicity import FAMILY_ALPHA, holm_adjusted
from nuwire.stats.numfmt import format_interval, format_pm

THRESHOLD_NAMES = ("0.5", "0.33", "f1_opt_val")
MULTI_VIEW_PLANE = "all"
TOP50_NOTE = (
    "The top50 cut keeps only the upper half of the signal in lepton energy and all of the background, "
    "so a top50 AUC answers an easier question than a full one; the two are compared unpaired only."
)


@dataclass
class PointResult:
    """One sweep point over its seeds: the metrics of each seed and its test predictions."""

    point: dict[str, Any]  # SweepPoint.as_dict of the first seed
    metrics: list[dict[str, Any]] = field(default_factory=list)
    test: list[pd.DataFrame] = field(default_factory=list)  # canonical order, one per seed

    @property
    def base(self) -> str:
        return str(self.point.get("base", self.point["point"]))

    @property
    def keys(self) -> pd.DataFrame:
        return self.test[0][list(EVENT_KEY)]

    @property
    def labels(self) -> np.ndarray:
        return self.test[0]["label"].to_numpy(dtype=np.int64)

    def combined(self, values: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Mean over seeds of `nuwire.stats.bootstrap.interval` dicts, with the seed spread added."""
        ok = [v for v in values if v.get("value") is not None]
        if not ok:
            return {"value": None, "error": None, "ci68": None, "ci95": None, "seed_sd": None}
        value = float(np.mean([v["value"] for v in ok]))
        boot = [v for v in ok if v.get("error") is not None]
        seed_se = seed_standard_error([v["value"] for v in ok])
        out: dict[str, Any] = {"value": value, "seed_sd": float(np.std([v["value"] for v in ok], ddof=1))
                               if len(ok) > 1 else None}  # fmt: skip
        if not boot:
            return out | {"error": None, "ci68": None, "ci95": None}
        for name, z in (("ci68", 1.0), ("ci95", Z95)):
            lo = float(np.mean([v["value"] - v[name][0] for v in boot]))
            hi = float(np.mean([v[name][1] - v["value"] for v in boot]))
            out[name] = [value - float(np.hypot(lo, z * seed_se)), value + float(np.hypot(hi, z * seed_se))]
        out["error"] = (out["ci68"][1] - out["ci68"][0]) / 2
        return out

    def auc(self) -> dict[str, Any]:
        return self.combined([m["test"]["uncertainty"]["roc_auc"] for m in self.metrics])

    def brier(self) -> dict[str, Any]:
        return self.combined([m["test"]["uncertainty"]["brier"] for m in self.metrics])

    def at_threshold(self, name: str, metric: str) -> dict[str, Any]:
        return self.combined([m["test"]["uncertainty"]["thresholds"][name][metric] for m in self.metrics])

    def threshold(self, name: str) -> float:
        return float(np.mean([m["test"]["thresholds"][name]["threshold"] for m in self.metrics]))


def load_results(
    metrics_files: Sequence[str | os.PathLike[str]],
    predictions_files: Sequence[str | os.PathLike[str]],
    points: Sequence[dict],
) -> list[PointResult]:
    """Group the sweep's metrics.json files and their predictions.parquet (the same order) by point
    over seeds."""
    groups: dict[str, PointResult] = {}
    for path, predictions, point in zip(metrics_files, predictions_files, points, strict=True):
        metrics = read_json(path, made_by="evaluate")
        preds = open_parquet(predictions, made_by="evaluate").read().to_pandas()
        test = preds[preds["split"] == "test"].reset_index(drop=True)
        result = groups.setdefault(str(point.get("base", point["point"])), PointResult(point=point))
        result.metrics.append(metrics | {"point": point})
        result.test.append(test.iloc[canonical_order(test)].reset_index(drop=True))
    return list(groups.values())


def same_events(a: PointResult, b: PointResult) -> bool:
    return a.keys.equals(b.keys) and np.array_equal(a.labels, b.labels)


def _name(r: PointResult) -> str:
    p = r.point
    crop = "whole" if p.get("crop") is None else f"crop {p['crop']}"
    target = f" {p['target']}" if p.get("target", "nue_cc") != "nue_cc" else ""
    return f"{p['arch']} plane {p['plane']} scale {p['scale']:g} {p['cut']} {crop}{target}"


def compare_all(results: Sequence[PointResult], resamples: int | None = None, seed: int | None = None) -> pd.DataFrame:
    """Every pair (a, b), a the one with the higher AUC: ΔAUC = AUC(a) - AUC(b) with its interval,
    paired where the two were scored on the same test events, else unpaired."""
    rows = []
    unc = results[0].metrics[0]["test"]["uncertainty"] if results else {}
    resamples = resamples or int(unc.get("resamples", DEFAULT_RESAMPLES))
    seed = int(unc.get("seed", DEFAULT_SEED)) if seed is None else seed
    counts_cache: dict[bytes, np.ndarray] = {}
    for a, b in itertools.combinations(results, 2):
        if (a.auc()["value"] or 0.0) < (b.auc()["value"] or 0.0):
            a, b = b, a  # a is the higher AUC: every ΔAUC reads as "how much better"
        if same_events(a, b):
            y = a.labels
            cache_key = a.keys.to_csv(index=False).encode()
            if cache_key not in counts_cache:
                counts_cache[cache_key] = stratified_counts(y, resamples, seed)
            d = paired_auc_difference(y, [t["score"].to_numpy() for t in a.test],
                                      [t["score"].to_numpy() for t in b.test], counts=counts_cache[cache_key])  # fmt: skip
            events = f"{y.size} ({int(y.sum())} signal), the same"
        else:
            d = unpaired_auc_difference(a.auc(), b.auc())
            events = f"{a.labels.size} ({int(a.labels.sum())}) vs {b.labels.size} ({int(b.labels.sum())}), different"
        rows.append({"a": _name(a), "b": _name(b), "a_point": a.base, "b_point": b.base,
                     "method": d["method"], "test events": events, "delta_auc": d["delta"],
                     "error": d["error"], "ci95_lo": (d["ci95"] or [None, None])[0],
                     "ci95_hi": (d["ci95"] or [None, None])[1], "significant": d["significant"],
                     "paired": d["method"] == "paired bootstrap", "p_value": d.get("p_value")})  # fmt: skip
    holm = holm_adjusted([r["p_value"] for r in rows])
    for row, p in zip(rows, holm):
        row["p_holm"] = p
        row["significant_holm"] = p is not None and p < FAMILY_ALPHA
    return pd.DataFrame(rows, columns=["a", "b", "a_point", "b_point", "method", "test events", "delta_auc", "error",
                                       "ci95_lo", "ci95_hi", "significant", "paired", "p_value", "p_holm",
                                       "significant_holm"])  # fmt: skip


def family_size(table: pd.DataFrame) -> int:
    """The pairs Holm's correction runs over: those with a p-value (a pair without one, its ΔAUC or
    its resamples undefined, is not compared). Every count of "pairs compared" is this one."""
    return int(pd.Series(table.get("p_holm", pd.Series(dtype=float))).notna().sum())


def holm_note(table: pd.DataFrame) -> str:
    """The sentence beside the comparison table: what "significant" means here."""
    m = family_size(table)
    return (
        f"Verdicts are family-wise: Holm's step-down correction over the {m} pairs compared keeps the chance "
        f'of even one false "significant" among them at or below {FAMILY_ALPHA:.0%} (p_Holm < {FAMILY_ALPHA:g}). '
        "The 95% interval beside each ΔAUC is the uncorrected one; the column 'significant at 95% (uncorrected)' "
        f"would, by chance alone, call about {FAMILY_ALPHA * m:.1f} of {m} pairs of equal points different."
    )


def _verdict(row: pd.Series) -> str:
    """How the first point of a compared pair stands against the second, as its Holm-corrected test says."""
    if not row["significant_holm"]:
        return "cannot be told apart from"
    return "beats" if row["delta_auc"] > 0 else "is beaten by"


def _difference_words(row: pd.Series, a_auc: dict[str, Any], b_auc: dict[str, Any]) -> str:
    delta = format_pm(row["delta_auc"], row["error"])
    ci = format_interval(row["ci95_lo"], row["ci95_hi"], row["error"])
    kind = "paired, same test events" if row["paired"] else "unpaired, different test events"
    p_holm = "" if row.get("p_holm") is None or pd.isna(row.get("p_holm")) else f", p_Holm = {row['p_holm']:.2g}"
    verdict = ("significant after Holm's correction" if row["significant_holm"]
               else "not significant after Holm's correction") + p_holm  # fmt: skip
    return (
        f"{row['a']} (AUC {format_pm(a_auc['value'], a_auc['error'])}) against {row['b']} "
        f"(AUC {format_pm(b_auc['value'], b_auc['error'])}): ΔAUC {delta}, 95% interval {ci} ({kind}): {verdict}."
    )


def _lookup(table: pd.DataFrame, a: PointResult, b: PointResult) -> tuple[pd.Series, int]:
    """The comparison row of a and b, and +1 if it is (a, b), -1 if stored as (b, a)."""
    hit = table[(table["a_point"] == a.base) & (table["b_point"] == b.base)]
    if len(hit):
        return hit.iloc[0], 1
    row = table[(table["a_point"] == b.base) & (table["b_point"] == a.base)].iloc[0].copy()
    row["a"], row["b"] = row["b"], row["a"]
    row["delta_auc"] = -row["delta_auc"] if row["delta_auc"] is not None else None
    lo, hi = row["ci95_lo"], row["ci95_hi"]
    row["ci95_lo"], row["ci95_hi"] = (-hi if hi is not None else None), (-lo if lo is not None else None)
    return row, -1


def answers(results: Sequence[PointResult], table: pd.DataFrame) -> list[str]:
    """The project's questions in words: multi-view against the best single-plane network, the
    larger scale against the smaller, then every significant difference."""
    out: list[str] = []
    by_base = {r.base: r for r in results}
    multi = [r for r in results if str(r.point["plane"]) == MULTI_VIEW_PLANE]
    if not multi:
        out.append("Multi-view against single-plane: the sweep has no multi-view (plane all) point, so it cannot say.")
    for m in multi:
        rivals = [r for r in results if str(r.point["plane"]) != MULTI_VIEW_PLANE and same_events(r, m)]
        if not rivals:
            out.append(
                f"Multi-view against single-plane: no single-plane point was scored on the test events of {_name(m)}."
            )
            continue
        best = max(rivals, key=lambda r: r.auc()["value"] if r.auc()["value"] is not None else -1.0)
        row, _ = _lookup(table, m, best)
        out.append(
            f"Does the multi-view network beat the best single-plane one? {_name(m)} {_verdict(row)} the best "
            f"single-plane point on the same events. " + _difference_words(row, m.auc(), best.auc())
        )
    families: dict[tuple, list[PointResult]] = {}
    for r in results:
        p = r.point
        families.setdefault((p["arch"], str(p["plane"]), p["cut"], p.get("crop")), []).append(r)
    scaled = [sorted(f, key=lambda r: r.point["scale"]) for f in families.values()
              if len({r.point["scale"] for r in f}) > 1]  # fmt: skip
    if not scaled:
        scales = sorted({float(r.point["scale"]) for r in results})
        out.append(
            "Does the larger scale beat the smaller? The sweep has every point at scale "
            f"{', '.join(f'{s:g}' for s in scales)} (no architecture at two scales), so it cannot say."
        )
    for fam in scaled:
        large, small = fam[-1], fam[0]
        row, _ = _lookup(table, large, small)
        out.append(
            f"Does the larger scale beat the smaller? Scale {large.point['scale']:g} {_verdict(row)} scale "
            f"{small.point['scale']:g}. " + _difference_words(row, large.auc(), small.auc())
        )
    out += flavour_answers(results, table)
    significant = table[table["significant_holm"]] if len(table) else table
    measured = family_size(table)
    raw = int(table["significant"].sum()) if len(table) else 0
    if len(significant):
        out.append(
            f"Significant differences after Holm's correction ({len(significant)} of {measured} pairs; "
            f"{raw} at 95% uncorrected):"
        )
        for _, row in significant.iterrows():
            out.append("• " + _difference_words(row, by_base[row["a_point"]].auc(), by_base[row["b_point"]].auc()))
    else:
        out.append(
            f"No pair of the {measured} compared differs significantly after Holm's family-wise correction "
            f"({raw} at 95% uncorrected, {FAMILY_ALPHA * measured:.1f} expected by chance): the test set cannot "
            "rank these points."
        )
    if any(r.point["cut"] == "top50" for r in results) and any(r.point["cut"] != "top50" for r in results):
        out.append(TOP50_NOTE)
    return out


def _twin_key(r: PointResult) -> tuple:
    p = r.point
    return (p["arch"], str(p["plane"]), float(p["scale"]), p["cut"], p.get("crop"))


def flavour_answers(results: Sequence[PointResult], table: pd.DataFrame) -> list[str]:
    """Does training on the flavours improve CC νe identification? Each flavour point against its
    nue_cc twin (same architecture, plane, scale, cut and window), paired on the same test events."""
    flavour = [r for r in results if r.point.get("target", "nue_cc") == "flavour"]
    if not flavour:
        return []
    out = []
    binary = {_twin_key(r): r for r in results if r.point.get("target", "nue_cc") == "nue_cc"}
    for f in flavour:
        twin = binary.get(_twin_key(f))
        if twin is None or not same_events(f, twin):
            out.append(
                f"Does training on flavours improve CC νe identification? {_name(f)} has no nue_cc twin (same "
                "architecture, plane, scale, cut and window) scored on the same test events, so the sweep cannot say."
            )
            continue
        row, _ = _lookup(table, f, twin)
        out.append(
            f"Does training on flavours improve CC νe identification? The three-class {_name(f)}, ranking by its "
            f"P(CC νe), {_verdict(row)} its two-class twin. " + _difference_words(row, f.auc(), twin.auc())
        )
    return out


def point_warnings(metrics: Sequence[dict[str, Any]]) -> str:
    """evaluate's warnings (a split without signal or background) of a point's seeds, each once."""
    return "; ".join(dict.fromkeys(w for m in metrics for w in m.get("warnings", [])))


def metric_rows(results: Sequence[PointResult]) -> list[dict[str, Any]]:
    """Per point and threshold: each metric as an interval dict (combined over seeds)."""
    rows = []
    for r in results:
        p = r.point
        first = r.metrics[0]
        epochs = [m.get("training", {}).get("best_epoch") for m in r.metrics]
        for name in THRESHOLD_NAMES:
            rows.append({
                "point": r.base, "arch": p["arch"], "plane": str(p["plane"]), "scale": float(p["scale"]),
                "target": p.get("target", "nue_cc"),
                "cut": p["cut"], "crop": p.get("crop"), "seeds": len(r.metrics), "threshold_name": name,
                "threshold": r.threshold(name), **{k: r.at_threshold(name, k) for k in THRESHOLD_METRICS},
                "roc_auc": r.auc(), "brier": r.brier(), "n_test": int(first["test"]["n_events"]),
                "n_signal": int(first["test"]["n_signal"]),
                "best_epoch": epochs[0] if len(epochs) == 1 else epochs,
                "warnings": point_warnings(r.metrics),
            })  # fmt: skip
    return rows
