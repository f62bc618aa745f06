"""Re-render one input file's test events under a detector variation (the systematics_render job).

Only the events of the event index's test split are rendered (every point is tested on a subset of
them), with the render settings of the nominal images; the output has the nominal image format, so
the points' loaders read it as they read the nominal files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from nuwire.events.dataset import read_event_index
from nuwire.images.render import ReadOptions, RenderParams, Rerender, render_file
from nuwire.io.opensamples import Event
from nuwire.io.readers import read_json
from nuwire.systematics.variations import Variation

PathLike = str | os.PathLike[str]


def test_keys(index_path: PathLike, sample: str) -> list[tuple[int, int, int]]:
    """(run, subrun, event) of the sample's test-split events in the event index."""
    index = read_event_index(index_path)
    test = index[(index["split"] == "test") & (index["sample"] == sample)]
    return list(zip(test["run"].tolist(), test["subrun"].tolist(), test["event"].tolist(), strict=True))


@dataclass(frozen=True)
class VariationFiles:
    """The systematics_render job's files: the input file, the event index and the input's nominal
    QC (which already holds its SHA-256) read; the varied images and their QC written."""

    h5: PathLike
    index: PathLike
    nominal_qc: PathLike
    images: PathLike
    qc: PathLike


def render_variation_file(
    files: VariationFiles,
    variation: Variation,
    *,
    sample: str,
    params: RenderParams,
    read: ReadOptions,
) -> dict[str, Any]:
    """Render the sample's test events of `files.h5` with `variation` applied; returns the QC
    (which also records the variation), written once. `read.threads` bounds the reader's inflate
    pool (the job's)."""

    def vary(ev: Event, plane: int, adc: np.ndarray) -> np.ndarray:
        return variation.apply(adc, plane, (sample, ev.run, ev.subrun, ev.event))

    keys = test_keys(files.index, sample)
    # The input was hashed when its nominal images were rendered: the same file, not read twice.
    sha256 = read_json(files.nominal_qc, made_by="render").get("input_sha256")
    known = {"variation": variation.as_dict(), "selection": "test split of the event index", "input_sha256": sha256}
    return render_file(files.h5, files.images, files.qc, sample=sample, params=params, read=read,
                       rerender=Rerender(keys, vary, known))  # fmt: skip
