"""nuwire.sparse against dense PyTorch: every convolution equals F.conv2d of the densified input.

Values and gradients (input features and weights) in float64, for several kernel sizes, strides,
paddings, channel counts and batch sizes, on images with sites on all four borders, with an
empty image inside a batch and with a batch of empty images only.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from nuwire.sparse import (
    SparseBatchNorm,
    SparseConv2d,
    SparseTensor,
    SubmanifoldConv2d,
    densify,
    global_avg_pool,
    global_max_pool,
    sparsify,
)

H, W = 13, 17


def random_sparse(
    batch: int, channels: int, seed: int, density: float = 0.15, empty: tuple[int, ...] = ()
) -> SparseTensor:
    """A float64 sparse batch with sites on every border of every non-empty image."""
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand(batch, H, W, generator=g) < density
    mask[:, 0, 3] = mask[:, H - 1, 5] = mask[:, 4, 0] = mask[:, 7, W - 1] = True  # the four borders
    mask[:, 0, 0] = mask[:, H - 1, W - 1] = True  # and two corners
    for b in empty:
        mask[b] = False
    values = torch.randn(batch, channels, H, W, generator=g, dtype=torch.float64)
    values = values + torch.sign(values)  # no accidental zeros at a site
    return sparsify(values * mask[:, None])


def leaf(x: SparseTensor) -> SparseTensor:
    return x.with_features(x.features.detach().clone().requires_grad_(True))


def dense_leaf(x: SparseTensor) -> torch.Tensor:
    return densify(x).detach().clone().requires_grad_(True)


def at_sites(dense: torch.Tensor, x: SparseTensor) -> torch.Tensor:
    b, r, c = x.coords.unbind(1)
    return dense.permute(0, 2, 3, 1)[b, r, c]


def check_grads(
    sparse_in: SparseTensor, dense_in: torch.Tensor, sparse_w: torch.Tensor, dense_w: torch.Tensor, kernel: int
) -> None:
    assert sparse_w.grad is not None and dense_w.grad is not None
    from nuwire.sparse.ops import dense_weight

    torch.testing.assert_close(dense_weight(sparse_w.grad, kernel), dense_w.grad, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(sparse_in.features.grad, at_sites(dense_in.grad, sparse_in), rtol=1e-10, atol=1e-10)
    # Away from the sites the dense gradient is that of pixels the sparse network does not have.


@pytest.mark.parametrize("kernel", [1, 3, 5])
@pytest.mark.parametrize(("c_in", "c_out", "batch"), [(1, 4, 1), (3, 2, 3), (5, 5, 2)])
def test_submanifold_conv_equals_conv2d_at_every_site(kernel: int, c_in: int, c_out: int, batch: int) -> None:
    torch.manual_seed(kernel * 100 + c_in)
    conv = SubmanifoldConv2d(c_in, c_out, kernel).double()
    x = leaf(random_sparse(batch, c_in, seed=kernel + c_in + batch, empty=(1,) if batch == 3 else ()))
    dense_in = dense_leaf(x)
    dense_w = conv.dense_weight().detach().clone().requires_grad_(True)

    y = conv(x)
    ref = F.conv2d(dense_in, dense_w, padding=kernel // 2)
    assert torch.equal(y.coords, x.coords)
    torch.testing.assert_close(y.features, at_sites(ref, x), rtol=1e-10, atol=1e-10)

    upstream = torch.randn(y.features.shape, dtype=torch.float64)
    (y.features * upstream).sum().backward()
    (at_sites(ref, x) * upstream).sum().backward()
    check_grads(x, dense_in, conv.weight, dense_w, kernel)


@pytest.mark.parametrize(("kernel", "stride", "padding"), [(2, 2, 0), (3, 2, 1), (3, 3, 0), (3, 1, 1), (4, 2, 1)])
@pytest.mark.parametrize(("c_in", "c_out", "batch"), [(1, 3, 1), (4, 2, 3)])
def test_strided_conv_equals_conv2d_everywhere(
    kernel: int, stride: int, padding: int, c_in: int, c_out: int, batch: int
) -> None:
    torch.manual_seed(kernel * 10 + stride)
    conv = SparseConv2d(c_in, c_out, kernel, stride=stride, padding=padding).double()
    x = leaf(random_sparse(batch, c_in, seed=kernel + stride + c_in, empty=(2,) if batch == 3 else ()))
    dense_in = dense_leaf(x)
    dense_w = conv.dense_weight().detach().clone().requires_grad_(True)

    y = conv(x)
    ref = F.conv2d(dense_in, dense_w, stride=stride, padding=padding)
    assert y.shape == tuple(ref.shape[-2:])
    # Off the output sites the dense result is zero: its window holds no input site.
    torch.testing.assert_close(densify(y), ref, rtol=1e-10, atol=1e-10)
    reach = F.conv2d(
        (densify(x) != 0).any(1, keepdim=True).double(),
        torch.ones(1, 1, kernel, kernel, dtype=torch.float64),
        stride=stride,
        padding=padding,
    )
    assert torch.equal(sparsify(reach).coords, y.coords)  # the sites are exactly where the window reaches

    upstream = torch.randn(y.features.shape, dtype=torch.float64)
    (y.features * upstream).sum().backward()
    (at_sites(ref, y) * upstream).sum().backward()
    check_grads(x, dense_in, conv.weight, dense_w, kernel)


def test_empty_images() -> None:
    x = leaf(random_sparse(2, 3, seed=1, empty=(0, 1)))
    assert len(x) == 0
    sub, down = SubmanifoldConv2d(3, 4).double(), SparseConv2d(4, 4, 3, stride=2, padding=1).double()
    y = down(sub(x))
    assert len(y) == 0 and y.shape == (7, 9)
    pooled = torch.cat([global_avg_pool(y), global_max_pool(y)], dim=1)
    assert torch.equal(pooled, torch.zeros(2, 8, dtype=torch.float64))
    pooled.sum().backward()
    assert torch.equal(sub.weight.grad, torch.zeros_like(sub.weight))  # defined, and zero like dense's
    bn = SparseBatchNorm(4).double().train()
    assert len(bn(y)) == 0 and torch.equal(bn.running_mean, torch.zeros(4, dtype=torch.float64))


def test_pooling_and_batch_norm_match_dense() -> None:
    x = random_sparse(3, 4, seed=7, empty=(1,))
    dense, mask = densify(x), (densify(x) != 0).any(1, keepdim=True)
    n = mask.sum(dim=(2, 3)).clamp(min=1)
    torch.testing.assert_close(global_avg_pool(x), dense.sum(dim=(2, 3)) / n)
    ref_max = torch.where(mask, dense, torch.tensor(-torch.inf, dtype=dense.dtype)).amax(dim=(2, 3))
    torch.testing.assert_close(global_max_pool(x), torch.where(mask.any(dim=(2, 3)), ref_max, 0.0))
    bn, ref = SparseBatchNorm(4).double(), torch.nn.BatchNorm1d(4).double()
    torch.testing.assert_close(bn(x).features, ref(x.features))
    torch.testing.assert_close(bn.running_var, ref.running_var)


def test_rulebooks_are_built_once_per_level_and_shared() -> None:
    x = random_sparse(2, 2, seed=3)
    a, b = SubmanifoldConv2d(2, 2), SubmanifoldConv2d(2, 2)
    x = x.with_features(x.features.float())
    y = b(a(x))
    assert y.rules is x.rules and list(x.rules) == [("submanifold", 3)]
    rules = x.rules[("submanifold", 3)]
    b(y)
    assert x.rules[("submanifold", 3)] is rules  # reused, not rebuilt
    main, shortcut = SparseConv2d(2, 3), SparseConv2d(2, 3, 1, stride=2)
    down = main(x)
    assert down.rules is SparseConv2d(2, 3)(x).rules  # same level: the cached output sites
    with pytest.raises(ValueError, match="different sites"):
        down + shortcut(x)  # a 1×1/2 window reaches other sites than a 2×2/2 one
    assert len((down + main(x)).features) == len(down)


def test_from_keys_sorts_and_checks() -> None:
    import numpy as np

    keys = np.array([2 * H * W - 1, 5, 0, H * W + W])
    x = SparseTensor.from_keys(keys, np.array([255, 1, 2, 3], np.uint8), batch_size=2, shape=(H, W))
    assert x.coords.tolist() == [[0, 0, 0], [0, 0, 5], [1, 1, 0], [1, H - 1, W - 1]]
    assert x.features.view(-1).tolist() == pytest.approx([2 / 255, 1 / 255, 3 / 255, 1.0])
    with pytest.raises(ValueError, match="outside"):
        SparseTensor.from_keys(np.array([2 * H * W]), np.array([1], np.uint8), batch_size=2, shape=(H, W))
    with pytest.raises(ValueError, match="twice"):
        SparseTensor.from_keys(np.array([3, 3]), np.array([1, 2], np.uint8), batch_size=1, shape=(H, W))
