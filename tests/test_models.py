"""nuwire.models: real forward/backward passes at the thesis's image sizes, the registry contract,
determinism, compile-friendliness, a toy learning check, and that docs/models.md matches the code."""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import yaml

from nuwire.architectures import ARCHITECTURES
from nuwire.errors import ConfigError
from nuwire.models import (
    BUILDERS,
    build_model,
    count_parameters,
    default_hparams,
    final_linear,
    first_layer_maps,
    penultimate,
    takes_sparse,
    views_for,
)
from nuwire.models.vit import sincos_2d

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "models.md"
ARCHS = ["lenet", "alexnet", "vit", "resnet", "mvresnet"]
SPARSE_ARCHS = ["sparse_resnet", "sparse_mvresnet"]  # take SparseTensors: tested at the end of this file

# (planes 0/1, plane 2) image shapes. Full MicroBooNE images after the default 2×2 downsample are
# 3200 time rows × 1200 / 1728 wire columns; compact is 1024 ticks × 424 / 500 wires.
CROP = ((128, 128), (128, 128))
COMPACT = ((256, 106), (256, 125))
SCALE_033 = ((1056, 396), (1056, 570))
SCALE_05 = ((1600, 600), (1600, 864))

# CPU-sized variants for the big images: the same code paths as the defaults, 16× fewer MACs.
CPU_SIZED: dict[str, dict] = {
    "lenet": {}, "alexnet": {}, "vit": {}, "resnet": {"width": 16}, "mvresnet": {"width": 16}
}  # fmt: skip


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Other helpers share the machine; restore the setting for the rest of the session."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def shapes_for(arch: str, size: tuple[tuple[int, int], tuple[int, int]]) -> list[tuple[int, int]]:
    """Single-view models read plane 2; the multi-view model reads planes 0, 1, 2."""
    return [size[0], size[0], size[1]] if views_for(arch) == 3 else [size[1]]


