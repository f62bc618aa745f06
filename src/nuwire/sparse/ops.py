"""Rulebooks and the two sparse convolutions: the only file that knows how convolution is done.

A rulebook lists, for every kernel offset, which input site feeds which output site. Building it
is a coordinate-hash lookup: site keys b·H·W + r·W + c are sorted (a `SparseTensor` keeps them so),
and the key of each neighbour is found with one `searchsorted` for all offsets at once. The
convolution then gathers the input rows of each offset, multiplies them by that offset's
(C_in, C_out) weight in one matmul, and index-adds the products into the output rows. Autograd
differentiates gather, matmul and index_add, so no backward is written here.

Weights are (K, C_in, C_out) with K = kh·kw offsets in row-major (kr, kc) order; `dense_weight`
gives the (C_out, C_in, kh, kw) tensor `F.conv2d` would use. To move to a maintained library, reimplement
`submanifold_conv` and `strided_conv` here; the layers in `nuwire.sparse.nn` call nothing else.
"""

from __future__ import annotations

import torch
from torch import Tensor

from nuwire.sparse.tensor import SparseTensor

Rules = list[tuple[Tensor, Tensor]]  # per offset: (input rows, output rows)


def _offsets(kernel: int, device: torch.device) -> tuple[Tensor, Tensor]:
    k = torch.arange(kernel, device=device)
    return k.repeat_interleave(kernel), k.repeat(kernel)  # (kr, kc) row-major


def _split(kk: Tensor, src: Tensor, dst: Tensor, *, n_offsets: int) -> Rules:
    counts = torch.bincount(kk, minlength=n_offsets).tolist()  # kk is ascending (nonzero is row-major)
    return list(zip(torch.split(src, counts), torch.split(dst, counts), strict=True))


def submanifold_rules(x: SparseTensor, kernel: int) -> Rules:
    """Rules of a kernel×kernel (odd) convolution whose output sites are the input sites."""
    h, w = x.shape
    keys = x.keys()
    kr, kc = _offsets(kernel, keys.device)
    dr, dc = kr - kernel // 2, kc - kernel // 2
    r, c = x.coords[:, 1], x.coords[:, 2]
    nr, nc = r[None, :] + dr[:, None], c[None, :] + dc[:, None]  # (K, N) neighbour of each output site
    inside = (nr >= 0) & (nr < h) & (nc >= 0) & (nc < w)
    want = keys[None, :] + dr[:, None] * w + dc[:, None]  # a valid key only where inside
    pos = torch.searchsorted(keys, want).clamp_(max=max(len(keys) - 1, 0))
    found = inside & (keys[pos] == want) if len(keys) else inside
    kk, out = torch.nonzero(found, as_tuple=True)
    return _split(kk, pos[kk, out], out, n_offsets=kernel * kernel)


