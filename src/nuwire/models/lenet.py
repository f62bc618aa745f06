"""LeNet-like CNN, the thesis's Table 4, made to accept any input size.

Thesis layer list: conv 1→6 (5×5) → avg-pool 2 → conv 6→16 (5×5) → avg-pool 2 →
conv 16→120 (5×5) → flatten 120 → linear 120→84 + ReLU → linear 84→2. The thesis's conv3 was meant
to give 120×1×1, which only holds for 32×32 inputs; on a 1600×864 image it gives 120×393×209. A
global (adaptive) pool after conv3 restores the 120-vector for every input size.

The table lists no activation after the convolutions and no batch normalisation, so the defaults
have none. With them absent, everything before the first ReLU is linear in the pixels, and global
average pooling then reduces the image to a few weighted pixel sums: the network cannot see shapes.
The hparams below exist so the "why LeNet failed" study can switch those pieces on one at a time.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from nuwire.errors import ConfigError

POOLS = ("avg", "max")
ACTIVATIONS = ("none", "relu", "tanh")


def _check_choice(field: str, value: object, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ConfigError(f"lenet hparam {field}: {value!r} is not one of {list(choices)}.")


class LeNet(nn.Module):
    def __init__(
        self,
        *,
        pool: str,
        global_pool: str,
        activation: str,
        batchnorm: bool,
    ) -> None:
        super().__init__()
        _check_choice("pool", pool, POOLS)
        _check_choice("global_pool", global_pool, POOLS)
        _check_choice("activation", activation, ACTIVATIONS)
        self.hparams = {
            "pool": pool, "global_pool": global_pool, "activation": activation, "batchnorm": batchnorm
        }  # fmt: skip

        def pool2() -> nn.Module:
            return nn.AvgPool2d(2, 2) if pool == "avg" else nn.MaxPool2d(2, 2)

        def act() -> nn.Module:
            return {"none": nn.Identity, "relu": nn.ReLU, "tanh": nn.Tanh}[activation]()

        def norm(channels: int) -> nn.Module:
            return nn.BatchNorm2d(channels) if batchnorm else nn.Identity()

        # Identity placeholders keep the Sequential indices (and so the state-dict keys of the
        # convolutions) the same whichever options are switched on.
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5), norm(6), act(), pool2(),
            nn.Conv2d(6, 16, 5), norm(16), act(), pool2(),
            nn.Conv2d(16, 120, 5), norm(120), act(),
        )  # fmt: skip
        self.global_pool = nn.AdaptiveAvgPool2d(1) if global_pool == "avg" else nn.AdaptiveMaxPool2d(1)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 2))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.global_pool(self.features(x)))

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.hparams.items())


def build_lenet(
    input_shapes: Sequence[tuple[int, int]],
    *,
    pool: str = "avg",
    global_pool: str = "avg",
    activation: str = "none",
    batchnorm: bool = False,
) -> LeNet:
    """Thesis defaults; `input_shapes` is unused because nothing depends on the size."""
    del input_shapes
    return LeNet(pool=pool, global_pool=global_pool, activation=activation, batchnorm=batchnorm)
