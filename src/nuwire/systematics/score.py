"""Score one sweep point's test events in a variation's images with the point's trained weights
(the systematics_score job): the model is rebuilt from train_meta.json and never retrained."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nuwire.errors import NuwireError
from nuwire.evaluation.evaluate import EvaluateSettings, predictions_frame, score_set, trained_model
from nuwire.events.sweep import SweepPoint
from nuwire.io.atomic import atomic_path
from nuwire.io.readers import read_json
from nuwire.learn.data import load_point_split
from nuwire.learn.device import placement, select_device

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class ScoreInputs:
    """What the systematics_score job reads, as its rule names it (`snakemake.input`)."""

    index: PathLike  # dataset/events.parquet
    images: Sequence[PathLike]  # the variation's image Parquet files
    weights: PathLike
    meta: PathLike  # train_meta.json


def score_variation(
    inputs: ScoreInputs,
    *,
    point: SweepPoint,
    cuts: dict[str, dict[str, Any]],
    device: str,
    evaluate_settings: Mapping[str, Any],
    out: PathLike,
) -> pd.DataFrame:
    """The point's test predictions (evaluate's columns, split 'test') on the varied images; written to `out`."""
    weights = inputs.weights
    model = trained_model(read_json(inputs.meta, made_by="train"), weights)  # its head: 2 or 3 classes
    test_set = load_point_split(inputs.index, [Path(p) for p in inputs.images], point, cuts=cuts, split="test")
    setup = placement(select_device(device).device)
    model = setup.place_model(model)
    model.eval()
    settings = EvaluateSettings.from_config(evaluate_settings)
    score = score_set(model, test_set, setup, batch_size=settings.batch_size)
    if not np.isfinite(score).all():
        raise NuwireError(f"{weights}: the model gives NaN or infinite scores on the varied test events of {out}.")
    frame = predictions_frame(test_set, score, "test")
    with atomic_path(out) as tmp:
        frame.to_parquet(tmp, index=False)
    return frame