def sparse_views(shapes: list[tuple[int, int]], batch: int, seed: int = 0) -> list[torch.Tensor]:
    """Mostly-empty images in [0, 1], like the 8-bit wire images scaled by 1/255."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for h, w in shapes:
        img = torch.rand(batch, 1, h, w, generator=gen)
        out.append(img * (torch.rand(batch, 1, h, w, generator=gen) < 0.05))
    return out


def forward_backward(arch: str, shapes: list[tuple[int, int]], batch: int, **hparams: object) -> None:
    torch.manual_seed(0)
    model = build_model(arch, shapes, **hparams).train()
    logits = model(*sparse_views(shapes, batch))
    assert logits.shape == (batch, 2)
    assert torch.isfinite(logits).all()
    F.cross_entropy(logits, torch.arange(batch) % 2).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{arch}: no gradient for {name}"
        assert torch.isfinite(p.grad).all(), f"{arch}: non-finite gradient for {name}"


# ---------------------------------------------------------------- forward and backward at real sizes


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("size", [CROP, COMPACT], ids=["crop128", "compact"])
def test_forward_backward_small_images_default_hparams(arch: str, size) -> None:
    forward_backward(arch, shapes_for(arch, size), batch=2)


@pytest.mark.parametrize("arch", ARCHS)
def test_forward_backward_thesis_scale_033(arch: str) -> None:
    forward_backward(arch, shapes_for(arch, SCALE_033), batch=1, **CPU_SIZED[arch])


@pytest.mark.slow
@pytest.mark.parametrize("arch", ARCHS)
def test_forward_backward_thesis_scale_05(arch: str) -> None:
    forward_backward(arch, shapes_for(arch, SCALE_05), batch=1, **CPU_SIZED[arch])


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["resnet", "mvresnet"])
def test_forward_backward_thesis_scale_033_full_width(arch: str) -> None:
    forward_backward(arch, shapes_for(arch, SCALE_033), batch=1)


def test_mvresnet_takes_three_different_widths() -> None:
    shapes = shapes_for("mvresnet", SCALE_033)
    assert len({w for _, w in shapes}) == 2  # planes 0/1 narrower than plane 2
    torch.manual_seed(0)
    model = build_model("mvresnet", shapes, width=8).eval()
    with torch.no_grad():
        assert model(*sparse_views(shapes, 1)).shape == (1, 2)


# ---------------------------------------------------------------- registry


def test_registry_names_and_views() -> None:
    assert sorted(ARCHITECTURES) == sorted(BUILDERS) == sorted(ARCHS + SPARSE_ARCHS)
    assert [views_for(a) for a in ARCHS + SPARSE_ARCHS] == [1, 1, 1, 1, 3, 1, 3]
    assert [takes_sparse(a) for a in ARCHS + SPARSE_ARCHS] == [False] * 5 + [True] * 2
    assert all(BUILDERS[a].__name__ == spec.builder.rpartition(":")[2] for a, spec in ARCHITECTURES.items())


UNKNOWN_ARCH_CALLS = [lambda: build_model("googlenet", [(64, 64)]), lambda: views_for("googlenet")]


@pytest.mark.parametrize("call", UNKNOWN_ARCH_CALLS, ids=["build", "views"])
def test_unknown_architecture_names_the_choices(call) -> None:
    with pytest.raises(ConfigError) as err:
        call()
    for arch in ARCHS:
        assert arch in str(err.value)
    assert "googlenet" in str(err.value)


def test_unknown_hparam_is_named_with_the_valid_ones() -> None:
    with pytest.raises(ConfigError) as err:
        build_model("resnet", [(64, 64)], widht=16)
    assert "widht" in str(err.value)
    assert "width" in str(err.value)


@pytest.mark.parametrize(
    ("arch", "hparams", "field"),
    [
        ("lenet", {"pool": "min"}, "pool"),
        ("lenet", {"activation": "gelu"}, "activation"),
        ("vit", {"dim": 30}, "dim"),
        ("vit", {"dim": 32, "heads": 3}, "dim"),
        ("resnet", {"width": 0}, "width"),
        ("resnet", {"blocks": [2, 2, 2]}, "blocks"),
        ("mvresnet", {"merge_stage": 5}, "merge_stage"),
        ("alexnet", {"dropout": 1.0}, "dropout"),
        ("resnet", {"width": "16"}, "width"),
    ],
)
def test_bad_hparam_values_are_config_errors(arch: str, hparams: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        build_model(arch, shapes_for(arch, CROP), **hparams)


def test_view_count_is_checked() -> None:
    with pytest.raises(ConfigError, match="3 view"):
        build_model("mvresnet", [(128, 128)])
    with pytest.raises(ConfigError, match="1 view"):
        build_model("resnet", [(128, 128)] * 3)


@pytest.mark.parametrize(("arch", "smallest"), [("lenet", 32), ("alexnet", 63)])
def test_minimum_input_size_is_a_config_error(arch: str, smallest: int) -> None:
    """LeNet's three valid 5×5 convolutions and AlexNet's three 3/2 max-pools need this much image."""
    build_model(arch, [(smallest, smallest)])
    with pytest.raises(ConfigError, match="too small"):
        build_model(arch, [(smallest - 1, 400)])


def test_default_hparams_are_the_thesis_values() -> None:
    lenet = default_hparams("lenet")
    assert lenet == {"pool": "avg", "global_pool": "avg", "activation": "none", "batchnorm": False}
    assert default_hparams("alexnet")["hidden"] == 4096
    assert default_hparams("alexnet")["dropout"] == 0.5
    vit = default_hparams("vit")
    assert (vit["patch"], vit["dim"], vit["depth"], vit["heads"], vit["head_hidden"]) == (16, 32, 1, 2, 16)


@pytest.mark.parametrize("config", ["config.yaml", "thesis.yaml", "test.yaml"])
def test_every_configured_architecture_builds(config: str) -> None:
    """The hparams the workflow's configs pass are ones the models accept."""
    path = ROOT / "config" / config
    if not path.exists():
        pytest.skip(f"{path} not present")
    archs = yaml.safe_load(path.read_text())["architectures"]
    for arch, settings in archs.items():
        model = build_model(arch, shapes_for(arch, CROP), **(settings.get("hparams") or {}))
        assert count_parameters(model) > 0


