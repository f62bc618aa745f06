"""Many comparisons at once: Holm's step-down family-wise correction of p-values.

With m pairwise comparisons each tested at 5%, about 0.05·m of them come out "significant" by chance
alone (the demo's 15 pairs: 0.75 expected). Holm (1979, Scand. J. Statist. 6, 65) keeps the chance of
even one false claim in the whole family at or below α, for any dependence between the tests, and
rejects at least what Bonferroni rejects: sort the p-values, multiply the i-th smallest (from 0) by
m − i, make the sequence non-decreasing, cap at 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from nuwire.stats.binomial import Z95

FAMILY_ALPHA = 0.05


def holm_adjusted(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm-adjusted p-values, in the input order; None (a comparison that could not be made) stays
    None and does not count in the family."""
    idx = [i for i, p in enumerate(p_values) if p is not None and math.isfinite(p)]
    out: list[float | None] = [None] * len(p_values)
    if not idx:
        return out
    p = np.array([float(p_values[i]) for i in idx])  # type: ignore[arg-type]
    m = p.size
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    for rank, j in enumerate(order):
        out[idx[j]] = float(adjusted[rank])
    return out


def bootstrap_p_value(resampled_difference: np.ndarray) -> float:
    """Two-sided bootstrap p-value of "the difference is zero": twice the smaller share of resamples
    on either side of zero, at least one resample's worth (a p-value of exactly 0 is never measured)."""
    d = np.asarray(resampled_difference, dtype=np.float64)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return float("nan")
    tail = min(float(np.mean(d <= 0)), float(np.mean(d >= 0)))
    return float(min(1.0, max(2.0 * tail, 1.0 / d.size)))


def normal_p_value(delta: float, ci95: Sequence[float], z95: float = Z95) -> float:
    """Two-sided p-value of a difference whose 95% interval is `ci95`, taking it as Gaussian (the
    unpaired comparisons, whose interval is a quadrature sum)."""
    sd = (float(ci95[1]) - float(ci95[0])) / (2 * z95)
    if sd <= 0:
        return 0.0 if delta != 0 else 1.0
    return float(math.erfc(abs(delta) / sd / math.sqrt(2)))
