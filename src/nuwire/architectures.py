"""Every architecture nuwire builds, as data: the one list of them.

Each name says which function of `nuwire.models` builds it, how many plane images its `forward`
takes, and whether it reads sparse batches. The module imports no torch, so the sweep
(`nuwire.events.sweep`), the config checks (`nuwire.pipeline.config`) and Snakemake's DAG read it
cheaply; `nuwire.models` imports each builder from its path, and the schema's per-architecture
defaults are tested against the names.
"""

from __future__ import annotations

from dataclasses import dataclass

from nuwire.errors import ConfigError


@dataclass(frozen=True)
class Architecture:
    builder: str  # "module:function" in nuwire.models
    views: int  # plane images `forward` takes: 1, or 3 (planes 0, 1, 2) for the multi-view models
    sparse_input: bool = False  # reads `nuwire.sparse.SparseTensor` batches (`SparseImageSet.sparse_batch`)


ARCHITECTURES: dict[str, Architecture] = {
    "lenet": Architecture("nuwire.models.lenet:build_lenet", views=1),
    "alexnet": Architecture("nuwire.models.alexnet:build_alexnet", views=1),
    "vit": Architecture("nuwire.models.vit:build_vit", views=1),
    "resnet": Architecture("nuwire.models.resnet:build_resnet", views=1),
    "mvresnet": Architecture("nuwire.models.mvresnet:build_mvresnet", views=3),
    "sparse_resnet": Architecture("nuwire.models.sparse_resnet:build_sparse_resnet", views=1, sparse_input=True),
    "sparse_mvresnet": Architecture("nuwire.models.sparse_resnet:build_sparse_mvresnet", views=3, sparse_input=True),
}
MULTI_VIEW_ARCHS = tuple(name for name, arch in ARCHITECTURES.items() if arch.views > 1)


def check_architecture(arch: object, where: str) -> str:
    """The one check of an architecture name (config, sweep, models, training): ConfigError naming
    the config field `where` and the valid names."""
    if not isinstance(arch, str) or arch not in ARCHITECTURES:
        raise ConfigError(f"{where}: unknown architecture {arch!r}; choose one of: {', '.join(ARCHITECTURES)}.")
    return arch
