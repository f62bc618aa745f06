"""The traditional reconstruction's answer, as a baseline for the networks: Pandora's CC νe call.

Every OpenSamples file carries Pandora's reconstructed interactions in `pandoraPrimary_table`. An
event's neutrino candidate is its slice with the highest `nu_score` among those with `slice_pdg`
12 or 14 (the rule `nuwire.io.opensamples` uses for the vertex); the event is called CC νe-like
when that candidate has `slice_pdg` 12. An event without a candidate is not selected.

On the test events of a sweep point this gives Pandora's CC νe efficiency and purity (and its
point on the ROC plane), and the network's efficiency at Pandora's purity: the highest efficiency
of any score threshold whose purity is at least Pandora's (NOvA's comparison, "more efficiency at
the same purity"). The difference and ratio to Pandora's efficiency get a paired bootstrap interval:
every resample redraws the same events for both, and Pandora's purity is re-measured on each.

A file without the table gives no baseline: `pandora_calls` marks its events, and the point's
report says "no baseline" and why instead of failing. On synthetic files the table is the
simulator's emulation of Pandora (docs/pandora.md), and everything that shows it says so.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np
import pandas as pd

from nuwire.errors import NuwireError
from nuwire.io.keys import EVENT_KEY
from nuwire.io.opensamples import event_index_of, neutrino_candidates
from nuwire.stats.bootstrap import CHUNK, interval, threshold_metrics_resampled

if TYPE_CHECKING:  # matplotlib stays out of the dataset job, which writes the calls
    from nuwire.figures import FigureContext

PathLike = str | os.PathLike[str]
TABLE = "pandoraPrimary_table"
NUE_PDG = 12
CALL_COLUMNS = [*EVENT_KEY, "pandora_table", "pandora_candidate", "pandora_nue"]
NO_BASELINE = "no baseline"


def label(context: FigureContext) -> str:
    """How figures and tables name the baseline."""
    return "Pandora (the simulator's emulation)" if context.synthetic else "Pandora (pandoraPrimary_table)"


def pandora_calls(path: PathLike, sample: str) -> pd.DataFrame:
    """One row per event of `event_table`: whether the file has the table, whether Pandora found a
    neutrino candidate, and whether it called the event CC νe-like (`CALL_COLUMNS`)."""
    try:
        with h5py.File(path, "r") as h5:
            ids = np.asarray(h5["event_table/event_id"][:], dtype=np.int64)
            grp = h5.get(TABLE)
            needed = ("event_id", "slice_pdg", "nu_score")
            has_table = grp is not None and all(n in grp for n in needed)
            if has_table:
                rows = np.asarray(grp["event_id"][:], dtype=np.int64).reshape(-1, 3)
                pdg = np.abs(np.asarray(grp["slice_pdg"][:]).reshape(-1))
                score = np.asarray(grp["nu_score"][:], dtype=np.float64).reshape(-1)
    except (OSError, KeyError) as err:
        raise NuwireError(f"{path}: cannot read event_table/event_id or /{TABLE} ({err}).") from None
    out = pd.DataFrame({"sample": sample, "run": ids[:, 0], "subrun": ids[:, 1], "event": ids[:, 2]})
    candidate = np.zeros(len(ids), dtype=bool)
    nue = np.zeros(len(ids), dtype=bool)
    if has_table and len(rows):
        event_index = event_index_of(ids, rows)  # each table row's event; -1 for a row of none listed
        best = neutrino_candidates(event_index, pdg, score)
        candidate[event_index[best]] = True
        nue[event_index[best]] = pdg[best] == NUE_PDG
    out["pandora_table"] = bool(has_table)
    out["pandora_candidate"] = candidate
    out["pandora_nue"] = nue
    return out[CALL_COLUMNS]


def read_calls(files: dict[str, PathLike]) -> pd.DataFrame:
    """`pandora_calls` of every input file ({sample: path}), in sample order."""
    frames = [pandora_calls(path, sample) for sample, path in sorted(files.items())]
    if not frames:
        return pd.DataFrame(columns=CALL_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def write_calls(h5_files: Sequence[PathLike], path: PathLike) -> None:
    """The dataset rule's `pandora.parquet`: `read_calls` of the input files, samples named by file stem."""
    from nuwire.events.dataset import sample_name
    from nuwire.io.atomic import atomic_path

    calls = read_calls({sample_name(f): f for f in h5_files})
    with atomic_path(path) as tmp:
        calls.to_parquet(tmp, index=False)


