"""From energy deposits to deconvolved wire waveforms on the three planes.

Charge: deposited energy × modified-box recombination × electron-lifetime attenuation over the
drift. Space charge displaces where charge appears by up to a centimetre or so (the same field moves
the truth vertex to nu_vtx_corr). Each deposit lands on the nearest wire of each plane (wire
coordinate from the geometry) at tick = drift tick + its arrival time, as a Gaussian pulse whose
width grows with longitudinal diffusion. Regions of interest are the 8-tick blocks holding signal,
widened by one block each side (charge too faint to open one is dropped); small Gaussian noise
lives only inside them and everything outside is exactly zero, as after MicroBooNE's noise
filtering and deconvolution. Induction planes are unipolar after deconvolution, with somewhat lower
gain and more noise than the collection plane.

Gain: a minimum-ionising muon crossing the collection wires at right angles half-way along the drift
peaks at about 40 ADC per tick on the collection plane (≈ 60 near the anode, ≈ 30 at the cathode,
where diffusion has widened the pulse and the electron lifetime has taken its share).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from nuwire.geometry import N_PLANES, Geometry
from nuwire.simulate.material import recombination
from nuwire.simulate.tracks import Deposits

ADC_PER_MEV = 750.0  # collection-plane ADC·ticks per MeV of surviving charge
PLANE_GAIN = (0.8, 0.8, 1.0)
PLANE_NOISE_ADC = (1.2, 1.1, 0.8)
PULSE_SIGMA0_TICKS = (2.2, 2.2, 2.0)
DIFFUSION_TICKS2_PER_TICK = 2.06e-3  # 2·D_L·t / v² with D_L = 6.2 cm²/s, 0.5 µs ticks
LIFETIME_TICKS = 20_000.0  # 10 ms electron lifetime
KERNEL_HALF = 8  # pulse samples each side of the centre tick
SIGMA_STEP = 0.05  # pulse-width quantisation of the lookup table (ticks)
FRAC_STEPS = 32  # sub-tick positions of the lookup table
ROI_BLOCK = 8  # ticks
ROI_THRESHOLD = 2.0  # ADC·ticks of signal in a block that opens a region of interest
SCE_MAX_CM = 1.2  # space-charge displacement scale on MicroBooNE; scaled with detector size


def active_box(geometry: Geometry) -> tuple[np.ndarray, np.ndarray]:
    lo = np.array([geometry.active_x_cm[0], geometry.active_y_cm[0], geometry.active_z_cm[0]])
    hi = np.array([geometry.active_x_cm[1], geometry.active_y_cm[1], geometry.active_z_cm[1]])
    return lo, hi


def space_charge(pos: np.ndarray, geometry: Geometry) -> np.ndarray:
    """Apparent position of charge created at `pos`: pulled toward the centre, more near the cathode."""
    lo, hi = active_box(geometry)
    centre, half = (lo + hi) / 2, (hi - lo) / 2
    u = (np.asarray(pos, np.float64) - centre) / half  # -1..1 inside the volume
    scale = SCE_MAX_CM * min(1.0, half[1] / 116.0)
    drift = np.clip((u[..., 0] + 1) / 2, 0, 1)  # 0 at the anode, 1 at the cathode
    d = np.empty_like(u)
    d[..., 0] = -0.5 * scale * drift * (1 - u[..., 1] ** 2)
    d[..., 1] = -scale * drift * u[..., 1] ** 3
    d[..., 2] = -scale * drift * u[..., 2] ** 3
    return np.asarray(pos, np.float64) + d


def nearest_wires(geometry: Geometry, pos: np.ndarray) -> np.ndarray:
    """Nearest wire (int) on each plane of points (n, 3), clipped to the plane; shape (n, 3)."""
    pos = np.atleast_2d(pos)
    out = np.empty((len(pos), N_PLANES), dtype=np.int64)
    for p in range(N_PLANES):
        w = np.rint(geometry.wire_coordinate(p, pos[:, 1], pos[:, 2]))
        out[:, p] = np.clip(w, 0, geometry.n_wires[p] - 1)
    return out


@dataclass
class Projected:
    """Per deposit and plane: wire, centre tick, charge in ADC·ticks, pulse width; `ok` = on the plane."""

    wire: np.ndarray  # (3, n) int64
    tick: np.ndarray  # (n,) float
    adc: np.ndarray  # (3, n)
    sigma: np.ndarray  # (3, n)
    ok: np.ndarray  # (3, n) bool


def project(dep: Deposits, geometry: Geometry) -> tuple[Projected, np.ndarray]:
    """Project deposits inside the active volume; returns the projection and which deposits were kept."""
    lo, hi = active_box(geometry)
    inside = np.all((dep.pos >= lo) & (dep.pos <= hi), axis=1)
    pos = space_charge(dep.pos[inside], geometry)
    drift_ticks = np.maximum(pos[:, 0], 0.0) / geometry.drift_cm_per_tick
    charge = dep.de[inside] * recombination(dep.de[inside], dep.dx[inside]) * np.exp(-drift_ticks / LIFETIME_TICKS)
    tick = geometry.tick_from_x(pos[:, 0]) + dep.t0[inside]
    n = len(tick)
    wire = np.empty((N_PLANES, n), np.int64)
    adc = np.empty((N_PLANES, n))
    sigma = np.empty((N_PLANES, n))
    ok = np.empty((N_PLANES, n), bool)
    in_time = (tick > -KERNEL_HALF) & (tick < geometry.n_ticks + KERNEL_HALF)
    for p in range(N_PLANES):
        w = np.rint(geometry.wire_coordinate(p, pos[:, 1], pos[:, 2])).astype(np.int64)
        ok[p] = (w >= 0) & (w < geometry.n_wires[p]) & in_time
        wire[p] = w
        adc[p] = charge * ADC_PER_MEV * PLANE_GAIN[p]
        sigma[p] = np.sqrt(PULSE_SIGMA0_TICKS[p] ** 2 + DIFFUSION_TICKS2_PER_TICK * drift_ticks)
    return Projected(wire, tick, adc, sigma, ok), inside


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


def waveforms(proj: Projected, geometry: Geometry, rng: np.random.Generator) -> np.ndarray:
    """Dense (n_channels, n_ticks) float32 ADC after deconvolution: pulses + noise in ROIs, zero elsewhere.

    Regions of interest are found per deposit (its charge counted in the block of its centre tick),
    so the per-sample work is one table lookup and one scatter-add; a deposit is kept when its own
    block and both neighbours are in a region, which guarantees every pulse sample lands inside one
    (the pulse reaches at most KERNEL_HALF <= ROI_BLOCK ticks away).
    """
    n_ticks = geometry.n_ticks
    n_blocks_row = -(-n_ticks // ROI_BLOCK)
    n_blocks = geometry.n_channels * n_blocks_row
    first_row = np.concatenate([[0], np.cumsum(geometry.n_wires)[:-1]])
    rows, centres, amps, sigmas = [], [], [], []
    for p in range(N_PLANES):
        ok = proj.ok[p]
        rows.append(first_row[p] + proj.wire[p][ok])
        centres.append(proj.tick[ok])
        amps.append(proj.adc[p][ok])
        sigmas.append(proj.sigma[p][ok])
    row = np.concatenate(rows)
    centre = np.concatenate(centres)
    amp = np.concatenate(amps)
    sigma = np.concatenate(sigmas)
    base = np.floor(centre).astype(np.int64)
    block_col = np.clip(base, 0, n_ticks - 1) // ROI_BLOCK
    block = row * n_blocks_row + block_col

    signal = (np.bincount(block, weights=amp, minlength=n_blocks) > ROI_THRESHOLD).reshape(-1, n_blocks_row)
    roi = signal.copy()
    roi[:, 1:] |= signal[:, :-1]
    roi[:, :-1] |= signal[:, 1:]
    roi_flat = roi.ravel()
    left = np.where(block_col > 0, roi_flat[np.maximum(block - 1, 0)], True)
    right = np.where(block_col < n_blocks_row - 1, roi_flat[np.minimum(block + 1, n_blocks - 1)], True)
    keep = roi_flat[block] & left & right

    table, s_lo, s_hi = _pulse_table(min(PULSE_SIGMA0_TICKS), max(PULSE_SIGMA0_TICKS) + 3.0)
    s_idx = np.rint((np.clip(sigma[keep], s_lo, s_hi) - s_lo) / SIGMA_STEP).astype(np.int64)
    f_idx = np.minimum(((centre[keep] - base[keep]) * FRAC_STEPS).astype(np.int64), FRAC_STEPS - 1)
    values = table[s_idx, f_idx] * amp[keep].astype(np.float32)[:, None]
    ticks = base[keep][:, None] + np.arange(-KERNEL_HALF, KERNEL_HALF + 1)[None, :]
    flat = row[keep][:, None] * n_ticks + ticks
    adc = np.zeros(geometry.n_channels * n_ticks, dtype=np.float32)
    edge = (base[keep] < KERNEL_HALF) | (base[keep] >= n_ticks - KERNEL_HALF)
    np.add.at(adc, flat[~edge].ravel(), values[~edge].ravel())
    inside = (ticks[edge] >= 0) & (ticks[edge] < n_ticks)
    np.add.at(adc, flat[edge][inside], values[edge][inside])

    # Noise inside the regions of interest only.
    roi_blocks = np.flatnonzero(roi_flat)
    roi_rows = roi_blocks // n_blocks_row
    starts = roi_rows * n_ticks + (roi_blocks % n_blocks_row) * ROI_BLOCK
    cells = starts[:, None] + np.arange(ROI_BLOCK)[None, :]
    noise_sigma = np.asarray(PLANE_NOISE_ADC, np.float32)[np.searchsorted(first_row, roi_rows, side="right") - 1]
    noise = rng.standard_normal(cells.shape, dtype=np.float32) * noise_sigma[:, None]
    if n_ticks % ROI_BLOCK:
        short = cells < ((roi_rows + 1) * n_ticks)[:, None]  # the last block of a row may be short
        adc[cells[short]] += noise[short]
    else:
        adc[cells.ravel()] += noise.ravel()
    return adc.reshape(geometry.n_channels, n_ticks)
