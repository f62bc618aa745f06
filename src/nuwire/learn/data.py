"""A sweep point's data: its split of the event index after its cut, loaded in its view, and the
fingerprint of the events a training saw (a resumed training must see the same)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from typing import Any

from nuwire.errors import ConfigError
from nuwire.events.cuts import CutSpec, select_events
from nuwire.events.dataset import read_event_index
from nuwire.events.sweep import SweepPoint
from nuwire.events.targets import class_labels
from nuwire.images.image_set import SparseImageSet
from nuwire.images.views import ViewSpec
from nuwire.io.keys import EVENT_KEY


def point_view(point: SweepPoint) -> ViewSpec:
    return ViewSpec(planes=point.planes, scale=point.scale_value, crop=point.crop)


def point_cut(point: SweepPoint, cuts: dict[str, dict[str, Any]]) -> CutSpec:
    if point.cut not in cuts:
        raise ConfigError(f"cut {point.cut!r} is not defined under cuts: (defined: {sorted(cuts)}).")
    return CutSpec(name=point.cut, **cuts[point.cut])


def load_point_split(
    index_path: str | os.PathLike[str],
    image_files: Sequence[str | os.PathLike[str]],
    point: SweepPoint,
    *,
    cuts: dict[str, dict[str, Any]],
    split: str,
) -> SparseImageSet:
    """One split of the event index, after the point's cut, loaded in the point's view."""
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