def strided_rules(x: SparseTensor, kernel: int, *, stride: int, padding: int) -> tuple[SparseTensor, Rules]:
    """Output sites (with no features yet) and rules of a strided convolution.

    An output site exists wherever the kernel window covers at least one input site, exactly the
    positions where F.conv2d of the densified input can be non-zero."""
    h, w = x.shape
    ho, wo = (h + 2 * padding - kernel) // stride + 1, (w + 2 * padding - kernel) // stride + 1
    if ho < 1 or wo < 1:
        raise ValueError(f"a {kernel}x{kernel} kernel, stride {stride}, padding {padding} does not fit {h}x{w}")
    if kernel == stride and padding == 0:
        return _tiling_rules(x, kernel, ho=ho, wo=wo)
    kr, kc = _offsets(kernel, x.coords.device)
    b, r, c = x.coords[:, 0], x.coords[:, 1], x.coords[:, 2]
    # Input row r is tap kr of output row ro when ro·stride − padding + kr = r.
    tr, tc = r[None, :] + padding - kr[:, None], c[None, :] + padding - kc[:, None]
    ro, co = torch.div(tr, stride, rounding_mode="floor"), torch.div(tc, stride, rounding_mode="floor")
    valid = (tr % stride == 0) & (tc % stride == 0) & (ro >= 0) & (ro < ho) & (co >= 0) & (co < wo)
    kk, src = torch.nonzero(valid, as_tuple=True)
    out_key = (b[src] * ho + ro[kk, src]) * wo + co[kk, src]
    keys, dst = torch.unique(out_key, sorted=True, return_inverse=True)
    bo, rest = keys // (ho * wo), keys % (ho * wo)
    coords = torch.stack([bo, rest // wo, rest % wo], dim=1)
    out = SparseTensor(coords, x.features.new_empty(len(keys), 0), x.batch_size, (ho, wo))
    return out, _split(kk, src, dst, n_offsets=kernel * kernel)


def _tiling_rules(x: SparseTensor, kernel: int, *, ho: int, wo: int) -> tuple[SparseTensor, Rules]:
    """strided_rules when the windows tile the image (kernel = stride, no padding): every input site
    feeds exactly one output, through the offset (r mod k, c mod k), so the work is O(N), not O(K·N).
    Sites beyond the last whole window (H not a multiple of k) feed nothing, as in F.conv2d."""
    b, r, c = x.coords[:, 0], x.coords[:, 1], x.coords[:, 2]
    ro, co = r // kernel, c // kernel
    inside = (ro < ho) & (co < wo)
    src = torch.nonzero(inside).view(-1)
    offset = (r[src] % kernel) * kernel + c[src] % kernel
    keys, dst = torch.unique((b[src] * ho + ro[src]) * wo + co[src], sorted=True, return_inverse=True)
    order = torch.argsort(offset, stable=True)  # group the pairs by offset, as _split expects
    bo, rest = keys // (ho * wo), keys % (ho * wo)
    coords = torch.stack([bo, rest // wo, rest % wo], dim=1)
    out = SparseTensor(coords, x.features.new_empty(len(keys), 0), x.batch_size, (ho, wo))
    return out, _split(offset[order], src[order], dst[order], n_offsets=kernel * kernel)


def apply_rules(features: Tensor, weight: Tensor, rules: Rules, *, n_out: int) -> Tensor:
    """Σ over offsets k of index_add(out rows, features[in rows] @ weight[k])."""
    out: Tensor | None = None
    for k, (src, dst) in enumerate(rules):
        part = features.index_select(0, src) @ weight[k]
        if out is None:  # allocated from the first product, so autocast's dtype carries over
            out = part.new_zeros(n_out, weight.shape[2])
        out.index_add_(0, dst, part.to(out.dtype))
    assert out is not None
    return out


def submanifold_conv(x: SparseTensor, weight: Tensor, kernel: int) -> SparseTensor:
    """Submanifold convolution (output sites = input sites); the rulebook is cached on x's level."""
    key = ("submanifold", kernel)
    if key not in x.rules:
        x.rules[key] = submanifold_rules(x, kernel)
    rules = x.rules[key]
    centre = (kernel * kernel) // 2
    # The centre offset maps every site to itself: a plain matmul, no gather or scatter.
    out = x.features @ weight[centre]
    for k, (src, dst) in enumerate(rules):
        if k != centre:
            out.index_add_(0, dst, (x.features.index_select(0, src) @ weight[k]).to(out.dtype))
    return x.with_features(out)


def strided_conv(x: SparseTensor, weight: Tensor, kernel: int, *, stride: int, padding: int) -> SparseTensor:
    """Strided convolution onto the sites its window reaches; output level cached on x's level, so
    two convolutions of one input (a block and its shortcut) give tensors of the same level."""
    key = ("strided", kernel, stride, padding)
    if key not in x.rules:
        x.rules[key] = strided_rules(x, kernel, stride=stride, padding=padding)
    out, rules = x.rules[key]
    return out.with_features(apply_rules(x.features, weight, rules, n_out=len(out)))


def dense_weight(weight: Tensor, kernel: int) -> Tensor:
    """The (C_out, C_in, kh, kw) weight of F.conv2d equal to a (K, C_in, C_out) sparse weight."""
    k, c_in, c_out = weight.shape
    return weight.reshape(kernel, kernel, c_in, c_out).permute(3, 2, 0, 1)
