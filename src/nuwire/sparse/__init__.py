"""Sparse convolutional networks in plain PyTorch: sparse tensors, rulebooks, convolutions, pooling.

    x = SparseTensor.from_pixels(batch, row, col, value, batch_size=B, shape=(H, W))
    y = SubmanifoldConv2d(1, 16, 3)(x)          # output sites = input sites
    z = SparseConv2d(16, 32, 2, stride=2)(y)    # downsampling: sites = coords // 2
    v = global_avg_pool(z)                      # (B, 32)

Only the sites that hold charge are computed: features live in an (N, C) tensor beside (N, 3)
int64 (batch, row, col) coordinates. Everything is vectorised torch code, so autograd
differentiates it and it runs unchanged on CPU and CUDA. The convolution arithmetic lives in
`nuwire.sparse.ops` alone: swapping in a maintained library (spconv, MinkowskiEngine) means
rewriting that one file behind the same two functions.
"""

from nuwire.sparse.nn import (
    SparseBatchNorm,
    SparseConv2d,
    SparseReLU,
    SubmanifoldConv2d,
    global_avg_pool,
    global_max_pool,
)
from nuwire.sparse.tensor import SparseTensor, densify, sparsify

__all__ = [
    "SparseTensor",
    "SparseBatchNorm",
    "SparseConv2d",
    "SparseReLU",
    "SubmanifoldConv2d",
    "densify",
    "global_avg_pool",
    "global_max_pool",
    "sparsify",
]
