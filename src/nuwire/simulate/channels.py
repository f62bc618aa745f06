"""Channel status of a run period: unresponsive and noisy channels, as every real readout carries.

MicroBooNE ran with about a tenth of its 8,256 channels unresponsive, and the OpenSamples files
still have a `wire_table` row for each of them (the row is there, its signal is zero). The map here
is placed like the real per-wire hit multiplicity: plane 0 largely dead around wires 400–700 with
smaller gaps, plane 1 a gap near 1560, plane 2 a dead group around 2340–2440, partial groups and
scattered single wires everywhere, and one very noisy channel on plane 1 near wire 1290 (a column
of short bright blobs across the whole window) plus a few mildly noisy ones.

One map per run period, drawn from the period alone: every sample simulated in that period
carries the same map, so the map can never tell a network which sample (hence which label) an
event came from. Other geometries get the same picture at the same fractional wire positions.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from nuwire.geometry import MICROBOONE, Geometry

DEAD_FRACTION = 0.10
# (plane, first wire, count) on MicroBooNE's planes, read off the real hit-multiplicity figure.
DEAD_GROUPS: tuple[tuple[int, int, int], ...] = (
    (0, 410, 90),
    (0, 545, 145),
    (0, 880, 25),
    (0, 285, 12),
    (0, 1345, 10),
    (0, 1392, 8),
    (0, 1795, 14),
    (0, 1880, 8),
    (0, 2305, 10),
    (1, 1550, 25),
    (1, 612, 10),
    (1, 1700, 12),
    (1, 1850, 6),
    (1, 1880, 10),
    (1, 2075, 10),
    (2, 2340, 100),
    (2, 200, 16),
    (2, 380, 16),
    (2, 815, 18),
    (2, 1000, 14),
    (2, 1380, 16),
    (2, 2765, 18),
    (2, 2800, 16),
)
VERY_NOISY: tuple[tuple[int, int], ...] = ((1, 1290),)
N_MILDLY_NOISY = 3


@dataclass(frozen=True)
class ChannelStatus:
    """Per channel (wire_table row order: plane 0, 1, 2): unresponsive, and noise level class."""

    dead: np.ndarray  # (n_channels,) bool
    very_noisy: np.ndarray  # (n_channels,) bool: bursts of large pulses all over the window
    mildly_noisy: np.ndarray  # (n_channels,) bool: a few times the plane's noise

    @property
    def dead_fraction(self) -> float:
        return float(self.dead.mean())


def run_period(run: int) -> int:
    """The run period a run belongs to (its thousand): the unit of one channel-status map."""
    return int(run) // 1000


def _row(geometry: Geometry, plane: int, wire: float) -> int:
    first = int(sum(geometry.n_wires[:plane]))
    scaled = int(round(wire * geometry.n_wires[plane] / MICROBOONE.n_wires[plane]))
    return first + min(max(scaled, 0), geometry.n_wires[plane] - 1)


@lru_cache(maxsize=8)
def channel_status(geometry: Geometry, period: int) -> ChannelStatus:
    """The channel-status map of `period` on `geometry` (deterministic; cached, do not modify)."""
    rng = np.random.default_rng(np.random.SeedSequence(entropy=int(period), spawn_key=(0xC5,)))
    n = geometry.n_channels
    dead = np.zeros(n, bool)
    for plane, first, count in DEAD_GROUPS:
        start = _row(geometry, plane, first)
        length = max(1, int(round(count * geometry.n_wires[plane] / MICROBOONE.n_wires[plane])))
        end = min(start + length, int(sum(geometry.n_wires[: plane + 1])))
        dead[start:end] = True
    # Scattered single wires (and pairs) up to the dead fraction of the real detector.
    missing = int(DEAD_FRACTION * n) - int(dead.sum())
    if missing > 0:
        alive = np.flatnonzero(~dead)
        singles = rng.choice(alive, size=missing, replace=False)
        dead[singles] = True
    very = np.zeros(n, bool)
    for plane, wire in VERY_NOISY:
        very[_row(geometry, plane, wire)] = True
    very &= ~dead
    mild = np.zeros(n, bool)
    mild[rng.choice(np.flatnonzero(~dead & ~very), size=N_MILDLY_NOISY, replace=False)] = True
    for a in (dead, very, mild):
        a.setflags(write=False)
    return ChannelStatus(dead, very, mild)
