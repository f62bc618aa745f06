"""Train one sweep point: a `TrainConfig` and two `SparseImageSet`s in, weights and metrics out.

One plain loop in the style of PyTorch's examples, all of it in `train()`: set up, then per epoch
one pass over the shuffled training set (loss, accuracy and ROC AUC collected on the fly, in
`_run_pass`), one pass over the validation set, the scheduler step, the best-epoch bookkeeping, a
checkpoint, a row in `history.csv` and the early-stopping test; then the outputs. The weights of
the best validation epoch (highest val AUC; a tie goes to the lower val loss) become `best.pt`. The
loss is cross-entropy over the logits (two for the `nue_cc` target, three for `flavour`:
`nuwire.events.targets`) for every architecture, optionally class-weighted (the thesis's ViT used
binary cross-entropy on one score, which is the same function of the logit difference).

Files
-----
outputs.history           one row per finished epoch (rewritten atomically after each epoch)
outputs.weights           state dict of the best validation epoch (written at the end)
outputs.meta              arch, hparams, input shapes, best epoch, config hash... (written last,
                          so its presence means the point finished)
outputs.checkpoint_dir/last.pt        everything needed to continue after the last finished epoch
outputs.checkpoint_dir/best-eNNNN.pt  weights of the best epoch so far (written only when validation
                          improves, so last.pt need not carry a second copy of the weights)

Resuming: when `last.pt` exists and carries this job's config hash, training goes on from the next
epoch. The shuffle order is a function of (seed, epoch) and the RNG states are restored, so on the
CPU the final weights and history equal those of an uninterrupted run with the same thread count.
A checkpoint with another hash raises `CheckpointError` instead of being silently overwritten or,
worse, continued (`nuwire.learn.checkpoint` reads, checks and clears the checkpoint files).

When training finishes, the checkpoint files are deleted after the outputs are written: they would
only cost disk space per sweep point, and a stale finished checkpoint would turn the next legitimate
rerun (say after the dataset changed) into a CheckpointError. A job killed between writing the
outputs and deleting the checkpoint resumes with no epochs left and rewrites the same outputs.

SIGTERM (Slurm's notice at a time limit) stops training after the current batch: the job logs what
happened and exits with status 143 (128 + SIGTERM) by raising `TrainingInterrupted`; the checkpoint
from the last finished epoch stays valid. There are no mid-epoch checkpoints, so at most one epoch
of work is lost.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import math
import os
import random
import signal
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score
from torch import nn
from tqdm import tqdm

from nuwire.architectures import check_architecture
from nuwire.errors import ConfigError, NuwireError
from nuwire.events.sweep import SweepPoint
from nuwire.events.targets import DEFAULT_TARGET, NUE_CLASS, binary_labels, target_classes
from nuwire.images.image_set import BatchDelivery, make_loader
from nuwire.io.atomic import write_json, write_text
from nuwire.learn import checkpoint
from nuwire.learn.data import dataset_fingerprint, load_point_split, point_cut, point_view
from nuwire.learn.device import DeviceSetup, select_device
from nuwire.models import build_model, takes_sparse
from nuwire.provenance import config_hash
from nuwire.schema import check_section, section_defaults

LOG = logging.getLogger(__name__)
PathLike = str | os.PathLike[str]

HISTORY_COLUMNS = ("epoch", "train_loss", "val_loss", "train_acc", "val_acc", "train_auc", "val_auc", "lr", "seconds")
# Settings that change how fast a job runs but not what it computes; left out of the config hash
# so that, say, a rerun granted more data-loader workers can still resume. (The thread count can
# change float summation order: a resume with other `threads` is valid but not bit-identical.)
EXECUTION_FIELDS = ("threads", "num_workers", "device")
# The fields of the config's `train` section (the rest are its `architectures.<arch>` section's).
RUN_WIDE_FIELDS = ("seed", "threads", "num_workers", "device")
SIGTERM_EXIT = 128 + signal.SIGTERM


@dataclass(frozen=True)
class TrainConfig:
    """One training job's settings: the workflow's `architectures.<arch>` and `train` sections.

    No defaults here: the schema holds them (`nuwire.schema`), and `from_settings` fills in what a
    caller leaves out, so `train()` from a notebook gets what the workflow would. The fields'
    ranges and choices are the schema's too, checked on construction."""

    arch: str
    hparams: dict[str, Any]  # passed to build_model as keywords
    optimizer: str  # sgd or adam
    lr: float
    momentum: float  # SGD only
    weight_decay: float
    batch_size: int
    epochs: int
    lr_decay_gamma: float  # ExponentialLR, stepped once per epoch; 1.0 = constant
    early_stopping_patience: int | None  # epochs without a better val AUC before stopping
    class_weights: str  # "balanced": n / (2 n_c) from the training labels
    seed: int
    threads: int
    num_workers: int
    device: str
    # Not a config setting (the workflow always uses bf16 autocast on CUDA): a switch for benchmarks.
    amp: bool = True

    def __post_init__(self) -> None:
        # Normalise numbers so that `lr: 1` and `lr: 1.0` in YAML hash alike.
        for name in ("lr", "momentum", "weight_decay", "lr_decay_gamma"):
            object.__setattr__(self, name, float(getattr(self, name)))
        for name in ("batch_size", "epochs", "seed", "threads", "num_workers"):
            object.__setattr__(self, name, int(getattr(self, name)))
        if self.early_stopping_patience is not None:
            object.__setattr__(self, "early_stopping_patience", int(self.early_stopping_patience))
        object.__setattr__(self, "amp", bool(self.amp))
        object.__setattr__(self, "hparams", dict(self.hparams))
        # The schema's checks of each field, errors naming it as the config does.
        check_architecture(self.arch, "architectures")
        values = asdict(self)
        run_wide = {name: values.pop(name) for name in RUN_WIDE_FIELDS}
        check_section({k: v for k, v in values.items() if k not in ("arch", "amp")}, "architectures", self.arch)
        check_section(run_wide, "train")

    @classmethod
    def from_settings(cls, arch: str, settings: Mapping[str, Any]) -> TrainConfig:
        """From the workflow's merged `architectures.<arch>` and `train` sections; what `settings`
        leaves out takes the schema's default (the workflow's, e.g. seed 1 and 2 threads)."""
        check_architecture(arch, "architectures")
        where = f"architectures.{arch}"
        known = {f.name for f in fields(cls)} - {"arch"}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise ConfigError(f"{where}: unknown training setting(s) {unknown}; valid: {sorted(known)}.")
        defaults = {**section_defaults("architectures", arch), **section_defaults("train")}
        return cls(arch=arch, **{**defaults, **settings})


