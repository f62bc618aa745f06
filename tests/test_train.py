"""nuwire.learn.train: real training steps on a small learnable image set written as image Parquet.

Signal events carry a vertical track, background events a horizontal one, on 32×32 plane-2
images; LeNet with ReLUs learns that in a few epochs. The interruption tests run a ViT (it has
dropout, so resuming must restore the RNG too) in a subprocess (this file run as a script), stop
it with SIGTERM or SIGKILL after the first epoch's checkpoint appears, resume, and compare against
an uninterrupted run.

Run as a script: python tests/test_train.py DATA_DIR OUT_DIR CHECKPOINT_DIR
"""

from __future__ import annotations

import csv
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from builders import SIZE, train_outputs
from nuwire.errors import CheckpointError, ConfigError
from nuwire.events.cuts import CutSpec, select_events
from nuwire.images.image_set import SparseImageSet
from nuwire.images.views import ViewSpec
from nuwire.learn import checkpoint
from nuwire.learn.device import select_device
from nuwire.learn.train import (
    SIGTERM_EXIT,
    TrainConfig,
    _is_better,
    balanced_class_weights,
    train,
    training_hash,
)

EPOCHS = 6
VIEW = ViewSpec(planes=(2,), scale=1.0, crop=None)


def load_sets(directory: Path) -> tuple[SparseImageSet, SparseImageSet]:
    index = pd.read_parquet(directory / "events.parquet")
    files = [directory / "nue_WithWire_00.parquet"]
    cut = CutSpec("full", 0.0)
    return tuple(SparseImageSet.load(files, select_events(index, split, cut), VIEW) for split in ("train", "val"))


def make_config(**overrides) -> TrainConfig:
    """LeNet with ReLUs and Adam: learns the track orientation in a few epochs."""
    base = TrainConfig.from_settings(
        "lenet",
        {
            "hparams": {"activation": "relu"},
            "optimizer": "adam",
            "lr": 3e-3,
            "batch_size": 16,
            "epochs": EPOCHS,
            "lr_decay_gamma": 0.9,
            "class_weights": "balanced",
            "seed": 5,
            "threads": 1,
        },
    )
    return replace(base, **overrides)


def resume_config(**overrides) -> TrainConfig:
    """A ViT (dropout 0.1), so that resuming must also restore the RNG that dropout draws from."""
    return make_config(arch="vit", hparams={"patch": 8, "dim": 16, "heads": 2}, **overrides)


def run(directory: Path, out: Path, ckpt: Path, cfg: TrainConfig, progress: bool = False) -> dict:
    train_set, val_set = load_sets(directory)
    return train(
        cfg,
        train_set,
        val_set,
        outputs=train_outputs(out, ckpt),
        extra={"view": VIEW, "cut": "full"},
        progress=progress,
    )


def read_history(path: Path) -> list[dict[str, str]]:
    with open(path) as fh:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(fh)]


def assert_same_result(a: Path, b: Path) -> None:
    assert read_history(a / "history.csv") == read_history(b / "history.csv")
    wa = torch.load(a / "best.pt", weights_only=True)
    wb = torch.load(b / "best.pt", weights_only=True)
    assert wa.keys() == wb.keys()
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key


