"""sparse_resnet through nuwire.learn.train: it learns the track-orientation set of test_train.py from
sparse batches, and a SIGTERM mid-run followed by a resume gives the uninterrupted result exactly.

Reuses test_train.py's dataset (32 × 32 plane-2 images, whole plane at scale 1.0) and its
interruption helpers. Run as a script: python tests/test_sparse_train.py DATA_DIR OUT_DIR CHECKPOINT_DIR
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from builders import evaluate_outputs
from nuwire.learn.train import SIGTERM_EXIT, TrainConfig
from test_train import _wait_for, assert_same_result, make_config, run


def sparse_config() -> TrainConfig:
    return make_config(arch="sparse_resnet", hparams={"width": 8}, epochs=8)


@pytest.fixture(scope="module")
def reference(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("reference")
    meta = run(data_dir, root / "out", root / "ckpt", sparse_config())
    return root / "out", meta


def test_sparse_resnet_trains_from_sparse_batches(reference: tuple[Path, dict]) -> None:
    out, meta = reference
    history = pd.read_csv(out / "history.csv")
    assert meta["arch"] == "sparse_resnet" and meta["epochs_run"] == 8
    assert history["train_loss"].iloc[-1] < 0.7 * history["train_loss"].iloc[0]
    assert history["val_auc"].max() > 0.8, history["val_auc"].tolist()


def test_sparse_sigterm_then_resume_equals_uninterrupted(
    data_dir: Path, reference: tuple[Path, dict], tmp_path: Path
) -> None:
    out, ckpt = tmp_path / "out", tmp_path / "ckpt"
    proc = subprocess.Popen(
        [sys.executable, __file__, str(data_dir), str(out), str(ckpt)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    _wait_for(ckpt / "last.pt", proc)
    proc.send_signal(signal.SIGTERM)
    log = proc.communicate(timeout=60)[0]
    assert proc.returncode == SIGTERM_EXIT, log
    state = torch.load(ckpt / "last.pt", weights_only=True)
    assert 1 <= state["epoch"] < 8

    meta = run(data_dir, out, ckpt, sparse_config())
    assert_same_result(out, reference[0])
    assert meta["best_epoch"] == reference[1]["best_epoch"]


def test_sparse_resnet_evaluates_and_skips_occlusion_with_the_reason(
    data_dir: Path, reference: tuple[Path, dict], tmp_path: Path
) -> None:
    from nuwire.evaluation.evaluate import SPARSE_SKIPPED, PointSets, evaluate
    from nuwire.figures import FigureContext
    from nuwire.models import build_model
    from test_train import load_sets

    _, val_set = load_sets(data_dir)
    val_set.events = val_set.events.assign(category=np.where(val_set.labels == 1, "nue_cc", "numu_cc"), nu_energy=1.0)
    model = build_model("sparse_resnet", val_set.input_shapes, width=8)
    model.load_state_dict(torch.load(reference[0] / "best.pt", weights_only=True))
    metrics = evaluate(
        model, PointSets(val_set, val_set), outputs=evaluate_outputs(tmp_path), context=FigureContext(synthetic=True)
    )
    assert (
        metrics["occlusion"]["skipped"].startswith(SPARSE_SKIPPED.split("{")[0])
        and metrics["occlusion"]["events"] == []
    )
    assert len(pd.read_parquet(tmp_path / "predictions.parquet")) == 2 * len(val_set)
    assert (tmp_path / "occlusion.png").stat().st_size > 0


if __name__ == "__main__":
    import logging

    logging.basicConfig(level=logging.INFO, stream=sys.stdout)
    data, out_dir, ckpt_dir = (Path(p) for p in sys.argv[1:4])
    run(data, out_dir, ckpt_dir, sparse_config())