def training_hash(cfg: TrainConfig, extra: Mapping[str, Any] | None = None) -> str:
    """The config hash of a training result: everything that decides it, i.e. the config without
    the execution settings, plus `extra` (view spec, cut, dataset fingerprint, ...)."""
    settings = {k: v for k, v in asdict(cfg).items() if k not in EXECUTION_FIELDS}
    return config_hash({"train": settings, "extra": dict(extra or {})})


class TrainingInterrupted(SystemExit):
    """SIGTERM arrived: the job stops with status 143 and the last epoch checkpoint stays valid.

    A SystemExit rather than a NuwireError so that the Snakemake script exits with the status of a
    terminated job instead of reporting a user error."""

    def __init__(self) -> None:
        super().__init__(SIGTERM_EXIT)


@dataclass(frozen=True)
class TrainOutputs:
    """Where train() writes: the files the train rule names (`snakemake.output`) and the directory
    of the checkpoint it keeps, outside the declared outputs, until training finishes."""

    weights: PathLike
    history: PathLike
    meta: PathLike
    checkpoint_dir: PathLike


def train(
    cfg: TrainConfig,
    train_set: Any,
    val_set: Any,
    *,
    outputs: TrainOutputs,
    extra: Mapping[str, Any] | None = None,
    progress: bool = False,
    n_classes: int = 2,
) -> dict[str, Any]:
    """Train `cfg.arch` on `train_set`, pick the best epoch on `val_set`; return train_meta.

    `train_set` and `val_set` are `nuwire.images.image_set.SparseImageSet`s (anything with `labels`
    and `input_shapes` that `make_loader` accepts). `n_classes` is the target's class count
    (`nuwire.events.targets.target_classes`); the labels are class indices, CC νe being class 1.
    `extra` holds what else decides the result (view spec, cut, dataset fingerprint); the config
    hash is `training_hash(cfg, {"input_shapes": ..., **extra})`. `progress` shows tqdm bars.
    Raises CheckpointError for a checkpoint of another configuration and TrainingInterrupted
    (a SystemExit with status 143) on SIGTERM.
    """
    shapes = [tuple(int(n) for n in s) for s in train_set.input_shapes]
    digest = training_hash(cfg, {"input_shapes": [list(s) for s in shapes], **dict(extra or {})})
    train_labels = np.asarray(train_set.labels, dtype=np.int64)
    n_train, n_val = len(train_labels), len(np.asarray(val_set.labels))
    if n_train == 0 or n_val == 0:
        raise NuwireError(
            f"training {cfg.arch}: the training set has {n_train} and the validation set {n_val} events; "
            "both need at least one. Check the cut and the split fractions."
        )
    setup = select_device(cfg.device, amp=cfg.amp)
    torch.set_num_threads(cfg.threads)
    if setup.is_cuda:
        # Fastest kernels for fixed input shapes. GPU runs are therefore not bit-reproducible,
        # and a resume on the GPU continues correctly but not bit for bit.
        torch.backends.cudnn.benchmark = True
    checkpoint_dir = Path(outputs.checkpoint_dir)
    last_path = checkpoint_dir / checkpoint.LAST

    with _determinism(not setup.is_cuda), _SigtermGuard() as guard:

        def batches(dataset: Any, epoch: int, phase: str) -> Iterator[Any]:
            """One pass's batches, with a progress bar; a SIGTERM stops the pass between two."""
            # The shuffle order depends on (seed, epoch) only, so a resumed run sees the same batches.
            loader = make_loader(
                dataset,
                batch_size=cfg.batch_size,
                shuffle=phase == "train",
                seed=cfg.seed,
                epoch=epoch,
                sparse=takes_sparse(cfg.arch),
                delivery=BatchDelivery(num_workers=cfg.num_workers, pin_memory=setup.pin_memory),
            )
            for batch in tqdm(
                loader, desc=f"epoch {epoch} {phase}", disable=not progress, leave=False, dynamic_ncols=True
            ):
                guard.check()
                yield batch
            guard.check()

        # Seeded first: the model's initial weights draw from the RNG.
        random.seed(cfg.seed)
        np.random.seed(cfg.seed)
        torch.manual_seed(cfg.seed)  # also seeds every CUDA device
        model = setup.place_model(build_model(cfg.arch, shapes, n_classes=n_classes, **cfg.hparams))
        optimizer = make_optimizer(cfg, model.parameters())
        scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=cfg.lr_decay_gamma)
        balanced = cfg.class_weights == "balanced"
        class_w = balanced_class_weights(train_labels, n_classes) if balanced else torch.ones(n_classes)
        class_w = class_w.to(setup.device)
        history: list[dict[str, Any]] = []
        best: dict[str, Any] | None = None  # epoch, auc, loss of the best validation epoch so far
        bad_epochs, stopped_early = 0, False  # epochs since the last improvement, for early stopping

        checkpoint.remove_temporaries(checkpoint_dir, (outputs.weights, outputs.history, outputs.meta))
        if last_path.exists():
            state = checkpoint.load_resumable(last_path, digest)
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            checkpoint.set_rng_state(state["rng"])  # dropout continues where it stopped
            history, best = list(state["history"]), state["best"]
            bad_epochs, stopped_early = int(state["bad_epochs"]), bool(state["stopped_early"])
            LOG.info("resuming from %s after epoch %d of %d", last_path, state["epoch"], cfg.epochs)
        checkpoint.remove_stale_best(checkpoint_dir, best["epoch"] if best else None)
        LOG.info(
            "training %s (%s parameters) on %s, %d torch threads (OMP_WAIT_POLICY=%s): %d train / %d val "
            "events, input %s, config %s",
            cfg.arch, f"{sum(p.numel() for p in model.parameters()):,}", setup.describe(), torch.get_num_threads(),
            os.environ.get("OMP_WAIT_POLICY", "unset"), n_train, n_val, shapes, digest[:12],
        )  # fmt: skip

        last_epoch = len(history) if stopped_early else cfg.epochs  # an early stop stays stopped
        with guard.reported(history, last_path):
            for epoch in range(len(history) + 1, last_epoch + 1):
                guard.check()
                start, lr = time.perf_counter(), optimizer.param_groups[0]["lr"]
                fit = _run_pass(model, batches(train_set, epoch, "train"), optimizer, setup=setup, class_w=class_w)
                val = _run_pass(model, batches(val_set, epoch, "val"), None, setup=setup, class_w=class_w)
                scheduler.step()
                metrics = {f"{phase}_{k}": v for phase, m in (("train", fit), ("val", val)) for k, v in m.items()}
                row = {"epoch": epoch, **metrics, "lr": lr, "seconds": round(time.perf_counter() - start, 3)}
                history.append(row)

                if _is_better(row["val_auc"], row["val_loss"], best):
                    best, bad_epochs = {"epoch": epoch, "auc": row["val_auc"], "loss": row["val_loss"]}, 0
                    # Written before last.pt: a kill in between leaves last.pt naming the previous file.
                    checkpoint.save(
                        checkpoint.best_path(checkpoint_dir, epoch),
                        {"epoch": epoch, "config_hash": digest, "model": checkpoint.cpu_state_dict(model)},
                    )
                else:
                    bad_epochs += 1
                patience = cfg.early_stopping_patience
                stopped_early = patience is not None and bad_epochs >= patience and epoch < cfg.epochs
                checkpoint.save(
                    last_path,
                    {
                        "format": checkpoint.FORMAT_VERSION,
                        "config_hash": digest,
                        "epoch": epoch,
                        "model": checkpoint.cpu_state_dict(model),
                        "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(),
                        "rng": checkpoint.rng_state(),
                        "best": best,
                        "bad_epochs": bad_epochs,
                        "stopped_early": stopped_early,
                        "history": history,
                    },
                )
                checkpoint.remove_stale_best(checkpoint_dir, best["epoch"])
                write_text(outputs.history, history_csv(history))
                LOG.info(
                    "epoch %d/%d  train loss %.4f acc %.3f auc %.3f | val loss %.4f acc %.3f auc %.3f | lr %.3g | %.1f s",
                    epoch, cfg.epochs, row["train_loss"], row["train_acc"], row["train_auc"],
                    row["val_loss"], row["val_acc"], row["val_auc"], row["lr"], row["seconds"],
                )  # fmt: skip
                if stopped_early:
                    LOG.info("early stopping: no better validation AUC for %d epochs", bad_epochs)
                    break

        if guard.received:
            # Writing the outputs takes moments; finishing beats leaving a checkpoint with nothing to do.
            LOG.info("SIGTERM received after the last epoch: writing the outputs before exiting")
        # The outputs, train_meta.json last; then the checkpoint has done its job.
        assert best is not None  # at least one epoch ran
        best_weights = checkpoint.load_best(checkpoint_dir, best["epoch"], digest)
        write_text(outputs.history, history_csv(history))
        checkpoint.save(outputs.weights, best_weights)
        best_row = history[best["epoch"] - 1]
        meta = {
            "arch": cfg.arch,
            "hparams": cfg.hparams,
            "input_shapes": [list(s) for s in shapes],
            "best_epoch": best["epoch"],
            "best_val_auc": best_row["val_auc"],
            "best_val_loss": best_row["val_loss"],
            "config_hash": digest,
            "epochs_run": len(history),
            "stopped_early": stopped_early,
            "device": setup.describe(),
            "config": asdict(cfg),
            # A two-class meta stays as it was (it is part of metrics.json).
            **({"n_classes": n_classes} if n_classes != 2 else {}),
        }
        write_json(outputs.meta, meta)
        checkpoint.remove(checkpoint_dir)
        LOG.info(
            "best epoch %d: val AUC %.4f, val loss %.4f; wrote %s",
            best["epoch"],
            best_row["val_auc"],
            best_row["val_loss"],
            Path(outputs.weights).parent,
        )
        return meta


