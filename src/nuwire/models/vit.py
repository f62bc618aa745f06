"""Vision transformer as in the thesis: 16×16 patches, 32-d embeddings, sinusoidal positions, a CLS
token, one encoder layer with two heads and an MLP head 32→16→2.

Differences from a fixed-size ViT, all so one model takes any image size:
- the image is zero-padded on the bottom and right to a multiple of the patch size (zero is "no
  charge", so padding adds nothing that is not already most of the image);
- the positional encoding is a fixed 2-D sine/cosine table computed in `forward` for the actual
  patch grid (half the channels encode the patch row, half the column), so it needs no parameters
  and no maximum size. The CLS token gets no position.
Details the thesis does not give, chosen here: pre-norm encoder layers with GELU, feed-forward width
`mlp_dim` (2×dim), dropout 0.1 (PyTorch's default), and a LayerNorm before the head.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nuwire.errors import ConfigError


def sincos_2d(rows: int, cols: int, dim: int, *, device: torch.device, dtype: torch.dtype) -> Tensor:
    """(rows*cols, dim) table: [sin(r·ω), cos(r·ω), sin(c·ω), cos(c·ω)], ω_k = 10000^(-k/(dim/4)).

    Row-major over the grid, matching `flatten(2)` of a (B, D, rows, cols) patch map.
    """
    quarter = dim // 4
    omega = 1.0 / 10000.0 ** (torch.arange(quarter, device=device, dtype=torch.float32) / quarter)
    r = torch.arange(rows, device=device, dtype=torch.float32)[:, None] * omega  # (rows, quarter)
    c = torch.arange(cols, device=device, dtype=torch.float32)[:, None] * omega  # (cols, quarter)
    pe_r = torch.cat([r.sin(), r.cos()], dim=1)[:, None, :].expand(rows, cols, 2 * quarter)
    pe_c = torch.cat([c.sin(), c.cos()], dim=1)[None, :, :].expand(rows, cols, 2 * quarter)
    return torch.cat([pe_r, pe_c], dim=2).reshape(rows * cols, dim).to(dtype)


class ViT(nn.Module):
    def __init__(
        self,
        *,
        patch: int,
        dim: int,
        depth: int,
        heads: int,
        mlp_dim: int | None,
        head_hidden: int,
        dropout: float,
    ) -> None:
        super().__init__()
        mlp_dim = 2 * dim if mlp_dim is None else mlp_dim
        if patch < 1 or depth < 1 or heads < 1 or mlp_dim < 1 or head_hidden < 1:
            raise ConfigError(
                f"vit hparams: patch, depth, heads, mlp_dim and head_hidden must be >= 1 (got patch={patch}, "
                f"depth={depth}, heads={heads}, mlp_dim={mlp_dim}, head_hidden={head_hidden})."
            )
        if dim < 4 or dim % 4 or dim % heads:
            raise ConfigError(
                f"vit hparam dim: {dim} must be a positive multiple of 4 (2-D sine/cosine positions) "
                f"and divisible by heads={heads}."
            )
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"vit hparam dropout: {dropout} must be in [0, 1).")
        self.patch = patch
        self.dim = dim
        self.hparams = {"patch": patch, "dim": dim, "depth": depth, "heads": heads, "mlp_dim": mlp_dim,
                        "head_hidden": head_hidden, "dropout": dropout}  # fmt: skip
        # A stride-`patch` convolution is exactly "flatten each patch, apply one linear map".
        self.embed = nn.Conv2d(1, dim, patch, stride=patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        nn.init.trunc_normal_(self.cls, std=0.02)
        # Separate constructions rather than nn.TransformerEncoder, which deep-copies one layer and
        # so would start every layer from identical weights.
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(
                dim, heads, mlp_dim, dropout, activation="gelu", batch_first=True, norm_first=True
            )
            for _ in range(depth)
        )
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Sequential(nn.Linear(dim, head_hidden), nn.GELU(), nn.Linear(head_hidden, 2))

    def forward(self, x: Tensor) -> Tensor:
        p = self.patch
        height, width = x.shape[-2], x.shape[-1]
        x = F.pad(x, (0, (-width) % p, 0, (-height) % p))
        tokens = self.embed(x)  # (B, D, rows, cols)
        rows, cols = tokens.shape[-2], tokens.shape[-1]
        tokens = tokens.flatten(2).transpose(1, 2)  # (B, rows*cols, D)
        tokens = tokens + sincos_2d(rows, cols, self.dim, device=tokens.device, dtype=tokens.dtype)
        cls = self.cls.expand(tokens.shape[0], -1, -1)
        tokens = torch.cat([cls, tokens], dim=1)
        for layer in self.layers:
            tokens = layer(tokens)
        return self.head(self.norm(tokens[:, 0]))

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.hparams.items())


# One keyword per hparam: they are the config's architectures.vit.hparams keys.
def build_vit(  # noqa: PLR0913
    input_shapes: Sequence[tuple[int, int]],
    *,
    patch: int = 16,
    dim: int = 32,
    depth: int = 1,
    heads: int = 2,
    mlp_dim: int | None = None,
    head_hidden: int = 16,
    dropout: float = 0.1,
) -> ViT:
    """Thesis defaults; the token count follows the input size, the parameters do not."""
    del input_shapes
    return ViT(patch=patch, dim=dim, depth=depth, heads=heads, mlp_dim=mlp_dim, head_hidden=head_hidden,
               dropout=dropout)  # fmt: skip
