"""Inspect OpenSamples files: tables present, event counts, composition and energy statistics.

These are the numbers the thesis tabulated by hand, computed from `event_table` alone (cheap: no
wire rows are read), per file, per sample group (file stem up to the first "_") and combined.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from nuwire.io.atomic import atomic_path
from nuwire.io.inputs import sample_group
from nuwire.io.opensamples import OpenSamplesFile

PDGS = (12, -12, 14, -14)


def composition(truth: pd.DataFrame) -> dict[str, float]:
    """Counts by flavour and interaction type plus energy statistics for one set of events."""
    pdg = truth["nu_pdg"].to_numpy()
    cc = truth["is_cc"].to_numpy() == 1
    row: dict[str, float] = {
        "events": len(truth),
        "cc": int(cc.sum()),
        "nc": int((~cc).sum()),
        "nue_cc": int((cc & (np.abs(pdg) == 12)).sum()),
        "numu_cc": int((cc & (np.abs(pdg) == 14)).sum()),
    }
    for code in PDGS:
        row[f"pdg_{code}"] = int((pdg == code).sum())
    for column in ("nu_energy", "lep_energy"):
        values = truth[column].to_numpy(dtype=np.float64)
        empty = len(values) == 0
        row[f"{column}_mean"] = float("nan") if empty else float(values.mean())
        row[f"{column}_median"] = float("nan") if empty else float(np.median(values))
        row[f"{column}_std"] = float("nan") if empty else float(values.std(ddof=0))
        row[f"{column}_min"] = float("nan") if empty else float(values.min())
        row[f"{column}_max"] = float("nan") if empty else float(values.max())
    return row


def inspect_files(paths: Sequence[str | os.PathLike[str]]) -> pd.DataFrame:
    """One row per file, then one per sample group and one for all files (`level` says which)."""
    rows = []
    truths = []
    for path in paths:
        with OpenSamplesFile(path) as f:
            truth = f.truth()
        with h5py.File(path, "r") as h5:
            tables = ",".join(sorted(h5.keys()))
        truth["group"] = sample_group(Path(path).stem)
        truths.append(truth)
        rows.append({"level": "file", "name": Path(path).name, "tables": tables, **composition(truth)})
    if truths:
        everything = pd.concat(truths, ignore_index=True)
        for group, part in everything.groupby("group", sort=True):
            rows.append({"level": "group", "name": group, "tables": "", **composition(part)})
        rows.append({"level": "all", "name": "combined", "tables": "", **composition(everything)})
    return pd.DataFrame(rows)


def write_inspection(table: pd.DataFrame, target: str | os.PathLike[str]) -> None:
    with atomic_path(target) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.4f")


def format_inspection(table: pd.DataFrame) -> str:
    """A terminal-friendly summary: composition and energies per file, group and combined."""
    lines = []
    for _, r in table.iterrows():
        head = f"{r['level']:>5}  {r['name']}"
        if r["level"] == "file":
            head += f"\n       tables: {r['tables']}"
        lines.append(
            f"{head}\n"
            f"       events {r['events']}: CC {r['cc']}, NC {r['nc']}; νe CC (incl. ν̄e) {r['nue_cc']}, "
            f"νμ CC {r['numu_cc']}\n"
            f"       by pdg: νe {r['pdg_12']}, ν̄e {r['pdg_-12']}, νμ {r['pdg_14']}, ν̄μ {r['pdg_-14']}\n"
            f"       Eν [GeV]: mean {r['nu_energy_mean']:.3f}, median {r['nu_energy_median']:.3f}, "
            f"std {r['nu_energy_std']:.3f}, range {r['nu_energy_min']:.2f}–{r['nu_energy_max']:.2f}\n"
            f"       E_lep [GeV]: mean {r['lep_energy_mean']:.3f}, median {r['lep_energy_median']:.3f}"
        )
    return "\n".join(lines)
