"""Occlusion maps: where in an image does the network's νe score come from?

A square patch of zeros (empty pixels) slides over one view of one event; at each position the
model scores the occluded copy, and the map records ``score(original) - score(occluded)`` for the
target class. Positive values: hiding that region lowers the score, so the network relies on it.

The occluded copies are scored in batches of at most ``max_batch`` copies and a bounded number of
pixels per batch, so memory does not grow with the number of positions. The other views of a
multi-view event are passed unchanged (expanded, not copied).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

MAX_BATCH_PIXELS = 1 << 22  # pixels of the occluded view per forward pass (16 MiB in float32)


def patch_starts(length: int, patch: int, stride: int) -> np.ndarray:
    """First index of each patch along one axis: 0, stride, 2·stride, ... and one flush with the
    far edge when the stride does not land there, so every pixel is covered at least once."""
    patch = min(patch, length)
    starts = np.arange(0, length - patch + 1, stride)
    if starts[-1] != length - patch:
        starts = np.r_[starts, length - patch]
    return starts


def _model_device(model: nn.Module, fallback: torch.device) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    return fallback


@torch.no_grad()
def occlusion_grid(
    model: nn.Module,
    views: Sequence[Tensor],
    view_index: int,
    patch: int,
    stride: int,
    target_class: int = 1,
    max_batch: int = 256,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Score drops per patch position: (drops (n_rows, n_cols), row_starts, col_starts, base score).

    ``views``: the event's images, one (1, 1, H, W) tensor per view (``SparseImageSet.batch([i])``);
    ``view_index`` selects the one to occlude. The model is put in eval mode for the call (batch
    statistics of occluded copies must not leak into BatchNorm) and its mode restored afterwards.
    Runs under the caller's autocast context, if any.
    """
    if patch < 1 or stride < 1:
        raise ValueError(f"patch ({patch}) and stride ({stride}) must be 1 or more")
    if not 0 <= view_index < len(views):
        raise ValueError(f"view_index {view_index} out of range for {len(views)} view(s)")
    for v in views:
        if v.dim() != 4 or v.shape[:2] != (1, 1):
            raise ValueError(f"each view must be one event's (1, 1, H, W) image, got {tuple(v.shape)}")
    device = _model_device(model, views[0].device)
    views = [v.to(device) for v in views]
    target = views[view_index]
    height, width = target.shape[-2:]
    rows = patch_starts(height, patch, stride)
    cols = patch_starts(width, patch, stride)
    ph, pw = min(patch, height), min(patch, width)

    was_training = model.training
    model.eval()
    try:
        base = float(torch.softmax(model(*views).float(), dim=1)[0, target_class])
        # All positions as (row_start, col_start) pairs, row-major, scored chunk by chunk.
        r0 = torch.as_tensor(np.repeat(rows, cols.size), device=device)
        c0 = torch.as_tensor(np.tile(cols, rows.size), device=device)
        ys = torch.arange(height, device=device)
        xs = torch.arange(width, device=device)
        chunk = max(1, min(max_batch, MAX_BATCH_PIXELS // (height * width)))
        scores = []
        for start in range(0, r0.numel(), chunk):
            r, c = r0[start : start + chunk], c0[start : start + chunk]
            # (B, H, 1) & (B, 1, W) -> (B, H, W): True inside each copy's patch.
            inside = ((ys >= r[:, None]) & (ys < r[:, None] + ph))[:, :, None] & (
                (xs >= c[:, None]) & (xs < c[:, None] + pw)
            )[:, None, :]
            occluded = target.expand(r.numel(), 1, height, width).masked_fill(inside[:, None], 0.0)
            batch = [occluded if i == view_index else v.expand(r.numel(), *v.shape[1:]) for i, v in enumerate(views)]
            scores.append(torch.softmax(model(*batch).float(), dim=1)[:, target_class])
        drops = base - torch.cat(scores).cpu().double().numpy()
    finally:
        model.train(was_training)
    return drops.reshape(rows.size, cols.size), rows, cols, base


def spread_to_pixels(
    drops: np.ndarray, rows: np.ndarray, cols: np.ndarray, patch: int, shape: tuple[int, int]
) -> np.ndarray:
    """Per-pixel map: each pixel gets the mean drop of the patches that covered it.

    Built with a 2-D difference array (a +/- at each patch's four corners, then two cumulative
    sums), so the cost does not depend on the patch area.
    """
    height, width = shape
    ph, pw = min(patch, height), min(patch, width)
    r = np.repeat(rows, cols.size)
    c = np.tile(cols, rows.size)
    d = drops.reshape(-1)
    total = np.zeros((height + 1, width + 1))
    count = np.zeros((height + 1, width + 1))
    for grid, value in ((total, d), (count, np.ones_like(d))):
        np.add.at(grid, (r, c), value)
        np.add.at(grid, (r + ph, c), -value)
        np.add.at(grid, (r, c + pw), -value)
        np.add.at(grid, (r + ph, c + pw), value)
    total = total.cumsum(0).cumsum(1)[:height, :width]
    count = np.rint(count.cumsum(0).cumsum(1)[:height, :width])
    return np.divide(total, count, out=np.zeros_like(total), where=count > 0)


def occlusion_map(
    model: nn.Module,
    views: Sequence[Tensor],
    view_index: int,
    patch: int,
    stride: int,
    target_class: int = 1,
    max_batch: int = 256,
) -> np.ndarray:
    """(H, W) float64 map of the drop of the target-class softmax score when a ``patch``×``patch``
    square of zeros covers each pixel (mean over the patch positions covering it; positions every
    ``stride`` pixels). Same size as the occluded view, so it can be drawn beside the image."""
    drops, rows, cols, _ = occlusion_grid(model, views, view_index, patch, stride, target_class, max_batch)
    shape = tuple(views[view_index].shape[-2:])
    return spread_to_pixels(drops, rows, cols, patch, shape)
