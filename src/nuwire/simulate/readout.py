"""Deconvolved wire waveforms: pulses, regions of interest, noise, channel status.

What the OpenSamples `adc` holds is the signal after MicroBooNE's noise filtering and
deconvolution: zero outside regions of interest (ROIs), signal plus residual noise inside them. So:
1. the pulses of every projected deposit are summed into a dense (channels × ticks) array;
   a very noisy channel adds bursts of large pulses all over the window;
2. ROIs are the runs of ticks where that signal exceeds ROI_THRESHOLD, padded by ROI_PAD ticks on
   each side (wherever the signal is: no fixed grid), plus ROIs that noise alone opened, placed at
   random (about as many per plane as a real readout shows between tracks);
3. inside the ROIs, residual noise: white noise smoothed over three ticks (the deconvolution's
   filter leaves it band-limited) plus coherent noise shared by each group of 48 channels (one
   front-end board), larger on mildly noisy channels;
4. unresponsive channels are zero; their rows stay (every channel has a row);
5. values are stored to 1/64 ADC (ADC_QUANTUM).
Everything outside ROIs is exactly zero, as in the real files.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from nuwire.geometry import N_PLANES, Geometry
from nuwire.simulate.channels import ChannelStatus
from nuwire.simulate.detector import PULSE_SIGMA0_TICKS, Projected

ADC_QUANTUM = 64  # stored waveform values are multiples of 1/64 ADC
KERNEL_HALF = 10  # pulse samples each side of the centre tick (≥ 2.4σ of the widest pulse)
SIGMA_STEP = 0.05  # pulse-width quantisation of the lookup table (ticks)
SIGMA_MAX_EXTRA = 3.5  # widest pulse: σ0 + this (full drift, steep tracks)
FRAC_STEPS = 32  # sub-tick positions of the lookup table
ROI_THRESHOLD = (0.9, 0.9, 0.9)  # ADC per tick of signal that opens a region of interest
ROI_PAD = 7  # ticks kept each side of the signal above threshold
NOISE_ROIS_PER_WIRE = 0.05  # ROIs opened by noise alone, per live wire and readout
NOISE_ROI_TICKS = 2 * ROI_PAD + 4
NOISE_ADC = (0.55, 0.55, 0.45)  # residual white noise per tick after filtering (ADC)
COHERENT_ADC = 0.25  # coherent noise of a 48-channel group per tick (ADC)
COHERENT_GROUP = 48
COHERENT_SMOOTH_TICKS = 16
MILD_NOISE_FACTOR = 3.0
BURSTS_PER_NOISY_CHANNEL = (
    250.0  # per readout: a few dozen bright blobs among many faint ones; ~40× a normal wire's hits
)
BURST_MEDIAN_ADC = 500.0  # ADC·ticks of a median burst; the brightest (lognormal tail) saturate the display
BURST_SIGMA_TICKS = 2.5  # short: each burst is its own hit


@dataclass
class Readout:
    """The waveforms and their ROI cells (flat indices row·n_ticks + tick, sorted), for hit finding."""

    adc: np.ndarray  # (n_channels, n_ticks) float32
    roi_cells: np.ndarray  # (m,) int64


@lru_cache(maxsize=8)
def _pulse_table(sigma_min: float, sigma_max: float) -> tuple[np.ndarray, float, float]:
    """Normalised Gaussian pulse samples for quantised (width, sub-tick offset): a lookup, not exp()."""
    sigmas = np.arange(sigma_min, sigma_max + SIGMA_STEP, SIGMA_STEP)
    fracs = (np.arange(FRAC_STEPS) + 0.5) / FRAC_STEPS
    offsets = np.arange(-KERNEL_HALF, KERNEL_HALF + 1)
    x = offsets[None, None, :] - fracs[None, :, None]
    table = np.exp(-0.5 * (x / sigmas[:, None, None]) ** 2)
    table /= table.sum(axis=2, keepdims=True)
    return table.astype(np.float32), float(sigmas[0]), float(sigmas[-1])


@lru_cache(maxsize=2)
def _scratch(n_cells: int) -> tuple[np.ndarray, np.ndarray]:
    """Reused (signal, mask) buffers of one readout's size. Page-faulting a fresh 211 MB array costs
    more than everything else here, so the intermediate arrays are allocated once per process."""
    return np.zeros(n_cells, np.float32), np.zeros(n_cells, bool)


def _first_rows(geometry: Geometry) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(geometry.n_wires)[:-1]]).astype(np.int64)


def plane_of_rows(geometry: Geometry, rows: np.ndarray) -> np.ndarray:
    return np.searchsorted(_first_rows(geometry), rows, side="right") - 1


def _add_pulses(
    adc: np.ndarray, row: np.ndarray, centre: np.ndarray, *, amp: np.ndarray, sigma: np.ndarray, n_ticks: int
) -> None:
    """Scatter-add Gaussian pulses (area `amp`) into the flat array `adc` (rows of n_ticks)."""
    if len(row) == 0:
        return
    table, s_lo, s_hi = _pulse_table(min(PULSE_SIGMA0_TICKS), max(PULSE_SIGMA0_TICKS) + SIGMA_MAX_EXTRA)
    base = np.floor(centre).astype(np.int64)
    s_idx = np.rint((np.clip(sigma, s_lo, s_hi) - s_lo) / SIGMA_STEP).astype(np.int64)
    f_idx = np.minimum(((centre - base) * FRAC_STEPS).astype(np.int64), FRAC_STEPS - 1)
    values = table[s_idx, f_idx] * amp.astype(np.float32)[:, None]
    ticks = base[:, None] + np.arange(-KERNEL_HALF, KERNEL_HALF + 1)[None, :]
    flat = row[:, None] * n_ticks + ticks
    edge = (base < KERNEL_HALF) | (base >= n_ticks - KERNEL_HALF)
    np.add.at(adc, flat[~edge].ravel(), values[~edge].ravel())
    inside = (ticks[edge] >= 0) & (ticks[edge] < n_ticks)
    np.add.at(adc, flat[edge][inside], values[edge][inside])


def consecutive_runs(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last index of each run of consecutive values in the sorted array `flat`."""
    if len(flat) == 0:
        return flat, flat
    breaks = np.flatnonzero(np.diff(flat) > 1)
    return flat[np.r_[0, breaks + 1]], flat[np.r_[breaks, len(flat) - 1]]


