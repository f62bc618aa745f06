"""Multi-view ResNet: one branch per wire plane, merged part-way, CVN style (NOvA, DUNE).

The three planes have different numbers of wires, so their images have different widths and cannot
be stacked as channels. Each plane gets its own branch (own weights: induction and collection planes
see different signal shapes) made of the ResNet stem and the first `merge_stage` stages. The branch
maps are then brought to one grid with adaptive average pooling, concatenated along channels, and run
through the remaining stages shared by all planes, then global pooling and a linear layer.
`merge_stage=4` is late fusion: each branch is pooled globally and the vectors are concatenated.

The merge grid (`merge_size`) defaults to the smallest branch grid of the build-time input shapes, so
at the nominal size no plane is upsampled; rows are drift time, which all planes share, so rows line
up at the merge, while columns are wires, which differ per plane anyway. Because merge_size is not a
weight, evaluation must build the model with the same input shapes as training (it does: both use the
dataset's `input_shapes`); the model also runs at any other size.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from nuwire.errors import ConfigError
from nuwire.models.resnet import (
    N_STAGES,
    check_resnet_hparams,
    init_weights,
    make_stage,
    make_stem,
    stage_stride,
    stage_widths,
)

N_VIEWS = 3


def _halve(n: int) -> int:
    """Output length of a stride-2 layer with 'same'-style padding (7×7 p3, 3×3 p1, max-pool 3 p1)."""
    return (n - 1) // 2 + 1


def branch_grid(shape: tuple[int, int], merge_stage: int) -> tuple[int, int]:
    """Spatial size of a branch's output: stem (conv and max-pool halve) then stages 2.. halve."""
    h, w = shape
    for _ in range(2 + merge_stage - 1):
        h, w = _halve(h), _halve(w)
    return h, w


class Branch(nn.Module):
    def __init__(self, width: int, blocks: Sequence[int]) -> None:
        super().__init__()
        widths = stage_widths(width)
        self.stem = make_stem(width)
        self.stages = nn.Sequential(
            *(
                make_stage(widths[i - 1] if i else width, widths[i], blocks=blocks[i], stride=stage_stride(i))
                for i in range(len(blocks))
            )
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.stages(self.stem(x))


class MultiViewResNet(nn.Module):
    def __init__(
        self,
        *,
        merge_size: tuple[int, int],
        width: int,
        merge_stage: int,
        blocks: Sequence[int],
    ) -> None:
        super().__init__()
        blocks = check_resnet_hparams("mvresnet", width, blocks)
        widths = stage_widths(width)
        self.hparams = {"width": width, "merge_stage": merge_stage, "merge_size": list(merge_size),
                        "blocks": list(blocks)}  # fmt: skip
        self.branches = nn.ModuleList(Branch(width, blocks[:merge_stage]) for _ in range(N_VIEWS))
        if merge_stage < N_STAGES:
            self.merge = nn.AdaptiveAvgPool2d(tuple(merge_size))
            in_channels = N_VIEWS * widths[merge_stage - 1]
            shared = []
            for i in range(merge_stage, N_STAGES):
                shared.append(make_stage(in_channels, widths[i], blocks=blocks[i], stride=stage_stride(i)))
                in_channels = widths[i]
            self.trunk: nn.Module = nn.Sequential(*shared)
            features = widths[-1]
        else:
            self.merge = nn.AdaptiveAvgPool2d(1)
            self.trunk = nn.Identity()
            features = N_VIEWS * widths[-1]
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(features, 2)
        init_weights(self)

    def forward(self, v0: Tensor, v1: Tensor, v2: Tensor) -> Tensor:
        views = (v0, v1, v2)
        merged = torch.cat([self.merge(b(v)) for b, v in zip(self.branches, views, strict=True)], dim=1)
        return self.fc(torch.flatten(self.pool(self.trunk(merged)), 1))

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.hparams.items())


def build_mvresnet(
    input_shapes: Sequence[tuple[int, int]],
    *,
    width: int = 64,
    merge_stage: int = 2,
    merge_size: int | Sequence[int] | None = None,
    blocks: Sequence[int] = (2, 2, 2, 2),
) -> MultiViewResNet:
    """Branches = stem + stages 1..merge_stage (1–4); merge_size None = smallest branch grid."""
    if isinstance(merge_stage, bool) or not isinstance(merge_stage, int) or not 1 <= merge_stage <= N_STAGES:
        raise ConfigError(f"mvresnet hparam merge_stage: {merge_stage!r} must be one of 1, 2, 3, 4 (4 = late fusion).")
    if merge_size is None:
        grids = [branch_grid(s, merge_stage) for s in input_shapes]
        size = (min(g[0] for g in grids), min(g[1] for g in grids))
    elif isinstance(merge_size, int):
        size = (merge_size, merge_size)
    else:
        size = tuple(int(s) for s in merge_size)  # type: ignore[assignment]
    if len(size) != 2 or min(size) < 1:
        raise ConfigError(f"mvresnet hparam merge_size: {merge_size!r} must be an int or [rows, cols], each >= 1.")
    return MultiViewResNet(merge_size=size, width=width, merge_stage=merge_stage, blocks=blocks)
