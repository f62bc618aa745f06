"""The sparse tensor: (batch, row, col) sites of a batch of images, a feature row per site.

Sites are kept sorted by their linear key b·H·W + r·W + c, which is the coordinate hash the
rulebooks search (`nuwire.sparse.ops`). Tensors that share sites (every layer of one resolution
level) share one `rules` dict, so a rulebook is computed once per batch and level and reused by
every convolution of that level. `densify` and `sparsify` exist for tests and small crops only:
the training path never calls them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor


@dataclass
class SparseTensor:
    """Sites `coords` (N, 3) int64 (batch, row, col) sorted by linear key; `features` (N, C)."""

    coords: Tensor
    features: Tensor
    batch_size: int
    shape: tuple[int, int]  # (H, W) of this level's grid
    rules: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    def __len__(self) -> int:
        return int(self.coords.shape[0])

    @property
    def device(self) -> torch.device:
        return self.features.device

    @property
    def channels(self) -> int:
        return int(self.features.shape[1])

    def keys(self) -> Tensor:
        """Linear keys b·H·W + r·W + c of the sites (ascending)."""
        h, w = self.shape
        return (self.coords[:, 0] * h + self.coords[:, 1]) * w + self.coords[:, 2]

    def with_features(self, features: Tensor) -> SparseTensor:
        """Same sites (and the same rulebook cache), new feature rows."""
        if features.shape[0] != len(self):
            raise ValueError(f"{features.shape[0]} feature rows for {len(self)} sites")
        return replace(self, features=features)

    def __add__(self, other: SparseTensor) -> SparseTensor:
        # Residual sums need the very same sites: both operands must come from one level's rulebooks.
        if other.rules is not self.rules:
            raise ValueError("adding sparse tensors with different sites (not from the same rulebook level)")
        return self.with_features(self.features + other.features)

    def to(self, device: torch.device | str, non_blocking: bool = False) -> SparseTensor:
        """On `device`, with an empty rulebook cache (rulebooks are built where the tensor lives)."""
        return SparseTensor(
            self.coords.to(device, non_blocking=non_blocking),
            self.features.to(device, non_blocking=non_blocking),
            self.batch_size,
            self.shape,
        )

    def pin_memory(self) -> SparseTensor:
        """Page-locked copies, for the DataLoader's pin_memory on CUDA hosts."""
        return SparseTensor(self.coords.pin_memory(), self.features.pin_memory(), self.batch_size, self.shape)

    @classmethod
    def from_keys(
        cls, keys: np.ndarray, values: np.ndarray, *, batch_size: int, shape: tuple[int, int]
    ) -> SparseTensor:
        """From int64 linear keys (any order, no repeats) and uint8 pixel values: one channel, value/255."""
        h, w = shape
        if len(keys) and (keys.min() < 0 or keys.max() >= batch_size * h * w):
            raise ValueError(f"pixel keys outside {batch_size} images of {h}x{w}")
        # One sort of packed (key, value) int64s carries the values along (cheaper than an argsort).
        packed = np.sort((np.asarray(keys, np.int64) << 8) | np.asarray(values, np.int64))
        key = packed >> 8
        if len(key) > 1 and (np.diff(key) == 0).any():
            raise ValueError("a pixel is listed twice")
        b, rest = np.divmod(key, h * w)
        coords = np.stack([b, *np.divmod(rest, w)], axis=1)
        features = ((packed & 0xFF).astype(np.float32) / np.float32(255.0)).reshape(-1, 1)
        return cls(torch.from_numpy(coords), torch.from_numpy(features), int(batch_size), (int(h), int(w)))


def densify(x: SparseTensor) -> Tensor:
    """(B, C, H, W) dense tensor with the features at the sites, zeros elsewhere (tests only)."""
    h, w = x.shape
    out = x.features.new_zeros(x.batch_size * h * w, x.channels)
    out = out.index_put((x.keys(),), x.features)
    return out.view(x.batch_size, h, w, x.channels).permute(0, 3, 1, 2)


def sparsify(dense: Tensor) -> SparseTensor:
    """Sites where any channel of a (B, C, H, W) tensor is non-zero, with all their channels."""
    b, c, h, w = dense.shape
    rows = dense.permute(0, 2, 3, 1).reshape(-1, c)
    key = torch.nonzero((rows != 0).any(dim=1)).view(-1)  # ascending, as SparseTensor wants
    bi, rest = key // (h * w), key % (h * w)
    coords = torch.stack([bi, rest // w, rest % w], dim=1)
    return SparseTensor(coords, rows[key], b, (h, w))