def test_count_parameters_counts_parameters_not_buffers() -> None:
    model = build_model("resnet", [(64, 64)], width=8)
    assert count_parameters(model) == sum(p.numel() for p in model.parameters())
    assert sum(b.numel() for b in model.buffers()) > 0  # BN statistics exist and are not counted


# ---------------------------------------------------------------- determinism, memory format, compile


@pytest.mark.parametrize("arch", ARCHS)
def test_same_seed_same_initial_weights(arch: str) -> None:
    shapes = shapes_for(arch, CROP)

    def weights(seed: int) -> dict[str, torch.Tensor]:
        torch.manual_seed(seed)
        return build_model(arch, shapes).state_dict()

    a, b, c = weights(0), weights(0), weights(1)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_build_check_leaves_the_random_stream_alone() -> None:
    """The meta-device dry run must not shift what is drawn after build_model (shuffling, dropout)."""
    torch.manual_seed(5)
    BUILDERS["vit"]([(64, 64)])
    expected = torch.rand(4)
    torch.manual_seed(5)
    build_model("vit", [(64, 64)])
    assert torch.equal(torch.rand(4), expected)


SMALL_VARIANTS: dict[str, dict] = {"lenet": {}, "alexnet": {"hidden": 64}, "vit": {}, "resnet": {"width": 8},
                                   "mvresnet": {"width": 8}}  # fmt: skip


@pytest.mark.parametrize("arch", ARCHS)
def test_channels_last_gives_the_same_logits(arch: str) -> None:
    shapes = shapes_for(arch, ((64, 48), (64, 80)))
    torch.manual_seed(0)
    model = build_model(arch, shapes, **SMALL_VARIANTS[arch]).eval()
    views = sparse_views(shapes, 2)
    with torch.no_grad():
        reference = model(*views)
        model = model.to(memory_format=torch.channels_last)
        out = model(*[v.contiguous(memory_format=torch.channels_last) for v in views])
    torch.testing.assert_close(out, reference, rtol=1e-4, atol=1e-5)


def check_compiles(arch: str, sizes: list, dynamic: bool) -> None:
    """fullgraph=True fails on any graph break; dynamic=True traces sizes symbolically, so the
    padding and positional-encoding arithmetic must not depend on concrete values."""
    torch._dynamo.reset()
    torch.manual_seed(0)
    model = build_model(arch, shapes_for(arch, sizes[0]), **SMALL_VARIANTS[arch]).eval()
    compiled = torch.compile(model, backend="eager", fullgraph=True, dynamic=dynamic)
    with torch.no_grad():
        for size in sizes:
            views = sparse_views(shapes_for(arch, size), 2)
            torch.testing.assert_close(compiled(*views), model(*views))
    torch._dynamo.reset()


@pytest.mark.parametrize("arch", ARCHS)
def test_compiles_as_one_graph(arch: str) -> None:
    check_compiles(arch, [((64, 48), (64, 80))], dynamic=False)


@pytest.mark.slow
@pytest.mark.parametrize("arch", ARCHS)
def test_compiles_as_one_graph_for_any_size(arch: str) -> None:
    check_compiles(arch, [((64, 48), (64, 80)), ((96, 72), (80, 100))], dynamic=True)


# ---------------------------------------------------------------- a tiny learning check


