"""What a model sees of a plane image: nearest-neighbour scaling and the vertex crop, on sparse pixels.

Both operate on pixel coordinates and never build a dense image, yet give exactly what the dense
operations give: scaling equals ``F.interpolate(dense, size=(floor(H*s), floor(W*s)),
mode="nearest")`` and the crop equals slicing that scaled image (zero-padded where the window
leaves it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from nuwire.errors import ConfigError
from nuwire.geometry import N_PLANES


@dataclass(frozen=True)
class ViewSpec:
    """Planes fed to the model, their scale (0 < scale ≤ 1) and an optional crop×crop window."""

    planes: tuple[int, ...]
    scale: float = 1.0
    crop: int | None = None

    def __post_init__(self) -> None:
        planes = tuple(int(p) for p in self.planes)
        if not planes or len(set(planes)) != len(planes) or any(p not in range(N_PLANES) for p in planes):
            raise ConfigError(f"view planes {self.planes!r}: give distinct planes out of 0, 1, 2.")
        if not 0.0 < float(self.scale) <= 1.0:
            raise ConfigError(f"view scale {self.scale!r}: must be in (0, 1] (images are only shrunk).")
        if self.crop is not None and int(self.crop) < 1:
            raise ConfigError(f"view crop {self.crop!r}: must be a positive number of pixels or None.")
        object.__setattr__(self, "planes", planes)
        object.__setattr__(self, "scale", float(self.scale))
        object.__setattr__(self, "crop", None if self.crop is None else int(self.crop))


def scaled_size(n: int, scale: float) -> int:
    """Output length of an axis of `n` pixels, as F.interpolate(scale_factor=scale) sizes it."""
    out = math.floor(n * scale)
    if out < 1:
        raise ConfigError(f"scale {scale} shrinks an axis of {n} pixels to nothing; use a larger scale.")
    return out


def nearest_sources(n_in: int, n_out: int) -> np.ndarray:
    """For every destination index, the source index torch's nearest interpolation copies.

    Asked of torch itself (interpolating an index ramp along the height axis of a 2-D image) so
    the convention, float32 rounding included, is by construction the one the dense route uses.
    """
    ramp = torch.arange(n_in, dtype=torch.float32).view(1, 1, n_in, 1)
    picked = F.interpolate(ramp, size=(n_out, 1), mode="nearest")
    return picked.view(-1).to(torch.int64).numpy()


def destination_map(n_in: int, n_out: int) -> np.ndarray:
    """int64 array over source indices: the destination that copies it, or -1 if none does.

    When shrinking every destination copies a different source, so the map is one-to-one on the
    sources it keeps; the other source pixels are simply not seen by nearest interpolation.
    """
    src = nearest_sources(n_in, n_out)
    if n_out > n_in or np.any(np.diff(src) <= 0):
        raise ValueError(f"destination_map only shrinks ({n_in} -> {n_out})")
    dst = np.full(n_in, -1, dtype=np.int64)
    dst[src] = np.arange(n_out)
    return dst


def centroids(img: np.ndarray, coord: np.ndarray, *, value: np.ndarray, n_img: int) -> np.ndarray:
    """Charge-weighted mean of `coord` per image (NaN for an image without pixels)."""
    w = value.astype(np.float64)
    total = np.bincount(img, weights=w, minlength=n_img)
    moment = np.bincount(img, weights=w * coord, minlength=n_img)
    with np.errstate(invalid="ignore", divide="ignore"):
        return moment / total


def window_starts(centre: np.ndarray, n_in: int, n_out: int, *, crop: int) -> np.ndarray:
    """First scaled pixel of a `crop`-long window per image along one axis.

    `centre` is in unscaled pixels (NaN → middle of the axis). The window is centred on the scaled
    pixel holding the centre, then shifted to lie inside the image when the image is longer than
    the crop, or to hold the whole image (zero padding around it) when it is shorter.
    """
    centre = np.where(np.isnan(centre), n_in / 2.0, centre)
    start = np.floor(centre * (n_out / n_in)).astype(np.int64) - crop // 2
    return np.clip(start, min(0, n_out - crop), max(0, n_out - crop))


def crop_centres(
    vertex: np.ndarray, img: np.ndarray, *, coord: np.ndarray, value: np.ndarray, n_img: int
) -> np.ndarray:
    """Vertex coordinate per image where known, else the image's charge-weighted centroid."""
    return np.where(np.isnan(vertex), centroids(img, coord, value=value, n_img=n_img), vertex)
