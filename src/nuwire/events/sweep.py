"""Sweep points: (architecture, wire plane, image scale, energy cut, optional vertex crop). Loading a
point's data: `nuwire.learn.data`.

The config's `sweep:` is a list of blocks; each block is the cartesian product of its lists. A
point's outputs live in `models/{arch}/plane{plane}/scale{scale}/{cut}/{window}` below the results
directory, where window is `whole` (the full plane image) or `crop{N}` — so adding a point adds new
paths and touches no existing one.

Training seeds: `train.seeds: [1, 2, 3]` trains every point once per seed, each a job of its own
whose outputs live one level deeper, in `.../{window}/seed{S}` (the `window` wildcard carries the
`/seed{S}` tail). With one seed (`train.seed`, or a one-entry `train.seeds`) the paths are those
above, without the seed level.

Target (`nuwire.events.targets`): a block's `target: [nue_cc, flavour]` is an axis like `cut`. The
default `nue_cc` adds nothing to the path (existing results keep theirs); any other target is one
more level after the window, `.../{window}/flavour[/seed{S}]`, also carried by the `window`
wildcard.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nuwire.architectures import MULTI_VIEW_ARCHS, check_architecture
from nuwire.errors import ConfigError
from nuwire.events.targets import DEFAULT_TARGET, check_target
from nuwire.geometry import N_PLANES

WHOLE = "whole"


@dataclass(frozen=True, order=True)
class SweepPoint:
    arch: str
    plane: str  # "0", "1", "2" or "all"
    scale: str  # formatted with :g so that 0.5 and 0.50 are one point
    cut: str
    window: str  # "whole" or "crop{N}"
    seed: int | None = None  # set only when train.seeds trains the point several times
    target: str = DEFAULT_TARGET  # nuwire.events.targets; in the path only when not the default

    @property
    def target_path(self) -> str:
        return "" if self.target == DEFAULT_TARGET else f"/{self.target}"

    @property
    def base_path(self) -> str:
        """The point without its seed: what the seeds of one point share."""
        return f"{self.arch}/plane{self.plane}/scale{self.scale}/{self.cut}/{self.window}{self.target_path}"

    @property
    def path(self) -> str:
        return self.base_path + ("" if self.seed is None else f"/seed{self.seed}")

    @property
    def label(self) -> str:
        seed = "" if self.seed is None else f" seed {self.seed}"
        target = "" if self.target == DEFAULT_TARGET else f" {self.target}"
        return f"{self.arch} plane {self.plane} scale {self.scale} {self.cut} {self.window}{target}{seed}"

    @property
    def planes(self) -> tuple[int, ...]:
        return tuple(range(N_PLANES)) if self.plane == "all" else (int(self.plane),)

    @property
    def crop(self) -> int | None:
        return None if self.window == WHOLE else int(self.window.removeprefix("crop"))

    @property
    def scale_value(self) -> float:
        return float(self.scale)

    @classmethod
    def from_wildcards(cls, wildcards: Any) -> SweepPoint:
        window, _, seed = str(wildcards.window).partition("/seed")
        window, _, target = window.partition("/")
        return cls(
            wildcards.arch,
            wildcards.plane,
            wildcards.scale,
            wildcards.cut,
            window,
            int(seed) if seed else None,
            check_target(target or DEFAULT_TARGET, f"the model directory's target level {target!r}"),
        )

    def as_dict(self) -> dict[str, Any]:
        # `target` only when not the default: the metrics.json of a nue_cc point stays as it was.
        extra = {} if self.target == DEFAULT_TARGET else {"target": self.target}
        return {
            "arch": self.arch,
            "plane": self.plane,
            "scale": self.scale_value,
            "cut": self.cut,
            "crop": self.crop,
            "seed": self.seed,
            "point": self.path,
            "base": self.base_path,
            **extra,
        }


def expand_sweep(sweep: list[dict[str, Any]], seeds: Sequence[int] | None = None) -> list[SweepPoint]:
    """All points of all blocks, sorted and without repeats; each once per seed when `seeds`
    (train.seeds) has more than one."""
    per_seed = [int(s) for s in seeds] if seeds is not None and len(seeds) > 1 else [None]
    points: set[SweepPoint] = set()
    scale_names: dict[str, float] = {}  # directory name -> the scale that took it
    for i, block in enumerate(sweep):
        for scale in block["scale"]:
            name = f"{float(scale):g}"
            if scale_names.setdefault(name, float(scale)) != float(scale):
                raise ConfigError(
                    f"sweep[{i}].scale: scales {scale_names[name]!r} and {float(scale)!r} both name the "
                    f"directory scale{name} (scales are named by 6 significant digits), so they would be "
                    "one point. Use scales that differ within 6 significant digits, or keep one of them."
                )
        crop = block.get("crop")
        window = WHOLE if crop is None else f"crop{int(crop)}"
        targets = [check_target(str(t), f"sweep[{i}].target") for t in block.get("target", [DEFAULT_TARGET])]
        combos = itertools.product(block["arch"], block["plane"], block["scale"], block["cut"], targets)
        for arch, plane, scale, cut, target in combos:
            plane_s = str(plane)
            check_architecture(arch, f"sweep[{i}].arch")
            multi = arch in MULTI_VIEW_ARCHS
            if multi != (plane_s == "all"):
                need = "'all'" if multi else "0, 1 or 2"
                raise ConfigError(
                    f"sweep[{i}]: architecture {arch!r} takes plane {need}, got plane {plane_s!r} "
                    f"(multi-view architectures: {list(MULTI_VIEW_ARCHS)} use all three planes)."
                )
            for seed in per_seed:
                points.add(SweepPoint(arch, plane_s, f"{float(scale):g}", cut, window, seed, target))
    return sorted(points, key=lambda p: (p.base_path, -1 if p.seed is None else p.seed))


def train_seed_settings(train: dict[str, Any], point: SweepPoint) -> dict[str, Any]:
    """The `train:` section for one job: `seeds` resolved to this point's `seed`."""
    settings = {k: v for k, v in train.items() if k != "seeds"}
    if point.seed is not None:
        settings["seed"] = point.seed
    elif train.get("seeds"):
        settings["seed"] = int(train["seeds"][0])
    return settings