def _run_pass(
    model: nn.Module,
    batches: Iterable[tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]],
    optimizer: torch.optim.Optimizer | None,
    *,
    setup: DeviceSetup,
    class_w: torch.Tensor,
) -> dict[str, float]:
    """One pass over `batches`; trains when given an optimizer, else evaluates. Returns loss, acc, auc."""
    training = optimizer is not None
    model.train(training)
    # Kept on the device and concatenated once at the end: a .item() per batch would make every
    # CUDA step wait for the GPU.
    weighted_losses, weights, scores, preds, targets = [], [], [], [], []
    with torch.set_grad_enabled(training):
        for views, labels, _idx in batches:
            views = [setup.place_batch(v) for v in views]
            labels = labels.to(setup.device, non_blocking=setup.pin_memory)
            with setup.autocast():
                logits = model(*views)
            logits = logits.float()  # loss and scores in fp32 whatever autocast chose
            per_event = F.cross_entropy(logits, labels, reduction="none")
            w = class_w[labels]
            loss = (per_event * w).sum() / w.sum()  # == F.cross_entropy(..., weight=class_w)
            if training:
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            weighted_losses.append((per_event * w).detach())
            weights.append(w)
            scores.append(torch.softmax(logits.detach(), dim=1)[:, NUE_CLASS])
            preds.append(logits.detach().argmax(dim=1))
            targets.append(labels)
    # The AUC is νe CC (class 1, whatever the target) against the rest, on P(νe CC).
    y = binary_labels(torch.cat(targets).cpu().numpy())
    return {
        "loss": float(torch.cat(weighted_losses).double().sum() / torch.cat(weights).double().sum()),
        "acc": float((torch.cat(preds) == torch.cat(targets)).double().mean()),
        "auc": _roc_auc(y, torch.cat(scores).cpu().numpy()),
    }


