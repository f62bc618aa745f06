"""Hand-made OpenSamples files for tests, written with the project's real writer.

`event_rows` builds one event's rows for every group from dense per-plane ADC arrays, so a test
states exactly which wires carry which charge (and can shuffle, drop or poison rows).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nuwire.geometry import COMPACT, Geometry
from nuwire.io.opensamples_writer import OpenSamplesWriter


def blank_planes(geometry: Geometry = COMPACT) -> list[np.ndarray]:
    return [np.zeros((n, geometry.n_ticks), dtype=np.float32) for n in geometry.n_wires]


def scattered_planes(
    seed: int | np.random.Generator,
    hits: int = 30,
    low: float = 20.0,
    high: float = 200.0,
    geometry: Geometry = COMPACT,
) -> list[np.ndarray]:
    """Blank planes with `hits` point charges each, uniform in [low, high), on distinct wires.

    `seed` may be a Generator, to draw several events from one stream."""
    rng = np.random.default_rng(seed)
    planes = blank_planes(geometry)
    for p in planes:
        wires = rng.choice(len(p), size=hits, replace=False)
        ticks = rng.integers(0, p.shape[1], size=hits)
        p[wires, ticks] = rng.uniform(low, high, size=hits).astype(np.float32)
    return planes


def noisy_planes(rng: np.random.Generator, density: float = 0.02) -> list[np.ndarray]:
    """Mostly-zero planes with positive pulses and some negative values, like deconvolved wires."""
    planes = blank_planes()
    for p in planes:
        mask = rng.random(p.shape) < density
        p[mask] = rng.normal(8.0, 25.0, int(mask.sum())).astype(np.float32)
    return planes


def event_rows(
    key: tuple[int, int, int],
    planes: list[np.ndarray] | None,
    *,
    is_cc: int = 1,
    nu_pdg: int = 12,
    nu_energy: float = 1.0,
    lep_energy: float = 0.5,
    wire_order: np.ndarray | None = None,
    reco: tuple[tuple[int, int, int], float] | None = ((100, 100, 200), 400.0),
) -> dict[str, dict[str, np.ndarray]]:
    """All groups' rows of one event. planes=None: the event has no wire rows at all."""
    eid = np.asarray([key], dtype=np.int32)
    rows: dict[str, dict[str, np.ndarray]] = {
        "event_table": {
            "event_id": eid,
            "is_cc": np.asarray([is_cc], np.int32),
            "nu_pdg": np.asarray([nu_pdg], np.int32),
            "nu_energy": np.asarray([nu_energy], np.float32),
            "lep_energy": np.asarray([lep_energy], np.float32),
            "nu_dir": np.asarray([[0, 0, 1]], np.float32),
            "nu_vtx": np.asarray([[10.0, 0.0, 50.0]], np.float32),
            "nu_vtx_corr": np.asarray([[10.0, 0.0, 50.0]], np.float32),
            "nu_vtx_wire_pos": np.asarray([[110, 110, 166]], np.int32),
            "nu_vtx_wire_time": np.asarray([282.0], np.float32),
        }
    }
    if planes is not None:
        plane_ids = np.concatenate([np.full(len(p), i, np.int32) for i, p in enumerate(planes)])
        wires = np.concatenate([np.arange(len(p), dtype=np.float32) for p in planes])
        adc = np.concatenate(planes).astype(np.float32)
        order = np.arange(len(adc)) if wire_order is None else wire_order
        n = len(order)
        rows["wire_table"] = {
            "event_id": np.repeat(eid, n, axis=0),
            "tpc": np.zeros(n, np.int32),
            "local_plane": plane_ids[order],
            "local_wire": wires[order],
            "adc": adc[order],
        }
    if reco is not None:
        (w0, w1, w2), tick = reco
        rows["pandoraPrimary_table"] = {
            "event_id": np.repeat(eid, 2, axis=0),
            "slice_id": np.asarray([0, 1], np.int32),
            "slice_pdg": np.asarray([13, 12], np.int32),
            "nu_score": np.asarray([0.1, 0.9], np.float32),
            "flashmatch_score": np.asarray([1.0, 1.0], np.float32),
            "vtx": np.asarray([[0, 0, 0], [10, 0, 50]], np.float32),
            "vtx_wire_pos": np.asarray([[0, 0, 0], [w0, w1, w2]], np.int32),
            "vtx_wire_time": np.asarray([0.0, tick], np.float32),
        }
    return rows


def write_file(path: Path, events: list[dict[str, dict[str, np.ndarray]]], geometry: Geometry = COMPACT) -> Path:
    groups = ("event_table", "wire_table", "pandoraPrimary_table")
    with OpenSamplesWriter(path, geometry=geometry, groups=groups) as writer:
        for rows in events:
            writer.add_event(rows)
    return path
