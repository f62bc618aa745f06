"""Occlusion maps: where in an image does the network's νe decision come from?

A square patch of zeros (empty pixels) slides over one view of one event; at each position the
model scores the occluded copy, and the map records the change of the target class's log-odds,
``logodds(original) - logodds(occluded)`` with ``logodds = log(p / (1 - p))`` (for two classes,
the difference of the two logits). Positive values: hiding that region lowers the νe log-odds,
so the network relies on it. Log-odds rather than the softmax probability, because a confident
event (p = 0.9999) cannot move in probability even when a region matters: in log-odds it can.

Only patch positions whose patch holds charge are scored: occluding empty pixels with zeros
changes nothing, so their value is exactly zero without a forward pass. Event images are mostly
empty, so this is where the cost goes down; `charged_positions` counts them, and the caller
(`nuwire.evaluation.evaluate.occlusion_settings`) bounds that count rather than the whole grid.

The occluded copies are scored in batches of at most ``max_batch`` copies and a bounded number of
pixels per batch, so memory does not grow with the number of positions. The other views of a
multi-view event are passed unchanged (expanded, not copied).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn
from tqdm import tqdm

from nuwire.events.targets import NUE_CLASS

MAX_BATCH_PIXELS = 1 << 22  # pixels of the occluded view per forward pass (16 MiB in float32)


def patch_starts(length: int, patch: int, stride: int) -> np.ndarray:
    """First index of each patch along one axis: 0, stride, 2·stride, ... and one flush with the
    far edge when the stride does not land there, so every pixel is covered at least once."""
    patch = min(patch, length)
    starts = np.arange(0, length - patch + 1, stride)
    if starts[-1] != length - patch:
        starts = np.r_[starts, length - patch]
    return starts


def charged_positions(image: np.ndarray, patch: int, stride: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, cols, mask): the patch grid of `image` (H, W) and which positions hold at least one
    non-zero pixel, from a summed-area table (no loop over positions)."""
    image = np.asarray(image)
    height, width = image.shape
    rows, cols = patch_starts(height, patch, stride), patch_starts(width, patch, stride)
    ph, pw = min(patch, height), min(patch, width)
    table = np.zeros((height + 1, width + 1), dtype=np.int64)
    table[1:, 1:] = (image != 0).cumsum(0).cumsum(1)
    r, c = rows[:, None], cols[None, :]
    inside = table[r + ph, c + pw] - table[r, c + pw] - table[r + ph, c] + table[r, c]
    return rows, cols, inside > 0


def log_odds(logits: Tensor, target_class: int) -> Tensor:
    """log(p / (1 - p)) of the softmax probability p of `target_class`, computed stably from the
    logits: the target logit minus the log-sum-exp of the others."""
    logits = logits.float()
    others = torch.cat([logits[:, :target_class], logits[:, target_class + 1 :]], dim=1)
    return logits[:, target_class] - torch.logsumexp(others, dim=1)


def _model_device(model: nn.Module, fallback: torch.device) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    return fallback


@torch.no_grad()
def occlusion_grid(
    model: nn.Module,
    views: Sequence[Tensor],
    view_index: int,
    *,
    patch: int,
    stride: int,
    max_batch: int = 256,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, np.ndarray]:
    """νe log-odds (class `NUE_CLASS`, in every target) drops per patch position: (drops (n_rows, n_cols), row_starts, col_starts, base
    log-odds, scored (n_rows, n_cols) bool). Positions whose patch is empty are not scored and
    their drop is exactly 0.

    ``views``: the event's images, one (1, 1, H, W) tensor per view (``SparseImageSet.batch([i])``);
    ``view_index`` selects the one to occlude. The model is put in eval mode for the call (batch
    statistics of occluded copies must not leak into BatchNorm) and its mode restored afterwards.
    Runs under the caller's autocast context, if any. ``progress`` shows a tqdm bar (to stderr,
    which the workflow's log files receive).
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
    rows, cols, scored = charged_positions(target[0, 0].float().cpu().numpy(), patch, stride)
    ph, pw = min(patch, height), min(patch, width)

    was_training = model.training
    model.eval()
    try:
        base = float(log_odds(model(*views), NUE_CLASS)[0])
        # The charged positions as (row_start, col_start) pairs, row-major, scored chunk by chunk.
        where_r, where_c = np.nonzero(scored)
        r0 = torch.as_tensor(rows[where_r], device=device)
        c0 = torch.as_tensor(cols[where_c], device=device)
        ys = torch.arange(height, device=device)
        xs = torch.arange(width, device=device)
        chunk = max(1, min(max_batch, MAX_BATCH_PIXELS // (height * width)))
        values = []
        starts = range(0, r0.numel(), chunk)
        for start in tqdm(starts, desc="occlusion", unit="batch", disable=not progress, leave=False):
            r, c = r0[start : start + chunk], c0[start : start + chunk]
            # (B, H, 1) & (B, 1, W) -> (B, H, W): True inside each copy's patch.
            inside = ((ys >= r[:, None]) & (ys < r[:, None] + ph))[:, :, None] & (
                (xs >= c[:, None]) & (xs < c[:, None] + pw)
            )[:, None, :]
            occluded = target.expand(r.numel(), 1, height, width).masked_fill(inside[:, None], 0.0)
            batch = [occluded if i == view_index else v.expand(r.numel(), *v.shape[1:]) for i, v in enumerate(views)]
            values.append(log_odds(model(*batch), NUE_CLASS))
        drops = np.zeros(scored.shape)
        if values:
            drops[where_r, where_c] = base - torch.cat(values).cpu().double().numpy()
    finally:
        model.train(was_training)
    return drops, rows, cols, base, scored


def spread_to_pixels(
    drops: np.ndarray, rows: np.ndarray, cols: np.ndarray, *, patch: int, shape: tuple[int, int]
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
    *,
    patch: int,
    stride: int,
    max_batch: int = 256,
    progress: bool = False,
) -> np.ndarray:
    """(H, W) float64 map of the drop of the νe log-odds when a ``patch``×``patch``
    square of zeros covers each pixel (mean over the patch positions covering it; positions every
    ``stride`` pixels). Same size as the occluded view, so it can be drawn beside the image."""
    drops, rows, cols, _, _ = occlusion_grid(model, views, view_index, patch=patch, stride=stride,
                                             max_batch=max_batch, progress=progress)  # fmt: skip
    shape = tuple(views[view_index].shape[-2:])
    return spread_to_pixels(drops, rows, cols, patch=patch, shape=shape)