def balanced_class_weights(labels: np.ndarray, n_classes: int = 2) -> torch.Tensor:
    """n / (k n_c) per class (k classes), so every class carries equal total weight in the loss."""
    counts = np.bincount(labels, minlength=n_classes)[:n_classes]
    if (counts == 0).any():
        found = ", ".join(f"{int(c)} of class {i}" for i, c in enumerate(counts))
        raise ConfigError(
            f"class_weights 'balanced' needs every class in the training set (both classes of nue_cc, all three of "
            f"flavour), but it has {found} "
            "(class 1 is CC νe); check the cut and the split."
        )
    return torch.tensor(len(labels) / (float(n_classes) * counts), dtype=torch.float32)


def make_optimizer(cfg: TrainConfig, params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def _roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    # Undefined with one class present (a tiny validation set); NaN ranks below any real AUC.
    if len(np.unique(labels)) < 2:
        return float("nan")
    return float(roc_auc_score(labels, scores))


def _is_better(auc: float, loss: float, best: Mapping[str, Any] | None) -> bool:
    """Higher val AUC wins; equal AUC goes to the lower val loss; NaN AUC ranks lowest."""
    if best is None:
        return True
    key = (-math.inf if math.isnan(auc) else auc, -loss)
    best_key = (-math.inf if math.isnan(best["auc"]) else best["auc"], -best["loss"])
    return key > best_key


def history_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HISTORY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)  # floats as repr: round-trips exactly
    return buffer.getvalue()


