"""Re-render one input file's test events under a detector variation (the systematics_render job).

Only the events of the event index's test split are rendered (every point is tested on a subset of
them), with the render settings of the nominal images; the output has the nominal image format, so
the points' loaders read it as they read the nominal files.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from nuwire.events.dataset import read_event_index
from nuwire.images.render import ReadOptions, RenderOutputs, RenderParams, Rerender, render_file
from nuwire.io.atomic import write_json
from nuwire.io.opensamples import Event
from nuwire.systematics.variations import Variation

PathLike = str | os.PathLike[str]


def test_keys(index_path: PathLike, sample: str) -> list[tuple[int, int, int]]:
    """(run, subrun, event) of the sample's test-split events in the event index."""
    index = read_event_index(index_path)
    test = index[(index["split"] == "test") & (index["sample"] == sample)]
    return list(zip(test["run"].tolist(), test["subrun"].tolist(), test["event"].tolist(), strict=True))


def render_variation_file(
    h5_path: PathLike,
    index_path: PathLike,
    outputs: RenderOutputs,
    *,
    sample: str,
    params: RenderParams,
    variation: Variation,
    read: ReadOptions,
) -> dict[str, Any]:
    """Render the sample's test events of `h5_path` with `variation` applied; returns the QC
    (which also records the variation). `read.threads` bounds the reader's inflate pool (the job's)."""

    def vary(ev: Event, plane: int, adc: np.ndarray) -> np.ndarray:
        return variation.apply(adc, plane, (sample, ev.run, ev.subrun, ev.event))

    keys = test_keys(index_path, sample)
    qc = render_file(
        h5_path, outputs.images, outputs.qc, sample=sample, params=params, read=read, rerender=Rerender(keys, vary)
    )
    qc = {**qc, "variation": variation.as_dict(), "selection": "test split of the event index"}
    write_json(outputs.qc, qc)
    return qc
