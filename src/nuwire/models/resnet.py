"""ResNet-18-style classifier for one wire plane, plus the pieces `mvresnet` reuses.

BasicBlock stages [2, 2, 2, 2] with widths w, 2w, 4w, 8w (w = `width`, 64 in ResNet-18; 8–32 make
CPU-sized variants), a 7×7/2 stem and 3×3/2 max-pool, global average pooling and one linear layer to
two logits. Global pooling makes it size-agnostic. Initialisation follows torchvision (Kaiming normal,
fan-out, for convolutions; BN weight 1, bias 0) and draws only from torch's global generator, so
torch.manual_seed fixes it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from nuwire.errors import ConfigError

N_STAGES = 4


class BasicBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        # Projection shortcut only where the shape changes; decided at construction, so forward
        # has no data-dependent branching.
        self.downsample: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.downsample(x))


def make_stem(width: int) -> nn.Sequential:
    """7×7/2 convolution + BN + ReLU + 3×3/2 max-pool: a quarter of the input resolution."""
    return nn.Sequential(
        nn.Conv2d(1, width, 7, stride=2, padding=3, bias=False),
        nn.BatchNorm2d(width),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(3, stride=2, padding=1),
    )


def make_stage(in_channels: int, out_channels: int, *, blocks: int, stride: int) -> nn.Sequential:
    layers = [BasicBlock(in_channels, out_channels, stride)]
    layers += [BasicBlock(out_channels, out_channels, 1) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


def stage_widths(width: int) -> list[int]:
    return [width * 2**i for i in range(N_STAGES)]


def stage_stride(index: int) -> int:
    """Stage 0 keeps the stem's resolution; the later ones halve it."""
    return 1 if index == 0 else 2


def init_weights(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def check_resnet_hparams(arch: str, width: int, blocks: Sequence[int]) -> tuple[int, ...]:
    blocks = tuple(int(b) for b in blocks)
    if width < 1:
        raise ConfigError(f"{arch} hparam width: {width} must be >= 1 (64 is ResNet-18; 16 or 32 for CPU).")
    if len(blocks) != N_STAGES or min(blocks) < 1:
        raise ConfigError(f"{arch} hparam blocks: {list(blocks)} must be {N_STAGES} counts >= 1, e.g. [2, 2, 2, 2].")
    return blocks


class ResNet(nn.Module):
    def __init__(self, *, width: int, blocks: Sequence[int]) -> None:
        super().__init__()
        blocks = check_resnet_hparams("resnet", width, blocks)
        self.hparams = {"width": width, "blocks": list(blocks)}
        widths = stage_widths(width)
        self.stem = make_stem(width)
        self.stages = nn.Sequential(
            *(
                make_stage(widths[i - 1] if i else width, widths[i], blocks=blocks[i], stride=stage_stride(i))
                for i in range(N_STAGES)
            )
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[-1], 2)
        init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(torch.flatten(self.pool(self.stages(self.stem(x))), 1))

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.hparams.items())


def build_resnet(
    input_shapes: Sequence[tuple[int, int]], *, width: int = 64, blocks: Sequence[int] = (2, 2, 2, 2)
) -> ResNet:
    """ResNet-18 at width 64; `blocks=[3, 4, 6, 3]` gives the ResNet-34 layout DUNE's CVN builds on."""
    del input_shapes
    return ResNet(width=width, blocks=blocks)
