"""The interval that docs/benchmarks.md judges its targets by."""

from __future__ import annotations

import numpy as np
from benchmarks import median_interval, spread


def test_median_interval_is_the_order_statistics_with_at_least_90_percent_coverage():
    assert median_interval([1.0, 2.0, 3.0, 4.0, 5.0]) == (1.0, 5.0, 1 - 2 / 32)  # min–max of 5: 94%
    nine = [float(x) for x in range(1, 10)]
    assert median_interval(nine) == (2.0, 8.0, 1 - 2 * (1 + 9) / 512)  # one repeat each side dropped: 96%
    assert median_interval(nine, level=0.99) == (1.0, 9.0, 1 - 2 / 512)


def test_median_interval_covers_the_median_as_often_as_it_says():
    """Draws of 9 from a skewed distribution with a known median (lognormal: 1)."""
    rng = np.random.default_rng(7)
    draws = np.sort(rng.lognormal(0.0, 1.0, (20_000, 9)), axis=1)
    lo, hi, coverage = zip(*(median_interval(list(d)) for d in draws))
    covered = np.mean((np.asarray(lo) <= 1.0) & (np.asarray(hi) >= 1.0))
    assert abs(covered - coverage[0]) < 0.01  # binomial error of 20,000 draws: ±0.0014


def test_spread_carries_the_interval():
    s = spread([3.0, 1.0, 2.0, 9.0, 4.0, 5.0, 6.0, 8.0, 7.0])
    assert (s["min"], s["median"], s["max"], s["lo"], s["hi"], s["n"]) == (1.0, 5.0, 9.0, 2.0, 8.0, 9)
