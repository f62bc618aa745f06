"""Sparse ResNets: the ResNet-18 layout on `nuwire.sparse` tensors, for whole planes at full resolution.

`sparse_resnet` (one plane) mirrors `resnet` stage for stage: BasicBlock stages `blocks` (default
[2, 2, 2, 2]) of widths w, 2w, 4w, 8w, global average pooling, one linear layer to two logits. Only
the convolutions change: a block that keeps the resolution uses 3×3 submanifold convolutions
(output sites = input sites, so a thin track stays thin instead of smearing out layer by layer);
a block that halves it starts with a 2×2/2 strided convolution (sites → sites // 2), its shortcut a
second 2×2/2 convolution on the same output sites. The stem is a 3×3 submanifold convolution at the
input's own resolution — where an electron's single track and a photon pair's double one differ —
then a 4×4/4 strided convolution to a quarter of it, as the dense stem and max-pool reach.

`sparse_mvresnet` runs one such network per plane (own weights: induction and collection planes
see different signal shapes) and merges after the sparse stages: the three globally pooled
feature vectors are concatenated before the linear layer (the planes' sites share no grid worth
aligning at a finer level). Both take `SparseTensor`s (`SparseImageSet.sparse_batch`) and are
size-agnostic; `features(...)` gives the vector the final linear layer sees.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from nuwire.models.resnet import N_STAGES, check_resnet_hparams, stage_stride, stage_widths
from nuwire.sparse import (
    SparseBatchNorm,
    SparseConv2d,
    SparseReLU,
    SparseTensor,
    SubmanifoldConv2d,
    global_avg_pool,
)

STEM_KERNEL = 3
STEM_STRIDE = 4


class SparseBasicBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1: nn.Module = (
            SubmanifoldConv2d(in_channels, out_channels, 3)
            if stride == 1
            else SparseConv2d(in_channels, out_channels, stride, stride=stride)
        )
        self.bn1 = SparseBatchNorm(out_channels)
        self.conv2 = SubmanifoldConv2d(out_channels, out_channels, 3)
        self.bn2 = SparseBatchNorm(out_channels)
        self.relu = SparseReLU()
        # The shortcut must land on the main path's sites: the same strided window (same cached
        # rulebook) when downsampling, a 1×1 submanifold convolution when only the width changes.
        self.downsample: nn.Module = nn.Identity()
        if stride != 1:
            self.downsample = nn.Sequential(
                SparseConv2d(in_channels, out_channels, stride, stride=stride), SparseBatchNorm(out_channels)
            )
        elif in_channels != out_channels:
            self.downsample = nn.Sequential(
                SubmanifoldConv2d(in_channels, out_channels, 1), SparseBatchNorm(out_channels)
            )

    def forward(self, x: SparseTensor) -> SparseTensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.downsample(x))


class SparseBranch(nn.Module):
    """Stem and the four stages; `forward` gives the globally pooled (B, 8w) features."""

    def __init__(self, width: int, blocks: Sequence[int]) -> None:
        super().__init__()
        widths = stage_widths(width)
        self.stem = nn.Sequential(
            SubmanifoldConv2d(1, width, STEM_KERNEL),
            SparseBatchNorm(width),
            SparseReLU(),
            SparseConv2d(width, width, STEM_STRIDE, stride=STEM_STRIDE),
            SparseBatchNorm(width),
            SparseReLU(),
        )
        stages = []
        for i in range(N_STAGES):
            c_in = widths[i - 1] if i else width
            layers = [SparseBasicBlock(c_in, widths[i], stage_stride(i))]
            layers += [SparseBasicBlock(widths[i], widths[i], 1) for _ in range(blocks[i] - 1)]
            stages.append(nn.Sequential(*layers))
        self.stages = nn.Sequential(*stages)
        self.out_channels = widths[-1]

    def forward(self, x: SparseTensor) -> Tensor:
        if x.channels != 1:
            raise ValueError(f"a sparse ResNet takes one-channel images, got {x.channels} channels")
        return global_avg_pool(self.stages(self.stem(x)))


class SparseResNet(nn.Module):
    sparse_input = True  # takes SparseTensors: the training loop asks the data for sparse batches

    def __init__(self, *, width: int, blocks: Sequence[int]) -> None:
        super().__init__()
        blocks = check_resnet_hparams("sparse_resnet", width, blocks)
        self.hparams = {"width": width, "blocks": list(blocks)}
        self.branch = SparseBranch(width, blocks)
        self.fc = nn.Linear(self.branch.out_channels, 2)

    def features(self, x: SparseTensor) -> Tensor:
        return self.branch(x)

    def forward(self, x: SparseTensor) -> Tensor:
        return self.fc(self.features(x))

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.hparams.items())


class SparseMultiViewResNet(nn.Module):
    sparse_input = True

    def __init__(self, *, width: int, blocks: Sequence[int]) -> None:
        super().__init__()
        blocks = check_resnet_hparams("sparse_mvresnet", width, blocks)
        self.hparams = {"width": width, "blocks": list(blocks)}
        self.branches = nn.ModuleList(SparseBranch(width, blocks) for _ in range(3))
        self.fc = nn.Linear(3 * self.branches[0].out_channels, 2)

    def features(self, v0: SparseTensor, v1: SparseTensor, v2: SparseTensor) -> Tensor:
        return torch.cat([b(v) for b, v in zip(self.branches, (v0, v1, v2), strict=True)], dim=1)

    def forward(self, v0: SparseTensor, v1: SparseTensor, v2: SparseTensor) -> Tensor:
        return self.fc(self.features(v0, v1, v2))

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.hparams.items())


def build_sparse_resnet(
    input_shapes: Sequence[tuple[int, int]], *, width: int = 16, blocks: Sequence[int] = (2, 2, 2, 2)
) -> SparseResNet:
    """Sparse ResNet-18 layout; width 16 by default (CPU-sized, like the demo's dense resnet)."""
    del input_shapes
    return SparseResNet(width=width, blocks=blocks)


def build_sparse_mvresnet(
    input_shapes: Sequence[tuple[int, int]], *, width: int = 16, blocks: Sequence[int] = (2, 2, 2, 2)
) -> SparseMultiViewResNet:
    """One sparse ResNet branch per plane, pooled features concatenated before the linear layer."""
    del input_shapes
    return SparseMultiViewResNet(width=width, blocks=blocks)