def _merge(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Union of flat intervals [start, end] (inclusive): sorted and disjoint."""
    if len(starts) == 0:
        return starts, ends
    order = np.argsort(starts, kind="stable")
    s, e = starts[order], ends[order]
    reach = np.maximum.accumulate(e)
    new = np.ones(len(s), bool)
    new[1:] = s[1:] > reach[:-1] + 1
    idx = np.flatnonzero(new)
    return s[idx], np.maximum.reduceat(e, idx)


def _cells(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    lengths = ends - starts + 1
    offsets = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.repeat(starts, lengths) + offsets


def waveforms(proj: Projected, geometry: Geometry, status: ChannelStatus, *, rng: np.random.Generator) -> Readout:
    n_ticks, n_ch = geometry.n_ticks, geometry.n_channels
    first = _first_rows(geometry)
    rows, centres, amps, sigmas = [], [], [], []
    for p in range(N_PLANES):
        for s in range(2):
            ok = proj.ok[p, s]
            rows.append(first[p] + proj.wire[p, s][ok])
            centres.append(proj.tick[ok])
            amps.append(proj.adc[p, s][ok])
            sigmas.append(proj.sigma[p][ok])
    # Bursts on very noisy channels: pulses like charge, at random times all over the window.
    noisy_rows = np.flatnonzero(status.very_noisy)
    n_burst = rng.poisson(BURSTS_PER_NOISY_CHANNEL, len(noisy_rows))
    rows.append(np.repeat(noisy_rows, n_burst))
    centres.append(rng.uniform(KERNEL_HALF, n_ticks - KERNEL_HALF, int(n_burst.sum())))
    amps.append(BURST_MEDIAN_ADC * rng.lognormal(0.0, 1.2, int(n_burst.sum())))
    sigmas.append(np.full(int(n_burst.sum()), BURST_SIGMA_TICKS))
    row, centre, amp, sigma = (np.concatenate(a) for a in (rows, centres, amps, sigmas))

    signal, mask = _scratch(n_ch * n_ticks)
    signal.fill(0.0)
    _add_pulses(signal, row, centre, amp=amp, sigma=sigma, n_ticks=n_ticks)

    # Regions of interest around signal above threshold (per plane), padded, plus noise-only ones.
    thr = np.repeat(np.asarray(ROI_THRESHOLD, np.float32), geometry.n_wires)
    np.greater(signal.reshape(n_ch, n_ticks), thr[:, None], out=mask.reshape(n_ch, n_ticks))
    run_lo, run_hi = consecutive_runs(np.flatnonzero(mask))
    row_lo, row_hi = (run_lo // n_ticks) * n_ticks, (run_hi // n_ticks) * n_ticks + n_ticks - 1
    starts = np.maximum(run_lo - ROI_PAD, row_lo)
    ends = np.minimum(run_hi + ROI_PAD, row_hi)
    live = np.flatnonzero(~status.dead)
    n_noise = int(rng.poisson(NOISE_ROIS_PER_WIRE * len(live)))
    nr = rng.choice(live, size=n_noise)
    nt = rng.integers(0, n_ticks - NOISE_ROI_TICKS, n_noise)
    starts = np.concatenate([starts, nr * n_ticks + nt])
    ends = np.concatenate([ends, nr * n_ticks + nt + NOISE_ROI_TICKS - 1])
    s, e = _merge(starts, ends)
    cells = _cells(s, e)

    # Residual noise in the ROIs: smoothed white noise plus each board's coherent noise.
    cell_row = cells // n_ticks
    cell_tick = cells - cell_row * n_ticks
    level = np.asarray(NOISE_ADC, np.float32)[plane_of_rows(geometry, cell_row)]
    level = np.where(status.mildly_noisy[cell_row], level * MILD_NOISE_FACTOR, level)
    white = rng.standard_normal(len(cells) + 2, dtype=np.float32)
    smooth = (white[:-2] + 2 * white[1:-1] + white[2:]) / np.float32(np.sqrt(6.0))
    n_groups = -(-n_ch // COHERENT_GROUP)
    coherent = rng.standard_normal((n_groups, n_ticks + COHERENT_SMOOTH_TICKS), dtype=np.float32)
    coherent = np.cumsum(coherent, axis=1)
    coherent = (coherent[:, COHERENT_SMOOTH_TICKS:] - coherent[:, :-COHERENT_SMOOTH_TICKS]) / np.float32(
        np.sqrt(COHERENT_SMOOTH_TICKS)
    )
    noise = smooth * level + np.float32(COHERENT_ADC) * coherent[cell_row // COHERENT_GROUP, cell_tick]

    keep = ~status.dead[cell_row]
    cells = cells[keep]
    adc = np.zeros(n_ch * n_ticks, dtype=np.float32)
    # Stored to 1/ADC_QUANTUM of an ADC count, far below the noise: the float32 mantissa's low bits
    # then carry no random digits, which is what lets gzip shrink the files towards the real ~2 MB/event.
    adc[cells] = np.round((signal[cells] + noise[keep]) * ADC_QUANTUM) / ADC_QUANTUM
    return Readout(adc.reshape(n_ch, n_ticks), cells)