def toy_batch(n: int, shape: tuple[int, int], seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Label 1: a round Gaussian blob; label 0: a thin straight line at a random angle."""
    gen = torch.Generator().manual_seed(seed)
    h, w = shape
    yy = torch.arange(h, dtype=torch.float32)[:, None]
    xx = torch.arange(w, dtype=torch.float32)[None, :]
    labels = torch.arange(n) % 2
    images = torch.zeros(n, 1, h, w)
    for i in range(n):
        cy = 16 + float(torch.rand(1, generator=gen)) * (h - 32)
        cx = 16 + float(torch.rand(1, generator=gen)) * (w - 32)
        if labels[i]:
            images[i, 0] = torch.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 18.0)
        else:
            angle = float(torch.rand(1, generator=gen)) * math.pi
            across = (xx - cx) * math.sin(angle) - (yy - cy) * math.cos(angle)
            along = (xx - cx) * math.cos(angle) + (yy - cy) * math.sin(angle)
            images[i, 0] = ((across.abs() < 0.7) & (along.abs() < 14)).float()
    return images, labels


LEARNING: dict[str, tuple[dict, float]] = {
    "lenet": ({}, 1e-3),
    "alexnet": ({"hidden": 256}, 1e-4),
    "vit": ({}, 1e-3),
    "resnet": ({"width": 8}, 1e-3),
    "mvresnet": ({"width": 8}, 1e-3),
}


@pytest.mark.parametrize("arch", ARCHS)
def test_learns_blob_versus_line(arch: str) -> None:
    hparams, lr = LEARNING[arch]
    shapes = [(64, 48), (64, 48), (64, 64)] if views_for(arch) == 3 else [(64, 64)]
    batches = [toy_batch(16, s, seed=0) for s in shapes]  # same seed: same events in every view
    views, labels = [b[0] for b in batches], batches[0][1]
    torch.manual_seed(0)
    model = build_model(arch, shapes, **hparams).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(*views), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < 0.5 * first and last < 0.35, f"{arch}: loss {first:.3f} → {last:.3f}"


# ---------------------------------------------------------------- architecture-specific properties


def test_thesis_lenet_cannot_tell_a_square_from_a_bar() -> None:
    """With no activation before the global average pool, LeNet's 120 features are linear in the
    pixels and, away from the borders, depend only on 16 sums (pixels grouped by row mod 4 and
    column mod 4, the composite stride). A 16×16 square and a 4×64 bar have the same 16 sums, so the
    thesis-faithful network gives them identical logits; adding ReLUs breaks the tie."""
    square = torch.zeros(1, 1, 160, 200)
    square[..., 64:80, 64:80] = 1.0
    bar = torch.zeros(1, 1, 160, 200)
    bar[..., 64:68, 64:128] = 1.0
    torch.manual_seed(0)
    faithful = build_model("lenet", [(160, 200)]).eval()
    torch.manual_seed(0)
    with_relu = build_model("lenet", [(160, 200)], activation="relu").eval()
    with torch.no_grad():
        torch.testing.assert_close(faithful(square), faithful(bar), rtol=1e-5, atol=1e-6)
        assert not torch.allclose(with_relu(square), with_relu(bar), rtol=1e-4, atol=1e-5)


def test_sincos_positions() -> None:
    pe = sincos_2d(3, 5, 8, device=torch.device("cpu"), dtype=torch.float32)
    assert pe.shape == (15, 8)
    torch.testing.assert_close(pe[0], torch.tensor([0.0, 0, 1, 1, 0, 0, 1, 1]))
    assert torch.unique(pe, dim=0).shape[0] == 15  # every patch position distinct
    # Row-major: the second token is row 0, column 1 — its row half equals the first token's.
    torch.testing.assert_close(pe[1, :4], pe[0, :4])


def test_vit_pads_with_zeros_to_whole_patches() -> None:
    torch.manual_seed(0)
    model = build_model("vit", [(100, 90)]).eval()
    image = sparse_views([(100, 90)], 1)[0]
    padded = F.pad(image, (0, 6, 0, 12))  # to 112 × 96
    with torch.no_grad():
        torch.testing.assert_close(model(image), model(padded))


def test_vit_layers_start_from_different_weights() -> None:
    torch.manual_seed(0)
    model = build_model("vit", [(64, 64)], depth=2)
    a, b = (layer.self_attn.in_proj_weight for layer in model.layers)
    assert not torch.equal(a, b)


def test_mvresnet_merge_grid() -> None:
    shapes = shapes_for("mvresnet", COMPACT)  # /8 at merge stage 2: 32×14, 32×14, 32×16
    assert build_model("mvresnet", shapes, width=8).hparams["merge_size"] == [32, 14]
    assert build_model("mvresnet", shapes, width=8, merge_size=12).hparams["merge_size"] == [12, 12]
    assert build_model("mvresnet", shapes, width=8, merge_size=[20, 10]).hparams["merge_size"] == [20, 10]
    model = build_model("mvresnet", shapes, width=8)
    branch_convs = [b.stem[0].weight for b in model.branches]
    assert not torch.equal(branch_convs[0], branch_convs[1])  # one set of weights per plane


@pytest.mark.parametrize("merge_stage", [1, 3, 4])
def test_mvresnet_merge_stages(merge_stage: int) -> None:
    forward_backward("mvresnet", shapes_for("mvresnet", COMPACT), batch=2, width=8, merge_stage=merge_stage)


# ---------------------------------------------------------------- docs/models.md cannot drift


def docs_script() -> str:
    match = re.search(r"```python\n(# models-table generator\n.*?)```", DOCS.read_text(), re.S)
    assert match, "docs/models.md: the generator script block is missing"
    return match.group(1)


def docs_parameter_rows() -> list[tuple[str, dict, int]]:
    rows = re.findall(r"^\| `(\w+)` \| `(\{.*?\})` \| ([\d,]+) \|$", DOCS.read_text(), re.M)
    assert rows, "docs/models.md: no parameter table found"
    return [(arch, json.loads(hp), int(n.replace(",", ""))) for arch, hp, n in rows]


REFERENCE_SIZES = [CROP, COMPACT, SCALE_033, SCALE_05]


@pytest.mark.parametrize("size", REFERENCE_SIZES, ids=["crop128", "compact", "s033", "s05"])
def test_documented_parameter_counts(size) -> None:
    """Every documented count, at every reference size (meta device: no memory, no arithmetic)."""
    for arch, hparams, documented in docs_parameter_rows():
        with torch.device("meta"):
            model = build_model(arch, shapes_for(arch, size), **hparams)
        assert count_parameters(model) == documented, (arch, hparams)


def test_documented_defaults_agree_with_a_real_build() -> None:
    """The meta-device count above is the count of a real model."""
    documented = {arch: n for arch, hp, n in docs_parameter_rows() if not hp}
    assert set(documented) == set(ARCHS + SPARSE_ARCHS)
    for arch in ARCHS + SPARSE_ARCHS:
        assert count_parameters(build_model(arch, shapes_for(arch, CROP))) == documented[arch]


def test_generated_tables_are_current() -> None:
    """Running the script printed in docs/models.md reproduces the tables printed there."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(docs_script(), str(DOCS), "exec"), {"__name__": "__docs__"})
    text = DOCS.read_text()
    block = re.search(r"<!-- generated: start -->\n(.*?)<!-- generated: end -->", text, re.S)
    assert block, "docs/models.md: generated-tables markers missing"
    assert block.group(1).strip() == out.getvalue().strip()


SMALL_HPARAMS = {"lenet": {}, "alexnet": {"hidden": 32, "batchnorm": False}, "vit": {}, "resnet": {"width": 4},
                 "mvresnet": {"width": 4}}  # fmt: skip


@pytest.mark.parametrize("arch", ARCHS)
def test_penultimate_features_are_what_the_output_layer_reads(arch: str) -> None:
    """The interpretability hook: the output layer applied to `penultimate` gives the logits
    exactly, and the first-layer maps are one per view (alexnet without BN: an in-place ReLU follows
    its first convolution, and must not change what was caught)."""
    shapes = shapes_for(arch, CROP)
    model = build_model(arch, shapes, **SMALL_HPARAMS[arch]).eval()
    views = sparse_views(shapes, batch=3)
    with torch.no_grad():
        features = penultimate(model, *views)
        assert features.shape[0] == 3 and features.dim() == 2
        torch.testing.assert_close(final_linear(model)(features), model(*views))
        maps = first_layer_maps(model, *views)
    assert len(maps) == views_for(arch) and all(m.shape[0] == 3 for m in maps)
    if arch == "alexnet":
        assert (maps[0] < 0).any()  # caught before the in-place ReLU


# ---------------------------------------------------------------- sparse models (nuwire.sparse inputs)


def sparse_inputs(shapes: list[tuple[int, int]], batch: int, seed: int = 0) -> list:
    from nuwire.sparse import sparsify

    return [sparsify(v) for v in sparse_views(shapes, batch, seed)]


@pytest.mark.parametrize("arch", SPARSE_ARCHS)
@pytest.mark.parametrize("size", [CROP, COMPACT], ids=["crop128", "compact"])
def test_sparse_forward_backward(arch: str, size) -> None:
    shapes = shapes_for(arch, size)
    torch.manual_seed(0)
    model = build_model(arch, shapes, width=8).train()
    assert takes_sparse(arch) and takes_sparse(model) and not takes_sparse("resnet")
    logits = model(*sparse_inputs(shapes, 3))
    assert logits.shape == (3, 2) and torch.isfinite(logits).all()
    assert model.features(*sparse_inputs(shapes, 3)).shape == (3, model.fc.in_features)
    F.cross_entropy(logits, torch.tensor([0, 1, 0])).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_sparse_models_refuse_images_too_small_and_bad_hparams() -> None:
    with pytest.raises(ConfigError, match="too small"):
        build_model("sparse_resnet", [(8, 8)])
    build_model("sparse_resnet", [(32, 32)], width=4)
    with pytest.raises(ConfigError, match="blocks"):
        build_model("sparse_mvresnet", [(64, 64)] * 3, blocks=[2, 2])
    with pytest.raises(ConfigError, match="3 view"):
        build_model("sparse_mvresnet", [(64, 64)])


@pytest.mark.parametrize("arch", SPARSE_ARCHS)
def test_sparse_same_seed_same_weights_and_build_leaves_the_random_stream(arch: str) -> None:
    shapes = shapes_for(arch, CROP)
    torch.manual_seed(5)
    a = build_model(arch, shapes).state_dict()
    after = torch.rand(4)
    torch.manual_seed(5)
    BUILDERS[arch](shapes)
    assert torch.equal(torch.rand(4), after)  # the dry run drew nothing
    torch.manual_seed(5)
    b = build_model(arch, shapes).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_sparse_resnet_learns_blob_versus_line() -> None:
    from nuwire.sparse import sparsify

    images, labels = toy_batch(16, (64, 64), seed=0)
    x = sparsify(images)
    torch.manual_seed(0)
    model = build_model("sparse_resnet", [(64, 64)], width=8).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < 0.5 * first and last < 0.35, f"sparse_resnet: loss {first:.3f} → {last:.3f}"


def test_each_model_writes_its_hparam_defaults_once():
    """The builder's keyword-only parameters are the hparams with their defaults (default_hparams
    reads them); the model class takes them without defaults, so no second copy can disagree."""
    import inspect
    import typing

    from nuwire.models import BUILDERS, default_hparams

    for arch, builder in BUILDERS.items():
        model_class = typing.get_type_hints(builder)["return"]
        params = list(inspect.signature(model_class.__init__).parameters.values())[1:]
        with_default = [p.name for p in params if p.default is not inspect.Parameter.empty]
        assert not with_default, f"{model_class.__name__} repeats hparam defaults: {with_default}"
        assert default_hparams(arch), arch
