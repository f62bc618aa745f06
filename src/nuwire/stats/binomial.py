"""Binomial proportions: Wilson score intervals and Newcombe's interval of a difference."""

from __future__ import annotations

import numpy as np

Z68 = 1.0
Z95 = 1.959964


def wilson_interval(k: np.ndarray, n: np.ndarray, z: float = Z68) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Binomial proportion k/n with its Wilson score interval (z=1: 68%): (p, low, high).

    Unlike sqrt(p(1-p)/n) it does not shrink to zero at p = 0 or 1, which small test sets hit.
    NaN where n = 0."""
    k = np.asarray(k, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    safe_n = np.where(n > 0, n, 1.0)
    p = np.where(n > 0, k / safe_n, np.nan)
    denom = 1.0 + z * z / safe_n
    centre = (p + z * z / (2 * safe_n)) / denom
    half = z * np.sqrt(np.clip(p * (1 - p), 0.0, None) / safe_n + z * z / (4 * safe_n * safe_n)) / denom
    # The interval contains p and lies in [0, 1]; at p = 0 or 1 rounding puts a bound a few ulps on
    # the wrong side (and matplotlib refuses negative error bars), so clamp.
    with np.errstate(invalid="ignore"):
        low = np.clip(np.fmin(centre - half, p), 0.0, 1.0)
        high = np.clip(np.fmax(centre + half, p), 0.0, 1.0)
    return p, np.where(n > 0, low, np.nan), np.where(n > 0, high, np.nan)


def newcombe_difference(
    first: tuple[int, int], second: tuple[int, int], *, z: float = Z95
) -> tuple[float, float, float]:
    """p1 - p2 with Newcombe's hybrid score interval (method 10 of Newcombe 1998), built from the
    two Wilson intervals: (difference, low, high); NaN when either n is 0. `first` and `second`
    are the (k, n) counts of the two proportions, so a count cannot land in the other's place."""
    (k1, n1), (k2, n2) = first, second
    if n1 == 0 or n2 == 0:
        return float("nan"), float("nan"), float("nan")
    p1, l1, u1 = (float(v) for v in wilson_interval(np.array(k1), np.array(n1), z))
    p2, l2, u2 = (float(v) for v in wilson_interval(np.array(k2), np.array(n2), z))
    d = p1 - p2
    return d, d - float(np.hypot(p1 - l1, u2 - p2)), d + float(np.hypot(u1 - p1, p2 - l2))
