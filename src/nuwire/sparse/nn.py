"""Layers on sparse tensors: the two convolutions, batch norm and ReLU on feature rows, global pooling.

Batch norm takes its statistics over the active sites of the batch only (empty pixels are not
data), as in SparseConvNet and MinkowskiEngine. Initialisation follows `nuwire.models.resnet`
(Kaiming normal, fan-out, for convolutions), drawing only from torch's global generator.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nuwire.sparse import ops
from nuwire.sparse.tensor import SparseTensor


class _SparseConv(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.weight = nn.Parameter(torch.empty(kernel_size * kernel_size, in_channels, out_channels))
        # Kaiming normal with fan-out = C_out · K, as nn.init does for the dense (C_out, C_in, kh, kw) weight.
        nn.init.normal_(self.weight, std=math.sqrt(2.0 / (out_channels * kernel_size * kernel_size)))

    def dense_weight(self) -> Tensor:
        """The F.conv2d weight this layer equals (for tests and FLOP comparisons)."""
        return ops.dense_weight(self.weight, self.kernel_size)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"


class SubmanifoldConv2d(_SparseConv):
    """kernel×kernel convolution (odd kernel, 'same' padding, no bias) evaluated at the input sites only."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3) -> None:
        if kernel_size % 2 != 1:
            raise ValueError(f"submanifold convolution needs an odd kernel, got {kernel_size}")
        super().__init__(in_channels, out_channels, kernel_size)

    def forward(self, x: SparseTensor) -> SparseTensor:
        return ops.submanifold_conv(x, self.weight, self.kernel_size)


class SparseConv2d(_SparseConv):
    """Strided convolution (no bias) onto every output site its window reaches: F.conv2d's sites
    that can be non-zero. kernel = stride, padding 0 gives the usual sites // stride downsampling."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int = 2, *, stride: int = 2, padding: int = 0
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size)
        self.stride, self.padding = stride, padding

    def forward(self, x: SparseTensor) -> SparseTensor:
        return ops.strided_conv(x, self.weight, self.kernel_size, stride=self.stride, padding=self.padding)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, stride={self.stride}, padding={self.padding}"


class SparseBatchNorm(nn.BatchNorm1d):
    """BatchNorm1d over the feature rows (statistics of the active sites)."""

    def forward(self, x: SparseTensor) -> SparseTensor:  # type: ignore[override]
        if self.training and len(x) < 2:
            # One site or none carries no batch statistics (and none would turn the running ones
            # to NaN): normalise with the running statistics, leaving them as they are.
            out = F.batch_norm(
                x.features, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps
            )
            return x.with_features(out)
        return x.with_features(super().forward(x.features))


class SparseReLU(nn.Module):
    def forward(self, x: SparseTensor) -> SparseTensor:
        return x.with_features(F.relu(x.features))


def _batch_index(x: SparseTensor) -> Tensor:
    return x.coords[:, 0]


def global_avg_pool(x: SparseTensor) -> Tensor:
    """(B, C) mean of the feature rows of each sample over its sites (0 for an empty sample)."""
    b = _batch_index(x)
    total = x.features.new_zeros(x.batch_size, x.channels).index_add_(0, b, x.features)
    count = torch.bincount(b, minlength=x.batch_size).clamp_(min=1).to(total.dtype)
    return total / count[:, None]


def global_max_pool(x: SparseTensor) -> Tensor:
    """(B, C) maximum of the feature rows of each sample over its sites (0 for an empty sample)."""
    index = _batch_index(x)[:, None].expand(-1, x.channels)
    return x.features.new_zeros(x.batch_size, x.channels).scatter_reduce(
        0, index, x.features, "amax", include_self=False
    )
