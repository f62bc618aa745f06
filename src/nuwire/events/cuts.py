"""Event selection: a split of the event index, after the energy cut.

"top50" keeps the most energetic half of the signal (CC νe) events by lepton energy. The threshold
is the quantile over all signal events of the index, every split together, so that train,
validation and test are cut at the same energy; background events are always kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nuwire.errors import ConfigError, NuwireError
from nuwire.schema import check_section

SPLITS = ("train", "val", "test")
SPLIT_TOLERANCE = 1e-6  # float sums such as 0.7 + 0.15 + 0.15


def check_split_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    """The `split:` fractions (train, val, test): each in (0, 1) (the schema's check) and summing to 1."""
    values = tuple(float(f) for f in fractions)
    if len(values) != 3:
        raise ConfigError(f"split: expected three fractions (train, val, test), got {len(values)}.")
    check_section(dict(zip(SPLITS, values, strict=True)), "split")
    if abs(sum(values) - 1) > SPLIT_TOLERANCE:
        raise ConfigError(
            f"split: train + val + test = {sum(values):g}, but the fractions must sum to 1 "
            f"(got train={values[0]}, val={values[1]}, test={values[2]})."
        )
    return values  # type: ignore[return-value]


@dataclass(frozen=True)
class CutSpec:
    """A named event selection: the config's `cuts.<name>` (the schema checks its fields)."""

    name: str
    signal_lep_energy_quantile: float  # 0 keeps everything; 0.5 is "top50"

    def __post_init__(self) -> None:
        check_section({self.name: {"signal_lep_energy_quantile": self.signal_lep_energy_quantile}}, "cuts")


def signal_energy_threshold(index: pd.DataFrame, cut: CutSpec) -> float:
    """Lepton energy a signal event needs to pass `cut` (−inf when the cut keeps everything)."""
    q = float(cut.signal_lep_energy_quantile)
    if q == 0.0:
        return -np.inf
    energy = index.loc[index["label"] == 1, "lep_energy"].to_numpy(dtype=np.float64)
    energy = energy[~np.isnan(energy)]
    if len(energy) == 0:
        raise NuwireError(
            f"cut {cut.name!r} keeps the top {1 - q:.0%} of signal events by lepton energy, but the "
            "event index has no signal event (label 1) with a lepton energy."
        )
    return float(np.quantile(energy, q))


def select_events(index: pd.DataFrame, split: str, cut: CutSpec) -> pd.DataFrame:
    """Events of `split` passing `cut`, in index order, with a fresh 0..n-1 index."""
    if split not in SPLITS:
        raise ConfigError(f"split {split!r}: choose one of {list(SPLITS)}.")
    missing = [c for c in ("split", "label", "lep_energy") if c not in index.columns]
    if missing:
        raise NuwireError(f"the event index lacks column(s) {missing}; rebuild it with the dataset rule.")
    threshold = signal_energy_threshold(index, cut)
    signal = (index["label"] == 1).to_numpy()
    passes = ~signal | (index["lep_energy"].to_numpy(dtype=np.float64) >= threshold)
    if cut.signal_lep_energy_quantile == 0.0:
        passes[:] = True  # keep signal events whose lepton energy is unknown too
    keep = passes & (index["split"] == split).to_numpy()
    return index.loc[keep].reset_index(drop=True)
