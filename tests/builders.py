"""Test data built with the project's real formats: small image Parquet sets and event indexes.

Fixtures that use them live in `conftest.py`; HDF5 files come from `h5files.py`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from nuwire.images.render import IMAGE_SCHEMA

SIZE = 32
N_TRAIN, N_VAL = 192, 64


def learnable_image(rng: np.random.Generator, signal: bool) -> np.ndarray:
    img = np.zeros((SIZE, SIZE), dtype=np.uint8)
    a, b = rng.integers(2, SIZE - 14, size=2)
    length = rng.integers(8, 13)
    if signal:
        img[a : a + length, b] = rng.integers(120, 255, size=length)  # vertical: along time
    else:
        img[a, b : b + length] = rng.integers(120, 255, size=length)  # horizontal: along wires
    noise = rng.integers(0, SIZE, size=(6, 2))
    img[noise[:, 0], noise[:, 1]] = rng.integers(20, 80, size=6)
    return img


def write_dataset(directory: Path, seed: int = 3) -> tuple[list[Path], pd.DataFrame]:
    """One image Parquet file (docs/architecture.md schema) and an event index for it."""
    rng = np.random.default_rng(seed)
    n = N_TRAIN + N_VAL
    labels = np.arange(n) % 2
    rng.shuffle(labels)
    records: dict[str, list] = {
        k: [] for k in ("sample", "run", "subrun", "event", "plane", "height", "width", "row", "col", "value")
    }
    for i, label in enumerate(labels):
        for plane in range(3):
            img = learnable_image(rng, bool(label)) if plane == 2 else np.zeros((SIZE, SIZE), np.uint8)
            rows, cols = np.nonzero(img)  # row-major order
            for key, value in (
                ("sample", "nue_WithWire_00"),
                ("run", 1),
                ("subrun", 1),
                ("event", i),
                ("plane", plane),
                ("height", SIZE),
                ("width", SIZE),
                ("row", rows.tolist()),
                ("col", cols.tolist()),
                ("value", img[rows, cols].tolist()),
            ):
                records[key].append(value)
    directory.mkdir(parents=True, exist_ok=True)
    image_file = directory / "nue_WithWire_00.parquet"
    pq.write_table(pa.table(records, schema=IMAGE_SCHEMA), image_file)
    index = pd.DataFrame(
        {
            "sample": "nue_WithWire_00",
            "run": 1,
            "subrun": 1,
            "event": np.arange(n, dtype=np.int32),
            "label": labels,
            "lep_energy": rng.uniform(0.1, 2.0, n),
            "split": np.where(np.arange(n) < N_TRAIN, "train", "val"),
        }
    )
    index.to_parquet(directory / "events.parquet")
    return [image_file], index


def dataset_outputs(directory: Path):
    """The dataset stage's outputs under `directory`, named as workflow/rules/dataset.smk names them."""
    from nuwire.events.dataset import DatasetOutputs

    names = ("events.parquet", "statistics.tsv", "qc_summary.tsv", "energy.png", "event_displays.png")
    return DatasetOutputs(*(directory / name for name in names))


def evaluate_outputs(directory: Path):
    """evaluate()'s outputs under `directory`, named as workflow/rules/evaluate.smk names them."""
    from dataclasses import fields

    from nuwire.evaluation.evaluate import EvaluateOutputs

    names = {"metrics": "metrics.json", "predictions": "predictions.parquet"}
    return EvaluateOutputs(**{f.name: directory / names.get(f.name, f"{f.name}.png") for f in fields(EvaluateOutputs)})


def train_outputs(directory: Path, checkpoint_dir: Path):
    """train()'s outputs under `directory`, named as workflow/rules/train.smk names them, and its
    checkpoint directory."""
    from nuwire.learn.train import TrainOutputs

    return TrainOutputs(directory / "best.pt", directory / "history.csv", directory / "train_meta.json", checkpoint_dir)