@contextlib.contextmanager
def _determinism(enabled: bool) -> Iterator[None]:
    """Deterministic kernels for the run only: the setting is process-wide."""
    before = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(enabled, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])


class _SigtermGuard:
    """Turns SIGTERM into a flag the loop checks between batches (a handler that raised would do
    so at an arbitrary bytecode, e.g. halfway through an optimizer step)."""

    def __init__(self) -> None:
        self.received = False
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> _SigtermGuard:
        # signal.signal only works in the main thread; elsewhere SIGTERM keeps its default action.
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._handle)
            self._installed = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGTERM, self._previous)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received = True  # no logging here: the handler may interrupt a logging call

    def check(self) -> None:
        if self.received:
            raise TrainingInterrupted()

    @contextlib.contextmanager
    def reported(self, history: list[dict[str, Any]], last_path: Path) -> Iterator[None]:
        """Log a SIGTERM stop in one clear line; turn the loader error it may cause into the stop."""
        try:
            try:
                yield
            except Exception:
                # A SIGTERM sent to the whole process group also kills data-loader workers, and the
                # loader then raises; that is the interruption, not a bug.
                if self.received:
                    raise TrainingInterrupted() from None
                raise
        except TrainingInterrupted:
            done = len(history)
            kept = f"the checkpoint {last_path} (end of epoch {done}) stays" if done else "no epoch had finished"
            LOG.warning(
                "SIGTERM received during epoch %d: stopping (exit status %d); %s; rerun the job to resume from epoch %d.",
                done + 1,
                SIGTERM_EXIT,
                kept,
                done + 1,
            )
            raise


def run_train_job(
    index_path: PathLike,
    image_files: Sequence[PathLike],
    point: SweepPoint,
    *,
    settings: Mapping[str, Any],
    cuts: dict[str, dict[str, Any]],
    outputs: TrainOutputs,
) -> dict[str, Any]:
    """The `train` rule: load the point's train and validation splits, then train(). `settings` is
    the point's merged `architectures.<arch>` and `train` sections, with `threads` and `num_workers`
    set to the job's share of its CPUs (nuwire.pipeline.cpus), not the config's."""
    cfg = TrainConfig.from_settings(point.arch, settings)
    train_set = load_point_split(index_path, image_files, point, cuts=cuts, split="train")
    val_set = load_point_split(index_path, image_files, point, cuts=cuts, split="val")
    LOG.info(
        "%s: %d training and %d validation events, input %s",
        point.label,
        len(train_set),
        len(val_set),
        train_set.input_shapes,
    )
    extra = {
        "view": point_view(point),
        "cut": point_cut(point, cuts),
        "dataset": dataset_fingerprint(train_set, val_set),
    }
    if point.target != DEFAULT_TARGET:  # the nue_cc hash stays what it was
        extra["target"] = point.target
    return train(
        cfg,
        train_set,
        val_set,
        outputs=outputs,
        extra=extra,
        progress=True,
        n_classes=target_classes(point.target),
    )
