"""nuwire's benchmark suite: `make bench` (= `python -m benchmarks.run`) runs every bench_* module.

Shared here: timing of one call in wall and CPU seconds, interleaved repeats of competing routes
(so a change in the machine's load hits every route alike), and the min/median/max summary that
every reported figure uses, with an interval for the median that targets are judged by. The machine is shared with other jobs, so the load average is
recorded next to the figures.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Timing:
    """One timed call: how many items it handled, its wall and CPU seconds (this process only)."""

    items: int
    wall_s: float
    cpu_s: float

    @property
    def per_s(self) -> float:
        return self.items / self.wall_s

    @property
    def cpu_per_s(self) -> float:
        return self.items / self.cpu_s if self.cpu_s > 0 else float("inf")


def timed(fn: Callable[[], int]) -> Timing:
    """Call `fn` (which returns the number of items it handled) and time it."""
    wall, cpu = time.perf_counter(), time.process_time()
    items = fn()
    return Timing(items, time.perf_counter() - wall, time.process_time() - cpu)


def interleaved(routes: dict[str, Callable[[], int]], repeats: int) -> dict[str, list[Timing]]:
    """Run every route once per round, `repeats` rounds: A B C A B C … (never A A A B B B)."""
    out: dict[str, list[Timing]] = {name: [] for name in routes}
    for _ in range(repeats):
        for name, fn in routes.items():
            out[name].append(timed(fn))
    return out


def spread(values: Iterable[float], digits: int = 4) -> dict[str, float | int]:
    """{min, median, max, n} of the values, the form of every figure in docs/benchmarks.md, and an
    interval for the median (`median_interval`: lo, hi and its coverage) that targets are judged by."""
    v = sorted(float(x) for x in values)
    if not v:
        return {"min": float("nan"), "median": float("nan"), "max": float("nan"), "n": 0}
    lo, hi, coverage = median_interval(v)
    return {
        "min": round(v[0], digits),
        "median": round(statistics.median(v), digits),
        "max": round(v[-1], digits),
        "n": len(v),
        "lo": round(lo, digits),
        "hi": round(hi, digits),
        "coverage": round(coverage, 4),
    }


def median_interval(ordered: Sequence[float], level: float = 0.9) -> tuple[float, float, float]:
    """Distribution-free interval for the median of sorted values: the order statistics x(k) and
    x(n+1-k) with the largest k whose coverage, 1 - 2·P(Binomial(n, 1/2) < k), is at least `level`
    (k = 1, min–max, where none is). Returns (lo, hi, coverage): 5 values give min–max at 94%,
    9 give the 2nd lowest to the 2nd highest at 96%, so that one disturbed repeat no longer
    decides a verdict alone."""
    n = len(ordered)

    def coverage(k: int) -> float:
        return 1.0 - 2.0 * sum(math.comb(n, i) for i in range(k)) / 2.0**n

    k = 1
    while k + 1 <= (n + 1) // 2 and coverage(k + 1) >= level:
        k += 1
    return ordered[k - 1], ordered[n - k], max(0.0, coverage(k))


def rate_figures(timings: Sequence[Timing]) -> dict[str, Any]:
    """Items per second (wall and CPU) over the repeats of one route."""
    return {
        "items_per_repeat": timings[0].items if timings else 0,
        "per_s": spread(t.per_s for t in timings),
        "cpu_per_s": spread(t.cpu_per_s for t in timings),
    }


def paired_ratio(num: Sequence[Timing], den: Sequence[Timing], cpu: bool = False) -> dict[str, float | int]:
    """Rate of `num` over rate of `den`, repeat by repeat (the two ran back to back each round)."""
    return spread((a.cpu_per_s / b.cpu_per_s) if cpu else (a.per_s / b.per_s) for a, b in zip(num, den))


def load_average() -> list[float]:
    """1, 5 and 15 minute load averages (other jobs share the cores)."""
    return [round(x, 2) for x in os.getloadavg()]
