"""Detector geometry: wire planes, the drift (x) to time-tick relation, the active volume.

MicroBooNE's numbers come from the OpenSamples documentation. A wire plane is described by the
direction its wires count along: the wire that passes a point (y, z) is

    w = (z·cos a + y·sin a + offset) / pitch

with a = -60°, +60°, 0° for planes 0, 1, 2, which reproduces the documented end-point formulas to a
fraction of a wire. The `compact` geometry is a small detector with the same wire pitch, angles and
drift speed, for fast tests; the simulator writes its choice as the root attribute
``GEOMETRY_ATTR`` and the reader honours it (real files carry no such attribute).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass

import numpy as np

GEOMETRY_ATTR = "nuwire_geometry"
N_PLANES = 3


@dataclass(frozen=True)
class Geometry:
    name: str
    n_wires: tuple[int, int, int]
    n_ticks: int
    wire_pitch_cm: float
    plane_angle_deg: tuple[float, float, float]
    wire_offset_cm: tuple[float, float, float]
    trigger_tick: float
    drift_cm_per_tick: float
    active_x_cm: tuple[float, float]
    active_y_cm: tuple[float, float]
    active_z_cm: tuple[float, float]

    @property
    def n_channels(self) -> int:
        """Wire rows per event in wire_table (every channel has a row)."""
        return int(sum(self.n_wires))

    def wire_coordinate(self, plane: int, y: np.ndarray | float, z: np.ndarray | float) -> np.ndarray:
        """Fractional wire number on `plane` of the point(s) (y, z), in cm."""
        a = math.radians(self.plane_angle_deg[plane])
        u = np.asarray(z) * math.cos(a) + np.asarray(y) * math.sin(a)
        return (u + self.wire_offset_cm[plane]) / self.wire_pitch_cm

    def tick_from_x(self, x: np.ndarray | float) -> np.ndarray:
        return np.asarray(x) / self.drift_cm_per_tick + self.trigger_tick

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Geometry:
        raw = json.loads(text)
        for key, value in raw.items():
            if isinstance(value, list):
                raw[key] = tuple(value)
        return cls(**raw)


MICROBOONE = Geometry(
    name="microboone",
    n_wires=(2400, 2400, 3456),
    n_ticks=6400,
    wire_pitch_cm=0.3,
    plane_angle_deg=(-60.0, 60.0, 0.0),
    # From the documented fits w ≈ (z − √3·y + 202.9)/0.6, (z + √3·y + 199.5)/0.6, (z − 0.25)/0.3.
    wire_offset_cm=(101.45, 99.75, -0.25),
    trigger_tick=800.0,
    drift_cm_per_tick=0.0548965,
    active_x_cm=(0.0, 256.0),
    active_y_cm=(-116.0, 116.0),
    active_z_cm=(10.0, 1036.0),
)

# A detector about 1/5 of MicroBooNE in each wire direction and in drift; same pitch, angles, speed.
COMPACT = Geometry(
    name="compact",
    n_wires=(424, 424, 500),
    n_ticks=1024,
    wire_pitch_cm=0.3,
    plane_angle_deg=(-60.0, 60.0, 0.0),
    wire_offset_cm=(26.0, 26.0, -0.25),
    trigger_tick=100.0,
    drift_cm_per_tick=0.0548965,
    active_x_cm=(0.0, 50.0),
    active_y_cm=(-30.0, 30.0),
    active_z_cm=(0.0, 150.0),
)

GEOMETRIES: dict[str, Geometry] = {g.name: g for g in (MICROBOONE, COMPACT)}


def get_geometry(name: str) -> Geometry:
    try:
        return GEOMETRIES[name]
    except KeyError:
        raise ValueError(f"unknown geometry {name!r}; choose one of {sorted(GEOMETRIES)}") from None
