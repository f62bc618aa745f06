"""Charged tracks through argon: straight lines bent by multiple scattering, losing energy by range.

All tracks of an event are stepped at once: every step of every track is one row of flat arrays,
and per-track sums (scattering angle, position) are segmented cumulative sums, so there is no Python
loop over tracks or steps. Energy loss follows the CSDA range table, so Bragg peaks come for free:
the kinetic energy at a point is the energy that has exactly the remaining range left.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nuwire.simulate.material import ELECTRON_MASS, csda_range, fluctuated_loss, ke_at_residual_range, scattering_angle

STEP_CM = 0.15  # half a wire pitch, so every wire a track crosses sees charge


@dataclass
class Deposits:
    """Energy deposits: point, energy (MeV), step length (cm), owner g4_id (-1: cosmic overlay), t0,
    and the step as a vector (how far the deposit's charge is spread; zero for point-like blips)."""

    pos: np.ndarray  # (n, 3) cm
    de: np.ndarray  # (n,) MeV
    dx: np.ndarray  # (n,) cm
    g4_id: np.ndarray  # (n,) int64
    t0: np.ndarray  # (n,) ticks: arrival time of the particle's parent interaction
    step: np.ndarray  # (n, 3) cm

    @staticmethod
    def empty() -> Deposits:
        z = np.zeros(0)
        return Deposits(np.zeros((0, 3)), z, z, np.zeros(0, np.int64), z, np.zeros((0, 3)))

    @staticmethod
    def concat(parts: list[Deposits]) -> Deposits:
        parts = [p for p in parts if len(p.de)] or [Deposits.empty()]
        return Deposits(
            np.concatenate([p.pos for p in parts]),
            np.concatenate([p.de for p in parts]),
            np.concatenate([p.dx for p in parts]),
            np.concatenate([p.g4_id for p in parts]),
            np.concatenate([p.t0 for p in parts]),
            np.concatenate([p.step for p in parts]),
        )


@dataclass(frozen=True)
class TrackStart:
    """Where tracks (or straight segments) begin: point (cm), unit direction, kinetic energy (MeV),
    and what their deposits carry: owner g4_id and t0 (ticks)."""

    start: np.ndarray  # (n, 3) cm
    direction: np.ndarray  # (n, 3)
    ke: np.ndarray  # (n,) MeV
    g4_id: np.ndarray  # (n,) int64
    t0: np.ndarray  # (n,) ticks


@dataclass
class TrackResult:
    deposits: Deposits
    end_pos: np.ndarray  # (n, 3)
    end_dir: np.ndarray  # (n, 3)
    end_ke: np.ndarray  # (n,) MeV; 0 for a stopped track
    stopped: np.ndarray  # (n,) bool: ranged out inside max_len
    step_track: np.ndarray  # (m,) track index of every deposit (for δ-ray placement)
    step_ke: np.ndarray  # (m,) kinetic energy at the start of every step (MeV)


def orthonormal_basis(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors perpendicular to each row of `d` (unit vectors) and to each other."""
    x, y, z = d[:, 0], d[:, 1], d[:, 2]
    # u1 = d × x̂ when d is far from x̂, else d × ŷ (written out: np.cross is slow on small arrays).
    use_x = np.abs(x) < 0.9
    zero = np.zeros_like(x)
    u1 = np.where(use_x[:, None], np.stack([zero, z, -y], axis=1), np.stack([-z, zero, x], axis=1))
    u1 /= np.sqrt(np.einsum("ij,ij->i", u1, u1))[:, None]
    a, b, c = u1[:, 0], u1[:, 1], u1[:, 2]
    u2 = np.stack([y * c - z * b, z * a - x * c, x * b - y * a], axis=1)
    return u1, u2


def rotate(d: np.ndarray, theta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Tilt unit vectors `d` by polar angle `theta` at azimuth `phi` around themselves."""
    u1, u2 = orthonormal_basis(d)
    s = np.sin(theta)[:, None]
    out = np.cos(theta)[:, None] * d + s * (np.cos(phi)[:, None] * u1 + np.sin(phi)[:, None] * u2)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def _segmented_exclusive_cumsum(
    values: np.ndarray, first: np.ndarray, *, has_steps: np.ndarray, track: np.ndarray
) -> np.ndarray:
    """Per-track running sum of earlier rows (0 at each track's first step)."""
    cs = np.cumsum(values, axis=0)
    before = np.zeros((len(first),) + values.shape[1:])
    f = first[has_steps]
    before[has_steps] = cs[f] - values[f]
    return cs - values - before[track]


def propagate(
    tracks: TrackStart,
    *,
    mass: np.ndarray | float,
    max_len: np.ndarray,
    rng: np.random.Generator,
    step: float = STEP_CM,
    scatter: bool = True,
    delta_cut_mev: np.ndarray | float = np.inf,
) -> TrackResult:
    """Step every track until it ranges out or has travelled `max_len` cm (exit, interaction).

    Each step deposits its mean loss with thin-layer straggling (`fluctuated_loss`); knock-on
    electrons above `delta_cut_mev` (per track) are left to the caller, which makes them as δ-rays.
    """
    g4_id, t0 = tracks.g4_id, tracks.t0
    n = len(tracks.ke)
    start = np.asarray(tracks.start, dtype=np.float64).reshape(n, 3)
    direction = np.asarray(tracks.direction, dtype=np.float64).reshape(n, 3)
    ke = np.asarray(tracks.ke, dtype=np.float64)
    mass = np.broadcast_to(np.asarray(mass, dtype=np.float64), (n,))
    full_range = np.zeros(n)
    for m in np.unique(mass):
        sel = mass == m
        full_range[sel] = csda_range(ke[sel], float(m))
    length = np.minimum(full_range, np.maximum(max_len, 0.0))
    n_steps = np.maximum(np.ceil(length / step).astype(np.int64), 1) * (length > 0)
    total = int(n_steps.sum())
    stopped = full_range <= max_len
    if total == 0:
        empty = np.zeros(0, np.int64)
        return TrackResult(Deposits.empty(), start.copy(), direction.copy(), ke.copy(), stopped, empty, empty * 0.0)

    track = np.repeat(np.arange(n), n_steps)
    first = np.concatenate([[0], np.cumsum(n_steps)[:-1]])
    has_steps = n_steps > 0
    k = np.arange(total) - first[track]
    s0 = k * step
    s1 = np.minimum(s0 + step, length[track])
    seg = s1 - s0
    residual0 = full_range[track] - s0
    residual1 = full_range[track] - s1
    ke0 = np.zeros(total)
    ke1 = np.zeros(total)
    for m in np.unique(mass):
        sel = mass[track] == m
        ke0[sel] = ke_at_residual_range(residual0[sel], float(m))
        ke1[sel] = ke_at_residual_range(residual1[sel], float(m))
    mean_de = np.maximum(ke0 - ke1, 0.0)
    cut = np.broadcast_to(np.asarray(delta_cut_mev, np.float64), (n,))[track]
    de = fluctuated_loss(mean_de, seg, 0.5 * (ke0 + ke1), mass_mev=mass[track], t_cut_mev=cut, rng=rng)

    # Direction of each step: the initial one tilted by the accumulated scattering of earlier steps.
    if scatter:
        theta0 = scattering_angle(0.5 * (ke0 + ke1), mass[track], seg)
        kicks = rng.standard_normal((total, 2)) * theta0[:, None]
        acc = _segmented_exclusive_cumsum(kicks, first, has_steps=has_steps, track=track)
        u1, u2 = orthonormal_basis(direction)
        angle = np.hypot(acc[:, 0], acc[:, 1])
        safe = np.where(angle > 0, angle, 1.0)
        tilt = (acc[:, [0]] * u1[track] + acc[:, [1]] * u2[track]) / safe[:, None]
        d = np.cos(angle)[:, None] * direction[track] + np.sin(angle)[:, None] * tilt
    else:
        d = direction[track]
    disp = d * seg[:, None]
    before = _segmented_exclusive_cumsum(disp, first, has_steps=has_steps, track=track)
    mid = start[track] + before + 0.5 * disp

    last = first + n_steps - 1
    end_pos = start.copy()
    end_dir = direction.copy()
    end_pos[has_steps] = start[has_steps] + before[last[has_steps]] + disp[last[has_steps]]
    end_dir[has_steps] = d[last[has_steps]]
    end_ke = np.where(stopped, 0.0, ke)
    end_ke[has_steps & ~stopped] = ke1[last[has_steps & ~stopped]]
    deposits = Deposits(mid, de, seg, np.asarray(g4_id, np.int64)[track], np.asarray(t0, np.float64)[track], disp)
    return TrackResult(deposits, end_pos, end_dir, end_ke, stopped, track, ke0)


def straight_deposits(
    tracks: TrackStart,
    *,
    length: np.ndarray,
    dedx: float,
    rng: np.random.Generator,
    step: float = STEP_CM,
) -> Deposits:
    """Minimum-ionising deposits along straight segments (shower electrons between brem emissions),
    with the straggling of `fluctuated_loss` for electrons of kinetic energy `tracks.ke` (per segment)."""
    start, direction, ke_mev, g4_id, t0 = tracks.start, tracks.direction, tracks.ke, tracks.g4_id, tracks.t0
    length = np.maximum(np.asarray(length, dtype=np.float64), 0.0)
    n_steps = np.ceil(length / step).astype(np.int64)
    total = int(n_steps.sum())
    if total == 0:
        return Deposits.empty()
    track = np.repeat(np.arange(len(length)), n_steps)
    first = np.concatenate([[0], np.cumsum(n_steps)[:-1]])
    k = np.arange(total) - first[track]
    s0 = k * step
    s1 = np.minimum(s0 + step, length[track])
    seg = s1 - s0
    mid = start[track] + direction[track] * (0.5 * (s0 + s1))[:, None]
    ke = np.asarray(ke_mev, np.float64)[track]
    de = fluctuated_loss(seg * dedx, seg, ke, mass_mev=ELECTRON_MASS, t_cut_mev=np.inf, rng=rng)
    disp = direction[track] * seg[:, None]
    return Deposits(mid, de, seg, np.asarray(g4_id, np.int64)[track], np.asarray(t0, np.float64)[track], disp)


def box_exit_distance(pos: np.ndarray, direction: np.ndarray, *, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Distance along `direction` from `pos` to where the ray leaves the box [lo, hi] (0 if outside)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t_hi = (hi - pos) / direction
        t_lo = (lo - pos) / direction
    t_far = np.where(direction > 0, t_hi, np.where(direction < 0, t_lo, np.inf))
    return np.clip(np.min(t_far, axis=1), 0.0, None)


def box_chord(
    pos: np.ndarray, direction: np.ndarray, *, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Entry and exit parameters (t_in, t_out) of the lines pos + t·dir through the box; t_in > t_out = miss."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (lo - pos) / direction
        t2 = (hi - pos) / direction
    t_near = np.where(direction != 0, np.minimum(t1, t2), -np.inf)
    t_far = np.where(direction != 0, np.maximum(t1, t2), np.inf)
    # Lines parallel to a face: a miss unless the point lies between its planes.
    inside = (pos >= lo) & (pos <= hi)
    t_near = np.where((direction == 0) & ~inside, np.inf, t_near)
    return np.max(t_near, axis=1), np.min(t_far, axis=1)
