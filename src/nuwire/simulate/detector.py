"""From energy deposits to the charge each wire sees: recombination, attenuation, diffusion, sharing.

Charge: deposited energy × modified-box recombination (per step, so straggling carries through) ×
electron-lifetime attenuation over the drift. Space charge displaces where charge appears by up to
a centimetre or so (the same field moves the truth vertex to nu_vtx_corr).

Where it lands: each deposit is a short segment (its step), widened by transverse diffusion, spread
over the two wire cells it overlaps in proportion to the overlap (a box of the step's extent in
wire units, at least √3 σ_T wide). Steps of one track tile its projection, so the charge per wire is
the path length in that wire's cell, with no beading at any angle. In time, the deconvolved pulse is
a Gaussian whose width adds the electronics response, longitudinal diffusion (growing with drift)
and the step's own extent in drift. `nuwire.simulate.readout` turns this into waveforms.

Gain: a minimum-ionising muon crossing collection wires at right angles gives about 55–60 ADC·ticks
per wire (MicroBooNE's calibrated ~190 ADC/cm), induction planes somewhat less after deconvolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nuwire.geometry import N_PLANES, Geometry
from nuwire.simulate.material import recombination
from nuwire.simulate.tracks import Deposits

ADC_PER_MEV = 196.0  # collection-plane ADC·ticks per MeV of surviving charge (~170 electrons per ADC·tick)
PLANE_GAIN = (0.85, 0.85, 1.0)
PULSE_SIGMA0_TICKS = (2.8, 2.8, 2.5)  # electronics response after deconvolution and filtering
DIFFUSION_TICKS2_PER_TICK = 1.24e-3  # 2·D_L·t / v² with D_L = 3.74 cm²/s (MicroBooNE), 0.5 µs ticks
TRANSVERSE_CM2_PER_TICK = 5.85e-6  # 2·D_T·t with D_T = 5.85 cm²/s
LIFETIME_TICKS = 20_000.0  # 10 ms electron lifetime
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
    """Per plane, share (2) and deposit: wire, charge (ADC·ticks), `ok` = on the plane and in time;
    per plane and deposit the pulse width; per deposit the centre tick."""

    wire: np.ndarray  # (3, 2, n) int64
    tick: np.ndarray  # (n,) float
    adc: np.ndarray  # (3, 2, n)
    sigma: np.ndarray  # (3, n)
    ok: np.ndarray  # (3, 2, n) bool


def _shares(u: np.ndarray, half: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower cell and its share of a box [u - half, u + half] (half <= 0.5) over unit cells k ± 0.5."""
    low = np.floor(u - half + 0.5)
    share = np.clip((low + 0.5 - (u - half)) / (2 * half), 0.0, 1.0)
    return low.astype(np.int64), share


def project(dep: Deposits, geometry: Geometry) -> tuple[Projected, np.ndarray]:
    """Project deposits inside the active volume; returns the projection and which deposits were kept."""
    lo, hi = active_box(geometry)
    inside = np.all((dep.pos >= lo) & (dep.pos <= hi), axis=1)
    pos = space_charge(dep.pos[inside], geometry)
    step = dep.step[inside]
    drift_ticks = np.maximum(pos[:, 0], 0.0) / geometry.drift_cm_per_tick
    charge = dep.de[inside] * recombination(dep.de[inside], dep.dx[inside]) * np.exp(-drift_ticks / LIFETIME_TICKS)
    tick = geometry.tick_from_x(pos[:, 0]) + dep.t0[inside]
    n = len(tick)
    sigma_t_wires = np.sqrt(TRANSVERSE_CM2_PER_TICK * drift_ticks) / geometry.wire_pitch_cm
    extent_ticks2 = (step[:, 0] / geometry.drift_cm_per_tick) ** 2 / 12.0
    wire = np.empty((N_PLANES, 2, n), np.int64)
    adc = np.empty((N_PLANES, 2, n))
    sigma = np.empty((N_PLANES, n))
    ok = np.empty((N_PLANES, 2, n), bool)
    kernel = max(PULSE_SIGMA0_TICKS) * 4
    in_time = (tick > -kernel) & (tick < geometry.n_ticks + kernel)
    for p in range(N_PLANES):
        u = geometry.wire_coordinate(p, pos[:, 1], pos[:, 2])
        du = np.abs(geometry.wire_coordinate(p, pos[:, 1] + step[:, 1], pos[:, 2] + step[:, 2]) - u)
        half = np.clip(np.maximum(0.5 * du, np.sqrt(3.0) * sigma_t_wires), 1e-3, 0.5)
        low, share = _shares(u, half)
        wire[p, 0], wire[p, 1] = low, low + 1
        q = charge * ADC_PER_MEV * PLANE_GAIN[p]
        adc[p, 0], adc[p, 1] = q * share, q * (1 - share)
        for s in range(2):
            ok[p, s] = (wire[p, s] >= 0) & (wire[p, s] < geometry.n_wires[p]) & in_time & (adc[p, s] > 0)
        sigma[p] = np.sqrt(PULSE_SIGMA0_TICKS[p] ** 2 + DIFFUSION_TICKS2_PER_TICK * drift_ticks + extent_ticks2)
    return Projected(wire, tick, adc, sigma, ok), inside
