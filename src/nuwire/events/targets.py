"""What a sweep point learns: its `target`, the classes of that target and each event's class.

`nue_cc` (the default) is the thesis's binary task: class 1 is CC νe (ν̄e included), class 0
everything else. `flavour` has three classes: 0 CC νμ (ν̄μ included), 1 CC νe (ν̄e included),
2 NC. CC νe is class 1 in both targets, so a model's P(νe CC) is always the softmax column 1 and
everything binary (ROC, thresholds, paired comparisons) reads a `flavour` point exactly as it reads
a `nue_cc` one: binary label = (class == 1), score = column 1.

Torch-free: the Snakefile validates targets before any job.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nuwire.errors import ConfigError, NuwireError

DEFAULT_TARGET = "nue_cc"
# Class names per target, in class-index order; the index-column `category` value of each class.
TARGET_CLASSES: dict[str, tuple[str, ...]] = {
    "nue_cc": ("background", "nue_cc"),
    "flavour": ("numu_cc", "nue_cc", "nc"),
}
TARGETS = tuple(TARGET_CLASSES)
NUE_CLASS = 1  # CC νe: the same index in every target
CLASS_TITLES = {"numu_cc": "νμ CC", "nue_cc": "νe CC", "nc": "NC", "background": "not νe CC"}


def check_target(target: str, where: str = "target") -> str:
    if target not in TARGET_CLASSES:
        raise ConfigError(f"{where}: unknown target {target!r}; choose one of: {', '.join(TARGETS)}.")
    return target


def target_classes(target: str) -> int:
    """How many classes (logits) the target has."""
    return len(TARGET_CLASSES[check_target(target)])


def class_labels(events: pd.DataFrame, target: str) -> np.ndarray:
    """Each event's class index under `target` (int64), from the index's `label` (nue_cc) or its
    `category` (flavour). A CC event of another flavour (ντ) has no flavour class: a clear error
    rather than an event silently put in a class it does not belong to."""
    check_target(target)
    if target == DEFAULT_TARGET:
        return events["label"].to_numpy(dtype=np.int64)
    category = events["category"].astype(str).to_numpy()
    names = TARGET_CLASSES[target]
    known = np.isin(category, names)
    if not known.all():
        odd = sorted(set(category[~known]))
        raise NuwireError(
            f"target 'flavour' classifies νe CC, νμ CC and NC, but {int((~known).sum())} event(s) of the index "
            f"have category {odd} (a CC interaction of another flavour). Use target nue_cc for these files."
        )
    lookup = {name: i for i, name in enumerate(names)}
    return pd.Series(category).map(lookup).to_numpy(dtype=np.int64)


def binary_labels(labels: np.ndarray) -> np.ndarray:
    """CC νe (1) against the rest (0), whatever the target."""
    return (np.asarray(labels) == NUE_CLASS).astype(np.int64)
