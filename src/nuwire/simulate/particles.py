"""The simulated particles of one event, growing as the cascade adds daughters (particle_table rows).

g4_id counts from 1 in creation order; parent_id 0 marks a primary of the neutrino interaction.
`instance` is the g4_id of the visible primary a particle descends from (one instance per primary
track or shower, as used for instance labels), -1 for invisible primaries (neutrinos, neutrons).
Cosmic-ray muons are real-data overlay in the OpenSamples and have no particle rows.
"""

from __future__ import annotations

import numpy as np

from nuwire.io.h5schema import PARTICLE_CATEGORY

PDG_CATEGORY = {
    211: "pion",
    111: "pion",
    13: "muon",
    321: "kaon",
    2212: "proton",
    11: "electron",
    22: "photon",
}


def category_of(pdg: np.ndarray) -> np.ndarray:
    """OpenSamples particle category from the PDG code (michel and delta are set by the caller)."""
    apdg = np.abs(np.asarray(pdg))
    out = np.full(apdg.shape, PARTICLE_CATEGORY["other"], dtype=np.int32)
    for code, name in PDG_CATEGORY.items():
        out[apdg == code] = PARTICLE_CATEGORY[name]
    return out


class ParticleRegistry:
    """Column store of particles with O(1) amortised appends and vectorised end-point updates."""

    _COLUMNS = ("pdg", "parent", "category", "instance", "momentum", "start", "end", "start_process", "end_process")

    def __init__(self) -> None:
        self.n = 0
        self._cap = 256
        self.pdg = np.zeros(self._cap, np.int32)
        self.parent = np.zeros(self._cap, np.int32)
        self.category = np.zeros(self._cap, np.int32)
        self.instance = np.zeros(self._cap, np.int32)
        self.momentum = np.zeros(self._cap, np.float64)  # GeV/c
        self.start = np.zeros((self._cap, 3))
        self.end = np.zeros((self._cap, 3))
        self.start_process = np.zeros(self._cap, dtype=object)
        self.end_process = np.zeros(self._cap, dtype=object)

    def _grow(self, need: int) -> None:
        if need <= self._cap:
            return
        cap = max(need, 2 * self._cap)
        for name in self._COLUMNS:
            old = getattr(self, name)
            new = np.zeros((cap,) + old.shape[1:], dtype=old.dtype)
            new[: self.n] = old[: self.n]
            setattr(self, name, new)
        self._cap = cap

    def add(
        self,
        pdg: np.ndarray,
        parent: np.ndarray,
        start: np.ndarray,
        *,
        momentum_gev: np.ndarray,
        start_process: str | np.ndarray,
        category: np.ndarray | None = None,
        instance: np.ndarray | None = None,
    ) -> np.ndarray:
        """Register particles; returns their g4_ids. Instance defaults to the parent's (or own id)."""
        pdg = np.atleast_1d(np.asarray(pdg, np.int32))
        k = len(pdg)
        ids = np.arange(self.n + 1, self.n + k + 1, dtype=np.int64)
        if k == 0:
            return ids
        self._grow(self.n + k)
        sl = slice(self.n, self.n + k)
        parent = np.broadcast_to(np.asarray(parent, np.int64), (k,))
        self.pdg[sl] = pdg
        self.parent[sl] = parent
        self.category[sl] = category_of(pdg) if category is None else category
        if instance is None:
            inherited = np.where(parent > 0, self.instance[np.maximum(parent - 1, 0)], ids)
            instance = inherited
        self.instance[sl] = instance
        self.momentum[sl] = momentum_gev
        self.start[sl] = start
        self.end[sl] = start
        self.start_process[sl] = start_process
        self.end_process[sl] = "CoupledTransportation"
        self.n += k
        return ids

    def set_end(self, ids: np.ndarray, end: np.ndarray, process: str | np.ndarray) -> None:
        idx = np.asarray(ids, np.int64) - 1
        self.end[idx] = end
        self.end_process[idx] = process

    def table(self) -> dict[str, np.ndarray]:
        """particle_table columns (without event_id), in the schema's dtypes."""
        n = self.n
        return {
            "g4_id": np.arange(1, n + 1, dtype=np.int32),
            "g4_pdg": self.pdg[:n].copy(),
            "parent_id": self.parent[:n].copy(),
            "category": self.category[:n].copy(),
            "instance": self.instance[:n].copy(),
            "momentum": self.momentum[:n].astype(np.float32),
            "start_position": self.start[:n].astype(np.float32),
            "end_position": self.end[:n].astype(np.float32),
            "start_process": self.start_process[:n].astype(str).astype(object),
            "end_process": self.end_process[:n].astype(str).astype(object),
        }
