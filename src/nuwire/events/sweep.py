"""Sweep points, and loading a point's data split: (architecture, wire plane, image scale, energy cut, optional vertex crop).

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

import hashlib
import itertools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nuwire.errors import ConfigError
from nuwire.events.keys import EVENT_KEY
from nuwire.events.targets import DEFAULT_TARGET, check_target, class_labels
from nuwire.geometry import N_PLANES

if TYPE_CHECKING:  # torch-heavy modules stay out of Snakemake's DAG-building import
    from nuwire.events.cuts import CutSpec
    from nuwire.images.image_set import SparseImageSet
    from nuwire.images.views import ViewSpec

# Every architecture nuwire builds and how many plane images it takes: the one list of them.
# nuwire.models checks its builders against it on import, the schema's per-architecture defaults
# are tested against it, and it stays torch-free so that Snakemake's DAG needs no torch.
ARCH_VIEWS: dict[str, int] = {
    "lenet": 1,
    "alexnet": 1,
    "vit": 1,
    "resnet": 1,
    "mvresnet": 3,
    "sparse_resnet": 1,
    "sparse_mvresnet": 3,
}
MULTI_VIEW_ARCHS = tuple(arch for arch, views in ARCH_VIEWS.items() if views > 1)


def check_architecture(arch: object, where: str) -> str:
    """The one check of an architecture name (config, sweep, models): ConfigError naming the config
    field `where` and the valid names."""
    if not isinstance(arch, str) or arch not in ARCH_VIEWS:
        raise ConfigError(f"{where}: unknown architecture {arch!r}; choose one of: {', '.join(ARCH_VIEWS)}.")
    return arch


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


def point_view(point: SweepPoint) -> ViewSpec:
    from nuwire.images.views import ViewSpec

    return ViewSpec(planes=point.planes, scale=point.scale_value, crop=point.crop)


def point_cut(point: SweepPoint, cuts: dict[str, dict[str, Any]]) -> CutSpec:
    from nuwire.events.cuts import CutSpec

    if point.cut not in cuts:
        raise ConfigError(f"cut {point.cut!r} is not defined under cuts: (defined: {sorted(cuts)}).")
    return CutSpec(name=point.cut, **cuts[point.cut])


def load_point_split(
    index_path: str | os.PathLike[str],
    image_files: Sequence[str | os.PathLike[str]],
    point: SweepPoint,
    cuts: dict[str, dict[str, Any]],
    split: str,
) -> SparseImageSet:
    """One split of the event index, after the point's cut, loaded in the point's view."""
    from nuwire.events.cuts import select_events
    from nuwire.events.dataset import read_event_index
    from nuwire.images.image_set import SparseImageSet

    index = read_event_index(index_path)
    events = select_events(index, split, point_cut(point, cuts))
    labels = class_labels(events, point.target)  # before loading: a bad index fails fast
    images = SparseImageSet.load(list(image_files), events, point_view(point), progress=True)
    # The cut and `events["label"]` stay νe CC against the rest; what the model learns is the target's class.
    images.labels = labels
    return images


def dataset_fingerprint(*sets: SparseImageSet) -> str:
    """Hash of the events (keys and labels) of the given sets, in order: a resumed training
    must see exactly the events it started with."""
    digest = hashlib.sha256()
    for ds in sets:
        keys = ds.events[[*EVENT_KEY, "label"]]
        digest.update(keys.to_csv(index=False).encode())
    return digest.hexdigest()
