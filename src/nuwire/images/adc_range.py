"""The ADC values an honest image can be made of: finite, and within what a MicroBooNE readout
can hold. An event with any value outside is skipped with its reason, never saturated silently.

The bound (docs/robustness.md, "ADC range"): `wire_table/adc` is the 12-bit digitised waveform
after noise filtering and deconvolution (/work/shared/reference/opensamples-format.md, the
wire_table section). Deconvolution moves charge between ticks of one wire but keeps its area
(a single-wire MIP hit's integral, 35-65 ADC·tick, is also the size of its deconvolved 6-tick sums,
20-60); so no tick can hold more than a whole row can record: 4096 counts (12 bits) on each of
the 6400 ticks of the readout window, 2.6e7 in either sign. Real values are four to six orders
below it (a 6-tick sum of 200 is already two decades down the real plane-2 histogram), the
simulator's brightest noise bursts stay below 4e3, so the bound never touches a real signal and
catches what cannot be a readout: 1e30, float32 garbage (±3e38), a unit mistake of more than ~1e5.
It cannot catch a wrong value inside the bound (a 1e6 in one tick saturates its pixel like any
dense spot).
"""

from __future__ import annotations

import numpy as np

DIGITISER_COUNTS = 2**12  # MicroBooNE's 12-bit ADC
READOUT_TICKS = 6400  # MicroBooNE's readout window
ADC_LIMIT = float(DIGITISER_COUNTS * READOUT_TICKS)  # 26,214,400


def out_of_range_reason(planes: tuple[np.ndarray, ...] | list[np.ndarray], limit: float = ADC_LIMIT) -> str | None:
    """The skip reason of an event with finite ADC values beyond ±`limit`, or None. Two
    reductions per plane (no temporary array); the bad values are counted only when there are
    some. Call it on finite planes: NaN has its own reason (non_finite_reason)."""
    largest = max((max(abs(float(p.max())), abs(float(p.min()))) for p in planes if p.size), default=0.0)
    if largest <= limit:
        return None
    bad = sum(
        int(np.count_nonzero(np.abs(block) > limit)) for p in planes for block in np.array_split(p, 16) if block.size
    )
    return (
        f"{bad} ADC values outside ±{limit:.3g} (largest |value| {largest:.3g}; no 12-bit readout of "
        f"{READOUT_TICKS} ticks holds that much charge on one tick)"
    )
