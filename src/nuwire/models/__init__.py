"""Building models: every architecture of `nuwire.architectures` (the list), built from its name and hparams.

    model = build_model("resnet", [(1600, 864)], width=16)
    logits = model(*views)          # one (B, 1, H, W) float tensor per view → (B, 2)

Inputs are expected in [0, 1] (8-bit pixel / 255), as the thesis's ToTensor gave. No model assumes a
fixed image size; `input_shapes` (one (H, W) per view, as `SparseImageSet.input_shapes`) is checked
here — view count and a dry run on the meta device, so an image too small for an architecture is a
ConfigError at build time rather than a shape error mid-training — and `mvresnet` uses it to choose
its merge grid.

What the interpretability figures need of a model, the same for every architecture:
`penultimate(model, *views)` gives the (B, D) vector the final classification layer reads (the
input of the model's last registered `nn.Linear`, caught with a forward pre-hook), and
`first_layer_maps(model, *views)` the outputs of the convolutions that read the 1-channel image.
A model whose last `nn.Linear` is not its output layer (or that has none, e.g. a sparse network)
defines a method ``penultimate(*views) -> Tensor`` instead, and that is used.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from nuwire.architectures import ARCHITECTURES, check_architecture
from nuwire.errors import ConfigError

Builder = Callable[..., nn.Module]


def _import_builder(path: str) -> Builder:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


# Each architecture's builder, imported from the path `nuwire.architectures` gives it (the one list).
BUILDERS: dict[str, Builder] = {arch: _import_builder(spec.builder) for arch, spec in ARCHITECTURES.items()}

__all__ = [
    "BUILDERS",
    "build_model",
    "count_parameters",
    "output_width",
    "set_head",
    "default_hparams",
    "final_linear",
    "first_layer_maps",
    "penultimate",
    "takes_sparse",
    "views_for",
]


def _builder(arch: str) -> Builder:
    return BUILDERS[check_architecture(arch, "architecture")]


def views_for(arch: str) -> int:
    """How many plane images `forward` takes: 1, or 3 for the multi-view models."""
    _builder(arch)
    return ARCHITECTURES[arch].views


def takes_sparse(arch_or_model: str | nn.Module) -> bool:
    """Whether the architecture (or a built model) reads sparse batches instead of dense images."""
    if isinstance(arch_or_model, nn.Module):
        return bool(getattr(arch_or_model, "sparse_input", False))
    _builder(arch_or_model)
    return ARCHITECTURES[arch_or_model].sparse_input


def default_hparams(arch: str) -> dict[str, Any]:
    """The keyword hparams `arch` accepts, with their defaults (the thesis's where it had one)."""
    params = inspect.signature(_builder(arch)).parameters.values()
    return {p.name: p.default for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}


def _check_shapes(arch: str, input_shapes: Sequence[Sequence[int]]) -> list[tuple[int, int]]:
    n = views_for(arch)
    try:
        shapes = [(int(h), int(w)) for h, w in input_shapes]
    except (TypeError, ValueError):
        raise ConfigError(f"{arch}: input_shapes {input_shapes!r} must be a list of (height, width) pairs.") from None
    if len(shapes) != n:
        raise ConfigError(
            f"{arch} takes {n} view(s) (one image per plane), but input_shapes has {len(shapes)}: {shapes}."
        )
    return shapes


def _dry_run(arch: str, shapes: list[tuple[int, int]], hparams: dict[str, Any]) -> None:
    """Build a twin on the meta device and push one empty image per view through it: shapes only, no
    memory, no arithmetic. fork_rng leaves the global generator as it was, so the real model's weights
    (built before this) and everything drawn afterwards are the same as without the check. Eval mode
    and no_grad take the cheaper meta paths. Sparse models build rulebooks (data-dependent shapes, which
    the meta device cannot do), so they get one empty image per view on the CPU instead."""
    if ARCHITECTURES[arch].sparse_input:
        _sparse_dry_run(arch, shapes, hparams)
        return
    with torch.random.fork_rng(devices=[]), torch.device("meta"), torch.no_grad():
        twin = BUILDERS[arch](shapes, **hparams).eval()
        views = [torch.empty(1, 1, h, w) for h, w in shapes]
        try:
            twin(*views)
        except (RuntimeError, ValueError) as err:
            raise ConfigError(
                f"{arch}: input shape(s) {shapes} too small for this architecture ({err}). Use a larger scale or crop."
            ) from None


def _sparse_dry_run(arch: str, shapes: list[tuple[int, int]], hparams: dict[str, Any]) -> None:
    from nuwire.sparse import SparseTensor

    # On the CPU even inside a meta-device context (the docs' parameter tables build on meta).
    with torch.random.fork_rng(devices=[]), torch.no_grad(), torch.device("cpu"):
        twin = BUILDERS[arch](shapes, **hparams).eval()
        views = [SparseTensor(torch.zeros(0, 3, dtype=torch.int64), torch.zeros(0, 1), 1, s) for s in shapes]
        try:
            twin(*views)
        except ValueError as err:
            raise ConfigError(
                f"{arch}: input shape(s) {shapes} too small for this architecture ({err}). Use a larger scale or crop."
            ) from None


def build_model(arch: str, input_shapes: Sequence[Sequence[int]], *, n_classes: int = 2, **hparams: Any) -> nn.Module:
    """A freshly initialised `arch` for images of `input_shapes`, with `n_classes` logits (2 for the
    nue_cc target, 3 for flavour: `nuwire.events.targets`); weights depend only on torch's seed."""
    allowed = default_hparams(arch)
    unknown = sorted(set(hparams) - set(allowed))
    if unknown:
        raise ConfigError(
            f"{arch}: unknown hparam(s) {', '.join(unknown)}; valid hparams are: "
            f"{', '.join(sorted(allowed)) or '(none)'}."
        )
    shapes = _check_shapes(arch, input_shapes)
    try:
        model = BUILDERS[arch](shapes, **hparams)
    except TypeError as err:  # a value of the wrong type from the config, e.g. width: "16"
        raise ConfigError(f"{arch}: hparams {hparams} have a value of the wrong type ({err}).") from None
    _dry_run(arch, shapes, hparams)
    if n_classes != 2:
        set_head(model, n_classes)
    return model


def set_head(model: nn.Module, n_classes: int) -> None:
    """Give the model an output layer of `n_classes` logits: its last nn.Linear (every architecture's
    classification layer, `final_linear`) replaced by a fresh one of the same input width. Done after
    the two-class build, so that a two-class model draws exactly the weights it always drew."""
    if n_classes < 2:
        raise ConfigError(f"a classifier needs at least 2 classes, got {n_classes}.")
    head = final_linear(model)
    for parent in model.modules():
        for name, child in parent.named_children():
            if child is head:
                new = nn.Linear(head.in_features, n_classes, bias=head.bias is not None)
                setattr(parent, name, new.to(device=head.weight.device, dtype=head.weight.dtype))
                return


def output_width(model: nn.Module) -> int:
    """How many logits the model gives (its output layer's width)."""
    return int(final_linear(model).out_features)


def count_parameters(model: nn.Module) -> int:
    """Every parameter (all are trained); BN running statistics are buffers and not counted."""
    return sum(p.numel() for p in model.parameters())


def final_linear(model: nn.Module) -> nn.Linear:
    """The model's output layer: its last registered nn.Linear."""
    layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not layers:
        raise ValueError(f"{type(model).__name__} has no nn.Linear layer; define penultimate(*views) on it")
    return layers[-1]


def penultimate(model: nn.Module, *views: torch.Tensor) -> torch.Tensor:
    """(B, D) penultimate-layer features: what the output layer turns into the two logits."""
    custom = getattr(model, "penultimate", None)
    if callable(custom):
        return custom(*views)
    captured: list[torch.Tensor] = []
    handle = final_linear(model).register_forward_pre_hook(lambda _m, args: captured.append(args[0].detach()))
    try:
        model(*views)
    finally:
        handle.remove()
    return captured[-1]


def first_layer_maps(model: nn.Module, *views: torch.Tensor) -> list[torch.Tensor]:
    """Outputs of every convolution that reads the 1-channel image, in the order they run (one
    per view for the multi-view models): (B, C, h, w) each."""
    captured: list[torch.Tensor] = []
    # Cloned: an in-place ReLU after a convolution without BN would overwrite what was caught.
    hooks = [m.register_forward_hook(lambda _m, _a, out: captured.append(out.detach().clone()))
             for m in model.modules() if isinstance(m, nn.Conv2d) and m.in_channels == 1]  # fmt: skip
    try:
        model(*views)
    finally:
        for h in hooks:
            h.remove()
    return captured
