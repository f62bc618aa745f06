"""AlexNet-like CNN, the thesis's Table 5, with one input channel and any input size.

Thesis layer list: conv 1→64 (11×11, stride 4, pad 2) + BN + max-pool 3/2 → conv 64→192 (5×5, pad 2)
+ BN + max-pool → conv 192→384 (3×3) + BN → conv 384→256 (3×3) + BN → conv 256→256 (3×3) + BN +
max-pool → flatten → 4096 → 4096 → 2, ReLU and dropout 0.5 after each hidden linear layer.

The thesis flattened whatever map the convolutions produced ("computed dynamically"), so its first
linear layer's size depended on the image scale. Here an AdaptiveAvgPool2d to `pool_size`×`pool_size`
(6×6, as in torchvision's AlexNet) sits before the flatten, so one set of weights serves every input
size and the parameter count is fixed. ReLU follows each BN (the thesis text: "batch normalization,
ReLU activation functions, and max pooling").
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from nuwire.errors import ConfigError


class AlexNet(nn.Module):
    def __init__(self, *, hidden: int, dropout: float, pool_size: int, batchnorm: bool) -> None:
        super().__init__()
        if hidden < 1 or pool_size < 1 or not 0.0 <= dropout < 1.0:
            raise ConfigError(
                f"alexnet hparams: need hidden >= 1, pool_size >= 1 and 0 <= dropout < 1 "
                f"(got hidden={hidden}, pool_size={pool_size}, dropout={dropout})."
            )
        self.hparams = {"hidden": hidden, "dropout": dropout, "pool_size": pool_size, "batchnorm": batchnorm}

        def norm(channels: int) -> nn.Module:
            return nn.BatchNorm2d(channels) if batchnorm else nn.Identity()

        self.features = nn.Sequential(
            nn.Conv2d(1, 64, 11, stride=4, padding=2), norm(64), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, padding=2), norm(192), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, padding=1), norm(384), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, 3, padding=1), norm(256), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, 3, padding=1), norm(256), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        )  # fmt: skip
        self.avgpool = nn.AdaptiveAvgPool2d(pool_size)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(256 * pool_size * pool_size, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, 2),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.avgpool(self.features(x)))

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.hparams.items())


def build_alexnet(
    input_shapes: Sequence[tuple[int, int]],
    *,
    hidden: int = 4096,
    dropout: float = 0.5,
    pool_size: int = 6,
    batchnorm: bool = True,
) -> AlexNet:
    """Thesis defaults; `hidden` (e.g. 512) makes a CPU-sized variant."""
    del input_shapes
    return AlexNet(hidden=hidden, dropout=dropout, pool_size=pool_size, batchnorm=batchnorm)
