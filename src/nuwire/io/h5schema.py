"""The OpenSamples HDF5 schema as data: groups, datasets, widths and dtypes.

One place for what the real files hold, used by the simulator (to write exactly this), the reader
(to say precisely what a file lacks) and the tests (to check generated files against it).
Every column is a 2-D dataset (rows, width); integers int32, reals float32, strings variable-length.
`adc` has width = ticks of the geometry, marked here with ADC_WIDTH.
"""

from __future__ import annotations

from typing import Final

import numpy as np

ADC_WIDTH: Final = -1  # placeholder width: the geometry's number of ticks
SEQ_CNT: Final = "event_id.seq_cnt"

INT = np.dtype("int32")
FLOAT = np.dtype("float32")
STR = "vlen-str"

# group -> dataset -> (width, dtype)
TABLES: Final[dict[str, dict[str, tuple[int, object]]]] = {
    "event_table": {
        "event_id": (3, INT),
        "is_cc": (1, INT),
        "nu_pdg": (1, INT),
        "nu_energy": (1, FLOAT),
        "lep_energy": (1, FLOAT),
        "nu_dir": (3, FLOAT),
        "nu_vtx": (3, FLOAT),
        "nu_vtx_corr": (3, FLOAT),
        "nu_vtx_wire_pos": (3, INT),
        "nu_vtx_wire_time": (1, FLOAT),
    },
    "wire_table": {
        "event_id": (3, INT),
        "tpc": (1, INT),
        "local_plane": (1, INT),
        "local_wire": (1, FLOAT),  # float32 in the real writer
        "adc": (ADC_WIDTH, FLOAT),
    },
    "particle_table": {
        "event_id": (3, INT),
        "g4_id": (1, INT),
        "g4_pdg": (1, INT),
        "parent_id": (1, INT),
        "category": (1, INT),
        "instance": (1, INT),
        "momentum": (1, FLOAT),
        "start_position": (3, FLOAT),
        "end_position": (3, FLOAT),
        "start_process": (1, STR),
        "end_process": (1, STR),
    },
    "hit_table": {
        "event_id": (3, INT),
        "hit_id": (1, INT),
        "integral": (1, FLOAT),
        "rms": (1, FLOAT),
        "tpc": (1, INT),
        "local_plane": (1, INT),
        "local_wire": (1, INT),  # int32 in the real writer (unlike wire_table's float32)
        "local_time": (1, FLOAT),
    },
    "edep_table": {
        "event_id": (3, INT),
        "hit_id": (1, INT),
        "g4_id": (1, INT),
        "energy": (1, FLOAT),
        "energy_fraction": (1, FLOAT),
    },
    "pandoraPrimary_table": {
        "event_id": (3, INT),
        "slice_id": (1, INT),
        "slice_pdg": (1, INT),
        "nu_score": (1, FLOAT),
        "flashmatch_score": (1, FLOAT),
        "vtx": (3, FLOAT),
        "vtx_wire_pos": (3, INT),
        "vtx_wire_time": (1, FLOAT),
    },
}

# What image making needs; the reader validates exactly these before any work.
REQUIRED_FOR_IMAGES: Final[dict[str, tuple[str, ...]]] = {
    "event_table": ("event_id", SEQ_CNT, "is_cc", "nu_pdg", "nu_energy", "lep_energy"),
    "wire_table": ("event_id", SEQ_CNT, "local_plane", "local_wire", "adc"),
}

# Particle categories of the OpenSamples particle_table.
PARTICLE_CATEGORY: Final[dict[str, int]] = {
    "pion": 0,
    "muon": 1,
    "kaon": 2,
    "proton": 3,
    "electron": 4,
    "michel": 5,
    "delta": 6,
    "other": 7,
    "photon": 8,
}


def dataset_width(group: str, name: str, n_ticks: int) -> int:
    width = TABLES[group][name][0]
    return n_ticks if width == ADC_WIDTH else width