@pytest.fixture(scope="module")
def learned(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("learned")
    meta = run(data_dir, root / "out", root / "ckpt", make_config())
    return root / "out", meta


@pytest.fixture(scope="module")
def reference(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The uninterrupted run the interrupted ones must reproduce, in this process."""
    root = tmp_path_factory.mktemp("reference")
    meta = run(data_dir, root / "out", root / "ckpt", resume_config())
    return root / "out", meta


# ---------------------------------------------------------------- training


def test_training_lowers_loss_and_writes_outputs(learned: tuple[Path, dict]) -> None:
    out, meta = learned
    rows = list(csv.DictReader(open(out / "history.csv")))
    assert [int(r["epoch"]) for r in rows] == list(range(1, EPOCHS + 1))
    losses = [float(r["train_loss"]) for r in rows]
    assert losses[-1] < 0.6 * losses[0], losses
    assert float(rows[-1]["val_auc"]) > 0.9
    # ExponentialLR: the lr of epoch e is lr · γ^(e-1)
    assert [float(r["lr"]) for r in rows] == pytest.approx([3e-3 * 0.9**e for e in range(EPOCHS)])
    best = max(rows, key=lambda r: (float(r["val_auc"]), -float(r["val_loss"])))
    assert meta["best_epoch"] == int(best["epoch"])
    assert meta["epochs_run"] == EPOCHS and meta["stopped_early"] is False
    assert meta["arch"] == "lenet" and meta["input_shapes"] == [[SIZE, SIZE]]
    assert meta["device"].startswith("cpu")
    assert (out / "train_meta.json").exists()
    # best.pt is a plain state dict that loads into a fresh model
    from nuwire.models import build_model

    model = build_model("lenet", [(SIZE, SIZE)], activation="relu")
    model.load_state_dict(torch.load(out / "best.pt", weights_only=True))


def test_finished_run_removes_its_checkpoint(learned: tuple[Path, dict]) -> None:
    out, _ = learned
    assert not (out.parent / "ckpt").exists()


def test_early_stopping(data_dir: Path, tmp_path: Path) -> None:
    # With a vanishing learning rate nothing changes, so epoch 2 is no better than epoch 1.
    cfg = make_config(lr=1e-12, epochs=4, early_stopping_patience=1, lr_decay_gamma=1.0)
    meta = run(data_dir, tmp_path / "out", tmp_path / "ckpt", cfg, progress=True)
    assert meta["stopped_early"] is True
    assert meta["epochs_run"] == 2 and meta["best_epoch"] == 1
    assert len(read_history(tmp_path / "out" / "history.csv")) == 2


# ---------------------------------------------------------------- interruption and resume


def _start_worker(data_dir: Path, out: Path, ckpt: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, __file__, str(data_dir), str(out), str(ckpt)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            pytest.fail(f"training ended (status {proc.returncode}) before {path} appeared:\n{proc.stdout.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"{path} did not appear within {timeout} s")
        time.sleep(0.005)


def test_sigterm_then_resume_equals_uninterrupted(data_dir: Path, reference: tuple[Path, dict], tmp_path: Path) -> None:
    out, ckpt = tmp_path / "out", tmp_path / "ckpt"
    proc = _start_worker(data_dir, out, ckpt)
    _wait_for(ckpt / "last.pt", proc)
    proc.send_signal(signal.SIGTERM)
    log = proc.communicate(timeout=60)[0]
    assert proc.returncode == SIGTERM_EXIT, log
    assert "SIGTERM received" in log and "rerun the job to resume" in log
    state = torch.load(ckpt / "last.pt", weights_only=True)  # plain containers only
    assert 1 <= state["epoch"] < EPOCHS
    assert not (out / "train_meta.json").exists()

    meta = run(data_dir, out, ckpt, resume_config())
    assert_same_result(out, reference[0])
    assert meta["best_epoch"] == reference[1]["best_epoch"]
    assert meta["config_hash"] == reference[1]["config_hash"]


def test_sigkill_then_resume_equals_uninterrupted(data_dir: Path, reference: tuple[Path, dict], tmp_path: Path) -> None:
    out, ckpt = tmp_path / "out", tmp_path / "ckpt"
    proc = _start_worker(data_dir, out, ckpt)
    _wait_for(ckpt / "last.pt", proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    state = checkpoint.load(ckpt / "last.pt")
    expected = {
        "format",
        "config_hash",
        "epoch",
        "model",
        "optimizer",
        "scheduler",
        "rng",
        "best",
        "bad_epochs",
        "stopped_early",
        "history",
    }
    assert set(state) == expected
    assert len(state["history"]) == state["epoch"]
    for best_file in ckpt.glob("best-e*.pt"):
        torch.load(best_file, weights_only=True)

    # Another configuration must not continue (or overwrite) this checkpoint.
    with pytest.raises(CheckpointError) as err:
        run(data_dir, out, ckpt, resume_config(lr=0.01))
    message = str(err.value)
    assert str(ckpt / "last.pt") in message and "another training configuration" in message
    assert "Delete it" in message
    assert (ckpt / "last.pt").exists()

    run(data_dir, out, ckpt, resume_config())
    assert_same_result(out, reference[0])


# ---------------------------------------------------------------- small pieces


def test_training_hash_is_canonical_and_sensitive() -> None:
    a = training_hash(make_config(), {"cut": "full", "view": {"planes": [2], "scale": 0.5}})
    b = training_hash(make_config(lr=3e-3, threads=2), {"view": {"scale": 0.5, "planes": [2]}, "cut": "full"})
    assert a == b and len(a) == 64
    assert a != training_hash(make_config(seed=6), {"cut": "full", "view": {"planes": [2], "scale": 0.5}})
    assert a != training_hash(make_config(), {"cut": "top50", "view": {"planes": [2], "scale": 0.5}})
    assert training_hash(make_config(lr=1)) == training_hash(make_config(lr=1.0))
    # Execution settings are left out, so a rerun with more loader workers can still resume.
    assert training_hash(make_config(num_workers=2, device="cpu")) == training_hash(make_config())
    # A ViewSpec hashes as its fields.
    as_dict = {"view": {"planes": [2], "scale": 1.0, "crop": None}}
    assert training_hash(make_config(), {"view": VIEW}) == training_hash(make_config(), as_dict)


def test_config_errors_name_the_field() -> None:
    with pytest.raises(ConfigError, match=r"architectures\.lenet\.optimizer"):
        make_config(optimizer="rmsprop")
    with pytest.raises(ConfigError, match=r"train\.seed"):
        make_config(seed=-1)
    with pytest.raises(ConfigError, match="unknown training setting"):
        TrainConfig.from_settings("vit", {"optimizer": "adam", "lr": 1e-3, "batch_size": 16, "epochs": 10, "lrate": 1})
    cfg = TrainConfig.from_settings(
        "vit",
        {
            "optimizer": "adam",
            "lr": 1e-3,
            "batch_size": 16,
            "epochs": 10,
            "lr_decay_gamma": 0.9,
            "early_stopping_patience": 10,
            "hparams": {"patch": 16},
            "seed": 1,
            "threads": 2,
            "num_workers": 0,
            "device": "auto",
        },
    )
    assert cfg.optimizer == "adam" and cfg.hparams == {"patch": 16}


def test_balanced_class_weights() -> None:
    w = balanced_class_weights(np.array([0, 0, 0, 1]))
    assert w.tolist() == pytest.approx([4 / 6, 4 / 2])
    with pytest.raises(ConfigError, match="both classes"):
        balanced_class_weights(np.array([1, 1]))


def test_best_epoch_choice() -> None:
    best = {"epoch": 1, "auc": 0.8, "loss": 0.5}
    assert _is_better(0.81, 0.9, best)
    assert _is_better(0.8, 0.4, best)  # tie on AUC: lower loss wins
    assert not _is_better(0.8, 0.5, best)
    assert not _is_better(float("nan"), 0.1, best)
    assert _is_better(0.1, 9.0, {"epoch": 1, "auc": float("nan"), "loss": 0.1})


def test_device_selection() -> None:
    setup = select_device("cpu")
    assert setup.device.type == "cpu" and setup.amp_dtype is None and not setup.pin_memory
    if not torch.cuda.is_available():
        assert select_device("auto").device.type == "cpu"
        with pytest.raises(ConfigError, match="train.device"):
            select_device("cuda")


if __name__ == "__main__":
    # The subprocess of the interruption tests: an ordinary training job on the test data.
    logging_format = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    import logging

    logging.basicConfig(level=logging.INFO, format=logging_format, stream=sys.stdout)
    data, out_dir, ckpt_dir = (Path(p) for p in sys.argv[1:4])
    run(data, out_dir, ckpt_dir, resume_config())