def efficiency_at_purity(
    y: np.ndarray, score: np.ndarray, *, purity: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per row of `weights` ((R, n) event weights, e.g. bootstrap counts): the highest efficiency of
    any threshold on `score` whose purity is at least that row's `purity` (R,), and that threshold.
    NaN where no threshold reaches it."""
    order = np.argsort(-score, kind="stable")
    s, yy = score[order], y[order].astype(np.float64)
    last = np.r_[s[1:] != s[:-1], True]  # a threshold sits at the end of each group of tied scores
    w = weights[:, order].astype(np.float64)
    tp = np.cumsum(w * yy, axis=1)[:, last]
    fp = np.cumsum(w * (1.0 - yy), axis=1)[:, last]
    with np.errstate(invalid="ignore", divide="ignore"):
        pur = tp / (tp + fp)
        eff = tp / tp[:, -1:]
    ok = (pur >= purity[:, None] - 1e-12) & np.isfinite(eff)
    masked = np.where(ok, eff, -1.0)
    best = masked.argmax(axis=1)
    value = masked[np.arange(len(best)), best]
    return np.where(value >= 0, value, np.nan), np.where(value >= 0, s[last][best], np.nan)


def _pandora_rates(y: np.ndarray, selected: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, ...]:
    """Efficiency, purity and background acceptance of Pandora's selection under each weight row
    (stratified: every row keeps the signal and background totals): its call as a 0/1 score."""
    at = threshold_metrics_resampled(y, selected.astype(np.float64), weights, threshold=0.5)
    return at["tpr"], at["precision"], at["fpr"]


def no_baseline(reason: str, *, context: FigureContext) -> dict[str, Any]:
    return {"available": False, "status": NO_BASELINE, "reason": reason, "label": label(context)}


def baseline_report(
    test: pd.DataFrame,
    score: np.ndarray,
    calls: pd.DataFrame | None,
    *,
    counts: np.ndarray,
    context: FigureContext,
) -> dict[str, Any]:
    """Pandora against the network on the test events `test` (event keys and binary `label`, in the
    bootstrap's canonical order, as `score` and the (R, n) bootstrap `counts`)."""
    if calls is None or calls.empty:
        return no_baseline("no input file was read for a Pandora table", context=context)
    merged = test[[*EVENT_KEY, "label"]].merge(calls, on=list(EVENT_KEY), how="left", validate="one_to_one")
    missing = merged["pandora_table"].isna()
    if missing.any():
        return no_baseline(
            f"{int(missing.sum())} test events are not in the Pandora calls (stale dataset?)", context=context
        )
    without = ~merged["pandora_table"].astype(bool)
    if without.any():
        files = sorted(merged.loc[without, "sample"].unique())
        return no_baseline(
            f"{int(without.sum())} of {len(merged)} test events come from files without /{TABLE} "
            f"({', '.join(files[:3])}{' ...' if len(files) > 3 else ''})",
            context=context,
        )
    y = merged["label"].to_numpy(np.int64)
    selected = merged["pandora_nue"].to_numpy(bool)
    found = merged["pandora_candidate"].to_numpy(bool)
    if y.sum() == 0 or (y == 0).sum() == 0:
        return no_baseline("the test set lacks CC νe or background events", context=context)
    one = np.ones((1, y.size))
    eff, pur, fpr = (float(v[0]) for v in _pandora_rates(y, selected, one))
    if not np.isfinite(pur):
        return no_baseline("Pandora calls no test event CC νe-like: its purity is undefined", context=context)
    net, threshold = (float(v[0]) for v in efficiency_at_purity(y, score, purity=np.array([pur]), weights=one))
    samples: dict[str, list[np.ndarray]] = {k: [] for k in ("eff", "pur", "fpr", "net", "diff", "ratio")}
    for start in range(0, counts.shape[0], CHUNK):
        w = counts[start : start + CHUNK]
        e, p, f = _pandora_rates(y, selected, w)
        n, _ = efficiency_at_purity(y, score, purity=np.nan_to_num(p, nan=np.inf), weights=w)
        with np.errstate(invalid="ignore", divide="ignore"):
            for key, value in (("eff", e), ("pur", p), ("fpr", f), ("net", n), ("diff", n - e), ("ratio", n / e)):
                samples[key].append(value)
    draws = {k: np.concatenate(v) for k, v in samples.items()}
    ratio = net / eff if np.isfinite(net) and eff > 0 else None
    return {
        "available": True,
        "status": "baseline",
        "label": label(context),
        "rule": f"candidate = the slice of highest nu_score among slice_pdg 12/14; CC νe-like when its slice_pdg is "
        f"{NUE_PDG}; no candidate = not selected",
        "n_events": int(y.size),
        "n_signal": int(y.sum()),
        "n_selected": int(selected.sum()),
        "n_selected_signal": int((selected & (y == 1)).sum()),
        "n_with_candidate": int(found.sum()),
        "efficiency": interval(eff, draws["eff"]),
        "purity": interval(pur, draws["pur"]),
        "fpr": interval(fpr, draws["fpr"]),
        "network_threshold": None if not np.isfinite(threshold) else threshold,
        "network_efficiency_at_pandora_purity": interval(net if np.isfinite(net) else None, draws["net"]),
        "efficiency_difference": interval(net - eff if np.isfinite(net) else None, draws["diff"]),
        "efficiency_ratio": interval(ratio, draws["ratio"]),
        "interval": "paired stratified bootstrap over the test events (the resamples of the point's other intervals); "
        "Pandora's purity re-measured on each resample",
    }


def check_calls(calls: pd.DataFrame, files: Sequence[str]) -> None:
    """The calls table must have the columns `CALL_COLUMNS` (a stale or foreign file otherwise)."""
    missing = [c for c in CALL_COLUMNS if c not in calls.columns]
    if missing:
        raise NuwireError(f"{', '.join(files)}: lacks column(s) {missing}; delete it and rerun the pandora rule.")
